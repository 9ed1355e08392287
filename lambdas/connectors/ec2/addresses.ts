/**
 * Elastic IPs for a fixed public `net_interface.N.ip`: the account's address when it is there (only
 * disassociated at finalize), else AllocateAddress of that address (released at finalize).
 */
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  DescribeAddressesCommand,
  DisassociateAddressCommand,
  ReleaseAddressCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { ImError } from '#core/errors';
import type { Ec2CloudData, Ec2ElasticIpData } from '#connectors/ec2/cloud-data';
import { errorCode, ignoreNotFound, isNotFound } from '#connectors/ec2/errors';
import { INFRA_TAG } from '#connectors/ec2/tags';

/** The user's Elastic IP with that address, or a newly allocated one (BYOIP / recovery of a released address). */
export async function reserveElasticIp(ec2: EC2Client, ip: string, infId: string, created: Ec2CloudData): Promise<Ec2ElasticIpData> {
  let existing;
  try {
    existing = (await ec2.send(new DescribeAddressesCommand({ PublicIps: [ip] }))).Addresses?.[0];
  } catch (err) {
    if (!isNotFound(err) && errorCode(err) !== 'InvalidParameterValue') throw err;
  }
  if (existing?.AllocationId) {
    if (existing.AssociationId) {
      throw new ImError('BAD_REQUEST', `Elastic IP ${ip} is already associated with ${existing.InstanceId ?? existing.NetworkInterfaceId ?? 'another resource'}`);
    }
    return { allocationId: existing.AllocationId, publicIp: ip, allocated: false };
  }
  const res = await ec2.send(
    new AllocateAddressCommand({
      Domain: 'vpc',
      Address: ip,
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: INFRA_TAG, Value: infId }] }],
    }),
  );
  if (!res.AllocationId) throw new ImError('CLOUD_RETRYABLE', `AllocateAddress ${ip} returned no allocation id`);
  const eip = { allocationId: res.AllocationId, publicIp: res.PublicIp ?? ip, allocated: true };
  created.elasticIps = [eip];
  return eip;
}

/** Associates the EIP with the primary interface; an instance not ready yet leaves it pending (unless `strict`). */
export async function associateElasticIp(ec2: EC2Client, eip: Ec2ElasticIpData, inst: Instance, strict: boolean): Promise<void> {
  const eni = inst.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === 0)?.NetworkInterfaceId ?? inst.NetworkInterfaces?.[0]?.NetworkInterfaceId;
  try {
    const res = await ec2.send(new AssociateAddressCommand({ AllocationId: eip.allocationId, ...(eni ? { NetworkInterfaceId: eni } : { InstanceId: inst.InstanceId }) }));
    eip.associationId = res.AssociationId;
    delete eip.pending;
  } catch (err) {
    const code = errorCode(err);
    if (strict || !(code === 'IncorrectInstanceState' || code === 'InvalidInstanceID' || isNotFound(err))) throw err;
    eip.pending = true;
  }
}

/**
 * Finalize of one address: disassociated when it is on this VM's instance (or the association is the one
 * recorded), released when the connector allocated it. A vanished address is done.
 */
export async function releaseElasticIp(ec2: EC2Client, eip: Ec2ElasticIpData, instanceId: string | undefined): Promise<void> {
  const addr = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.allocationId] }))).Addresses?.[0];
  if (!addr) return;
  if (addr.AssociationId && (!instanceId || !addr.InstanceId || addr.InstanceId === instanceId || addr.AssociationId === eip.associationId)) {
    await ignoreNotFound(ec2.send(new DisassociateAddressCommand({ AssociationId: addr.AssociationId })));
  }
  if (eip.allocated) await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId }));
}
