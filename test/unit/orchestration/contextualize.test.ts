/**
 * The contextualize flow's tasks read the one rule of #core/ctxt-rules that the runner follows: they count
 * the VMs the runner takes, and when the runner fails they close every VM it took, not only `vmIds`
 * (after a launch the runner works on the whole infrastructure; a Reconfigure's basic play on every VM).
 */
import { describe, expect, it } from 'vitest';
import type { CtxtState, VmRecord, VmState } from '#core/types';
import { markContextualizationFailed, prepareContextualization } from '#orchestration/contextualize-tasks';
import { makeEnv, nodesRadl, seedInfra } from './fixtures.ts';

const RECIPE = "configure node (\n@begin\n- tasks: [ { command: 'true' } ]\n@end\n)";

async function setup(states: [VmState, CtxtState][], cloudType = 'DeployedNode') {
  const env = makeEnv();
  const { infId, vmIds } = await seedInfra(env.services, nodesRadl(states.length, RECIPE));
  for (const [i, [state, ctxtState]] of states.entries()) {
    const vm = (await env.store.getVm(infId, vmIds[i])) as VmRecord;
    await env.store.updateVm(infId, vm.vmId, vm.version, { state, ctxtState, cloudType, providerId: `p${i}`, creating: false });
  }
  return { env, infId };
}

const payload = (input: Record<string, unknown>, error?: unknown) => ({ action: 'x', input, ...(error ? { error } : {}) });

describe('contextualize flow tasks and the runner rule', () => {
  it('counts every VM the runner takes after a launch: old ones too, not the new one whose SSH wait failed', async () => {
    const { env, infId } = await setup([
      ['configured', 'ok'],
      ['running', 'pending'],
      ['unconfigured', 'failed'],
    ]);
    expect(await prepareContextualization(env.services, payload({ infId, vmIds: [1, 2] }))).toEqual({ pending: 2 });
    expect(await prepareContextualization(env.services, payload({ infId, vmIds: [1, 2], reconfigure: true }))).toEqual({ pending: 3 });
  });

  it('simulated (Dummy) VMs are not counted', async () => {
    const { env, infId } = await setup([['running', 'ok']], 'Dummy');
    expect(await prepareContextualization(env.services, payload({ infId, vmIds: [] }))).toEqual({ pending: 0 });
  });

  it('a failed runner leaves no VM it took running: those outside vmIds end unconfigured too', async () => {
    const { env, infId } = await setup([
      ['running', 'running'],
      ['running', 'running'],
      ['stopped', 'running'],
    ]);
    await markContextualizationFailed(env.services, payload({ infId, vmIds: [1] }, { Error: 'States.TaskFailed', Cause: 'exit code 1' }));
    const vms = await env.store.listVms(infId);
    expect(vms.map((v) => [v.state, v.ctxtState])).toEqual([
      ['unconfigured', 'failed'],
      ['unconfigured', 'failed'],
      // Not one the runner takes (stopped) and not in vmIds: left as it is.
      ['stopped', 'running'],
    ]);
    expect(await env.store.getLog(infId, 'inf')).toContain('Contextualization Error: exit code 1');
  });
});
