/**
 * Finalize: removes what was created for a VM, idempotently (NotFound = done), every step attempted even
 * when an earlier one failed, the failures reported together at the end.
 */
import { DeleteKeyPairCommand, DeleteVolumeCommand, DeregisterImageCommand, DescribeInstancesCommand, TerminateInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle } from '#core/types';
import { releaseElasticIp } from '#connectors/ec2/addresses';
import { retrying, type Ec2Context } from '#connectors/ec2/context';
import { authSecrets, ignoreNotFound, isNotFound, mapEc2Error } from '#connectors/ec2/errors';
import { keyPairName } from '#connectors/ec2/keys';
import { deleteSecurityGroup, infrastructureGroups } from '#connectors/ec2/security-groups';
import { describeInstance, locate, waitForState } from '#connectors/ec2/state';
import { INFRA_TAG } from '#connectors/ec2/tags';
import { recordVolumes } from '#connectors/ec2/volumes';

/** Whether another pending/running/stopping/stopped instance carries the infrastructure tag. */
async function otherLiveInstances(ec2: EC2Client, infId: string, instanceId: string | undefined): Promise<boolean> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${INFRA_TAG}`, Values: [infId] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  return (out.Reservations ?? []).some((r) => (r.Instances ?? []).some((i) => i.InstanceId !== instanceId));
}

/**
 * Removes what was created for the VM, in order: Elastic IPs (disassociate; release when allocated by the
 * connector), the instance (terminate and wait until terminated), volumes that were not DeleteOnTermination,
 * the AMI registered from a snapshot, the VM's key pair and — when `last`, or when no other
 * pending/running/stopping/stopped instance tagged with the infrastructure is left — the infrastructure's
 * security groups (from cloudData plus any tagged `IM-INFRA-ID = infId`; DependencyViolation is retried).
 * NotFound errors count as done, so a retried finalize completes what an earlier one left. Steps that fail
 * are reported together at the end (CLOUD_RETRYABLE if any was transient) after the others were tried.
 */
export async function finalizeVm(ctx: Ec2Context, vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
  const { region, instanceId, data } = locate(vm, auth);
  const ec2 = ctx.client(region, auth);
  const secrets = authSecrets(auth);
  const errors: ImError[] = [];
  const step = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      const e = mapEc2Error(err, what, secrets);
      errors.push(e);
      ctx.logger.warn('EC2 finalize step failed', { infId: vm.infId, vmId: vm.vmId, what, error: e.message });
      return false;
    }
  };

  let inst: Instance | undefined;
  if (instanceId) {
    await step(`describe instance ${instanceId}`, async () => {
      inst = await describeInstance(ec2, instanceId);
      if (inst) recordVolumes(inst, data);
    });
  }

  for (const eip of data.elasticIps ?? []) {
    await step(`release Elastic IP ${eip.publicIp}`, () => releaseElasticIp(ec2, eip, instanceId));
  }

  let terminated = true;
  if (instanceId) {
    terminated = await step(`terminate instance ${instanceId}`, async () => {
      // Terminate even when DescribeInstances did not find it (eventual consistency right after a launch).
      const s = (inst as Instance | undefined)?.State?.Name;
      if (s === 'terminated') return;
      if (s !== 'shutting-down') {
        const res = await ignoreNotFound(ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] })));
        if (!res) return;
      }
      await waitForState(ctx, ec2, instanceId, ['terminated'], `Error terminating VM ${vm.vmId}`);
      ctx.logger.info('EC2 instance terminated', { infId: vm.infId, vmId: vm.vmId, instanceId });
    });
  }

  if (terminated) {
    for (const volumeId of data.volumes ?? []) {
      await step(`delete volume ${volumeId}`, () => retrying(ctx, () => ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId })), ['VolumeInUse', 'IncorrectState']));
    }
  }
  if (data.registeredImage) {
    await step(`deregister image ${data.registeredImage}`, () => ec2.send(new DeregisterImageCommand({ ImageId: data.registeredImage })));
  }
  // Without cloudData (a launch that failed before recording it) the deterministic key name is tried anyway.
  const keyName = data.keyPair ?? (vm.cloudData ? undefined : keyPairName(vm.infId, vm.vmId));
  if (keyName) await step(`delete key pair ${keyName}`, () => ec2.send(new DeleteKeyPairCommand({ KeyName: keyName })));

  // The shared groups go with the last VM; also when no other instance of the infrastructure is left in the
  // region (the VM flagged last may be one that never launched, which the flows do not finalize).
  let removeGroups = last && terminated;
  if (!last && terminated && (data.securityGroups ?? []).some((g) => g.managed)) {
    await step('list the instances of the infrastructure', async () => {
      removeGroups = !(await otherLiveInstances(ec2, vm.infId, instanceId));
    });
  }
  if (removeGroups) {
    const ids = new Set<string>();
    await step('list security groups', () => infrastructureGroups(ec2, vm.infId, data, ids));
    for (const id of ids) {
      await step(`delete security group ${id}`, () => deleteSecurityGroup(ctx, ec2, id));
    }
  }

  if (errors.length) {
    const code = errors.some((e) => e.code === 'CLOUD_RETRYABLE') ? 'CLOUD_RETRYABLE' : errors[0].code;
    throw new ImError(code, `Error finalizing VM ${vm.vmId} in EC2: ${errors.map((e) => e.message).join('; ')}`);
  }
  ctx.logger.info('EC2 VM finalized', { infId: vm.infId, vmId: vm.vmId, last });
}
