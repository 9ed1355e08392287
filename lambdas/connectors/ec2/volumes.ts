/**
 * EBS volumes: the root volume's size and type (disk.0), data disks disk.N (N ≥ 1) as block-device mappings,
 * every mapping DeleteOnTermination, and the volumes that are not (found on the instance) recorded for
 * finalize.
 */
import type { BlockDeviceMapping, Instance } from '@aws-sdk/client-ec2';
import type { System } from '#radl/index';
import { ImError } from '#core/errors';
import type { Ec2CloudData } from '#connectors/ec2/cloud-data';
import type { ResolvedImage } from '#connectors/ec2/images';
import { parseImageUrl } from '#connectors/ec2/refs';

/** EBS volume types EC2 accepts. */
export const VOLUME_TYPES: ReadonlySet<string> = new Set(['standard', 'gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1']);

type VolumeType = NonNullable<BlockDeviceMapping['Ebs']>['VolumeType'];

/** Bytes → whole GiB, at least 1. */
export function bytesToGiB(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024 ** 3));
}

/** Device name of data disk N: `disk.N.device` (`sdb`, `xvdb`, `/dev/sdb`) or `/dev/sd<b+N-1>`. */
export function deviceName(system: System, n: number): string {
  const given = system.getString(`disk.${n}.device`)?.trim();
  if (given) return given.startsWith('/dev/') ? given : `/dev/${given}`;
  return `/dev/sd${String.fromCharCode('a'.charCodeAt(0) + Math.min(n, 25))}`;
}

function volumeType(t: string, n: number): VolumeType {
  const v = t.trim().toLowerCase();
  if (!VOLUME_TYPES.has(v)) throw new ImError('BAD_REQUEST', `disk.${n}.type '${t}' is not an EBS volume type (${[...VOLUME_TYPES].join(', ')})`);
  return v as VolumeType;
}

/**
 * Root resize (disk.0.size / disk.0.type, never below the AMI's size), data disks (disk.N, N ≥ 1, with a size
 * and/or a snapshot), AMI volumes forced DeleteOnTermination. Writes a data disk's default device name back
 * into the system.
 */
export function blockDeviceMappings(system: System, ami: ResolvedImage): BlockDeviceMapping[] {
  const out: BlockDeviceMapping[] = [];
  const rootSize = system.getNumber('disk.0.size');
  const rootType = system.getString('disk.0.type');
  if (ami.rootDevice) {
    const ebs: NonNullable<BlockDeviceMapping['Ebs']> = { DeleteOnTermination: true };
    if (rootSize !== undefined) ebs.VolumeSize = Math.max(bytesToGiB(rootSize), ami.rootSizeGiB ?? 1);
    if (rootType) ebs.VolumeType = volumeType(rootType, 0);
    out.push({ DeviceName: ami.rootDevice, Ebs: ebs });
  }
  for (const dev of ami.ebsDevices) {
    if (dev !== ami.rootDevice) out.push({ DeviceName: dev, Ebs: { DeleteOnTermination: true } });
  }
  for (let n = 1; n < system.getNumDisks(); n++) {
    const size = system.getNumber(`disk.${n}.size`);
    const snap = parseImageUrl(system.getString(`disk.${n}.image.url`));
    if (size === undefined && !snap) continue;
    if (system.getString(`disk.${n}.image.url`) && snap?.kind !== 'snap') {
      throw new ImError('BAD_REQUEST', `disk.${n}.image.url: only aws://<region>/<snap-id> snapshots can be used as EC2 data disks`);
    }
    const ebs: NonNullable<BlockDeviceMapping['Ebs']> = { DeleteOnTermination: true };
    if (size !== undefined) ebs.VolumeSize = bytesToGiB(size);
    if (snap) ebs.SnapshotId = snap.id;
    const type = system.getString(`disk.${n}.type`);
    if (type) ebs.VolumeType = volumeType(type, n);
    const device = deviceName(system, n);
    out.push({ DeviceName: device, Ebs: ebs });
    if (!system.getString(`disk.${n}.device`)) system.setValue(`disk.${n}.device`, device.replace('/dev/', ''));
  }
  return out;
}

/** Records in cloudData the attached volumes that are not DeleteOnTermination (finalize deletes them). */
export function recordVolumes(inst: Instance, data: Ec2CloudData): void {
  const keep = (inst.BlockDeviceMappings ?? []).filter((m) => m.Ebs?.VolumeId && m.Ebs.DeleteOnTermination === false).map((m) => m.Ebs?.VolumeId as string);
  if (keep.length) data.volumes = [...new Set([...(data.volumes ?? []), ...keep])];
}

/** The volume attached at data disk N's device (`/dev/sdX` or its `/dev/xvdX` alias). */
export function attachedVolumeId(inst: Instance | undefined, system: System, diskNum: number): { device: string; volumeId?: string } {
  const device = deviceName(system, diskNum);
  const alt = device.replace('/dev/sd', '/dev/xvd');
  const volumeId = inst?.BlockDeviceMappings?.find((m) => m.DeviceName === device || m.DeviceName === alt)?.Ebs?.VolumeId;
  return { device, ...(volumeId ? { volumeId } : {}) };
}
