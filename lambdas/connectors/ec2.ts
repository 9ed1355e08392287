/**
 * The Amazon EC2 connector (auth type `EC2`): one instance per IM VM, in the region of the image URL
 * `aws://<region>/<ami-…|snap-…>`; provider id `<region>;<instance-id>`.
 *
 * What it creates per VM, recorded in {@link Ec2CloudData} (the VM's `cloudData`) so that
 * {@link Ec2Connector.finalize} removes exactly that, idempotently:
 *  - one security group per RADL network (`im-<infId>-<netId>` or the network's `sg_name`), shared by the VMs
 *    of the infrastructure, tagged `IM-INFRA-ID` and deleted with the last VM (or with any VM once no other
 *    instance of the infrastructure is left in the region);
 *  - a key pair `im-<infId>-<vmId>` (created, or imported from the RADL public key), deleted with its VM;
 *  - an Elastic IP when a public interface fixes `net_interface.N.ip` (allocated unless it is already in the
 *    account), released (or only disassociated, when it was the user's) with its VM;
 *  - an AMI registered from a snapshot when the image URL names a `snap-…`, deregistered with its VM;
 *  - EBS volumes: every mapping is DeleteOnTermination, and any volume that is not (found on the instance)
 *    is deleted after termination.
 * See docs/CONNECTORS.md for the full contract and what is not supported.
 */
import { randomUUID } from 'node:crypto';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateImageCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  CreateSnapshotCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DeregisterImageCommand,
  DescribeAccountAttributesCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  ImportKeyPairCommand,
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  RegisterImageCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type BlockDeviceMapping,
  type DescribeInstancesCommandOutput,
  type DescribeSecurityGroupsCommandOutput,
  type Filter,
  type Instance,
  type RunInstancesCommandInput,
  type Tag,
  type TagSpecification,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import { Feature, type OutPort, type System } from '#radl/index';
import { loadConfig, type Config } from '#core/config';
import { ImError } from '#core/errors';
import { createLogger } from '#core/logger';
import type {
  AuthItem,
  CloudConnector,
  CloudImage,
  LaunchedVm,
  LaunchRequest,
  Logger,
  Quotas,
  VmHandle,
  VmUpdate,
} from '#core/types';
import {
  candidateInstanceTypes,
  describeRequirements,
  instanceTypeInfo,
  normaliseArch,
  type InstanceTypeInfo,
} from '#connectors/ec2-instance-types';
import { ingressPermissions } from '#connectors/ec2-outports';
import {
  DEFAULT_USER,
  ec2ConcreteSystem,
  INFRA_TAG,
  VOLUME_TYPES,
  assignIps,
  authSecrets,
  bytesToGiB,
  cloudInitRecipes,
  cloudInitUserData,
  deviceName,
  errorCode,
  ignoreNotFound,
  imageUrl,
  instanceIps,
  instanceRequirements,
  isKeyPairName,
  isNotFound,
  isValidUsername,
  mapEc2Error,
  mapEc2State,
  nameTag,
  normalisePublicKey,
  parseImageUrl,
  parseInstanceTags,
  parseProviderId,
  publicKeyFromPrivate,
  readCloudData,
  systemImage,
  toEc2Tags,
  type AwsImageRef,
  type Ec2CloudData,
  type Ec2ElasticIpData,
  type Ec2SecurityGroupData,
} from '#connectors/ec2-support';

export { launchErrorCloudData, readCloudData, type Ec2CloudData, type Ec2ElasticIpData, type Ec2SecurityGroupData } from '#connectors/ec2-support';

/** Injectable pieces (tests pass mocks; production uses the defaults). */
export interface Ec2ConnectorOptions {
  /** Builds the EC2 client of a region. Default: SDK client with the auth item's keys. */
  clientFactory?: (region: string, auth: AuthItem) => EC2Client;
  /** Builds the Service Quotas client of a region. */
  quotasFactory?: (region: string, auth: AuthItem) => ServiceQuotasClient;
  config?: Config;
  logger?: Logger;
  /** Waits between polls (default setTimeout). */
  sleep?: (ms: number) => Promise<void>;
  /** Poll interval while waiting for an instance state or a security group to be free (default 5000 ms). */
  pollIntervalMs?: number;
  /** Maximum polls while waiting for termination / stop (default 36, i.e. 3 minutes at 5 s: a finalize with its
   * security-group retries stays within the 5-minute tasks Lambda; a slower termination is CLOUD_RETRYABLE and
   * the next attempt resumes the wait). */
  maxPolls?: number;
  /** Attempts to delete a security group that is still in use (DependencyViolation), default 8. */
  sgDeleteAttempts?: number;
  /**
   * How alterVm treats a running VM: `refuse` (default) answers 400 asking to stop it first (changing the type of
   * a running instance means stop + modify + start, which does not fit in a synchronous API call); `restart`
   * stops it, waits (bounded), modifies and starts it again.
   */
  alterRunning?: 'refuse' | 'restart';
}

const DEFAULT_REGION = 'us-east-1';
/** An instance DescribeInstances does not know yet is `pending` (not `off`) this long after its launch. */
const RECENT_LAUNCH_SECONDS = 300;

/** AWS "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" vCPU quota. */
export const QUOTA_STANDARD_VCPUS = { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' } as const;
/** AWS "EC2-VPC Elastic IPs" quota. */
export const QUOTA_ELASTIC_IPS = { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' } as const;
/** AWS "VPC security groups per Region" quota. */
export const QUOTA_SECURITY_GROUPS = { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' } as const;

const STANDARD_FAMILY_RE = /^[acdhimrtz]/;

function requireCredentials(auth: AuthItem): void {
  if (!auth.username || !auth.password) {
    throw new ImError('BAD_REQUEST', 'The EC2 auth item needs username (access key id) and password (secret access key)');
  }
}

/** Default client: the auth item's keys (username / password / token), nothing from the environment. */
function defaultClientFactory(region: string, auth: AuthItem): EC2Client {
  return new EC2Client({ region, credentials: credentialsOf(auth) });
}

function defaultQuotasFactory(region: string, auth: AuthItem): ServiceQuotasClient {
  return new ServiceQuotasClient({ region, credentials: credentialsOf(auth) });
}

function credentialsOf(auth: AuthItem) {
  return { accessKeyId: auth.username, secretAccessKey: auth.password, ...(auth.token ? { sessionToken: auth.token } : {}) };
}

interface ResolvedImage {
  imageId: string;
  arch?: string;
  rootDevice?: string;
  rootSizeGiB?: number;
  /** EBS device names of the AMI (forced to DeleteOnTermination). */
  ebsDevices: string[];
}

interface ResolvedNetwork {
  vpcId: string;
  subnetId: string;
  /** Networks the VM connects to, in interface order (ids unique). */
  networks: { id: string; isPublic: boolean; sgName: string; outports: OutPort[] | undefined }[];
  isPublic: boolean;
  /** A fixed public IP (Elastic IP). */
  elasticIp?: string;
  /** A fixed private IP. */
  privateIp?: string;
  availabilityZone?: string;
}

/** The EC2 connector. */
export class Ec2Connector implements CloudConnector {
  readonly type = 'EC2';
  private readonly clientFactory: (region: string, auth: AuthItem) => EC2Client;
  private readonly quotasFactory: (region: string, auth: AuthItem) => ServiceQuotasClient;
  private readonly configOverride?: Config;
  private readonly logger: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly pollIntervalMs: number;
  private readonly maxPolls: number;
  private readonly sgDeleteAttempts: number;
  private readonly alterRunning: 'refuse' | 'restart';

  constructor(opts: Ec2ConnectorOptions = {}) {
    this.clientFactory = opts.clientFactory ?? defaultClientFactory;
    this.quotasFactory = opts.quotasFactory ?? defaultQuotasFactory;
    this.configOverride = opts.config;
    // Default: the service's structured logger at LOG_LEVEL, built on first use (the config may be set later).
    let lazy: Logger | undefined;
    const get = () => (lazy ??= createLogger({ level: this.config.LOG_LEVEL, base: { component: 'ec2-connector' } }));
    this.logger = opts.logger ?? {
      debug: (m, f) => get().debug(m, f),
      info: (m, f) => get().info(m, f),
      warn: (m, f) => get().warn(m, f),
      error: (m, f) => get().error(m, f),
    };
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.pollIntervalMs = opts.pollIntervalMs ?? 5000;
    this.maxPolls = opts.maxPolls ?? 36;
    this.sgDeleteAttempts = opts.sgDeleteAttempts ?? 8;
    this.alterRunning = opts.alterRunning ?? 'refuse';
  }

  private get config(): Config {
    return this.configOverride ?? loadConfig();
  }

  private client(region: string, auth: AuthItem): EC2Client {
    requireCredentials(auth);
    return this.clientFactory(region, auth);
  }

  // -------------------------------------------------------------------------------------------
  // concreteSystem
  // -------------------------------------------------------------------------------------------

  /**
   * One candidate per `aws://` URL of `disk.0.image.url` ([] when none): the system with that URL,
   * `provider.type = 'EC2'` and the default username `cloudadm`. Throws BAD_REQUEST when no instance type of
   * the table (of either architecture — the AMI decides at launch) satisfies the requirements.
   */
  concreteSystem(system: System, _auth: AuthItem): System[] {
    return ec2ConcreteSystem(system);
  }

  // -------------------------------------------------------------------------------------------
  // launch
  // -------------------------------------------------------------------------------------------

  /**
   * Launches one instance. On failure every resource this attempt created is rolled back (instance, key
   * pair, allocated Elastic IP, registered AMI, and the security groups it created unless another VM already
   * uses them); what could not be removed is in the thrown error's `cloudData` (see
   * {@link launchErrorCloudData}) for a later finalize. Transient errors → CLOUD_RETRYABLE, others → BAD_REQUEST.
   */
  async launch(req: LaunchRequest): Promise<LaunchedVm> {
    const { infId, vmId, auth } = req;
    requireCredentials(auth);
    const system = req.system.clone();
    const image = systemImage(system);
    if (!image) {
      throw new ImError('BAD_REQUEST', `EC2 cannot launch system '${system.name}': disk.0.image.url must be aws://<region>/<ami-id> (or <snap-id>)`);
    }
    const region = image.region;
    const ec2 = this.client(region, auth);
    const created: Ec2CloudData = { region };
    const createdGroups: string[] = [];
    const context = `Error launching VM ${vmId} in EC2 region ${region}`;
    try {
      const ami = await this.resolveImage(ec2, image, system, req, created);
      const type = this.selectInstanceType(system, ami.arch, ami.imageId);
      const bdm = this.blockDeviceMappings(system, ami);
      const username = system.getString('disk.0.os.credentials.username') ?? DEFAULT_USER;
      if (!isValidUsername(username)) throw new ImError('BAD_REQUEST', `Invalid disk.0.os.credentials.username '${username}' for EC2`);
      system.setValue('disk.0.os.credentials.username', username);
      const net = await this.resolveNetwork(ec2, req, system);
      created.vpcId = net.vpcId;
      created.subnetId = net.subnetId;
      created.securityGroups = await this.ensureSecurityGroups(ec2, req, net, createdGroups);
      const keyName = await this.ensureKeyPair(ec2, req, system, created);
      const eip = net.elasticIp ? await this.reserveElasticIp(ec2, net.elasticIp, req, created) : undefined;

      const publicKey = this.userPublicKey(system);
      const userData = cloudInitUserData(username, publicKey, cloudInitRecipes(req.radl, req.system.name));

      const spot = system.getString('spot')?.toLowerCase() === 'yes';
      const tags = this.instanceTags(req, system);
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

      this.logger.info('EC2 RunInstances', { infId, vmId, region, imageId: ami.imageId, instanceType: type.name, subnetId: net.subnetId, spot });
      const out = await ec2.send(new RunInstancesCommand(input));
      const inst = out.Instances?.[0];
      if (!inst?.InstanceId) throw new ImError('CLOUD_RETRYABLE', `${context}: RunInstances returned no instance`);
      created.instanceId = inst.InstanceId;
      if (eip) {
        created.elasticIps = [eip];
        await this.associateElasticIp(ec2, eip, inst, false);
      }

      const providerId = `${region};${inst.InstanceId}`;
      system.setValue('instance_id', providerId);
      system.setValue('provider.type', this.type);
      this.setTypeFeatures(system, type);
      if (inst.Placement?.AvailabilityZone) system.setValue('availability_zone', inst.Placement.AvailabilityZone);
      system.setValue('launch_time', Math.floor((inst.LaunchTime ? new Date(inst.LaunchTime).getTime() : Date.now()) / 1000));
      assignIps(system, req.radl, instanceIps(inst), this.config.PRIVATE_NET_MASKS);
      this.logger.info('EC2 instance launched', { infId, vmId, region, instanceId: inst.InstanceId });
      return { providerId, state: mapEc2State(inst.State?.Name ?? 'pending'), system, cloudData: { ...created } };
    } catch (err) {
      // A group removed meanwhile (another VM's rollback or finalize): a new attempt recreates it.
      const mapped =
        errorCode(err) === 'InvalidGroup.NotFound'
          ? new ImError('CLOUD_RETRYABLE', `${context}: a security group of the infrastructure was removed meanwhile (InvalidGroup.NotFound)`)
          : mapEc2Error(err, context, authSecrets(auth));
      this.logger.warn('EC2 launch failed', { infId, vmId, region, code: errorCode(err), error: mapped.message });
      const left = await this.rollback(ec2, created, createdGroups, auth);
      Object.assign(mapped, { cloudData: left });
      throw mapped;
    }
  }

  /** DescribeImages of the AMI (arch, root device), or RegisterImage from a snapshot. */
  private async resolveImage(ec2: EC2Client, image: AwsImageRef, system: System, req: LaunchRequest, created: Ec2CloudData): Promise<ResolvedImage> {
    if (image.kind === 'snap') {
      const arch = normaliseArch(system.getString('cpu.arch')) ?? 'x86_64';
      const out = await ec2.send(
        new RegisterImageCommand({
          Name: `im-${req.infId}-${req.vmId}-${image.id}`,
          Description: `Registered by the IM from ${image.id}`,
          Architecture: arch,
          RootDeviceName: '/dev/sda1',
          VirtualizationType: 'hvm',
          EnaSupport: true,
          BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: image.id, DeleteOnTermination: true } }],
          TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: INFRA_TAG, Value: req.infId }] }],
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

  /** Cheapest type for the system on the AMI's architecture; BAD_REQUEST when none fits. */
  private selectInstanceType(system: System, amiArch: string | undefined, imageId: string): InstanceTypeInfo {
    const req = instanceRequirements(system, amiArch ? normaliseArch(amiArch) ?? amiArch : undefined);
    const exact = req.instanceType && !/[*?]/.test(req.instanceType) ? instanceTypeInfo(req.instanceType.toLowerCase()) : undefined;
    if (exact && req.arch && normaliseArch(req.arch) && exact.arch !== normaliseArch(req.arch)) {
      throw new ImError('BAD_REQUEST', `Instance type ${exact.name} (${exact.arch}) cannot run AMI ${imageId} (${req.arch})`);
    }
    const type = candidateInstanceTypes(req)[0];
    if (!type) throw new ImError('BAD_REQUEST', `No EC2 instance type satisfies the requirements of system '${system.name}': ${describeRequirements(req)}`);
    return type;
  }

  /** The VM's networks, VPC and subnet (RADL provider_id `vpc-….subnet-…`, else the default VPC). */
  private async resolveNetwork(ec2: EC2Client, req: LaunchRequest, system: System): Promise<ResolvedNetwork> {
    const networks: ResolvedNetwork['networks'] = [];
    let providerId: string | undefined;
    let elasticIp: string | undefined;
    let privateIp: string | undefined;
    for (let i = 0; i < system.getNumNetInterfaces(); i++) {
      const netId = system.getString(`net_interface.${i}.connection`) as string;
      const net = req.radl.getNetworkById(netId);
      const isPublic = net?.isPublic() ?? false;
      const ip = system.getString(`net_interface.${i}.ip`);
      if (ip && isPublic) elasticIp ??= ip;
      if (ip && !isPublic) privateIp ??= ip;
      providerId ??= net?.getString('provider_id');
      if (!networks.some((n) => n.id === netId)) {
        networks.push({ id: netId, isPublic, sgName: net?.getString('sg_name') ?? `im-${req.infId}-${netId}`, outports: net?.getOutPorts() });
      }
    }
    const az = system.getString('availability_zone');
    const base = { networks, isPublic: networks.some((n) => n.isPublic), ...(elasticIp ? { elasticIp } : {}), ...(privateIp ? { privateIp } : {}) };
    if (providerId) {
      const m = /^(vpc-[0-9a-zA-Z]+)\.(subnet-[0-9a-zA-Z]+)$/.exec(providerId.trim());
      if (!m) throw new ImError('BAD_REQUEST', `Incorrect provider_id value: ${providerId}. It must be <vpc-id>.<subnet-id>.`);
      return { ...base, vpcId: m[1], subnetId: m[2] };
    }
    const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
    const vpcId = vpcs.Vpcs?.[0]?.VpcId;
    if (!vpcId) {
      throw new ImError('BAD_REQUEST', `No default VPC in EC2 region: set the network provider_id to '<vpc-id>.<subnet-id>'`);
    }
    const filters: Filter[] = [
      { Name: 'vpc-id', Values: [vpcId] },
      { Name: 'default-for-az', Values: ['true'] },
    ];
    if (az) filters.push({ Name: 'availability-zone', Values: [az] });
    const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: filters }));
    const subnet = [...(subnets.Subnets ?? [])].sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
    if (!subnet?.SubnetId) {
      throw new ImError('BAD_REQUEST', `No default subnet in the default VPC ${vpcId}${az ? ` for availability zone ${az}` : ''}`);
    }
    return { ...base, vpcId, subnetId: subnet.SubnetId, ...(az ? { availabilityZone: az } : {}) };
  }

  /** One security group per network: reused when one of that name exists in the VPC, else created with rules. */
  private async ensureSecurityGroups(ec2: EC2Client, req: LaunchRequest, net: ResolvedNetwork, createdGroups: string[]): Promise<Ec2SecurityGroupData[]> {
    const out: Ec2SecurityGroupData[] = [];
    for (const n of net.networks) {
      const found = await this.findSecurityGroup(ec2, n.sgName, net.vpcId, req.infId);
      if (found) {
        out.push(found);
        continue;
      }
      let groupId: string | undefined;
      try {
        const res = await ec2.send(
          new CreateSecurityGroupCommand({
            GroupName: n.sgName,
            Description: `Security group created by the IM for network ${n.id} of infrastructure ${req.infId}`.slice(0, 255),
            VpcId: net.vpcId,
            TagSpecifications: [
              {
                ResourceType: 'security-group',
                Tags: [
                  { Key: INFRA_TAG, Value: req.infId },
                  { Key: 'Name', Value: n.sgName },
                ],
              },
            ],
          }),
        );
        groupId = res.GroupId;
      } catch (err) {
        // Another VM of the infrastructure created it meanwhile.
        if (errorCode(err) !== 'InvalidGroup.Duplicate') throw err;
        const again = await this.findSecurityGroup(ec2, n.sgName, net.vpcId, req.infId);
        if (!again) throw err;
        out.push(again);
        continue;
      }
      if (!groupId) throw new ImError('CLOUD_RETRYABLE', `CreateSecurityGroup ${n.sgName} returned no id`);
      createdGroups.push(groupId);
      out.push({ id: groupId, name: n.sgName, vpcId: net.vpcId, managed: true });
      this.logger.info('EC2 security group created', { infId: req.infId, groupId, name: n.sgName });
      try {
        await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ingressPermissions(groupId, n.outports, n.isPublic) }));
      } catch (err) {
        if (errorCode(err) !== 'InvalidPermission.Duplicate') throw err;
      }
    }
    return out;
  }

  private async findSecurityGroup(ec2: EC2Client, name: string, vpcId: string, infId: string): Promise<Ec2SecurityGroupData | undefined> {
    const res = await ec2.send(
      new DescribeSecurityGroupsCommand({
        Filters: [
          { Name: 'group-name', Values: [name] },
          { Name: 'vpc-id', Values: [vpcId] },
        ],
      }),
    );
    const g = res.SecurityGroups?.[0];
    if (!g?.GroupId) return undefined;
    const managed = (g.Tags ?? []).some((t) => t.Key === INFRA_TAG && t.Value === infId);
    return { id: g.GroupId, name, vpcId, managed };
  }

  /**
   * The key pair: an existing one named by a short `public_key`; ImportKeyPair of the RADL public key (or of
   * the one derived from its private key); else CreateKeyPair, whose private key goes into the system.
   */
  private async ensureKeyPair(ec2: EC2Client, req: LaunchRequest, system: System, created: Ec2CloudData): Promise<string | undefined> {
    const keyName = `im-${req.infId}-${req.vmId}`;
    const pub = system.getString('disk.0.os.credentials.public_key');
    const priv = system.getString('disk.0.os.credentials.private_key');
    const tagSpec: TagSpecification[] = [{ ResourceType: 'key-pair', Tags: [{ Key: INFRA_TAG, Value: req.infId }] }];
    if (pub && isKeyPairName(pub)) return pub.trim();
    if (pub || priv) {
      const material = pub ? normalisePublicKey(pub) : publicKeyFromPrivate(priv as string);
      if (!material) {
        throw new ImError(
          'BAD_REQUEST',
          pub
            ? 'disk.0.os.credentials.public_key is neither an OpenSSH/PEM public key nor an EC2 key pair name'
            : 'Cannot read disk.0.os.credentials.private_key (PEM expected): give disk.0.os.credentials.public_key too',
        );
      }
      const cmd = () => new ImportKeyPairCommand({ KeyName: keyName, PublicKeyMaterial: Buffer.from(material), TagSpecifications: tagSpec });
      await this.withDuplicateKeyRetry(ec2, keyName, () => ec2.send(cmd()));
      created.keyPair = keyName;
      return keyName;
    }
    const res = await this.withDuplicateKeyRetry(ec2, keyName, () =>
      ec2.send(new CreateKeyPairCommand({ KeyName: keyName, KeyType: 'rsa', KeyFormat: 'pem', TagSpecifications: tagSpec })),
    );
    created.keyPair = keyName;
    if (!res.KeyMaterial) throw new ImError('CLOUD_RETRYABLE', 'CreateKeyPair returned no key material');
    system.setValue('disk.0.os.credentials.private_key', res.KeyMaterial);
    return keyName;
  }

  /** A key pair left by an earlier failed attempt of the same VM is replaced. */
  private async withDuplicateKeyRetry<T>(ec2: EC2Client, keyName: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (errorCode(err) !== 'InvalidKeyPair.Duplicate') throw err;
      await ec2.send(new DeleteKeyPairCommand({ KeyName: keyName }));
      return fn();
    }
  }

  /** The public key cloud-init installs for the user (from the RADL, or derived from the private key). */
  private userPublicKey(system: System): string | undefined {
    const pub = system.getString('disk.0.os.credentials.public_key');
    if (pub && !isKeyPairName(pub)) return normalisePublicKey(pub);
    const priv = system.getString('disk.0.os.credentials.private_key');
    const derived = priv ? publicKeyFromPrivate(priv) : undefined;
    if (priv && !derived) this.logger.warn('EC2: could not derive the public key from the private key; cloud-init will not install it');
    return derived;
  }

  /** The user's Elastic IP with that address, or a newly allocated one (BYOIP / recovery of a released address). */
  private async reserveElasticIp(ec2: EC2Client, ip: string, req: LaunchRequest, created: Ec2CloudData): Promise<Ec2ElasticIpData> {
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
        TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: INFRA_TAG, Value: req.infId }] }],
      }),
    );
    if (!res.AllocationId) throw new ImError('CLOUD_RETRYABLE', `AllocateAddress ${ip} returned no allocation id`);
    const eip = { allocationId: res.AllocationId, publicIp: res.PublicIp ?? ip, allocated: true };
    created.elasticIps = [eip];
    return eip;
  }

  /** Associates the EIP with the primary interface; an instance not ready yet leaves it pending (unless `strict`). */
  private async associateElasticIp(ec2: EC2Client, eip: Ec2ElasticIpData, inst: Instance, strict: boolean): Promise<void> {
    const eni = inst.NetworkInterfaces?.find((n) => n.Attachment?.DeviceIndex === 0)?.NetworkInterfaceId ?? inst.NetworkInterfaces?.[0]?.NetworkInterfaceId;
    try {
      const res = await ec2.send(
        new AssociateAddressCommand({ AllocationId: eip.allocationId, ...(eni ? { NetworkInterfaceId: eni } : { InstanceId: inst.InstanceId }) }),
      );
      eip.associationId = res.AssociationId;
      delete eip.pending;
    } catch (err) {
      const code = errorCode(err);
      if (strict || !(code === 'IncorrectInstanceState' || code === 'InvalidInstanceID' || isNotFound(err))) throw err;
      eip.pending = true;
    }
  }

  /** Root resize (disk.0.size / disk.0.type), data disks (disk.N, N ≥ 1), AMI volumes forced DeleteOnTermination. */
  private blockDeviceMappings(system: System, ami: ResolvedImage): BlockDeviceMapping[] {
    const out: BlockDeviceMapping[] = [];
    const rootSize = system.getNumber('disk.0.size');
    const rootType = system.getString('disk.0.type');
    if (ami.rootDevice) {
      const ebs: NonNullable<BlockDeviceMapping['Ebs']> = { DeleteOnTermination: true };
      if (rootSize !== undefined) ebs.VolumeSize = Math.max(bytesToGiB(rootSize), ami.rootSizeGiB ?? 1);
      if (rootType) ebs.VolumeType = this.volumeType(rootType, 0);
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
      if (type) ebs.VolumeType = this.volumeType(type, n);
      const device = deviceName(system, n);
      out.push({ DeviceName: device, Ebs: ebs });
      if (!system.getString(`disk.${n}.device`)) system.setValue(`disk.${n}.device`, device.replace('/dev/', ''));
    }
    return out;
  }

  private volumeType(t: string, n: number): NonNullable<BlockDeviceMapping['Ebs']>['VolumeType'] {
    const v = t.trim().toLowerCase();
    if (!VOLUME_TYPES.has(v)) throw new ImError('BAD_REQUEST', `disk.${n}.type '${t}' is not an EBS volume type (${[...VOLUME_TYPES].join(', ')})`);
    return v as NonNullable<BlockDeviceMapping['Ebs']>['VolumeType'];
  }

  /** instance_tags + LaunchRequest.tags + Name + IM-USER + IM-INFRA-ID. */
  private instanceTags(req: LaunchRequest, system: System): Tag[] {
    const tags: Record<string, string> = { ...req.tags, ...parseInstanceTags(system.getString('instance_tags')) };
    const userTag = this.config.VM_TAG_USERNAME;
    if (userTag && req.tags[userTag] && !tags['IM-USER']) tags['IM-USER'] = req.tags[userTag];
    tags[INFRA_TAG] ??= req.infId;
    tags.Name ??= nameTag(system, randomUUID());
    return toEc2Tags(tags);
  }

  private setTypeFeatures(system: System, type: InstanceTypeInfo): void {
    system.setValue('instance_type', type.name);
    if (type.vcpus > 0) system.setValue('cpu.count', type.vcpus);
    if (type.memoryMiB > 0) system.setValue('memory.size', type.memoryMiB, 'MiB');
    if (type.price > 0) system.setValue('price', type.price);
    if (type.gpus > 0) {
      system.setValue('gpu.count', type.gpus);
      if (type.gpuVendor) system.setValue('gpu.vendor', type.gpuVendor);
      if (type.gpuModel) system.setValue('gpu.model', type.gpuModel);
    }
  }

  /** Best-effort removal of the per-VM resources of a failed launch; returns what is left for finalize. */
  private async rollback(ec2: EC2Client, created: Ec2CloudData, createdGroups: string[], auth: AuthItem): Promise<Ec2CloudData> {
    const left: Ec2CloudData = { ...created };
    const attempt = async (what: string, fn: () => Promise<unknown>, done: () => void) => {
      try {
        await fn();
        done();
      } catch (err) {
        if (isNotFound(err)) done();
        else this.logger.warn('EC2 rollback step failed', { what, error: mapEc2Error(err, what, authSecrets(auth)).message });
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

  // -------------------------------------------------------------------------------------------
  // updateVmInfo, start/stop/reboot, alterVm
  // -------------------------------------------------------------------------------------------

  private locate(vm: VmHandle, auth: AuthItem): { region: string; instanceId?: string; data: Ec2CloudData } {
    const pid = parseProviderId(vm.providerId);
    const fallback = pid?.region ?? systemImage(vm.system)?.region ?? auth.region ?? DEFAULT_REGION;
    const data = readCloudData(vm.cloudData, fallback);
    const region = pid?.region ?? data.region;
    const instanceId = pid?.instanceId ?? data.instanceId;
    return { region, data, ...(instanceId ? { instanceId } : {}) };
  }

  private requireInstance(vm: VmHandle, auth: AuthItem) {
    const loc = this.locate(vm, auth);
    if (!loc.instanceId) throw new ImError('BAD_REQUEST', `VM ${vm.vmId} has no EC2 instance (provider id '${vm.providerId}')`);
    return loc as { region: string; instanceId: string; data: Ec2CloudData };
  }

  private async describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
    try {
      const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /**
   * State (pending→pending, running/stopping→running, stopped→stopped, shutting-down/terminated→off; a vanished
   * instance → off), IPs (PRIVATE_NET_MASKS), instance type, launch time; completes a pending EIP association
   * and records volumes that are not DeleteOnTermination.
   */
  async updateVmInfo(vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
    const { region, instanceId, data } = this.requireInstance(vm, auth);
    const ec2 = this.client(region, auth);
    const system = vm.system.clone();
    try {
      const inst = await this.describeInstance(ec2, instanceId);
      if (!inst) {
        // DescribeInstances is eventually consistent: a just-launched instance may not be visible yet.
        const launched = system.getNumber('launch_time');
        const recent = launched !== undefined && Date.now() / 1000 - launched < RECENT_LAUNCH_SECONDS;
        return { state: recent ? 'pending' : 'off', system, cloudData: { ...data } };
      }
      const state = mapEc2State(inst.State?.Name);
      for (const eip of data.elasticIps ?? []) {
        if (eip.pending && inst.State?.Name === 'running') await this.associateElasticIp(ec2, eip, inst, false);
      }
      this.recordVolumes(inst, data);
      if (inst.InstanceType) {
        const info = instanceTypeInfo(inst.InstanceType);
        if (info) this.setTypeFeatures(system, info);
        else system.setValue('instance_type', inst.InstanceType);
      }
      if (inst.LaunchTime) system.setValue('launch_time', Math.floor(new Date(inst.LaunchTime).getTime() / 1000));
      if (inst.Placement?.AvailabilityZone) system.setValue('availability_zone', inst.Placement.AvailabilityZone);
      system.setValue('provider.type', this.type);
      assignIps(system, vm.radl, instanceIps(inst), this.config.PRIVATE_NET_MASKS);
      return { state, system, cloudData: { ...data } };
    } catch (err) {
      throw mapEc2Error(err, `Error getting the state of VM ${vm.vmId} from EC2`, authSecrets(auth));
    }
  }

  private recordVolumes(inst: Instance, data: Ec2CloudData): void {
    const keep = (inst.BlockDeviceMappings ?? []).filter((m) => m.Ebs?.VolumeId && m.Ebs.DeleteOnTermination === false).map((m) => m.Ebs?.VolumeId as string);
    if (keep.length) data.volumes = [...new Set([...(data.volumes ?? []), ...keep])];
  }

  /** StartInstances. */
  async start(vm: VmHandle, auth: AuthItem): Promise<void> {
    await this.simple(vm, auth, 'start', (ec2, id) => ec2.send(new StartInstancesCommand({ InstanceIds: [id] })));
  }

  /** StopInstances (one-time spot instances cannot be stopped: EC2's error is returned as 400). */
  async stop(vm: VmHandle, auth: AuthItem): Promise<void> {
    await this.simple(vm, auth, 'stop', (ec2, id) => ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
  }

  /** RebootInstances. */
  async reboot(vm: VmHandle, auth: AuthItem): Promise<void> {
    await this.simple(vm, auth, 'reboot', (ec2, id) => ec2.send(new RebootInstancesCommand({ InstanceIds: [id] })));
  }

  private async simple(vm: VmHandle, auth: AuthItem, op: string, fn: (ec2: EC2Client, id: string) => Promise<unknown>): Promise<void> {
    const { region, instanceId } = this.requireInstance(vm, auth);
    try {
      await fn(this.client(region, auth), instanceId);
      this.logger.info(`EC2 ${op}`, { infId: vm.infId, vmId: vm.vmId, instanceId });
    } catch (err) {
      throw mapEc2Error(err, `Error trying to ${op} VM ${vm.vmId} in EC2`, authSecrets(auth));
    }
  }

  /**
   * Changes the instance type from the new system's instance_type / cpu.count / memory.size / gpu.* (the
   * current system's constraints are replaced by the new ones). A stopped instance is modified in place; a
   * running one is refused (400) or, with `alterRunning: 'restart'`, stopped, modified and started again.
   */
  async alterVm(vm: VmHandle, newSystem: System, auth: AuthItem): Promise<VmUpdate> {
    const { region, instanceId, data } = this.requireInstance(vm, auth);
    const ec2 = this.client(region, auth);
    const context = `Error altering VM ${vm.vmId} in EC2`;
    try {
      const inst = await this.describeInstance(ec2, instanceId);
      if (!inst) throw new ImError('BAD_REQUEST', `${context}: instance ${instanceId} not found`);
      const props = ['instance_type', 'cpu.count', 'memory.size', 'gpu.count', 'gpu.vendor', 'gpu.model'];
      const changed = props.filter((p) => newSystem.hasFeature(p));
      const system = vm.system.clone();
      const state = mapEc2State(inst.State?.Name);
      if (changed.length === 0) return { state, system, cloudData: { ...data } };
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
      const type = this.selectInstanceType(merged, inst.Architecture, inst.ImageId ?? 'the instance AMI');
      if (type.name === inst.InstanceType) return { state, system, cloudData: { ...data } };
      const ec2State = inst.State?.Name;
      let restart = false;
      if (ec2State !== 'stopped') {
        if (this.alterRunning !== 'restart' || (ec2State !== 'running' && ec2State !== 'stopping')) {
          throw new ImError(
            'BAD_REQUEST',
            `${context}: EC2 can only change the instance type of a stopped VM (state ${ec2State}): stop the VM, alter it and start it again`,
          );
        }
        if (ec2State === 'running') await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
        await this.waitForState(ec2, instanceId, ['stopped'], context);
        restart = true;
      }
      await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: type.name } }));
      if (restart) await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
      this.logger.info('EC2 instance type changed', { infId: vm.infId, vmId: vm.vmId, instanceId, from: inst.InstanceType, to: type.name });
      this.setTypeFeatures(system, type);
      return { state: restart ? 'pending' : 'stopped', system, cloudData: { ...data } };
    } catch (err) {
      throw mapEc2Error(err, context, authSecrets(auth));
    }
  }

  /** Polls DescribeInstances until the state is one of `wanted` (a vanished instance counts as terminated). */
  private async waitForState(ec2: EC2Client, instanceId: string, wanted: string[], context: string): Promise<void> {
    for (let i = 0; i < this.maxPolls; i++) {
      const inst = await this.describeInstance(ec2, instanceId);
      const s = inst?.State?.Name ?? 'terminated';
      if (wanted.includes(s)) return;
      await this.sleep(this.pollIntervalMs);
    }
    throw new ImError(
      'CLOUD_RETRYABLE',
      `${context}: instance ${instanceId} did not reach state ${wanted.join('/')} after ${Math.round((this.maxPolls * this.pollIntervalMs) / 1000)} s`,
    );
  }

  // -------------------------------------------------------------------------------------------
  // finalize
  // -------------------------------------------------------------------------------------------

  /**
   * Removes what was created for the VM, in order: Elastic IPs (disassociate; release when allocated by the
   * connector), the instance (terminate and wait until terminated), volumes that were not DeleteOnTermination,
   * the AMI registered from a snapshot, the VM's key pair and — when `last`, or when no other
   * pending/running/stopping/stopped instance tagged with the infrastructure is left — the infrastructure's
   * security groups (from cloudData plus any tagged `IM-INFRA-ID = infId`; DependencyViolation is retried).
   * NotFound errors count as done, so a retried finalize completes what an earlier one left. Steps that fail
   * are reported together at the end (CLOUD_RETRYABLE if any was transient) after the others were tried.
   */
  async finalize(vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
    const { region, instanceId, data } = this.locate(vm, auth);
    const ec2 = this.client(region, auth);
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
        this.logger.warn('EC2 finalize step failed', { infId: vm.infId, vmId: vm.vmId, what, error: e.message });
        return false;
      }
    };

    let inst: Instance | undefined;
    if (instanceId) {
      await step(`describe instance ${instanceId}`, async () => {
        inst = await this.describeInstance(ec2, instanceId);
        if (inst) this.recordVolumes(inst, data);
      });
    }

    for (const eip of data.elasticIps ?? []) {
      await step(`release Elastic IP ${eip.publicIp}`, async () => {
        const addr = (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [eip.allocationId] }))).Addresses?.[0];
        if (!addr) return;
        if (addr.AssociationId && (!instanceId || !addr.InstanceId || addr.InstanceId === instanceId || addr.AssociationId === eip.associationId)) {
          await ignoreNotFound(ec2.send(new DisassociateAddressCommand({ AssociationId: addr.AssociationId })));
        }
        if (eip.allocated) await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.allocationId }));
      });
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
        await this.waitForState(ec2, instanceId, ['terminated'], `Error terminating VM ${vm.vmId}`);
        this.logger.info('EC2 instance terminated', { infId: vm.infId, vmId: vm.vmId, instanceId });
      });
    }

    if (terminated) {
      for (const volumeId of data.volumes ?? []) {
        await step(`delete volume ${volumeId}`, () => this.retrying(() => ec2.send(new DeleteVolumeCommand({ VolumeId: volumeId })), ['VolumeInUse', 'IncorrectState']));
      }
    }
    if (data.registeredImage) {
      await step(`deregister image ${data.registeredImage}`, () => ec2.send(new DeregisterImageCommand({ ImageId: data.registeredImage })));
    }
    // Without cloudData (a launch that failed before recording it) the deterministic key name is tried anyway.
    const keyName = data.keyPair ?? (vm.cloudData ? undefined : `im-${vm.infId}-${vm.vmId}`);
    if (keyName) await step(`delete key pair ${keyName}`, () => ec2.send(new DeleteKeyPairCommand({ KeyName: keyName })));

    // The shared groups go with the last VM; also when no other instance of the infrastructure is left in the
    // region (the VM flagged last may be one that never launched, which the flows do not finalize).
    let removeGroups = last && terminated;
    if (!last && terminated && (data.securityGroups ?? []).some((g) => g.managed)) {
      await step('list the instances of the infrastructure', async () => {
        removeGroups = !(await this.otherLiveInstances(ec2, vm.infId, instanceId));
      });
    }
    if (removeGroups) {
      const ids = new Set((data.securityGroups ?? []).filter((g) => g.managed).map((g) => g.id));
      await step('list security groups', async () => {
        const res = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${INFRA_TAG}`, Values: [vm.infId] }] }));
        for (const g of res.SecurityGroups ?? []) if (g.GroupId) ids.add(g.GroupId);
      });
      for (const id of ids) {
        await step(`delete security group ${id}`, () => this.retrying(() => ec2.send(new DeleteSecurityGroupCommand({ GroupId: id })), ['DependencyViolation'], this.sgDeleteAttempts));
      }
    }

    if (errors.length) {
      const code = errors.some((e) => e.code === 'CLOUD_RETRYABLE') ? 'CLOUD_RETRYABLE' : errors[0].code;
      throw new ImError(code, `Error finalizing VM ${vm.vmId} in EC2: ${errors.map((e) => e.message).join('; ')}`);
    }
    this.logger.info('EC2 VM finalized', { infId: vm.infId, vmId: vm.vmId, last });
  }

  /** Whether another pending/running/stopping/stopped instance carries the infrastructure tag. */
  private async otherLiveInstances(ec2: EC2Client, infId: string, instanceId: string | undefined): Promise<boolean> {
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

  /** Runs fn, retrying (with the poll interval) while it fails with one of `codes`. */
  private async retrying<T>(fn: () => Promise<T>, codes: string[], attempts = 5): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (i >= attempts || !codes.includes(errorCode(err))) throw err;
        await this.sleep(this.pollIntervalMs);
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Images
  // -------------------------------------------------------------------------------------------

  /**
   * Disk 0: CreateImage of the instance (no reboot) → `aws://<region>/<ami-id>`. Disk N > 0: CreateSnapshot of
   * the volume attached at the disk's device → `aws://<region>/<snap-id>`.
   */
  async createSnapshot(vm: VmHandle, diskNum: number, imageName: string, _autoDelete: boolean, auth: AuthItem): Promise<string> {
    const { region, instanceId } = this.requireInstance(vm, auth);
    const ec2 = this.client(region, auth);
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
      const inst = await this.describeInstance(ec2, instanceId);
      const device = deviceName(vm.system, diskNum);
      const alt = device.replace('/dev/sd', '/dev/xvd');
      const volumeId = inst?.BlockDeviceMappings?.find((m) => m.DeviceName === device || m.DeviceName === alt)?.Ebs?.VolumeId;
      if (!volumeId) throw new ImError('BAD_REQUEST', `Disk ${diskNum} (${device}) not found in VM ${vm.vmId}`);
      const res = await ec2.send(new CreateSnapshotCommand({ VolumeId: volumeId, Description: imageName, TagSpecifications: [{ ResourceType: 'snapshot', Tags: tags }] }));
      if (!res.SnapshotId) throw new ImError('CLOUD_RETRYABLE', 'CreateSnapshot returned no snapshot id');
      return imageUrl(region, res.SnapshotId);
    } catch (err) {
      throw mapEc2Error(err, `Error creating a snapshot of disk ${diskNum} of VM ${vm.vmId} in EC2`, authSecrets(auth));
    }
  }

  /** DeregisterImage + DeleteSnapshot of the AMI's EBS snapshots (or DeleteSnapshot of a snapshot URL). Idempotent. */
  async deleteImage(url: string, auth: AuthItem): Promise<void> {
    const ref = parseImageUrl(url);
    if (!ref) throw new ImError('BAD_REQUEST', `Not an EC2 image URL: ${url}`);
    const ec2 = this.client(ref.region, auth);
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
        await ignoreNotFound(this.retrying(() => ec2.send(new DeleteSnapshotCommand({ SnapshotId: s })), ['InvalidSnapshot.InUse']));
      }
      this.logger.info('EC2 image deleted', { region: ref.region, imageId: ref.id, snapshots: snapshots.length });
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
  async listImages(auth: AuthItem, filters: Record<string, string>): Promise<CloudImage[]> {
    const region = filters.region || auth.region || DEFAULT_REGION;
    const ec2 = this.client(region, auth);
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

  // -------------------------------------------------------------------------------------------
  // Quotas
  // -------------------------------------------------------------------------------------------

  /**
   * `{cores, instances, floating_ips, security_groups}` of the auth item's region (default us-east-1).
   * Limits from Service Quotas (L-1216C47A standard on-demand vCPUs, L-0263D0A3 Elastic IPs, vpc L-E79EC296
   * security groups), falling back to DescribeAccountAttributes (max-instances, vpc-max-elastic-ips); -1 =
   * unknown. `used`: vCPUs of pending/running standard-family instances, pending/running instances,
   * allocated addresses, security groups.
   */
  async getQuotas(auth: AuthItem): Promise<Quotas> {
    const region = auth.region || DEFAULT_REGION;
    const ec2 = this.client(region, auth);
    const sq = this.quotasFactory(region, auth);
    const quota = async (q: { ServiceCode: string; QuotaCode: string }): Promise<number | undefined> => {
      try {
        const v = (await sq.send(new GetServiceQuotaCommand({ ...q }))).Quota?.Value;
        return typeof v === 'number' ? v : undefined;
      } catch (err) {
        this.logger.debug('Service Quotas unavailable, using the EC2 fallback', { quota: q.QuotaCode, code: errorCode(err) });
        return undefined;
      }
    };
    try {
      let cores = await quota(QUOTA_STANDARD_VCPUS);
      let eips = await quota(QUOTA_ELASTIC_IPS);
      const sgs = await quota(QUOTA_SECURITY_GROUPS);
      const attrs = await ec2.send(new DescribeAccountAttributesCommand({}));
      const attr = (name: string): number | undefined => {
        const v = attrs.AccountAttributes?.find((a) => a.AttributeName === name)?.AttributeValues?.[0]?.AttributeValue;
        return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
      };
      const maxInstances = attr('max-instances');
      cores ??= maxInstances;
      eips ??= attr('vpc-max-elastic-ips') ?? attr('max-elastic-ips');

      const instances: Instance[] = [];
      let token: string | undefined;
      do {
        const out: DescribeInstancesCommandOutput = await ec2.send(
          new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 1000, ...(token ? { NextToken: token } : {}) }),
        );
        for (const r of out.Reservations ?? []) instances.push(...(r.Instances ?? []));
        token = out.NextToken;
      } while (token);
      const usedCores = instances
        .filter((i) => STANDARD_FAMILY_RE.test(i.InstanceType ?? ''))
        .reduce((sum, i) => sum + (i.CpuOptions?.CoreCount && i.CpuOptions.ThreadsPerCore ? i.CpuOptions.CoreCount * i.CpuOptions.ThreadsPerCore : instanceTypeInfo(i.InstanceType ?? '')?.vcpus ?? 1), 0);
      const addresses = (await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? [];
      let groups = 0;
      token = undefined;
      do {
        const out: DescribeSecurityGroupsCommandOutput = await ec2.send(new DescribeSecurityGroupsCommand({ MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
        groups += out.SecurityGroups?.length ?? 0;
        token = out.NextToken;
      } while (token);
      return {
        cores: { used: usedCores, limit: cores ?? -1 },
        instances: { used: instances.length, limit: maxInstances ?? -1 },
        floating_ips: { used: addresses.length, limit: eips ?? -1 },
        security_groups: { used: groups, limit: sgs ?? -1 },
      };
    } catch (err) {
      throw mapEc2Error(err, `Error getting the quotas of EC2 region ${region}`, authSecrets(auth));
    }
  }
}
