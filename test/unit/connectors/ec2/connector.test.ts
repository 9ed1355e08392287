/**
 * The EC2 connector against a mocked EC2 API (aws-sdk-client-mock mocks every EC2Client of the process, so the
 * connector's default client factory is exercised too). Responses have the shapes the real API returns; the
 * assertions check the exact commands and parameters the connector sends.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mockClient } from 'aws-sdk-client-mock';
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
  EC2ServiceException,
  ImportKeyPairCommand,
  ModifyInstanceAttributeCommand,
  RebootInstancesCommand,
  RegisterImageCommand,
  ReleaseAddressCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type Instance,
  type InstanceStateName,
} from '@aws-sdk/client-ec2';
import { GetServiceQuotaCommand, ServiceQuotasClient, ServiceQuotasServiceException } from '@aws-sdk/client-service-quotas';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseRadl, type Radl } from '#radl/index';
import { loadConfig } from '#core/config';
import { ImError } from '#core/errors';
import { createLogger } from '#core/logger';
import type { AuthItem, LaunchedVm, LaunchRequest, VmHandle } from '#core/types';
import { launchErrorCloudData, type Ec2CloudData } from '#connectors/ec2/cloud-data';
import { Ec2Connector, type Ec2ConnectorOptions } from '#connectors/ec2/connector';

const ec2Mock = mockClient(EC2Client);
const sqMock = mockClient(ServiceQuotasClient);

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRETKEY';
const SESSION = 'FwoGZXIvYXdzEJr//////////wEaDSESSIONTOKEN';
const AUTH: AuthItem = { id: 'ec2', type: 'EC2', username: 'AKIAIOSFODNN7EXAMPLE', password: SECRET };
const INF = 'inf-1234';
const IID = 'i-0123456789abcdef0';
const AMI = 'ami-0abc1234';
const { privateKey: PEM } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});

const RADL_TEXT = `
network pub (outbound = 'yes' and outports = '80,443,9000:9100/udp')
network priv ()
system web (
  cpu.count >= 2 and memory.size >= 4G and
  net_interface.0.connection = 'pub' and net_interface.1.connection = 'priv' and
  disk.0.image.url = 'aws://us-east-1/${AMI}' and disk.0.os.name = 'linux' and
  disk.1.size = 20GiB and disk.1.type = 'gp3' and disk.1.device = 'sdf' and disk.1.mount_path = '/data' and
  instance_tags = 'team=ops,env=dev,aws:reserved=no'
)
deploy web 1`;

const STATE_CODES: Record<string, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

function ec2Error(name: string, message = `${name} (mock)`): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400, requestId: 'req-1' }, message });
}

function instance(over: Partial<Instance> = {}, state: InstanceStateName = 'running'): Instance {
  return {
    InstanceId: IID,
    ImageId: AMI,
    InstanceType: 't3a.medium',
    State: { Code: STATE_CODES[state], Name: state },
    PrivateIpAddress: '172.31.16.10',
    PublicIpAddress: '54.210.1.2',
    Architecture: 'x86_64',
    LaunchTime: new Date('2025-01-01T10:00:00Z'),
    Placement: { AvailabilityZone: 'us-east-1a', Tenancy: 'default' },
    SubnetId: 'subnet-0aaa',
    VpcId: 'vpc-0def',
    KeyName: `im-${INF}-0`,
    BlockDeviceMappings: [
      { DeviceName: '/dev/xvda', Ebs: { VolumeId: 'vol-root', DeleteOnTermination: true, Status: 'attached' } },
      { DeviceName: '/dev/sdf', Ebs: { VolumeId: 'vol-data', DeleteOnTermination: true, Status: 'attached' } },
    ],
    NetworkInterfaces: [
      {
        NetworkInterfaceId: 'eni-0a1',
        Attachment: { DeviceIndex: 0, Status: 'attached', AttachmentId: 'eni-attach-1' },
        PrivateIpAddress: '172.31.16.10',
        Association: { PublicIp: '54.210.1.2', IpOwnerId: 'amazon' },
        PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: '172.31.16.10', Association: { PublicIp: '54.210.1.2', IpOwnerId: 'amazon' } }],
        Ipv6Addresses: [],
      },
    ],
    ...over,
  };
}

const described = (...insts: Instance[]) => ({ Reservations: [{ ReservationId: 'r-0f00', OwnerId: '123456789012', Instances: insts }] });

/** A fresh pending instance as RunInstances returns it (no public IP yet). */
const launchedInstance = () =>
  instance(
    {
      PublicIpAddress: undefined,
      BlockDeviceMappings: [],
      NetworkInterfaces: [
        {
          NetworkInterfaceId: 'eni-0a1',
          Attachment: { DeviceIndex: 0, Status: 'attaching' },
          PrivateIpAddress: '172.31.16.10',
          PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: '172.31.16.10' }],
        },
      ],
    },
    'pending',
  );

function stubCloud(): void {
  ec2Mock.on(DescribeImagesCommand).resolves({
    Images: [
      {
        ImageId: AMI,
        Name: 'al2023-ami-2023.6',
        Architecture: 'x86_64',
        RootDeviceName: '/dev/xvda',
        RootDeviceType: 'ebs',
        VirtualizationType: 'hvm',
        State: 'available',
        BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-root0', VolumeSize: 8, VolumeType: 'gp3', DeleteOnTermination: true } }],
      },
    ],
  });
  ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [{ VpcId: 'vpc-0def', IsDefault: true, CidrBlock: '172.31.0.0/16', State: 'available' }] });
  ec2Mock.on(DescribeSubnetsCommand).resolves({
    Subnets: [
      { SubnetId: 'subnet-0bbb', AvailabilityZone: 'us-east-1b', VpcId: 'vpc-0def', DefaultForAz: true, CidrBlock: '172.31.32.0/20' },
      { SubnetId: 'subnet-0aaa', AvailabilityZone: 'us-east-1a', VpcId: 'vpc-0def', DefaultForAz: true, CidrBlock: '172.31.16.0/20' },
    ],
  });
  ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
  ec2Mock.on(CreateSecurityGroupCommand).callsFake((input: { GroupName: string }) => ({ GroupId: `sg-${input.GroupName.split('-').pop()}` }));
  ec2Mock.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
  ec2Mock.on(CreateKeyPairCommand).callsFake((input: { KeyName: string }) => ({ KeyName: input.KeyName, KeyPairId: 'key-0123', KeyFingerprint: 'aa:bb', KeyMaterial: PEM }));
  ec2Mock.on(ImportKeyPairCommand).callsFake((input: { KeyName: string }) => ({ KeyName: input.KeyName, KeyPairId: 'key-0456', KeyFingerprint: 'cc:dd' }));
  ec2Mock.on(RunInstancesCommand).resolves({ ReservationId: 'r-0f00', OwnerId: '123456789012', Instances: [launchedInstance()] });
  ec2Mock.on(DescribeInstancesCommand).resolves(described(instance()));
  ec2Mock.on(TerminateInstancesCommand).resolves({
    TerminatingInstances: [{ InstanceId: IID, CurrentState: { Code: 32, Name: 'shutting-down' }, PreviousState: { Code: 16, Name: 'running' } }],
  });
  ec2Mock.on(DeleteKeyPairCommand).resolves({ Return: true });
  ec2Mock.on(DeleteSecurityGroupCommand).resolves({ Return: true, GroupId: 'sg-x' });
  ec2Mock.on(DeleteVolumeCommand).resolves({});
  ec2Mock.on(DeregisterImageCommand).resolves({ Return: true });
  ec2Mock.on(DeleteSnapshotCommand).resolves({});
  ec2Mock.on(ReleaseAddressCommand).resolves({});
  ec2Mock.on(DisassociateAddressCommand).resolves({});
}

let lines: string[] = [];

function connector(opts: Partial<Ec2ConnectorOptions> = {}): Ec2Connector {
  return new Ec2Connector({
    config: loadConfig({ VM_TAG_USERNAME: 'IM_USER' }),
    logger: createLogger({ level: 'DEBUG', write: (l) => lines.push(l) }),
    sleep: async () => undefined,
    pollIntervalMs: 1,
    maxPolls: 5,
    ...opts,
  });
}

function request(c: Ec2Connector, text = RADL_TEXT, patch?: (radl: Radl) => void, vmId = 0, auth: AuthItem = AUTH): LaunchRequest {
  const radl = parseRadl(text);
  patch?.(radl);
  const system = c.concreteSystem(radl.systems[0], auth)[0];
  return { infId: INF, vmId, radl, system, auth, tags: { IM_USER: 'alice', IM_INFRA_ID: INF } };
}

function handle(req: LaunchRequest, vm: LaunchedVm): VmHandle {
  return { infId: req.infId, vmId: req.vmId, providerId: vm.providerId, system: vm.system, radl: req.radl, ...(vm.cloudData ? { cloudData: vm.cloudData } : {}) };
}

const input = <T>(cmd: new (...a: never[]) => T, i = 0) => (ec2Mock.commandCalls(cmd as never)[i].args[0] as unknown as { input: Record<string, unknown> }).input;
const count = (cmd: unknown) => ec2Mock.commandCalls(cmd as never).length;
const sequence = () => ec2Mock.calls().map((c) => (c.args[0] as object).constructor.name.replace(/Command$/, ''));

async function rejection(p: Promise<unknown>): Promise<ImError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImError);
    return e as ImError;
  }
  throw new Error('expected a rejection');
}

beforeEach(() => {
  ec2Mock.reset();
  sqMock.reset();
  lines = [];
  stubCloud();
});

// ---------------------------------------------------------------------------------------------
describe('concreteSystem', () => {
  it('returns one candidate per aws:// URL, with provider.type and the default user', () => {
    const c = connector();
    const radl = parseRadl(`system s (disk.0.image.url = ['ost://cloud/1', 'aws://eu-west-1/ami-1', 'aws://us-east-1/snap-2'] and cpu.count >= 1)`);
    const out = c.concreteSystem(radl.systems[0], AUTH);
    expect(out.map((s) => s.getString('disk.0.image.url'))).toEqual(['aws://eu-west-1/ami-1', 'aws://us-east-1/snap-2']);
    expect(out[0].getString('provider.type')).toBe('EC2');
    expect(out[0].getString('disk.0.os.credentials.username')).toBe('cloudadm');
    // the original is untouched
    expect(radl.systems[0].getString('provider.type')).toBeUndefined();
  });

  it('returns [] for other schemes and for no image', () => {
    const c = connector();
    expect(c.concreteSystem(parseRadl(`system s (disk.0.image.url = 'one://host/5')`).systems[0], AUTH)).toEqual([]);
    expect(c.concreteSystem(parseRadl(`system s (cpu.count >= 1)`).systems[0], AUTH)).toEqual([]);
  });

  it('keeps a given username and fails clearly when no instance type fits', () => {
    const c = connector();
    const s = c.concreteSystem(parseRadl(`system s (disk.0.image.url = 'aws://us-east-1/ami-1' and disk.0.os.credentials.username = 'ubuntu')`).systems[0], AUTH)[0];
    expect(s.getString('disk.0.os.credentials.username')).toBe('ubuntu');
    expect(() => c.concreteSystem(parseRadl(`system s (disk.0.image.url = 'aws://us-east-1/ami-1' and cpu.count >= 512)`).systems[0], AUTH)).toThrow(
      /No EC2 instance type satisfies the requirements of system 's': cpu.count >= 512/,
    );
  });
});

// ---------------------------------------------------------------------------------------------
describe('launch', () => {
  it('launches in the default VPC with public and private networks, a data disk and a generated key pair', async () => {
    const c = connector();
    const req = request(c);
    const vm = await c.launch(req);

    expect(input(DescribeImagesCommand)).toEqual({ ImageIds: [AMI] });
    expect(input(DescribeVpcsCommand)).toEqual({ Filters: [{ Name: 'isDefault', Values: ['true'] }] });
    expect(input(DescribeSubnetsCommand)).toEqual({
      Filters: [
        { Name: 'vpc-id', Values: ['vpc-0def'] },
        { Name: 'default-for-az', Values: ['true'] },
      ],
    });
    expect(input(DescribeSecurityGroupsCommand)).toEqual({
      Filters: [
        { Name: 'group-name', Values: [`im-${INF}-pub`] },
        { Name: 'vpc-id', Values: ['vpc-0def'] },
      ],
    });
    expect(count(CreateSecurityGroupCommand)).toBe(2);
    expect(input(CreateSecurityGroupCommand, 0)).toEqual({
      GroupName: `im-${INF}-pub`,
      Description: `Security group created by the IM for network pub of infrastructure ${INF}`,
      VpcId: 'vpc-0def',
      TagSpecifications: [
        {
          ResourceType: 'security-group',
          Tags: [
            { Key: 'IM-INFRA-ID', Value: INF },
            { Key: 'Name', Value: `im-${INF}-pub` },
          ],
        },
      ],
    });
    expect(input(CreateSecurityGroupCommand, 1).GroupName).toBe(`im-${INF}-priv`);
    expect(input(AuthorizeSecurityGroupIngressCommand, 0)).toEqual({
      GroupId: 'sg-pub',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'SSH (IM)' }] },
        { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-pub', Description: 'same network (IM)' }] },
        { IpProtocol: 'tcp', FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        { IpProtocol: 'udp', FromPort: 9000, ToPort: 9100, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
      ],
    });
    expect((input(AuthorizeSecurityGroupIngressCommand, 1).IpPermissions as unknown[]).length).toBe(2);
    expect(input(CreateKeyPairCommand)).toEqual({
      KeyName: `im-${INF}-0`,
      KeyType: 'rsa',
      KeyFormat: 'pem',
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }],
    });

    const run = input(RunInstancesCommand);
    const tags = [
      { Key: 'IM_USER', Value: 'alice' },
      { Key: 'IM_INFRA_ID', Value: INF },
      { Key: 'team', Value: 'ops' },
      { Key: 'env', Value: 'dev' },
      { Key: 'IM-USER', Value: 'alice' },
      { Key: 'IM-INFRA-ID', Value: INF },
      { Key: 'Name', Value: expect.stringMatching(/^web-[0-9a-f-]{36}$/) },
    ];
    expect(run).toEqual({
      ImageId: AMI,
      InstanceType: 't3a.medium',
      MinCount: 1,
      MaxCount: 1,
      KeyName: `im-${INF}-0`,
      UserData: expect.any(String),
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: 'subnet-0aaa', Groups: ['sg-pub', 'sg-priv'], AssociatePublicIpAddress: true, DeleteOnTermination: true }],
      BlockDeviceMappings: [
        { DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true } },
        { DeviceName: '/dev/sdf', Ebs: { DeleteOnTermination: true, VolumeSize: 20, VolumeType: 'gp3' } },
      ],
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    const userData = Buffer.from(run.UserData as string, 'base64').toString();
    expect(userData).toMatch(/^#cloud-config\nusers:\n {2}- default\n {2}- name: cloudadm\n/);
    expect(userData).toMatch(/ssh_authorized_keys:\n {6}- "ssh-rsa AAAA[A-Za-z0-9+/=]+"/);

    expect(vm.providerId).toBe(`us-east-1;${IID}`);
    expect(vm.state).toBe('pending');
    const s = vm.system;
    expect(s.getString('instance_id')).toBe(`us-east-1;${IID}`);
    expect(s.getString('provider.type')).toBe('EC2');
    expect(s.getString('instance_type')).toBe('t3a.medium');
    expect(s.getNumber('cpu.count')).toBe(2);
    expect(s.getNumber('memory.size', 'MiB')).toBe(4096);
    expect(s.getNumber('price')).toBe(0.0376);
    expect(s.getString('disk.0.os.credentials.username')).toBe('cloudadm');
    expect(s.getString('disk.0.os.credentials.private_key')).toBe(PEM);
    expect(s.getString('disk.1.mount_path')).toBe('/data');
    expect(s.getString('net_interface.1.ip')).toBe('172.31.16.10');
    expect(s.getString('net_interface.0.ip')).toBeUndefined();
    expect(s.getString('availability_zone')).toBe('us-east-1a');
    expect(s.getNumber('launch_time')).toBe(Date.parse('2025-01-01T10:00:00Z') / 1000);
    expect(vm.cloudData).toEqual({
      region: 'us-east-1',
      instanceId: IID,
      vpcId: 'vpc-0def',
      subnetId: 'subnet-0aaa',
      securityGroups: [
        { id: 'sg-pub', name: `im-${INF}-pub`, vpcId: 'vpc-0def', managed: true },
        { id: 'sg-priv', name: `im-${INF}-priv`, vpcId: 'vpc-0def', managed: true },
      ],
      keyPair: `im-${INF}-0`,
    });
    // the request's system is not modified
    expect(req.system.getString('instance_type')).toBeUndefined();
  });

  it('uses the subnet of a network provider_id, reuses an existing group and an existing key pair name', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [{ GroupId: 'sg-0exist', GroupName: `im-${INF}-priv`, VpcId: 'vpc-0123', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }],
    });
    const c = connector();
    const req = request(
      c,
      `network priv (provider_id = 'vpc-0123.subnet-0456')
       system s (net_interface.0.connection = 'priv' and net_interface.0.ip = '10.0.1.50' and disk.0.image.url = 'aws://us-east-1/${AMI}' and
                 disk.0.os.credentials.username = 'ubuntu' and disk.0.os.credentials.public_key = 'my-keypair')`,
      (r) => r.systems[0].setValue('disk.0.os.credentials.private_key', PEM),
    );
    const vm = await c.launch(req);
    expect(count(DescribeVpcsCommand)).toBe(0);
    expect(count(DescribeSubnetsCommand)).toBe(0);
    expect(count(CreateSecurityGroupCommand)).toBe(0);
    expect(count(AuthorizeSecurityGroupIngressCommand)).toBe(0);
    expect(count(CreateKeyPairCommand) + count(ImportKeyPairCommand)).toBe(0);
    const run = input(RunInstancesCommand);
    expect(run.KeyName).toBe('my-keypair');
    expect(run.NetworkInterfaces).toEqual([
      { DeviceIndex: 0, SubnetId: 'subnet-0456', Groups: ['sg-0exist'], AssociatePublicIpAddress: false, DeleteOnTermination: true, PrivateIpAddress: '10.0.1.50' },
    ]);
    expect(Buffer.from(run.UserData as string, 'base64').toString()).toContain('- name: ubuntu');
    expect(vm.cloudData).toMatchObject({ vpcId: 'vpc-0123', subnetId: 'subnet-0456', securityGroups: [{ id: 'sg-0exist', managed: true }] });
    expect((vm.cloudData as unknown as Ec2CloudData).keyPair).toBeUndefined();
    expect(vm.system.getString('disk.0.os.credentials.private_key')).toBe(PEM);
  });

  it('does not mark a foreign group of the same name (sg_name) as managed', async () => {
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-0user', GroupName: 'web-sg', VpcId: 'vpc-0def', Tags: [] }] });
    const c = connector();
    const vm = await c.launch(request(c, `network pub (outbound = 'yes' and sg_name = 'web-sg') system s (net_interface.0.connection = 'pub' and disk.0.image.url = 'aws://us-east-1/${AMI}')`));
    expect(input(DescribeSecurityGroupsCommand).Filters).toContainEqual({ Name: 'group-name', Values: ['web-sg'] });
    expect(vm.cloudData).toMatchObject({ securityGroups: [{ id: 'sg-0user', name: 'web-sg', managed: false }] });
  });

  it('places the VM in the availability_zone (default subnet of that zone)', async () => {
    const c = connector();
    await c.launch(request(c, `network p () system s (net_interface.0.connection = 'p' and availability_zone = 'us-east-1b' and disk.0.image.url = 'aws://us-east-1/${AMI}')`));
    expect(input(DescribeSubnetsCommand).Filters).toContainEqual({ Name: 'availability-zone', Values: ['us-east-1b'] });
    expect(input(RunInstancesCommand).Placement).toEqual({ AvailabilityZone: 'us-east-1b' });
  });

  it('rejects a malformed provider_id and a region without default VPC', async () => {
    const c = connector();
    const bad = await rejection(c.launch(request(c, `network p (provider_id = 'subnet-1') system s (net_interface.0.connection = 'p' and disk.0.image.url = 'aws://us-east-1/${AMI}')`)));
    expect(bad).toMatchObject({ code: 'BAD_REQUEST', message: 'Incorrect provider_id value: subnet-1. It must be <vpc-id>.<subnet-id>.' });
    ec2Mock.on(DescribeVpcsCommand).resolves({ Vpcs: [] });
    const noVpc = await rejection(c.launch(request(c)));
    expect(noVpc.code).toBe('BAD_REQUEST');
    expect(noVpc.message).toMatch(/No default VPC/);
    expect(count(RunInstancesCommand)).toBe(0);
  });

  it('imports the RADL public key, or the one derived from a private key', async () => {
    const c = connector();
    await c.launch(request(c, RADL_TEXT, (r) => r.systems[0].setValue('disk.0.os.credentials.public_key', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample user@host')));
    expect(input(ImportKeyPairCommand)).toEqual({
      KeyName: `im-${INF}-0`,
      PublicKeyMaterial: Buffer.from('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample'),
      TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }],
    });
    expect(count(CreateKeyPairCommand)).toBe(0);

    ec2Mock.resetHistory();
    const vm = await c.launch(request(c, RADL_TEXT, (r) => r.systems[0].setValue('disk.0.os.credentials.private_key', PEM)));
    const material = Buffer.from(input(ImportKeyPairCommand).PublicKeyMaterial as Uint8Array).toString();
    expect(material).toMatch(/^ssh-rsa AAAA/);
    expect(Buffer.from(input(RunInstancesCommand).UserData as string, 'base64').toString()).toContain(material);
    expect(vm.system.getString('disk.0.os.credentials.private_key')).toBe(PEM);
    expect((vm.cloudData as unknown as Ec2CloudData).keyPair).toBe(`im-${INF}-0`);

    const bad = await rejection(c.launch(request(c, RADL_TEXT, (r) => r.systems[0].setValue('disk.0.os.credentials.private_key', 'garbage'))));
    expect(bad.message).toMatch(/Cannot read disk.0.os.credentials.private_key/);
  });

  it('replaces a key pair left by an earlier attempt of the same VM', async () => {
    ec2Mock
      .on(CreateKeyPairCommand)
      .rejectsOnce(ec2Error('InvalidKeyPair.Duplicate', `The keypair 'im-${INF}-0' already exists.`))
      .resolves({ KeyName: `im-${INF}-0`, KeyPairId: 'key-0789', KeyMaterial: PEM });
    const c = connector();
    await c.launch(request(c));
    expect(sequence().filter((n) => n.includes('KeyPair'))).toEqual(['CreateKeyPair', 'DeleteKeyPair', 'CreateKeyPair']);
  });

  it('reuses a group created concurrently by another VM (InvalidGroup.Duplicate)', async () => {
    ec2Mock
      .on(DescribeSecurityGroupsCommand)
      .resolvesOnce({ SecurityGroups: [] })
      .resolves({ SecurityGroups: [{ GroupId: 'sg-0race', GroupName: `im-${INF}-p`, VpcId: 'vpc-0def', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }] });
    ec2Mock.on(CreateSecurityGroupCommand).rejects(ec2Error('InvalidGroup.Duplicate'));
    const c = connector();
    const vm = await c.launch(request(c, `network p () system s (net_interface.0.connection = 'p' and disk.0.image.url = 'aws://us-east-1/${AMI}')`));
    expect(count(AuthorizeSecurityGroupIngressCommand)).toBe(0);
    expect(vm.cloudData).toMatchObject({ securityGroups: [{ id: 'sg-0race', managed: true }] });
  });

  it("associates the user's Elastic IP fixed in net_interface.N.ip on a public network", async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-user', PublicIp: '54.200.10.10', Domain: 'vpc' }] });
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-1' });
    const c = connector();
    const vm = await c.launch(request(c, RADL_TEXT, (r) => r.systems[0].setValue('net_interface.0.ip', '54.200.10.10')));
    expect(input(DescribeAddressesCommand)).toEqual({ PublicIps: ['54.200.10.10'] });
    expect(count(AllocateAddressCommand)).toBe(0);
    expect((input(RunInstancesCommand).NetworkInterfaces as { AssociatePublicIpAddress: boolean }[])[0].AssociatePublicIpAddress).toBe(false);
    expect(input(AssociateAddressCommand)).toEqual({ AllocationId: 'eipalloc-user', NetworkInterfaceId: 'eni-0a1' });
    expect(vm.cloudData).toMatchObject({ elasticIps: [{ allocationId: 'eipalloc-user', publicIp: '54.200.10.10', allocated: false, associationId: 'eipassoc-1' }] });
    expect(vm.system.getString('net_interface.0.ip')).toBe('54.200.10.10');
  });

  it('allocates the Elastic IP when it is not in the account, and completes a deferred association on refresh', async () => {
    ec2Mock.on(DescribeAddressesCommand).rejects(ec2Error('InvalidAddress.NotFound', "Address '54.200.10.10' not found."));
    ec2Mock.on(AllocateAddressCommand).resolves({ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', Domain: 'vpc' });
    ec2Mock.on(AssociateAddressCommand).rejectsOnce(ec2Error('IncorrectInstanceState', 'The pending instance is not in a valid state')).resolves({ AssociationId: 'eipassoc-2' });
    const c = connector();
    const req = request(c, RADL_TEXT, (r) => r.systems[0].setValue('net_interface.0.ip', '54.200.10.10'));
    const vm = await c.launch(req);
    expect(input(AllocateAddressCommand)).toEqual({
      Domain: 'vpc',
      Address: '54.200.10.10',
      TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }],
    });
    expect(vm.cloudData).toMatchObject({ elasticIps: [{ allocationId: 'eipalloc-new', allocated: true, pending: true }] });

    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({ PublicIpAddress: '54.200.10.10' })));
    const upd = await c.updateVmInfo(handle(req, vm), AUTH);
    expect(count(AssociateAddressCommand)).toBe(2);
    expect(upd.cloudData).toMatchObject({ elasticIps: [{ allocationId: 'eipalloc-new', associationId: 'eipassoc-2' }] });
    expect((upd.cloudData as unknown as Ec2CloudData).elasticIps?.[0].pending).toBeUndefined();
    expect(upd.system.getString('net_interface.0.ip')).toBe('54.200.10.10');
  });

  it('refuses an Elastic IP associated elsewhere', async () => {
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-x', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-x', InstanceId: 'i-other' }] });
    const c = connector();
    const err = await rejection(c.launch(request(c, RADL_TEXT, (r) => r.systems[0].setValue('net_interface.0.ip', '54.200.10.10'))));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: 'Elastic IP 54.200.10.10 is already associated with i-other' });
    expect(count(RunInstancesCommand)).toBe(0);
    expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
  });

  it('resizes the root disk and maps data disks (sizes in GiB, types, devices, snapshots)', async () => {
    const c = connector();
    const vm = await c.launch(
      request(
        c,
        `system s (disk.0.image.url = 'aws://us-east-1/${AMI}' and disk.0.size = 30GiB and disk.0.type = 'io1' and
                   disk.1.size = 10G and disk.1.mount_path = '/scratch' and disk.2.image.url = 'aws://us-east-1/snap-0data' and disk.2.type = 'st1')`,
      ),
    );
    expect(input(RunInstancesCommand).BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true, VolumeSize: 30, VolumeType: 'io1' } },
      { DeviceName: '/dev/sdb', Ebs: { DeleteOnTermination: true, VolumeSize: 10 } },
      { DeviceName: '/dev/sdc', Ebs: { DeleteOnTermination: true, SnapshotId: 'snap-0data', VolumeType: 'st1' } },
    ]);
    expect(vm.system.getString('disk.1.device')).toBe('sdb');
    expect(vm.system.getString('disk.1.mount_path')).toBe('/scratch');
    // no network interface: the default subnet, no security group, no public IP
    expect(input(RunInstancesCommand).NetworkInterfaces).toEqual([{ DeviceIndex: 0, SubnetId: 'subnet-0aaa', AssociatePublicIpAddress: false, DeleteOnTermination: true }]);
  });

  it('never shrinks the root volume below the AMI size, and rejects unknown volume types before creating anything', async () => {
    const c = connector();
    await c.launch(request(c, `system s (disk.0.image.url = 'aws://us-east-1/${AMI}' and disk.0.size = 2G)`));
    expect((input(RunInstancesCommand).BlockDeviceMappings as unknown[])[0]).toEqual({ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: true, VolumeSize: 8 } });
    ec2Mock.resetHistory();
    const err = await rejection(c.launch(request(c, `network p () system s (net_interface.0.connection = 'p' and disk.0.image.url = 'aws://us-east-1/${AMI}' and disk.1.size = 1G and disk.1.type = 'ssd')`)));
    expect(err.message).toMatch(/disk.1.type 'ssd' is not an EBS volume type/);
    expect(sequence()).toEqual(['DescribeImages']);
  });

  it('registers an AMI from a snapshot image URL and deregisters it at finalize', async () => {
    ec2Mock.on(RegisterImageCommand).resolves({ ImageId: 'ami-0registered' });
    const c = connector();
    const req = request(c, `system s (disk.0.image.url = 'aws://us-east-1/snap-0boot' and cpu.arch = 'x86_64')`);
    const vm = await c.launch(req);
    expect(input(RegisterImageCommand)).toEqual({
      Name: `im-${INF}-0-snap-0boot`,
      Description: 'Registered by the IM from snap-0boot',
      Architecture: 'x86_64',
      RootDeviceName: '/dev/sda1',
      VirtualizationType: 'hvm',
      EnaSupport: true,
      BlockDeviceMappings: [{ DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-0boot', DeleteOnTermination: true } }],
      TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'IM-INFRA-ID', Value: INF }] }],
    });
    expect(count(DescribeImagesCommand)).toBe(0);
    expect(input(RunInstancesCommand).ImageId).toBe('ami-0registered');
    expect(vm.cloudData).toMatchObject({ registeredImage: 'ami-0registered' });
    ec2Mock.on(DescribeInstancesCommand).resolvesOnce(described(instance())).resolves(described(instance({}, 'terminated')));
    await c.finalize(handle(req, vm), false, AUTH);
    expect(input(DeregisterImageCommand)).toEqual({ ImageId: 'ami-0registered' });
  });

  it('chooses instance types: wildcard, GPU, arm64 AMI, explicit type mismatching the AMI', async () => {
    const c = connector();
    const sys = (f: string) => `system s (disk.0.image.url = 'aws://us-east-1/${AMI}' and ${f})`;
    await c.launch(request(c, sys(`instance_type = 'c6i.*' and cpu.count >= 4`)));
    expect(input(RunInstancesCommand, 0).InstanceType).toBe('c6i.xlarge');
    await c.launch(request(c, sys(`gpu.count >= 1 and gpu.vendor = 'NVIDIA' and gpu.model = 'A10G'`)));
    expect(input(RunInstancesCommand, 1).InstanceType).toBe('g5.xlarge');
    ec2Mock.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: AMI, Architecture: 'arm64', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [] }] });
    // cpu.arch = x86_64 is the IM default; the AMI's architecture decides.
    const vm = await c.launch(request(c, sys(`cpu.count >= 2 and memory.size >= 4G and cpu.arch = 'x86_64'`)));
    expect(input(RunInstancesCommand, 2).InstanceType).toBe('t4g.medium');
    expect(vm.system.getString('instance_type')).toBe('t4g.medium');
    const err = await rejection(c.launch(request(c, sys(`instance_type = 't3.micro'`))));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: `Instance type t3.micro (x86_64) cannot run AMI ${AMI} (arm64)` });
    const none = await rejection(c.launch(request(c, sys(`instance_type = 't3.*' and cpu.count >= 4`))));
    expect(none.message).toMatch(/No EC2 instance type satisfies the requirements of system 's': instance_type = 't3.\*', cpu.count >= 4, cpu.arch = 'arm64'/);
    expect(count(RunInstancesCommand)).toBe(3);
  });

  it('requests a one-time spot instance with the price as maximum', async () => {
    const c = connector();
    const vm = await c.launch(request(c, `system s (disk.0.image.url = 'aws://us-east-1/${AMI}' and spot = 'yes' and price <= 0.05 and cpu.count >= 2)`));
    const run = input(RunInstancesCommand);
    expect(run.InstanceType).toBe('t3a.nano');
    expect(run.InstanceMarketOptions).toEqual({
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'one-time', InstanceInterruptionBehavior: 'terminate', MaxPrice: '0.05' },
    });
    expect((run.TagSpecifications as { ResourceType: string }[]).map((t) => t.ResourceType)).toEqual(['instance', 'volume', 'spot-instances-request']);
    expect(vm.providerId).toBe(`us-east-1;${IID}`);
    expect(vm.cloudData).toMatchObject({ spot: true });
  });

  it('passes cloud_init configures as multipart user data', async () => {
    const c = connector();
    await c.launch(
      request(
        c,
        `system s (disk.0.image.url = 'aws://us-east-1/${AMI}')
configure init (
@begin
#cloud-config
packages: [htop]
@end
)
contextualize ( system s configure init with cloud_init )`,
      ),
    );
    const ud = Buffer.from(input(RunInstancesCommand).UserData as string, 'base64').toString();
    expect(ud).toContain('Content-Type: multipart/mixed');
    expect(ud).toContain('packages: [htop]');
    expect(ud).toContain('- name: cloudadm');
  });

  it.each(['InsufficientInstanceCapacity', 'InstanceLimitExceeded', 'RequestLimitExceeded', 'Unavailable', 'ServiceUnavailable', 'Throttling'])(
    'maps %s to CLOUD_RETRYABLE and rolls back the per-VM resources',
    async (code) => {
      ec2Mock.on(RunInstancesCommand).rejects(ec2Error(code, `We currently do not have sufficient capacity (${code}).`));
      const c = connector();
      const err = await rejection(c.launch(request(c)));
      expect(err.code).toBe('CLOUD_RETRYABLE');
      expect(err.message).toMatch(/^Error launching VM 0 in EC2 region us-east-1: /);
      // Rollback: the key pair and the groups this attempt created (a failed VM is never finalized).
      expect(sequence().slice(-3)).toEqual(['DeleteSecurityGroup', 'DeleteSecurityGroup', 'DeleteKeyPair']);
      expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
      expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand).map((x) => x.args[0].input)).toEqual([{ GroupId: 'sg-pub' }, { GroupId: 'sg-priv' }]);
      expect(launchErrorCloudData(err)).toEqual({ region: 'us-east-1', vpcId: 'vpc-0def', subnetId: 'subnet-0aaa' });
    },
  );

  it.each(['AuthFailure', 'UnauthorizedOperation', 'InvalidClientTokenId', 'SignatureDoesNotMatch'])('maps %s to a clear BAD_REQUEST', async (code) => {
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error(code, 'AWS was not able to validate the provided access credentials'));
    const c = connector();
    const err = await rejection(c.launch(request(c)));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: `EC2 credentials rejected: ${code}` });
    expect(sequence()).toEqual(['DescribeImages']);
  });

  it('maps other EC2 errors to BAD_REQUEST with the EC2 message, terminating a half-created VM', async () => {
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error('InvalidAMIID.NotFound', `The image id '[${AMI}]' does not exist`));
    const c = connector();
    const err = await rejection(c.launch(request(c)));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: `Error launching VM 0 in EC2 region us-east-1: The image id '[${AMI}]' does not exist (InvalidAMIID.NotFound)` });

    stubCloud();
    ec2Mock.on(RunInstancesCommand).resolves({ Instances: [{ State: { Code: 0, Name: 'pending' } }] });
    const noId = await rejection(c.launch(request(c)));
    expect(noId.code).toBe('CLOUD_RETRYABLE');
  });

  it('retries a launch whose security group was removed meanwhile (InvalidGroup.NotFound)', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('InvalidGroup.NotFound', "The security group 'sg-pub' does not exist"));
    const c = connector();
    const err = await rejection(c.launch(request(c)));
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(err.message).toMatch(/a security group of the infrastructure was removed meanwhile/);
  });

  it('needs the access and secret keys', async () => {
    const c = connector();
    const auth = { type: 'EC2', id: 'ec2', username: 'AKIA' } as AuthItem;
    const err = await rejection(c.launch(request(c, RADL_TEXT, undefined, 0, auth)));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: 'The EC2 auth item needs username (access key id) and password (secret access key)' });
    expect(ec2Mock.calls()).toHaveLength(0);
  });

  it('builds clients with the auth item credentials and never logs or returns them', async () => {
    const auth: AuthItem = { ...AUTH, token: SESSION };
    const c = connector();
    await c.launch(request(c, RADL_TEXT, undefined, 0, auth));
    const client = ec2Mock.call(0).thisValue as EC2Client;
    expect(await client.config.region()).toBe('us-east-1');
    expect(await client.config.credentials()).toMatchObject({ accessKeyId: AUTH.username, secretAccessKey: SECRET, sessionToken: SESSION });

    // An EC2 message that (absurdly) echoes the secret, and a retryable failure of the rollback.
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('InvalidParameterValue', `bad value ${SECRET} / ${SESSION}`));
    ec2Mock.on(DeleteKeyPairCommand).rejects(ec2Error('RequestLimitExceeded', `limit for ${SECRET}`));
    const err = await rejection(c.launch(request(c, RADL_TEXT, undefined, 0, auth)));
    for (const text of [...lines, err.message, JSON.stringify(launchErrorCloudData(err))]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SESSION);
    }
    expect(lines.length).toBeGreaterThan(3);
    expect(err.message).toContain('[REDACTED]');
  });
});

// ---------------------------------------------------------------------------------------------
describe('updateVmInfo', () => {
  async function launched(c: Ec2Connector) {
    const req = request(c);
    return { req, vm: handle(req, await c.launch(req)) };
  }

  it.each([
    ['pending', 'pending'],
    ['running', 'running'],
    ['stopping', 'running'],
    ['stopped', 'stopped'],
    ['shutting-down', 'off'],
    ['terminated', 'off'],
  ] as const)('maps EC2 %s to %s', async (ec2State, imState) => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, ec2State)));
    const upd = await c.updateVmInfo(vm, AUTH);
    expect(input(DescribeInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(upd.state).toBe(imState);
  });

  it('fills public and private IPs per PRIVATE_NET_MASKS, type, launch time and zone', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(
      described(
        instance({
          InstanceType: 'm5.large',
          LaunchTime: new Date('2025-02-03T04:05:06Z'),
          Placement: { AvailabilityZone: 'us-east-1c' },
          NetworkInterfaces: [
            {
              NetworkInterfaceId: 'eni-0a1',
              Attachment: { DeviceIndex: 0 },
              PrivateIpAddress: '172.31.16.10',
              Association: { PublicIp: '54.210.1.2' },
              PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: '172.31.16.10', Association: { PublicIp: '54.210.1.2' } }],
              Ipv6Addresses: [{ Ipv6Address: '2600:1f18:abcd::10' }],
            },
          ],
        }),
      ),
    );
    const upd = await c.updateVmInfo(vm, AUTH);
    const s = upd.system;
    expect(s.getString('net_interface.0.ip')).toBe('54.210.1.2');
    expect(s.getString('net_interface.1.ip')).toBe('172.31.16.10');
    expect(s.getString('net_interface.0.ipv6')).toBe('2600:1f18:abcd::10');
    expect(s.getString('instance_type')).toBe('m5.large');
    expect(s.getNumber('memory.size', 'GiB')).toBe(8);
    expect(s.getNumber('launch_time')).toBe(Date.parse('2025-02-03T04:05:06Z') / 1000);
    expect(s.getString('availability_zone')).toBe('us-east-1c');
    // the handle's system is not modified
    expect(vm.system.getString('net_interface.0.ip')).toBeUndefined();
  });

  it('records volumes that are not DeleteOnTermination', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(
      described(instance({ BlockDeviceMappings: [{ DeviceName: '/dev/sdg', Ebs: { VolumeId: 'vol-keep', DeleteOnTermination: false, Status: 'attached' } }] })),
    );
    const upd = await c.updateVmInfo(vm, AUTH);
    expect(upd.cloudData).toMatchObject({ volumes: ['vol-keep'] });
  });

  it('reads a vanished instance as off, but as pending right after its launch (eventual consistency)', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', `The instance ID '${IID}' does not exist`));
    expect((await c.updateVmInfo(vm, AUTH)).state).toBe('off');
    vm.system.setValue('launch_time', Math.floor(Date.now() / 1000) - 10);
    expect((await c.updateVmInfo(vm, AUTH)).state).toBe('pending');
  });

  it('maps throttling to CLOUD_RETRYABLE and refuses a VM without instance', async () => {
    const c = connector();
    const { vm } = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    expect((await rejection(c.updateVmInfo(vm, AUTH))).code).toBe('CLOUD_RETRYABLE');
    const err = await rejection(c.updateVmInfo({ ...vm, providerId: '', cloudData: { region: 'us-east-1' } }, AUTH));
    expect(err.code).toBe('BAD_REQUEST');
  });
});

// ---------------------------------------------------------------------------------------------
describe('start, stop, reboot', () => {
  it('sends the instance commands to the region of the provider id', async () => {
    ec2Mock.on(StartInstancesCommand).resolves({ StartingInstances: [{ InstanceId: IID, CurrentState: { Code: 0, Name: 'pending' } }] });
    ec2Mock.on(StopInstancesCommand).resolves({ StoppingInstances: [{ InstanceId: IID, CurrentState: { Code: 64, Name: 'stopping' } }] });
    ec2Mock.on(RebootInstancesCommand).resolves({});
    const c = connector();
    const radl = parseRadl(RADL_TEXT);
    const vm: VmHandle = { infId: INF, vmId: 3, providerId: `eu-west-1;${IID}`, system: radl.systems[0], radl };
    await c.stop(vm, AUTH);
    await c.start(vm, AUTH);
    await c.reboot(vm, AUTH);
    expect(sequence()).toEqual(['StopInstances', 'StartInstances', 'RebootInstances']);
    expect(input(StopInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(StartInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(RebootInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(await (ec2Mock.call(0).thisValue as EC2Client).config.region()).toBe('eu-west-1');
  });

  it('reports EC2 refusals (e.g. stopping a spot instance) as 400', async () => {
    ec2Mock.on(StopInstancesCommand).rejects(ec2Error('UnsupportedOperation', 'You cannot stop the Spot Instance'));
    const c = connector();
    const radl = parseRadl(RADL_TEXT);
    const err = await rejection(c.stop({ infId: INF, vmId: 1, providerId: `us-east-1;${IID}`, system: radl.systems[0], radl }, AUTH));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: 'Error trying to stop VM 1 in EC2: You cannot stop the Spot Instance (UnsupportedOperation)' });
  });
});

// ---------------------------------------------------------------------------------------------
describe('alterVm', () => {
  async function launched(c: Ec2Connector) {
    const req = request(c);
    return handle(req, await c.launch(req));
  }
  const bigger = () => parseRadl(`system web (cpu.count >= 4 and memory.size >= 16G)`).systems[0];

  it('changes the type of a stopped instance', async () => {
    const c = connector();
    const vm = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'stopped')));
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    const upd = await c.alterVm(vm, bigger(), AUTH);
    expect(input(ModifyInstanceAttributeCommand)).toEqual({ InstanceId: IID, InstanceType: { Value: 't3a.xlarge' } });
    expect(count(StartInstancesCommand)).toBe(0);
    expect(upd.state).toBe('stopped');
    expect(upd.system.getString('instance_type')).toBe('t3a.xlarge');
    expect(upd.system.getNumber('cpu.count')).toBe(4);
  });

  it('refuses a running instance by default', async () => {
    const c = connector();
    const vm = await launched(c);
    const err = await rejection(c.alterVm(vm, bigger(), AUTH));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/EC2 can only change the instance type of a stopped VM \(state running\)/);
    expect(count(ModifyInstanceAttributeCommand)).toBe(0);
  });

  it("stops, modifies and starts a running instance with alterRunning: 'restart'", async () => {
    const c = connector({ alterRunning: 'restart' });
    const vm = await launched(c);
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(described(instance()))
      .resolvesOnce(described(instance({}, 'stopping')))
      .resolves(described(instance({}, 'stopped')));
    ec2Mock.on(StopInstancesCommand).resolves({});
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    ec2Mock.on(StartInstancesCommand).resolves({});
    const upd = await c.alterVm(vm, bigger(), AUTH);
    expect(sequence().slice(-6)).toEqual(['DescribeInstances', 'StopInstances', 'DescribeInstances', 'DescribeInstances', 'ModifyInstanceAttribute', 'StartInstances']);
    expect(upd.state).toBe('pending');
  });

  it('keeps the current size as minimum for what is not asked, and does nothing when the type stays', async () => {
    const c = connector();
    const vm = await launched(c);
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'stopped')));
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});
    await c.alterVm(vm, parseRadl(`system web (memory.size >= 4G)`).systems[0], AUTH);
    expect(count(ModifyInstanceAttributeCommand)).toBe(0);
    const upd = await c.alterVm(vm, parseRadl(`system web (memory.size >= 30G)`).systems[0], AUTH);
    expect(input(ModifyInstanceAttributeCommand).InstanceType).toEqual({ Value: 'r5.xlarge' });
    expect(upd.system.getNumber('cpu.count')).toBe(4);
    await c.alterVm(vm, parseRadl(`system web (instance_type = 'm6i.large')`).systems[0], AUTH);
    expect(input(ModifyInstanceAttributeCommand, 1).InstanceType).toEqual({ Value: 'm6i.large' });
    const same = await c.alterVm(vm, parseRadl(`system web (disk.0.os.name = 'linux')`).systems[0], AUTH);
    expect(same.state).toBe('stopped');
    expect(count(ModifyInstanceAttributeCommand)).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
describe('finalize', () => {
  const fullData = (): Ec2CloudData => ({
    region: 'us-east-1',
    instanceId: IID,
    vpcId: 'vpc-0def',
    subnetId: 'subnet-0aaa',
    securityGroups: [
      { id: 'sg-pub', name: `im-${INF}-pub`, vpcId: 'vpc-0def', managed: true },
      { id: 'sg-user', name: 'user-sg', vpcId: 'vpc-0def', managed: false },
    ],
    keyPair: `im-${INF}-0`,
    elasticIps: [{ allocationId: 'eipalloc-new', publicIp: '54.200.10.10', allocated: true, associationId: 'eipassoc-2' }],
    volumes: ['vol-keep'],
  });
  function vmHandle(data: Ec2CloudData | undefined, providerId = `us-east-1;${IID}`): VmHandle {
    const radl = parseRadl(RADL_TEXT);
    return { infId: INF, vmId: 0, providerId, system: radl.systems[0], radl, ...(data ? { cloudData: data as unknown as Record<string, unknown> } : {}) };
  }
  const terminating = () =>
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolvesOnce(described(instance()))
      .resolvesOnce(described(instance({}, 'shutting-down')))
      .resolves(described(instance({}, 'terminated')));

  it('removes everything of a fully created VM in order (last VM)', async () => {
    terminating();
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-2', InstanceId: IID }] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-pub' }, { GroupId: 'sg-priv' }] });
    const c = connector();
    await c.finalize(vmHandle(fullData()), true, AUTH);
    expect(sequence()).toEqual([
      'DescribeInstances',
      'DescribeAddresses',
      'DisassociateAddress',
      'ReleaseAddress',
      'TerminateInstances',
      'DescribeInstances',
      'DescribeInstances',
      'DeleteVolume',
      'DeleteKeyPair',
      'DescribeSecurityGroups',
      'DeleteSecurityGroup',
      'DeleteSecurityGroup',
    ]);
    expect(input(DescribeAddressesCommand)).toEqual({ AllocationIds: ['eipalloc-new'] });
    expect(input(DisassociateAddressCommand)).toEqual({ AssociationId: 'eipassoc-2' });
    expect(input(ReleaseAddressCommand)).toEqual({ AllocationId: 'eipalloc-new' });
    expect(input(TerminateInstancesCommand)).toEqual({ InstanceIds: [IID] });
    expect(input(DeleteVolumeCommand)).toEqual({ VolumeId: 'vol-keep' });
    expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
    expect(input(DescribeSecurityGroupsCommand)).toEqual({ Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }] });
    expect([input(DeleteSecurityGroupCommand, 0), input(DeleteSecurityGroupCommand, 1)]).toEqual([{ GroupId: 'sg-pub' }, { GroupId: 'sg-priv' }]);
  });

  it('keeps the shared groups when it is not the last VM, and only disassociates a user Elastic IP', async () => {
    terminating();
    ec2Mock
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] })
      .resolves(described(instance({ InstanceId: 'i-0other' })));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-user', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-1', InstanceId: IID }] });
    const data = { ...fullData(), elasticIps: [{ allocationId: 'eipalloc-user', publicIp: '54.200.10.10', allocated: false, associationId: 'eipassoc-1' }] };
    await connector().finalize(vmHandle(data), false, AUTH);
    expect(count(DisassociateAddressCommand)).toBe(1);
    expect(count(ReleaseAddressCommand)).toBe(0);
    expect(count(DescribeSecurityGroupsCommand) + count(DeleteSecurityGroupCommand)).toBe(0);
    expect(count(TerminateInstancesCommand)).toBe(1);
  });

  it('removes the shared groups with a VM not flagged last when no other instance of the infrastructure is left', async () => {
    terminating();
    ec2Mock.on(DescribeInstancesCommand, { Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [INF] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }).resolves(described(instance()));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [] });
    await connector().finalize(vmHandle(fullData()), false, AUTH);
    expect(sequence().slice(-4)).toEqual(['DeleteKeyPair', 'DescribeInstances', 'DescribeSecurityGroups', 'DeleteSecurityGroup']);
    expect(input(DeleteSecurityGroupCommand)).toEqual({ GroupId: 'sg-pub' });
  });

  it('cleans up after a launch that created the groups but failed in RunInstances (groups left by the rollback)', async () => {
    ec2Mock.on(RunInstancesCommand).rejects(ec2Error('InsufficientInstanceCapacity', 'no capacity'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'));
    const c = connector();
    const req = request(c);
    const err = await rejection(c.launch(req));
    const left = launchErrorCloudData(err);
    expect(left).toMatchObject({ securityGroups: [{ id: 'sg-pub' }, { id: 'sg-priv' }] });
    expect(left?.keyPair).toBeUndefined();

    ec2Mock.resetHistory();
    ec2Mock.on(DeleteSecurityGroupCommand).resolves({ Return: true });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-pub' }] });
    await c.finalize({ infId: INF, vmId: 0, providerId: '', system: req.system, radl: req.radl, cloudData: left }, true, AUTH);
    expect(sequence()).toEqual(['DescribeSecurityGroups', 'DeleteSecurityGroup', 'DeleteSecurityGroup']);
    expect(ec2Mock.commandCalls(DeleteSecurityGroupCommand).map((x) => x.args[0].input.GroupId)).toEqual(['sg-pub', 'sg-priv']);
  });

  it('cleans up a launch interrupted after creating a group and a key pair (no instance)', async () => {
    const data: Ec2CloudData = {
      region: 'us-east-1',
      vpcId: 'vpc-0def',
      securityGroups: [{ id: 'sg-pub', name: `im-${INF}-pub`, vpcId: 'vpc-0def', managed: true }],
      keyPair: `im-${INF}-0`,
    };
    ec2Mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    await connector().finalize(vmHandle(data, ''), false, AUTH);
    expect(sequence()).toEqual(['DeleteKeyPair', 'DescribeInstances', 'DescribeSecurityGroups', 'DeleteSecurityGroup']);
    expect(input(DescribeInstancesCommand)).toEqual({
      Filters: [
        { Name: 'tag:IM-INFRA-ID', Values: [INF] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
    });
  });

  it('completes on retry after the Elastic IP release failed (instance already terminated)', async () => {
    terminating();
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', AssociationId: 'eipassoc-2', InstanceId: IID }] });
    ec2Mock.on(ReleaseAddressCommand).rejectsOnce(ec2Error('RequestLimitExceeded', 'Request limit exceeded.'));
    const c = connector();
    const vm = vmHandle(fullData());
    const err = await rejection(c.finalize(vm, true, AUTH));
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(err.message).toMatch(/^Error finalizing VM 0 in EC2: release Elastic IP 54.200.10.10: Request limit exceeded./);
    expect(count(TerminateInstancesCommand)).toBe(1);
    expect(count(DeleteSecurityGroupCommand)).toBe(1);

    ec2Mock.resetHistory();
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({ BlockDeviceMappings: [] }, 'terminated')));
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'eipalloc-new', PublicIp: '54.200.10.10', Domain: 'vpc' }] });
    ec2Mock.on(DeleteVolumeCommand).rejects(ec2Error('InvalidVolume.NotFound'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('InvalidGroup.NotFound'));
    ec2Mock.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [] });
    ec2Mock.on(ReleaseAddressCommand).resolves({});
    await c.finalize(vm, true, AUTH);
    expect(count(TerminateInstancesCommand)).toBe(0);
    expect(count(DisassociateAddressCommand)).toBe(0);
    expect(input(ReleaseAddressCommand)).toEqual({ AllocationId: 'eipalloc-new' });
  });

  it('treats NotFound everywhere as done', async () => {
    ec2Mock.on(DescribeInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    ec2Mock.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound'));
    ec2Mock.on(DescribeAddressesCommand).rejects(ec2Error('InvalidAllocationID.NotFound'));
    ec2Mock.on(DeleteVolumeCommand).rejects(ec2Error('InvalidVolume.NotFound'));
    ec2Mock.on(DeleteKeyPairCommand).rejects(ec2Error('InvalidKeyPair.NotFound'));
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('InvalidGroup.NotFound'));
    await connector().finalize(vmHandle(fullData()), true, AUTH);
    expect(count(DeleteSecurityGroupCommand)).toBe(1);
    expect(count(DeleteVolumeCommand)).toBe(1);
  });

  it('retries a security group still in use (DependencyViolation)', async () => {
    terminating();
    ec2Mock
      .on(DeleteSecurityGroupCommand)
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'))
      .rejectsOnce(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'))
      .resolves({ Return: true });
    const data = { ...fullData(), elasticIps: [], volumes: [] };
    await connector().finalize(vmHandle(data), true, AUTH);
    expect(count(DeleteSecurityGroupCommand)).toBe(3);
  });

  it('gives up with CLOUD_RETRYABLE when the group stays in use or the instance does not terminate', async () => {
    terminating();
    ec2Mock.on(DeleteSecurityGroupCommand).rejects(ec2Error('DependencyViolation', 'resource sg-pub has a dependent object'));
    const err = await rejection(connector({ sgDeleteAttempts: 3 }).finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(count(DeleteSecurityGroupCommand)).toBe(3);

    ec2Mock.reset();
    stubCloud();
    ec2Mock.on(DescribeInstancesCommand).resolves(described(instance({}, 'shutting-down')));
    const slow = await rejection(connector({ maxPolls: 3 }).finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(slow.code).toBe('CLOUD_RETRYABLE');
    expect(slow.message).toMatch(/did not reach state terminated/);
    expect(count(DeleteSecurityGroupCommand)).toBe(0);
    expect(count(DeleteVolumeCommand)).toBe(0);
    expect(count(DeleteKeyPairCommand)).toBe(1);
  });

  it('without cloudData still terminates the instance and removes the deterministic key pair', async () => {
    terminating();
    await connector().finalize(vmHandle(undefined), false, AUTH);
    expect(sequence()).toEqual(['DescribeInstances', 'TerminateInstances', 'DescribeInstances', 'DescribeInstances', 'DeleteKeyPair']);
    expect(input(DeleteKeyPairCommand)).toEqual({ KeyName: `im-${INF}-0` });
  });

  it('reports non-NotFound failures as BAD_REQUEST after trying every step', async () => {
    terminating();
    ec2Mock.on(DeleteKeyPairCommand).rejects(ec2Error('InvalidParameterValue', 'bad key name'));
    const err = await rejection(connector().finalize(vmHandle({ ...fullData(), elasticIps: [] }), true, AUTH));
    expect(err).toMatchObject({ code: 'BAD_REQUEST', message: `Error finalizing VM 0 in EC2: delete key pair im-${INF}-0: bad key name (InvalidParameterValue)` });
    expect(count(DeleteSecurityGroupCommand)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
describe('images', () => {
  const vm = (): VmHandle => {
    const radl = parseRadl(RADL_TEXT);
    return { infId: INF, vmId: 2, providerId: `us-east-1;${IID}`, system: radl.systems[0], radl };
  };

  it('creates an AMI of disk 0 and a snapshot of a data disk', async () => {
    ec2Mock.on(CreateImageCommand).resolves({ ImageId: 'ami-0snap' });
    ec2Mock.on(CreateSnapshotCommand).resolves({ SnapshotId: 'snap-0d1', VolumeId: 'vol-data', State: 'pending' });
    const c = connector();
    expect(await c.createSnapshot(vm(), 0, 'my-image', true, AUTH)).toBe('aws://us-east-1/ami-0snap');
    const tags = [
      { Key: 'Name', Value: 'my-image' },
      { Key: 'IM-INFRA-ID', Value: INF },
    ];
    expect(input(CreateImageCommand)).toEqual({
      InstanceId: IID,
      Name: 'my-image',
      Description: `Created by the IM from VM 2 of infrastructure ${INF}`,
      NoReboot: true,
      TagSpecifications: [
        { ResourceType: 'image', Tags: tags },
        { ResourceType: 'snapshot', Tags: tags },
      ],
    });
    expect(await c.createSnapshot(vm(), 1, 'data', false, AUTH)).toBe('aws://us-east-1/snap-0d1');
    expect(input(CreateSnapshotCommand)).toEqual({
      VolumeId: 'vol-data',
      Description: 'data',
      TagSpecifications: [
        {
          ResourceType: 'snapshot',
          Tags: [
            { Key: 'Name', Value: 'data' },
            { Key: 'IM-INFRA-ID', Value: INF },
          ],
        },
      ],
    });
    const err = await rejection(c.createSnapshot(vm(), 3, 'x', false, AUTH));
    expect(err.message).toMatch(/Disk 3 \(\/dev\/sdd\) not found in VM 2/);
  });

  it('deletes an AMI with its snapshots, and a snapshot URL; idempotently', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0snap',
          BlockDeviceMappings: [
            { DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-a' } },
            { DeviceName: '/dev/sdf', Ebs: { SnapshotId: 'snap-b' } },
            { DeviceName: '/dev/sdg', VirtualName: 'ephemeral0' },
          ],
        },
      ],
    });
    const c = connector();
    await c.deleteImage('aws://us-east-1/ami-0snap', AUTH);
    expect(sequence()).toEqual(['DescribeImages', 'DeregisterImage', 'DeleteSnapshot', 'DeleteSnapshot']);
    expect(input(DeregisterImageCommand)).toEqual({ ImageId: 'ami-0snap' });
    expect([input(DeleteSnapshotCommand, 0), input(DeleteSnapshotCommand, 1)]).toEqual([{ SnapshotId: 'snap-a' }, { SnapshotId: 'snap-b' }]);

    ec2Mock.resetHistory();
    ec2Mock.on(DescribeImagesCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    ec2Mock.on(DeregisterImageCommand).rejects(ec2Error('InvalidAMIID.NotFound'));
    await c.deleteImage('aws://us-east-1/ami-0snap', AUTH);
    ec2Mock.on(DeleteSnapshotCommand).rejects(ec2Error('InvalidSnapshot.NotFound'));
    await c.deleteImage('aws://eu-west-1/snap-0d1', AUTH);
    expect(input(DeleteSnapshotCommand)).toEqual({ SnapshotId: 'snap-0d1' });
    expect((await rejection(c.deleteImage('one://host/1', AUTH))).code).toBe('BAD_REQUEST');
  });

  it('lists the images of a region with filters, newest first', async () => {
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: 'ami-old', Name: 'ubuntu-22.04-old', CreationDate: '2024-01-01T00:00:00.000Z' },
        { ImageId: 'ami-new', Name: 'ubuntu-22.04-new', CreationDate: '2025-01-01T00:00:00.000Z' },
      ],
    });
    const c = connector();
    const out = await c.listImages(AUTH, { region: 'eu-west-1', name: 'ubuntu*', architecture: 'arm64' });
    expect(out).toEqual([
      { uri: 'aws://eu-west-1/ami-new', name: 'ubuntu-22.04-new' },
      { uri: 'aws://eu-west-1/ami-old', name: 'ubuntu-22.04-old' },
    ]);
    expect(input(DescribeImagesCommand)).toEqual({
      Owners: ['self', 'amazon'],
      Filters: [
        { Name: 'state', Values: ['available'] },
        { Name: 'image-type', Values: ['machine'] },
        { Name: 'name', Values: ['ubuntu*'] },
        { Name: 'architecture', Values: ['arm64'] },
      ],
      MaxResults: 1000,
    });
    expect(await (ec2Mock.call(0).thisValue as EC2Client).config.region()).toBe('eu-west-1');
    await c.listImages({ ...AUTH, region: 'ap-south-1' }, { distribution: 'ubuntu', version: '22.04', owners: '099720109477' });
    expect(input(DescribeImagesCommand, 1)).toMatchObject({ Owners: ['099720109477'], Filters: expect.arrayContaining([{ Name: 'name', Values: ['*ubuntu*22.04*'] }]) });
    expect(await (ec2Mock.call(1).thisValue as EC2Client).config.region()).toBe('ap-south-1');
  });
});

// ---------------------------------------------------------------------------------------------
describe('getQuotas', () => {
  function usage() {
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance({ InstanceType: 'm5.xlarge', CpuOptions: { CoreCount: 2, ThreadsPerCore: 2 } }), instance({ InstanceId: 'i-2', InstanceType: 't3.micro' })] },
        { Instances: [instance({ InstanceId: 'i-3', InstanceType: 'g4dn.xlarge' })] },
      ],
    });
    ec2Mock.on(DescribeAddressesCommand).resolves({ Addresses: [{ AllocationId: 'a1' }, { AllocationId: 'a2' }] });
    ec2Mock.on(DescribeSecurityGroupsCommand).resolvesOnce({ SecurityGroups: [{ GroupId: 'sg-1' }, { GroupId: 'sg-2' }], NextToken: 'next' }).resolves({ SecurityGroups: [{ GroupId: 'sg-3' }] });
    ec2Mock.on(DescribeAccountAttributesCommand).resolves({
      AccountAttributes: [
        { AttributeName: 'max-instances', AttributeValues: [{ AttributeValue: '20' }] },
        { AttributeName: 'vpc-max-elastic-ips', AttributeValues: [{ AttributeValue: '5' }] },
        { AttributeName: 'supported-platforms', AttributeValues: [{ AttributeValue: 'VPC' }] },
      ],
    });
  }

  it('reads limits from Service Quotas and computes the usage', async () => {
    usage();
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' }).resolves({ Quota: { QuotaCode: 'L-1216C47A', Value: 1152 } });
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' }).resolves({ Quota: { QuotaCode: 'L-0263D0A3', Value: 10 } });
    sqMock.on(GetServiceQuotaCommand, { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' }).resolves({ Quota: { QuotaCode: 'L-E79EC296', Value: 2500 } });
    const q = await connector().getQuotas({ ...AUTH, region: 'eu-central-1' });
    expect(q).toEqual({
      cores: { used: 6, limit: 1152 },
      instances: { used: 3, limit: 20 },
      floating_ips: { used: 2, limit: 10 },
      security_groups: { used: 3, limit: 2500 },
    });
    expect(sqMock.commandCalls(GetServiceQuotaCommand).map((c) => c.args[0].input)).toEqual([
      { ServiceCode: 'ec2', QuotaCode: 'L-1216C47A' },
      { ServiceCode: 'ec2', QuotaCode: 'L-0263D0A3' },
      { ServiceCode: 'vpc', QuotaCode: 'L-E79EC296' },
    ]);
    expect(input(DescribeInstancesCommand)).toEqual({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running'] }], MaxResults: 1000 });
    expect(input(DescribeSecurityGroupsCommand, 1)).toEqual({ MaxResults: 1000, NextToken: 'next' });
    expect(await (sqMock.call(0).thisValue as ServiceQuotasClient).config.region()).toBe('eu-central-1');
  });

  it('falls back to DescribeAccountAttributes when Service Quotas is not available', async () => {
    usage();
    sqMock.on(GetServiceQuotaCommand).rejects(new ServiceQuotasServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'denied' }));
    const q = await connector().getQuotas(AUTH);
    expect(q).toEqual({
      cores: { used: 6, limit: 20 },
      instances: { used: 3, limit: 20 },
      floating_ips: { used: 2, limit: 5 },
      security_groups: { used: 3, limit: -1 },
    });
  });

  it('reports rejected credentials', async () => {
    sqMock.on(GetServiceQuotaCommand).rejects(new ServiceQuotasServiceException({ name: 'UnrecognizedClientException', $fault: 'client', $metadata: {}, message: 'x' }));
    ec2Mock.on(DescribeAccountAttributesCommand).rejects(ec2Error('AuthFailure'));
    expect(await rejection(connector().getQuotas(AUTH))).toMatchObject({ code: 'BAD_REQUEST', message: 'EC2 credentials rejected: AuthFailure' });
  });
});
