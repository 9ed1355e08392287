/**
 * The waits of a launch batch (statemachines/launch.asl.json): until its launched VMs run
 * (refreshBatch, one provider call per cloud where the connector lists servers in one call) and until
 * the running ones answer SSH (waitForSshBatch, every VM probed at once). Each records what changed in
 * one batched write and tells the flow the batch's next step.
 */
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { parseVmInfo, refreshVms, vmSystem } from '#core/vm-refresh';
import { mutateVms } from '#core/mutate';
import { batchVms, needsPoll, needsSsh, nextStep, runningPatch, logCtxtDisabled, SSH_WINDOW_MS, wantsContext, type BatchStep } from '#orchestration/launch-support';
import { probeFor, probeSsh, simulatedUnreachableProbe, sshTarget, type SshProbe } from '#orchestration/ssh-probe';
import { int, intList, logLine, statePatch, str, type TaskPayload } from '#orchestration/task-support';

async function load(services: Services, p: TaskPayload): Promise<{ inf?: InfraRecord; vms: VmRecord[] }> {
  const infId = str(p, 'infId');
  const [inf, all] = await Promise.all([services.store.getInfrastructure(infId), services.store.listVms(infId)]);
  return { inf, vms: batchVms(all, intList(p, 'vmIds') ?? []) };
}

/**
 * One poll of the running wait: asks the provider about the batch's launched VMs. Running ones leave the
 * wait (configured at once when their contextualization is disabled); still pending ones past the
 * deadline (WAIT_RUNNING_VM_TIMEOUT) fail with the reason in their log; other final states end the wait.
 */
export async function refreshBatch(services: Services, p: TaskPayload): Promise<BatchStep> {
  const contextualize = wantsContext(p);
  const deadline = int(p, 'deadline', 0);
  const { inf, vms } = await load(services, p);
  if (!inf || inf.status !== 'active') return { next: 'done', deadline: 0 };
  const waiting = vms.filter(needsPoll);
  const fresh = await refreshVms(services, inf, waiting, { force: true });
  const now = services.now();
  const timedOut = new Set<number>();
  const updated = await mutateVms(services.store, fresh, (v) => {
    if (!needsPoll(v)) return undefined;
    if (v.state === 'running') return runningPatch(services, inf, v, contextualize);
    if (v.state === 'pending' || v.state === 'unknown') {
      if (now < deadline) return undefined;
      timedOut.add(v.vmId);
      return { ...statePatch(v, 'failed', 'failed', inf.configured), creating: false };
    }
    return { creating: false };
  });
  await Promise.all([
    ...[...timedOut].map((vmId) =>
      logLine(services, inf.id, vmId, `Error waiting the VM to be running: timeout of ${services.config.WAIT_RUNNING_VM_TIMEOUT} s exceeded (last state: pending).`),
    ),
    contextualize ? logCtxtDisabled(services, inf, updated.filter((v) => v.ctxtState === 'disabled' && waiting.some((w) => w.vmId === v.vmId && w.ctxtState !== 'disabled'))) : undefined,
  ]);
  const byId = new Map(updated.map((v) => [v.vmId, v]));
  return nextStep(services, vms.map((v) => byId.get(v.vmId) ?? v), contextualize, deadline, 'poll');
}

/**
 * Up to SSH_WINDOW_MS of login attempts to every running VM of the batch at once. Those that answer are
 * ready for contextualization (ctxtState pending); past the deadline (WAIT_SSH_ACCCESS_TIMEOUT) the others
 * end unconfigured with the reason in their log.
 */
export async function waitForSshBatch(services: Services, p: TaskPayload, probe: SshProbe): Promise<BatchStep> {
  const contextualize = wantsContext(p);
  const deadline = int(p, 'deadline', 0);
  const { inf, vms } = await load(services, p);
  if (!inf || inf.status !== 'active') return { next: 'done', deadline: 0 };
  let waiting = vms.filter((v) => needsSsh(v, true));
  // IPs may show up after a VM runs: ask the provider again for those without an SSH target.
  const noTarget = waiting.filter((v) => !sshTarget(parseVmInfo(v), vmSystem(parseVmInfo(v), v)).target);
  if (noTarget.length > 0) {
    const refreshed = new Map((await refreshVms(services, inf, noTarget, { force: true })).map((v) => [v.vmId, v]));
    waiting = waiting.map((v) => refreshed.get(v.vmId) ?? v);
  }
  const budget = Math.min(SSH_WINDOW_MS, deadline - services.now());
  const results = await Promise.all(
    waiting.map(async (vm) => {
      const radl = parseVmInfo(vm);
      const found = sshTarget(radl, vmSystem(radl, vm));
      // Never connect to the placeholder address of a simulated (Dummy) VM.
      const effective = probe === probeSsh && services.connectors.get(vm.cloudType)?.simulated ? simulatedUnreachableProbe : probe;
      if (found.target && budget > 0) {
        const failure = await probeFor(effective, found.target, budget);
        return { vm, ok: failure === undefined, reason: failure ?? '', where: ` (${found.target.host}:${found.target.port})` };
      }
      if (budget > 0) await new Promise((r) => setTimeout(r, Math.min(budget, 1000)));
      return { vm, ok: false, reason: found.reason ?? 'no attempt made', where: '' };
    }),
  );
  const expired = services.now() >= deadline;
  const outcome = new Map(results.map((r) => [r.vm.vmId, r]));
  const updated = await mutateVms(services.store, waiting, (v) => {
    const r = outcome.get(v.vmId);
    if (!r || !needsSsh(v, true)) return undefined;
    if (r.ok) return { ...statePatch(v, v.state, 'pending', inf.configured), creating: false };
    return expired ? { ...statePatch(v, v.state, 'failed', inf.configured), creating: false } : undefined;
  });
  if (expired) {
    await Promise.all(
      results
        .filter((r) => !r.ok)
        .map((r) =>
          logLine(
            services,
            inf.id,
            r.vm.vmId,
            `Error waiting the VM to have the SSH access active${r.where}: ${r.reason}. Timeout of ${services.config.WAIT_SSH_ACCCESS_TIMEOUT} s exceeded.`,
          ),
        ),
    );
  }
  const byId = new Map(updated.map((v) => [v.vmId, v]));
  return nextStep(services, vms.map((v) => byId.get(v.vmId) ?? v), contextualize, deadline, 'ssh');
}
