/**
 * Operations on a running VM: start, stop, reboot, and alterVm (a new instance type from the new system's
 * instance_type / cpu.count / memory.size / gpu.*).
 */
import {
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { Feature, type System } from '#radl/index';
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle, VmUpdate } from '#core/types';
import type { Ec2Context } from '#connectors/ec2/context';
import { authSecrets, mapEc2Error } from '#connectors/ec2/errors';
import { selectInstanceType, setTypeFeatures } from '#connectors/ec2/requirements';
import { describeInstance, mapEc2State, requireInstance, waitForState } from '#connectors/ec2/state';

export type PowerOperation = 'start' | 'stop' | 'reboot';

const COMMANDS: Record<PowerOperation, (ec2: EC2Client, id: string) => Promise<unknown>> = {
  start: (ec2, id) => ec2.send(new StartInstancesCommand({ InstanceIds: [id] })),
  // One-time spot instances cannot be stopped: EC2's error is returned as 400.
  stop: (ec2, id) => ec2.send(new StopInstancesCommand({ InstanceIds: [id] })),
  reboot: (ec2, id) => ec2.send(new RebootInstancesCommand({ InstanceIds: [id] })),
};

/** Start/Stop/RebootInstances of the VM's instance. */
export async function powerOperation(ctx: Ec2Context, vm: VmHandle, auth: AuthItem, op: PowerOperation): Promise<void> {
  const { region, instanceId } = requireInstance(vm, auth);
  try {
    await COMMANDS[op](ctx.client(region, auth), instanceId);
    ctx.logger.info(`EC2 ${op}`, { infId: vm.infId, vmId: vm.vmId, instanceId });
  } catch (err) {
    throw mapEc2Error(err, `Error trying to ${op} VM ${vm.vmId} in EC2`, authSecrets(auth));
  }
}

const RESIZE_FEATURES = ['instance_type', 'cpu.count', 'memory.size', 'gpu.count', 'gpu.vendor', 'gpu.model'];

/** The VM's system with the new system's sizing features; what is not asked keeps its current size as a minimum. */
function resizedSystem(system: System, newSystem: System, changed: string[]): System {
  const merged = system.clone();
  // What is not asked keeps its current size as a minimum; the current type and price do not bind.
  for (const p of ['cpu.count', 'memory.size', 'gpu.count']) {
    const min = merged.getBounds(p).min;
    if (!changed.includes(p) && min) {
      merged.delValue(p);
      merged.addFeature(new Feature(p, '>=', min.value, min.unit));
    }
  }
  if (!newSystem.hasFeature('price')) merged.delValue('price');
  if (!newSystem.hasFeature('instance_type')) merged.delValue('instance_type');
  for (const p of changed) {
    merged.delValue(p);
    for (const f of newSystem.getFeatures(p)) merged.addFeature(f.clone(), 'other');
  }
  return merged;
}

/**
 * Changes the instance type from the new system's instance_type / cpu.count / memory.size / gpu.* (the
 * current system's constraints are replaced by the new ones). A stopped instance is modified in place; a
 * running one is refused (400) or, with `alterRunning: 'restart'`, stopped, modified and started again.
 */
export async function alterVm(ctx: Ec2Context, vm: VmHandle, newSystem: System, auth: AuthItem): Promise<VmUpdate> {
  const { region, instanceId, data } = requireInstance(vm, auth);
  const ec2 = ctx.client(region, auth);
  const context = `Error altering VM ${vm.vmId} in EC2`;
  try {
    const inst = await describeInstance(ec2, instanceId);
    if (!inst) throw new ImError('BAD_REQUEST', `${context}: instance ${instanceId} not found`);
    const changed = RESIZE_FEATURES.filter((p) => newSystem.hasFeature(p));
    const system = vm.system.clone();
    const state = mapEc2State(inst.State?.Name);
    if (changed.length === 0) return { state, system, cloudData: { ...data } };
    const type = selectInstanceType(resizedSystem(system, newSystem, changed), inst.Architecture, inst.ImageId ?? 'the instance AMI');
    if (type.name === inst.InstanceType) return { state, system, cloudData: { ...data } };
    const ec2State = inst.State?.Name;
    let restart = false;
    if (ec2State !== 'stopped') {
      if (ctx.alterRunning !== 'restart' || (ec2State !== 'running' && ec2State !== 'stopping')) {
        throw new ImError(
          'BAD_REQUEST',
          `${context}: EC2 can only change the instance type of a stopped VM (state ${ec2State}): stop the VM, alter it and start it again`,
        );
      }
      if (ec2State === 'running') await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
      await waitForState(ctx, ec2, instanceId, ['stopped'], context);
      restart = true;
    }
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: type.name } }));
    if (restart) await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    ctx.logger.info('EC2 instance type changed', { infId: vm.infId, vmId: vm.vmId, instanceId, from: inst.InstanceType, to: type.name });
    setTypeFeatures(system, type);
    return { state: restart ? 'pending' : 'stopped', system, cloudData: { ...data } };
  } catch (err) {
    throw mapEc2Error(err, context, authSecrets(auth));
  }
}
