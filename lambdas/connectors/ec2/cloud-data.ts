/**
 * The EC2 connector's `cloudData` (VmRecord.cloudData): what it created for a VM, so that finalize removes
 * exactly that. Stored JSON, exported and imported with the infrastructure: read back as untrusted input.
 */

/** A security group the VM uses. */
export interface Ec2SecurityGroupData {
  id: string;
  name: string;
  vpcId?: string;
  /** Created by the connector for this infrastructure: deleted when the last VM is finalized. */
  managed: boolean;
}

/** An Elastic IP the VM uses. */
export interface Ec2ElasticIpData {
  allocationId: string;
  publicIp: string;
  /** Allocated by the connector (released at finalize); false = the user's address (only disassociated). */
  allocated: boolean;
  associationId?: string;
  /** Association still to do (the instance was not ready at launch): updateVmInfo completes it. */
  pending?: boolean;
}

/** What the connector created for a VM (`VmRecord.cloudData`). JSON-serialisable. */
export interface Ec2CloudData {
  region: string;
  instanceId?: string;
  vpcId?: string;
  subnetId?: string;
  securityGroups?: Ec2SecurityGroupData[];
  /** Key pair created or imported for this VM (deleted at finalize). */
  keyPair?: string;
  elasticIps?: Ec2ElasticIpData[];
  /** Volumes to delete explicitly after termination (not DeleteOnTermination). */
  volumes?: string[];
  /** AMI registered from a snapshot image URL for this VM. */
  registeredImage?: string;
  spot?: boolean;
}

/** The resources a failed launch left behind (to pass to finalize), if the error carries them. */
export function launchErrorCloudData(err: unknown): Record<string, unknown> | undefined {
  const d = (err as { cloudData?: unknown } | undefined)?.cloudData;
  return d && typeof d === 'object' ? (d as Record<string, unknown>) : undefined;
}

/** Reads the (untrusted, stored) cloudData of a VM. */
export function readCloudData(raw: Record<string, unknown> | undefined, fallbackRegion: string): Ec2CloudData {
  const d = (raw ?? {}) as Partial<Ec2CloudData>;
  const out: Ec2CloudData = { region: typeof d.region === 'string' && d.region ? d.region : fallbackRegion };
  if (typeof d.instanceId === 'string') out.instanceId = d.instanceId;
  if (typeof d.vpcId === 'string') out.vpcId = d.vpcId;
  if (typeof d.subnetId === 'string') out.subnetId = d.subnetId;
  if (Array.isArray(d.securityGroups)) out.securityGroups = d.securityGroups.filter((g) => g && typeof g.id === 'string');
  if (typeof d.keyPair === 'string') out.keyPair = d.keyPair;
  if (Array.isArray(d.elasticIps)) out.elasticIps = d.elasticIps.filter((e) => e && typeof e.allocationId === 'string');
  if (Array.isArray(d.volumes)) out.volumes = d.volumes.filter((v) => typeof v === 'string');
  if (typeof d.registeredImage === 'string') out.registeredImage = d.registeredImage;
  if (d.spot) out.spot = true;
  return out;
}
