import { describe, expect, it } from 'vitest';
import type { VmState } from '#core/types';
import { aggregateInfraState } from '#core/infra-state';

const run = (states: VmState[], extra: { configured?: boolean; deleting?: boolean } = {}) =>
  aggregateInfraState({ vmStates: states.map((state, vmId) => ({ vmId, state })), configured: extra.configured, deleting: extra.deleting ?? false });

describe('infrastructure state aggregation (lifecycle.md §1.2)', () => {
  it('is order-dependent as IM', () => {
    expect(run(['configured', 'stopped']).state).toBe('configured');
    expect(run(['stopped', 'configured']).state).toBe('stopped');
  });

  it('failed / unknown win and stop the scan', () => {
    expect(run(['running', 'failed', 'pending']).state).toBe('failed');
    expect(run(['configured', 'unknown', 'failed']).state).toBe('unknown');
  });

  it('pending beats running; running beats configured', () => {
    expect(run(['running', 'pending', 'running']).state).toBe('pending');
    expect(run(['configured', 'running']).state).toBe('running');
    expect(run(['pending', 'running']).state).toBe('pending');
  });

  it('unconfigured replaces none or configured only', () => {
    expect(run(['configured', 'unconfigured']).state).toBe('unconfigured');
    expect(run(['stopped', 'unconfigured']).state).toBe('stopped');
    expect(run(['unconfigured', 'configured']).state).toBe('unconfigured');
  });

  it('off and stopped count only first', () => {
    expect(run(['off', 'configured']).state).toBe('off');
    expect(run(['configured', 'off']).state).toBe('configured');
  });

  it('no VMs: pending, or failed when contextualization failed, or unknown', () => {
    expect(run([]).state).toBe('pending');
    expect(run([], { configured: false }).state).toBe('failed');
    expect(run([], { configured: true }).state).toBe('unknown');
    expect(run(['deleting']).state).toBe('unknown');
  });

  it('deleting overrides and vm_states lists every VM', () => {
    const r = run(['configured', 'running'], { deleting: true });
    expect(r).toEqual({ state: 'deleting', vm_states: { '0': 'configured', '1': 'running' } });
  });
});
