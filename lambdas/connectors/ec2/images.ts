/**
 * Images: the AMI a VM launches from (DescribeImages, or RegisterImage from a `snap-…` URL), snapshots of a
 * VM's disks (CreateImage / CreateSnapshot), their deletion, and the image list of a region.
 */
import {
  CreateImageCommand,
  CreateSnapshotCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  RegisterImageCommand,
  type EC2Client,
  type Filter,
} from '@aws-sdk/client-ec2';
import type { System } from '#radl/index';
import { ImError } from '#core/errors';
import type { AuthItem, CloudImage, VmHandle } from '#core/types';
import type { Ec2CloudData } from '#connectors/ec2/cloud-data';
import { retrying, type Ec2Context } from '#connectors/ec2/context';
import { authSecrets, ignoreNotFound, mapEc2Error } from '#connectors/ec2/errors';
import { normaliseArch } from '#connectors/ec2/instance-types';
import { DEFAULT_REGION, imageUrl, parseImageUrl, type AwsImageRef } from '#connectors/ec2/refs';
import { describeInstance, requireInstance } from '#connectors/ec2/state';
import { INFRA_TAG } from '#connectors/ec2/tags';
import { attachedVolumeId } from '#connectors/ec2/volumes';

/** What a launch needs to know of its AMI. */
export interface ResolvedImage {
  imageId: string;
  arch?: string;
  rootDevice?: string;
  rootSizeGiB?: number;
  /** EBS device names of the AMI (forced to DeleteOnTermination). */
  ebsDevices: string[];
}

/** DescribeImages of the AMI (arch, root device), or RegisterImage from a snapshot (recorded in `created`). */
export async function resolveImage(ec2: EC2Client, image: AwsImageRef, system: System, ids: { infId: string; vmId: number }, created: Ec2CloudData): Promise<ResolvedImage> {
  if (image.kind === 'snap') {
    const arch = normaliseArch(system.getString('cpu.arch')) ?? 'x86_64';
    const out = await ec2.send(
      new RegisterImageCommand({
        Name: `im-${ids.infId}-${ids.vmId}-${image.id}`,
        Description: `Registered by the IM from ${image.id}`,
        Architecture: arch,
        RootDeviceName: '/dev/sda1',
        VirtualizationType: 'hvm',
        EnaSupport: true,
        BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: image.id, DeleteOnTermination: true } }],
        TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: INFRA_TAG, Value: ids.infId }] }],
      }),
    );
    if (!out.ImageId) throw new ImError('BAD_REQUEST', `Could not register an AMI from snapshot ${image.id}`);
    created.registeredImage = out.ImageId;
    return { imageId: out.ImageId, arch, rootDevice: '/dev/sda1', ebsDevices: [] };
  }
  const out = await ec2.send(new DescribeImagesCommand({ ImageIds: [image.id] }));
  const img = out.Images?.[0];
  if (!img) throw new ImError('BAD_REQUEST', `AMI ${image.id} not found in EC2 region ${image.region}`);
  const root = img.BlockDeviceMappings?.find((m) => m.DeviceName === img.RootDeviceName);
  return {
    imageId: image.id,
    arch: img.Architecture,
    rootDevice: img.RootDeviceName,
    rootSizeGiB: root?.Ebs?.VolumeSize,
    ebsDevices: (img.BlockDeviceMappings ?? []).filter((m) => m.Ebs && m.DeviceName).map((m) => m.DeviceName as string),
  };
}

/**
 * Disk 0: CreateImage of the instance (no reboot) → `aws://<region>/<ami-id>`. Disk N > 0: CreateSnapshot of
 * the volume attached at the disk's device → `aws://<region>/<snap-id>`.
 */
export async function createSnapshot(ctx: Ec2Context, vm: VmHandle, diskNum: number, imageName: string, auth: AuthItem): Promise<string> {
  const { region, instanceId } = requireInstance(vm, auth);
  const ec2 = ctx.client(region, auth);
  const tags = [
    { Key: 'Name', Value: imageName.slice(0, 256) },
    { Key: INFRA_TAG, Value: vm.infId },
  ];
  try {
    if (diskNum === 0) {
      const res = await ec2.send(
        new CreateImageCommand({
          InstanceId: instanceId,
          Name: imageName,
          Description: `Created by the IM from VM ${vm.vmId} of infrastructure ${vm.infId}`,
          NoReboot: true,
          TagSpecifications: [
            { ResourceType: 'image', Tags: tags },
            { ResourceType: 'snapshot', Tags: tags },
          ],
        }),
      );
      if (!res.ImageId) throw new ImError('CLOUD_RETRYABLE', 'CreateImage returned no image id');
      return imageUrl(region, res.ImageId);
    }
    const inst = await describeInstance(ec2, instanceId);
    const { device, volumeId } = attachedVolumeId(inst, vm.system, diskNum);
    if (!volumeId) throw new ImError('BAD_REQUEST', `Disk ${diskNum} (${device}) not found in VM ${vm.vmId}`);
    const res = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: imageName, TagSpecifications: [{ ResourceType: 'snapshot', Tags: tags }] }));
    if (!res.SnapshotId) throw new ImError('CLOUD_RETRYABLE', 'CreateSnapshot returned no snapshot id');
    return imageUrl(region, res.SnapshotId);
  } catch (err) {
    throw mapEc2Error(err, `Error creating a snapshot of disk ${diskNum} of VM ${vm.vmId} in EC2`, authSecrets(auth));
  }
}

/** DeregisterImage + DeleteSnapshot of the AMI's EBS snapshots (or DeleteSnapshot of a snapshot URL). Idempotent. */
export async function deleteImage(ctx: Ec2Context, url: string, auth: AuthItem): Promise<void> {
  const ref = parseImageUrl(url);
  if (!ref) throw new ImError('BAD_REQUEST', `Not an EC2 image URL: ${url}`);
  const ec2 = ctx.client(ref.region, auth);
  try {
    const snapshots: string[] = [];
    if (ref.kind === 'ami') {
      const img = await ignoreNotFound(ec2.send(new DescribeImagesCommand({ ImageIds: [ref.id] })));
      for (const m of img?.Images?.[0]?.BlockDeviceMappings ?? []) if (m.Ebs?.SnapshotId) snapshots.push(m.Ebs.SnapshotId);
      await ignoreNotFound(ec2.send(new DeregisterImageCommand({ ImageId: ref.id })));
    } else {
      snapshots.push(ref.id);
    }
    for (const s of snapshots) {
      await ignoreNotFound(retrying(ctx, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: s })), ['InvalidSnapshot.InUse']));
    }
    ctx.logger.info('EC2 image deleted', { region: ref.region, imageId: ref.id, snapshots: snapshots.length });
  } catch (err) {
    throw mapEc2Error(err, `Error deleting image ${url} in EC2`, authSecrets(auth));
  }
}

/**
 * Available machine images of one region (`region=` filter, else the auth item's region, else us-east-1),
 * newest first (at most 1000). Filters: `name` (EC2 wildcards), `distribution` + `version` (name contains
 * both), `owner`/`owners` (comma list; default self and amazon), `architecture`, and any other EC2
 * DescribeImages filter name (`image-id`, `tag:Key`, …).
 */
export async function listImages(ctx: Ec2Context, auth: AuthItem, filters: Record<string, string>): Promise<CloudImage[]> {
  const region = filters.region || auth.region || DEFAULT_REGION;
  const ec2 = ctx.client(region, auth);
  const ec2Filters: Filter[] = [
    { Name: 'state', Values: ['available'] },
    { Name: 'image-type', Values: ['machine'] },
  ];
  let owners = ['self', 'amazon'];
  const dist = filters.distribution ?? filters.flavour ?? filters.os;
  for (const [k, v] of Object.entries(filters)) {
    if (['region', 'distribution', 'flavour', 'os', 'version'].includes(k) || v === undefined || v === '') continue;
    if (k === 'owner' || k === 'owners') owners = v.split(',').map((s) => s.trim()).filter(Boolean);
    else ec2Filters.push({ Name: k, Values: [v] });
  }
  if (dist || filters.version) ec2Filters.push({ Name: 'name', Values: [`*${[dist, filters.version].filter(Boolean).join('*')}*`] });
  try {
    const out = await ec2.send(new DescribeImagesCommand({ Owners: owners, Filters: ec2Filters, MaxResults: 1000 }));
    return (out.Images ?? [])
      .filter((i) => i.ImageId)
      .sort((a, b) => String(b.CreationDate ?? '').localeCompare(String(a.CreationDate ?? '')))
      .map((i) => ({ uri: imageUrl(region, i.ImageId as string), name: i.Name ?? (i.ImageId as string) }));
  } catch (err) {
    throw mapEc2Error(err, `Error listing the images of EC2 region ${region}`, authSecrets(auth));
  }
}
