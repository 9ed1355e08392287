/**
 * The EC2 connector against the mocked EC2 API (mock-ec2.ts). concreteSystem and launch: the candidate systems,
 * then every resource a launch creates (exact requests), its options and its rollback on failure.
 */
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DeleteKeyPairCommand,
  DeleteSecurityGroupCommand,
  DeregisterImageCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  ImportKeyPairCommand,
  RegisterImageCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import type { AuthItem } from '#core/types';
import { launchErrorCloudData, type Ec2CloudData } from '#connectors/ec2/cloud-data';
import { AMI, AUTH, connector, count, described, ec2Error, ec2Mock, handle, IID, INF, input, instance, lines, PEM, RADL_TEXT, rejection, request, SECRET, sequence, SESSION, stubCloud, useMockCloud } from './mock-ec2.ts';

useMockCloud();

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
      { Key: 'IM-VM', Value: `${INF}/0` },
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

  it('terminates an instance an interrupted launch of the same VM left unrecorded (IM-VM tag) before launching it once', async () => {
    stubCloud();
    const orphan = instance();
    ec2Mock.on(DescribeInstancesCommand).callsFake((i: { Filters?: { Name?: string; Values?: string[] }[] }) =>
      (i.Filters ?? []).some((f) => f.Name === 'tag:IM-VM' && f.Values?.[0] === `${INF}/0`) ? described(orphan) : described(instance()),
    );
    const c = connector();
    const vm = await c.launch(request(c));
    expect(vm.providerId).toMatch(/;i-/);
    const lookup = ec2Mock.commandCalls(DescribeInstancesCommand)[0].args[0].input;
    expect(lookup.Filters).toEqual([
      { Name: 'tag:IM-VM', Values: [`${INF}/0`] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
    expect(ec2Mock.commandCalls(TerminateInstancesCommand).map((x) => x.args[0].input.InstanceIds)).toEqual([[orphan.InstanceId]]);
    expect(count(RunInstancesCommand)).toBe(1);
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
