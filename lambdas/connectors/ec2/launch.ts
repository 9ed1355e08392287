/**
 * Launching one VM: AMI, instance type, disks, user, network and security groups, key pair, Elastic IP,
 * user data, tags, spot options → RunInstances. On failure, everything this attempt created is rolled back;
 * what could not be removed travels in the error's `cloudData` for a later finalize.
 */
import {
  DeleteKeyPairCommand,
  DescribeInstancesCommand,
  DeleteSecurityGroupCommand,
  DeregisterImageCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type RunInstancesCommandInput,
  type TagSpecification,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { ImError } from '#core/errors';
import type { AuthItem, LaunchedVm, LaunchRequest } from '#core/types';
import { cloudInitRecipes, cloudInitUserData, isValidUsername } from '#connectors/cloud-init';
import { assignIps } from '#connectors/ip-addresses';
import { associateElasticIp, reserveElasticIp } from '#connectors/ec2/addresses';
import type { Ec2CloudData } from '#connectors/ec2/cloud-data';
import { DEFAULT_USER } from '#connectors/ec2/concrete-system';
import { requireCredentials, type Ec2Context } from '#connectors/ec2/context';
import { authSecrets, errorCode, isNotFound, mapEc2Error } from '#connectors/ec2/errors';
import { resolveImage } from '#connectors/ec2/images';
import { ensureKeyPair, userPublicKey } from '#connectors/ec2/keys';
import { resolveNetwork } from '#connectors/ec2/network';
import { systemImage } from '#connectors/ec2/refs';
import { selectInstanceType, setTypeFeatures } from '#connectors/ec2/requirements';
import { ensureSecurityGroups } from '#connectors/ec2/security-groups';
import { mapEc2State, instanceIps } from '#connectors/ec2/state';
import { instanceTags, VM_TAG } from '#connectors/ec2/tags';
import { blockDeviceMappings } from '#connectors/ec2/volumes';

/**
 * Launches one instance. On failure every resource this attempt created is rolled back (instance, key
 * pair, allocated Elastic IP, registered AMI, and the security groups it created unless another VM already
 * uses them); what could not be removed is in the thrown error's `cloudData` (see launchErrorCloudData)
 * for a later finalize. Transient errors → CLOUD_RETRYABLE, others → BAD_REQUEST.
 */
/**
 * An instance of this VM that an interrupted launch created (RunInstances answered, the record was never
 * written: the process died in between) is found by its IM-VM tag and terminated, so that the VM is
 * launched once. Called only for VMs whose record has no instance yet.
 */
async function terminateUnrecorded(ctx: Ec2Context, ec2: EC2Client, infId: string, vmId: number): Promise<void> {
  const out = await ec2.send(
    new DescribeInstancesCommand({
      Filters: [
        { Name: `tag:${VM_TAG}`, Values: [`${infId}/${vmId}`] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    }),
  );
  const ids = (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId).filter((id): id is string => !!id);
  if (ids.length === 0) return;
  ctx.logger.warn('EC2: terminating instances an interrupted launch left unrecorded', { infId, vmId, instanceIds: ids });
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
}

export async function launchVm(ctx: Ec2Context, req: LaunchRequest): Promise<LaunchedVm> {
  const { infId, vmId, auth } = req;
  requireCredentials(auth);
  const system = req.system.clone();
  const image = systemImage(system);
  if (!image) {
    throw new ImError('BAD_REQUEST', `EC2 cannot launch system '${system.name}': disk.0.image.url must be aws://<region>/<ami-id> (or <snap-id>)`);
  }
  const region = image.region;
  const ec2 = ctx.client(region, auth);
  const created: Ec2CloudData = { region };
  const createdGroups: string[] = [];
  const context = `Error launching VM ${vmId} in EC2 region ${region}`;
  try {
    await terminateUnrecorded(ctx, ec2, infId, vmId);
    const ami = await resolveImage(ec2, image, system, req, created);
    const type = selectInstanceType(system, ami.arch, ami.imageId);
    const bdm = blockDeviceMappings(system, ami);
    const username = system.getString('disk.0.os.credentials.username') ?? DEFAULT_USER;
    if (!isValidUsername(username)) throw new ImError('BAD_REQUEST', `Invalid disk.0.os.credentials.username '${username}' for EC2`);
    system.setValue('disk.0.os.credentials.username', username);
    const net = await resolveNetwork(ec2, infId, req.radl, system);
    created.vpcId = net.vpcId;
    created.subnetId = net.subnetId;
    created.securityGroups = await ensureSecurityGroups(ctx, ec2, infId, net, createdGroups);
    const keyName = await ensureKeyPair(ec2, req, system, created);
    const eip = net.elasticIp ? await reserveElasticIp(ec2, net.elasticIp, infId, created) : undefined;

    const publicKey = userPublicKey(system, ctx.logger);
    const userData = cloudInitUserData(username, publicKey, cloudInitRecipes(req.radl, req.system.name));

    const spot = system.getString('spot')?.toLowerCase() === 'yes';
    const tags = instanceTags(ctx.config, req, system);
    const tagSpecs: TagSpecification[] = [
      { ResourceType: 'instance', Tags: tags },
      { ResourceType: 'volume', Tags: tags },
    ];
    if (spot) tagSpecs.push({ ResourceType: 'spot-instances-request', Tags: tags });
    const input: RunInstancesCommandInput = {
      ImageId: ami.imageId,
      InstanceType: type.name as _InstanceType,
      MinCount: 1,
      MaxCount: 1,
      UserData: Buffer.from(userData).toString('base64'),
      NetworkInterfaces: [
        {
          DeviceIndex: 0,
          SubnetId: net.subnetId,
          ...(created.securityGroups.length ? { Groups: created.securityGroups.map((g) => g.id) } : {}),
          AssociatePublicIpAddress: net.isPublic && !eip,
          DeleteOnTermination: true,
          ...(net.privateIp ? { PrivateIpAddress: net.privateIp } : {}),
        },
      ],
      TagSpecifications: tagSpecs,
    };
    if (keyName) input.KeyName = keyName;
    if (bdm.length) input.BlockDeviceMappings = bdm;
    if (net.availabilityZone) input.Placement = { AvailabilityZone: net.availabilityZone };
    if (spot) {
      const maxPrice = system.getBounds('price').max?.getNumber();
      input.InstanceMarketOptions = {
        MarketType: 'spot',
        SpotOptions: {
          SpotInstanceType: 'one-time',
          InstanceInterruptionBehavior: 'terminate',
          ...(maxPrice !== undefined ? { MaxPrice: String(maxPrice) } : {}),
        },
      };
      created.spot = true;
    }

    ctx.logger.info('EC2 RunInstances', { infId, vmId, region, imageId: ami.imageId, instanceType: type.name, subnetId: net.subnetId, spot });
    const out = await ec2.send(new RunInstancesCommand(input));
    const inst = out.Instances?.[0];
    if (!inst?.InstanceId) throw new ImError('CLOUD_RETRYABLE', `${context}: RunInstances returned no instance`);
    created.instanceId = inst.InstanceId;
    if (eip) {
      created.elasticIps = [eip];
      await associateElasticIp(ec2, eip, inst, false);
    }

    const providerId = `${region};${inst.InstanceId}`;
    system.setValue('instance_id', providerId);
    system.setValue('provider.type', 'EC2');
    setTypeFeatures(system, type);
    if (inst.Placement?.AvailabilityZone) system.setValue('availability_zone', inst.Placement.AvailabilityZone);
    system.setValue('launch_time', Math.floor((inst.LaunchTime ? new Date(inst.LaunchTime).getTime() : Date.now()) / 1000));
    assignIps(system, req.radl, instanceIps(inst), ctx.config.PRIVATE_NET_MASKS);
    ctx.logger.info('EC2 instance launched', { infId, vmId, region, instanceId: inst.InstanceId });
    return { providerId, state: mapEc2State(inst.State?.Name ?? 'pending'), system, cloudData: { ...created } };
  } catch (err) {
    // A group removed meanwhile (another VM's rollback or finalize): a new attempt recreates it.
    const mapped =
      errorCode(err) === 'InvalidGroup.NotFound'
        ? new ImError('CLOUD_RETRYABLE', `${context}: a security group of the infrastructure was removed meanwhile (InvalidGroup.NotFound)`)
        : mapEc2Error(err, context, authSecrets(auth));
    ctx.logger.warn('EC2 launch failed', { infId, vmId, region, code: errorCode(err), error: mapped.message });
    const left = await rollback(ctx, ec2, created, createdGroups, auth);
    Object.assign(mapped, { cloudData: left });
    throw mapped;
  }
}

/** Best-effort removal of the per-VM resources of a failed launch; returns what is left for finalize. */
async function rollback(ctx: Ec2Context, ec2: EC2Client, created: Ec2CloudData, createdGroups: string[], auth: AuthItem): Promise<Ec2CloudData> {
  const left: Ec2CloudData = { ...created };
  const attempt = async (what: string, fn: () => Promise<unknown>, done: () => void) => {
    try {
      await fn();
      done();
    } catch (err) {
      if (isNotFound(err)) done();
      else ctx.logger.warn('EC2 rollback step failed', { what, error: mapEc2Error(err, what, authSecrets(auth)).message });
    }
  };
  if (created.instanceId) {
    await attempt('terminate', () => ec2.send(new TerminateInstancesCommand({ InstanceIds: [created.instanceId as string] })), () => undefined);
  } else {
    // Groups this attempt created and no instance uses yet (a VM whose launch fails is never finalized).
    // One attempt: DependencyViolation means another VM uses it, and that VM's finalize removes it.
    for (const id of createdGroups) {
      await attempt('delete security group', () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: id })), () => {
        left.securityGroups = left.securityGroups?.filter((g) => g.id !== id);
      });
    }
  }
  for (const eip of created.elasticIps ?? []) {
    if (!eip.allocated) {
      left.elasticIps = left.elasticIps?.filter((e) => e !== eip);
      continue;
    }
    await attempt('release address', () => ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId })), () => {
      left.elasticIps = left.elasticIps?.filter((e) => e !== eip);
    });
  }
  if (created.keyPair) await attempt('delete key pair', () => ec2.send(new DeleteKeyPairCommand({ KeyName: created.keyPair })), () => delete left.keyPair);
  if (created.registeredImage) {
    await attempt('deregister image', () => ec2.send(new DeregisterImageCommand({ ImageId: created.registeredImage })), () => delete left.registeredImage);
  }
  if (left.elasticIps?.length === 0) delete left.elasticIps;
  if (left.securityGroups?.length === 0) delete left.securityGroups;
  return left;
}
