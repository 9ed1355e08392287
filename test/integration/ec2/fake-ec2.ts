/**
 * A small stateful EC2 behind aws-sdk-client-mock: enough of the API for the EC2 connector's
 * lifecycle (images, default VPC, security groups, key pairs, instances, Elastic IPs, volumes), with
 * the real API's shapes and error codes. It records every resource it creates so that a test can check
 * that nothing is left behind (`leaks()`).
 *
 * Instances move pending → running on the first DescribeInstances after the launch, and
 * shutting-down → terminated on the first one after TerminateInstances; a terminated instance frees its
 * security groups, Elastic IP association and DeleteOnTermination volumes.
 */
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DisassociateAddressCommand,
  EC2Client,
  EC2ServiceException,
  ImportKeyPairCommand,
  RebootInstancesCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Filter,
  type Instance,
  type InstanceStateName,
  type RunInstancesCommandInput,
  type EC2ClientResolvedConfig,
  type ServiceInputTypes,
  type ServiceOutputTypes,
  type Tag,
} from '@aws-sdk/client-ec2';
import { generateKeyPairSync } from 'node:crypto';
import type { AwsStub } from 'aws-sdk-client-mock';

type Ec2Stub = AwsStub<ServiceInputTypes, ServiceOutputTypes, EC2ClientResolvedConfig>;

const CODES: Record<InstanceStateName, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };
const VPC = 'vpc-0fake';
const SUBNET = 'subnet-0fake';
const PEM = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;

interface FakeInstance {
  id: string;
  state: InstanceStateName;
  input: RunInstancesCommandInput;
  groups: string[];
  privateIp: string;
  publicIp?: string;
  eni: string;
  tags: Tag[];
  volumes: { id: string; device: string; deleteOnTermination: boolean }[];
  launchTime: Date;
}

interface FakeAddress {
  allocationId: string;
  publicIp: string;
  associationId?: string;
  eni?: string;
  instanceId?: string;
}

function fail(name: string, message: string): never {
  throw new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message });
}

function filterValues(filters: Filter[] | undefined, name: string): string[] | undefined {
  return filters?.find((f) => f.Name === name)?.Values;
}

/** The fake cloud. */
export class FakeEc2 {
  readonly instances = new Map<string, FakeInstance>();
  readonly groups = new Map<string, { id: string; name: string; vpcId: string; tags: Tag[]; rules: number }>();
  readonly keys = new Set<string>();
  readonly addresses = new Map<string, FakeAddress>();
  readonly volumes = new Map<string, { id: string; instanceId?: string }>();
  /** Every resource ever created, by kind. */
  readonly created: Record<'instance' | 'group' | 'key' | 'address' | 'volume', string[]> = { instance: [], group: [], key: [], address: [], volume: [] };
  /** Errors to throw from RunInstances before succeeding (e.g. capacity errors). */
  runFailures: string[] = [];
  /** Every command name received, in order. */
  readonly calls: string[] = [];
  private seq = 0;

  private next(prefix: string): string {
    this.seq++;
    return `${prefix}-0f${String(this.seq).padStart(6, '0')}`;
  }

  /** Resources still present that the connector created. */
  leaks(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const add = (k: string, ids: string[]) => {
      if (ids.length) out[k] = ids;
    };
    add('instances', [...this.instances.values()].filter((i) => i.state !== 'terminated').map((i) => i.id));
    add('groups', [...this.groups.keys()]);
    add('keys', [...this.keys]);
    add('addresses', [...this.addresses.keys()]);
    add('volumes', [...this.volumes.keys()]);
    return out;
  }

  /** Wires every handled command into the mock. */
  install(mock: Ec2Stub): void {
    const on = <I>(cmd: unknown, fn: (input: I) => unknown) =>
      mock.on(cmd as never).callsFake((input: I) => {
        this.calls.push(String((cmd as { name: string }).name).replace(/Command$/, ''));
        return fn(input);
      });
    on(DescribeImagesCommand, () => ({
      Images: [
        {
          ImageId: 'ami-0fake',
          Name: 'fake-linux',
          Architecture: 'x86_64',
          RootDeviceName: '/dev/xvda',
          RootDeviceType: 'ebs',
          State: 'available',
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0root', VolumeSize: 8, DeleteOnTermination: true, VolumeType: 'gp3' } }],
        },
      ],
    }));
    on(DescribeVpcsCommand, () => ({ Vpcs: [{ VpcId: VPC, IsDefault: true, CidrBlock: '172.31.0.0/16', State: 'available' }] }));
    on(DescribeSubnetsCommand, () => ({ Subnets: [{ SubnetId: SUBNET, VpcId: VPC, AvailabilityZone: 'us-east-1a', DefaultForAz: true, CidrBlock: '172.31.0.0/20' }] }));
    on(DescribeSecurityGroupsCommand, (i: { Filters?: Filter[] }) => {
      const names = filterValues(i.Filters, 'group-name');
      const vpcs = filterValues(i.Filters, 'vpc-id');
      const infra = i.Filters?.find((f) => f.Name?.startsWith('tag:'));
      const list = [...this.groups.values()].filter(
        (g) =>
          (!names || names.includes(g.name)) &&
          (!vpcs || vpcs.includes(g.vpcId)) &&
          (!infra || g.tags.some((t) => `tag:${t.Key}` === infra.Name && infra.Values?.includes(t.Value ?? ''))),
      );
      return { SecurityGroups: list.map((g) => ({ GroupId: g.id, GroupName: g.name, VpcId: g.vpcId, Tags: g.tags })) };
    });
    on(CreateSecurityGroupCommand, (i: { GroupName: string; VpcId: string; TagSpecifications?: { Tags?: Tag[] }[] }) => {
      if ([...this.groups.values()].some((g) => g.name === i.GroupName && g.vpcId === i.VpcId)) fail('InvalidGroup.Duplicate', `The security group '${i.GroupName}' already exists`);
      const id = this.next('sg');
      this.groups.set(id, { id, name: i.GroupName, vpcId: i.VpcId, tags: i.TagSpecifications?.[0]?.Tags ?? [], rules: 0 });
      this.created.group.push(id);
      return { GroupId: id };
    });
    on(AuthorizeSecurityGroupIngressCommand, (i: { GroupId: string; IpPermissions: unknown[] }) => {
      const g = this.groups.get(i.GroupId) ?? fail('InvalidGroup.NotFound', `The security group '${i.GroupId}' does not exist`);
      g.rules += i.IpPermissions.length;
      return { Return: true };
    });
    on(DeleteSecurityGroupCommand, (i: { GroupId: string }) => {
      if (!this.groups.has(i.GroupId)) fail('InvalidGroup.NotFound', `The security group '${i.GroupId}' does not exist`);
      if ([...this.instances.values()].some((x) => x.state !== 'terminated' && x.groups.includes(i.GroupId))) {
        fail('DependencyViolation', `resource ${i.GroupId} has a dependent object`);
      }
      this.groups.delete(i.GroupId);
      return { Return: true, GroupId: i.GroupId };
    });
    on(CreateKeyPairCommand, (i: { KeyName: string }) => {
      if (this.keys.has(i.KeyName)) fail('InvalidKeyPair.Duplicate', `The keypair '${i.KeyName}' already exists.`);
      this.keys.add(i.KeyName);
      this.created.key.push(i.KeyName);
      return { KeyName: i.KeyName, KeyPairId: this.next('key'), KeyFingerprint: 'fa:ke', KeyMaterial: PEM };
    });
    on(ImportKeyPairCommand, (i: { KeyName: string }) => {
      if (this.keys.has(i.KeyName)) fail('InvalidKeyPair.Duplicate', `The keypair '${i.KeyName}' already exists.`);
      this.keys.add(i.KeyName);
      this.created.key.push(i.KeyName);
      return { KeyName: i.KeyName, KeyPairId: this.next('key'), KeyFingerprint: 'fa:ke' };
    });
    on(DeleteKeyPairCommand, (i: { KeyName: string }) => {
      this.keys.delete(i.KeyName); // EC2 answers success for a missing key too
      return { Return: true };
    });
    on(RunInstancesCommand, (i: RunInstancesCommandInput) => {
      const failure = this.runFailures.shift();
      if (failure) fail(failure, `We currently do not have sufficient capacity (${failure})`);
      const nic = i.NetworkInterfaces?.[0];
      for (const g of nic?.Groups ?? []) if (!this.groups.has(g)) fail('InvalidGroup.NotFound', `The security group '${g}' does not exist`);
      if (i.KeyName && !this.keys.has(i.KeyName)) fail('InvalidKeyPair.NotFound', `The key pair '${i.KeyName}' does not exist`);
      const id = this.next('i');
      const n = this.instances.size + 10;
      const volumes = [{ id: this.next('vol'), device: '/dev/xvda', deleteOnTermination: true }];
      for (const m of i.BlockDeviceMappings ?? []) {
        if (m.DeviceName !== '/dev/xvda' && m.Ebs) volumes.push({ id: this.next('vol'), device: m.DeviceName ?? '', deleteOnTermination: m.Ebs.DeleteOnTermination ?? true });
      }
      for (const v of volumes) {
        this.volumes.set(v.id, { id: v.id, instanceId: id });
        this.created.volume.push(v.id);
      }
      const inst: FakeInstance = {
        id,
        state: 'pending',
        input: i,
        groups: nic?.Groups ?? [],
        privateIp: `172.31.0.${n}`,
        ...(nic?.AssociatePublicIpAddress ? { publicIp: `54.0.0.${n}` } : {}),
        eni: this.next('eni'),
        tags: i.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags ?? [],
        volumes,
        launchTime: new Date(),
      };
      this.instances.set(id, inst);
      this.created.instance.push(id);
      return { ReservationId: this.next('r'), OwnerId: '123456789012', Instances: [this.shape(inst, true)] };
    });
    on(DescribeInstancesCommand, (i: { InstanceIds?: string[]; Filters?: Filter[] }) => {
      let list: FakeInstance[];
      if (i.InstanceIds?.length) {
        list = i.InstanceIds.map((id) => this.instances.get(id) ?? fail('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`));
      } else {
        const states = filterValues(i.Filters, 'instance-state-name');
        const infra = i.Filters?.find((f) => f.Name?.startsWith('tag:'));
        list = [...this.instances.values()].filter(
          (x) => (!states || states.includes(x.state)) && (!infra || x.tags.some((t) => `tag:${t.Key}` === infra.Name && infra.Values?.includes(t.Value ?? ''))),
        );
      }
      const out = list.map((x) => this.shape(x));
      for (const x of list) this.advance(x);
      return { Reservations: out.length ? [{ ReservationId: 'r-0fake', OwnerId: '123456789012', Instances: out }] : [] };
    });
    on(TerminateInstancesCommand, (i: { InstanceIds: string[] }) => ({
      TerminatingInstances: i.InstanceIds.map((id) => {
        const x = this.instances.get(id) ?? fail('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
        const prev = x.state;
        if (x.state !== 'terminated') x.state = 'shutting-down';
        return { InstanceId: id, PreviousState: { Code: CODES[prev], Name: prev }, CurrentState: { Code: CODES[x.state], Name: x.state } };
      }),
    }));
    const power = (to: InstanceStateName) => (i: { InstanceIds: string[] }) => {
      for (const id of i.InstanceIds) {
        const x = this.instances.get(id) ?? fail('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`);
        if (x.state === 'terminated' || x.state === 'shutting-down') fail('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be changed.`);
        x.state = to;
      }
      return {};
    };
    on(StopInstancesCommand, power('stopped'));
    on(StartInstancesCommand, power('running'));
    on(RebootInstancesCommand, () => ({}));
    on(DescribeAddressesCommand, (i: { PublicIps?: string[]; AllocationIds?: string[] }) => {
      const list = [...this.addresses.values()].filter((a) => (!i.PublicIps || i.PublicIps.includes(a.publicIp)) && (!i.AllocationIds || i.AllocationIds.includes(a.allocationId)));
      if (i.AllocationIds && list.length === 0) fail('InvalidAllocationID.NotFound', `The allocation ID '${i.AllocationIds[0]}' does not exist`);
      if (i.PublicIps && list.length === 0) fail('InvalidAddress.NotFound', `Address '${i.PublicIps[0]}' not found.`);
      return {
        Addresses: list.map((a) => ({
          AllocationId: a.allocationId,
          PublicIp: a.publicIp,
          Domain: 'vpc',
          ...(a.associationId ? { AssociationId: a.associationId, InstanceId: a.instanceId, NetworkInterfaceId: a.eni } : {}),
        })),
      };
    });
    on(AllocateAddressCommand, (i: { Address?: string }) => {
      const allocationId = this.next('eipalloc');
      const publicIp = i.Address ?? `3.3.3.${this.seq}`;
      this.addresses.set(allocationId, { allocationId, publicIp });
      this.created.address.push(allocationId);
      return { AllocationId: allocationId, PublicIp: publicIp, Domain: 'vpc' };
    });
    on(AssociateAddressCommand, (i: { AllocationId: string; NetworkInterfaceId?: string }) => {
      const a = this.addresses.get(i.AllocationId) ?? fail('InvalidAllocationID.NotFound', `The allocation ID '${i.AllocationId}' does not exist`);
      const inst = [...this.instances.values()].find((x) => x.eni === i.NetworkInterfaceId) ?? fail('InvalidNetworkInterfaceID.NotFound', 'no such interface');
      a.associationId = this.next('eipassoc');
      a.eni = inst.eni;
      a.instanceId = inst.id;
      inst.publicIp = a.publicIp;
      return { AssociationId: a.associationId };
    });
    on(DisassociateAddressCommand, (i: { AssociationId: string }) => {
      const a = [...this.addresses.values()].find((x) => x.associationId === i.AssociationId) ?? fail('InvalidAssociationID.NotFound', 'no such association');
      delete a.associationId;
      delete a.eni;
      delete a.instanceId;
      return {};
    });
    on(ReleaseAddressCommand, (i: { AllocationId: string }) => {
      const a = this.addresses.get(i.AllocationId) ?? fail('InvalidAllocationID.NotFound', `The allocation ID '${i.AllocationId}' does not exist`);
      if (a.associationId) fail('InvalidIPAddress.InUse', 'Address is in use');
      this.addresses.delete(i.AllocationId);
      return {};
    });
    on(DeleteVolumeCommand, (i: { VolumeId: string }) => {
      const v = this.volumes.get(i.VolumeId) ?? fail('InvalidVolume.NotFound', `The volume '${i.VolumeId}' does not exist.`);
      if (v.instanceId && this.instances.get(v.instanceId)?.state !== 'terminated') fail('VolumeInUse', `Volume ${i.VolumeId} is attached`);
      this.volumes.delete(i.VolumeId);
      return {};
    });
  }

  private advance(x: FakeInstance): void {
    if (x.state === 'pending') x.state = 'running';
    else if (x.state === 'shutting-down') {
      x.state = 'terminated';
      for (const v of x.volumes) if (v.deleteOnTermination) this.volumes.delete(v.id);
      for (const a of this.addresses.values()) {
        if (a.instanceId === x.id) {
          delete a.associationId;
          delete a.eni;
          delete a.instanceId;
        }
      }
    }
  }

  private shape(x: FakeInstance, launching = false): Instance {
    const gone = x.state === 'terminated';
    const publicIp = !gone && x.state !== 'stopped' && !launching ? x.publicIp : undefined;
    return {
      InstanceId: x.id,
      ImageId: x.input.ImageId,
      InstanceType: x.input.InstanceType,
      KeyName: x.input.KeyName,
      State: { Code: CODES[x.state], Name: x.state },
      LaunchTime: x.launchTime,
      Architecture: 'x86_64',
      Placement: { AvailabilityZone: 'us-east-1a', Tenancy: 'default' },
      Tags: x.tags,
      ...(gone
        ? { BlockDeviceMappings: [], NetworkInterfaces: [] }
        : {
            SubnetId: SUBNET,
            VpcId: VPC,
            PrivateIpAddress: x.privateIp,
            ...(publicIp ? { PublicIpAddress: publicIp } : {}),
            SecurityGroups: x.groups.map((g) => ({ GroupId: g, GroupName: this.groups.get(g)?.name })),
            BlockDeviceMappings: x.volumes.map((v) => ({ DeviceName: v.device, Ebs: { VolumeId: v.id, DeleteOnTermination: v.deleteOnTermination, Status: 'attached' } })),
            NetworkInterfaces: [
              {
                NetworkInterfaceId: x.eni,
                Attachment: { DeviceIndex: 0, Status: 'attached' },
                PrivateIpAddress: x.privateIp,
                ...(publicIp ? { Association: { PublicIp: publicIp } } : {}),
                PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: x.privateIp, ...(publicIp ? { Association: { PublicIp: publicIp } } : {}) }],
              },
            ],
          }),
    };
  }
}

/** The client class to mock (re-exported so tests import one place). */
export { EC2Client };
