/**
 * The one rule for which VMs contextualization concerns (#core/ctxt-rules), as the contextualize flow
 * (count, mark failed), the launch flow (no SSH wait when disabled) and the runner (which VMs Ansible
 * takes) all read it, and the one log timestamp (#core/contmsg).
 */
import { describe, expect, it } from 'vitest';
import { contMsgLine, logTimestamp } from '#core/contmsg';
import { ctxtParticipation, isInfraCtxtDisabled, isSystemCtxtDisabled, isVmCtxtDisabled, runnerTakes } from '#core/ctxt-rules';
import type { VmRecord } from '#core/types';
import { parseRadl } from '#radl/index';

function vm(vmId: number, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    infId: 'i',
    vmId,
    version: 1,
    cloudId: 'c',
    cloudType: 'OpenStack',
    providerId: `p${vmId}`,
    systemName: 's',
    state: 'running',
    creating: false,
    destroyed: false,
    deleting: false,
    info: '[]',
    ctxtState: 'pending',
    lastUpdate: 0,
    createdAt: 0,
    ...extra,
  };
}

const notSimulated = () => false;

describe('ctxtParticipation (which VMs the runner takes)', () => {
  it('takes live running, configured and unconfigured VMs; says which live ones are not running', () => {
    for (const state of ['running', 'configured', 'unconfigured'] as const) expect(ctxtParticipation(vm(0, { state }), {}, notSimulated)).toBe('takes');
    for (const state of ['pending', 'stopped', 'off', 'unknown'] as const) expect(ctxtParticipation(vm(0, { state }), {}, notSimulated)).toBe('not-running');
    expect(ctxtParticipation(vm(0, { state: 'failed' }), {}, notSimulated)).toBe('not-running');
    expect(ctxtParticipation(vm(0, { providerId: undefined, state: 'running' }), {}, notSimulated)).toBe('not-running');
  });

  it('leaves out destroyed, deleting, failed launches and simulated VMs', () => {
    expect(ctxtParticipation(vm(0, { destroyed: true }), {}, notSimulated)).toBe('left-out');
    expect(ctxtParticipation(vm(0, { deleting: true }), {}, notSimulated)).toBe('left-out');
    expect(ctxtParticipation(vm(0, { state: 'failed', providerId: undefined }), {}, notSimulated)).toBe('left-out');
    expect(ctxtParticipation(vm(0, { cloudType: 'Dummy' }), {}, (t) => t === 'Dummy')).toBe('left-out');
  });

  it('after a launch: the whole infrastructure, except new VMs whose SSH wait failed or never happened', () => {
    const scope = { vmIds: [1, 2, 3] };
    expect(runnerTakes(vm(0, { ctxtState: 'ok', state: 'configured' }), scope, notSimulated)).toBe(true);
    expect(runnerTakes(vm(1, { ctxtState: 'pending' }), scope, notSimulated)).toBe(true);
    expect(runnerTakes(vm(2, { ctxtState: 'failed', state: 'unconfigured' }), scope, notSimulated)).toBe(false);
    expect(runnerTakes(vm(3, { ctxtState: 'none' }), scope, notSimulated)).toBe(false);
  });

  it('Reconfigure: vm_list only limits the configure steps; every VM is taken, whatever its last outcome', () => {
    const scope = { vmIds: [2], reconfigure: true };
    expect(runnerTakes(vm(0, { ctxtState: 'failed', state: 'unconfigured' }), scope, notSimulated)).toBe(true);
    expect(runnerTakes(vm(2, { ctxtState: 'failed', state: 'unconfigured' }), scope, notSimulated)).toBe(true);
  });
});

describe('disabled contextualization', () => {
  const systems = 'system a ( cpu.count = 1 )\nsystem b ( cpu.count = 1 )\n';

  it('contextualize () or items without Ansible disable it for the infrastructure', () => {
    expect(isInfraCtxtDisabled(parseRadl(`${systems}contextualize ()`))).toBe(true);
    expect(isInfraCtxtDisabled(parseRadl(`${systems}configure c (\n@begin\n- tasks: []\n@end\n)\ncontextualize ( system a configure c with cloud_init )`))).toBe(true);
    expect(isInfraCtxtDisabled(parseRadl(`${systems}configure c (\n@begin\n- tasks: []\n@end\n)\ncontextualize ( system a configure c )`))).toBe(false);
    expect(isInfraCtxtDisabled(parseRadl(systems))).toBe(false);
  });

  it('an empty configure named like a system disables it for that system: no recipe text or blanks only', () => {
    const radl = parseRadl(`${systems}configure a ()\nconfigure b (\n@begin\n\n@end\n)\n`);
    expect(isSystemCtxtDisabled(radl, 'a')).toBe(true);
    expect(isSystemCtxtDisabled(radl, 'b')).toBe(true);
    const full = parseRadl(`${systems}configure a (\n@begin\n- tasks: []\n@end\n)\n`);
    expect(isSystemCtxtDisabled(full, 'a')).toBe(false);
    expect(isSystemCtxtDisabled(full, 'b')).toBe(false);
    expect(isVmCtxtDisabled(parseRadl(`${systems}contextualize ()`), 'a')).toBe(true);
  });
});

describe('contmsg lines', () => {
  it('IM timestamps: UTC, microseconds', () => {
    const ms = Date.UTC(2026, 0, 2, 3, 4, 5, 67);
    expect(logTimestamp(ms)).toBe('2026-01-02 03:04:05.067000');
    expect(contMsgLine(ms, 'Select master VM')).toBe('2026-01-02 03:04:05.067000: Select master VM\n');
  });
});
