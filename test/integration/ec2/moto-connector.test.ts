/**
 * The real EC2 connector against moto 5 (test/helpers/moto.ts): the SDK talks HTTP to moto's EC2 API with
 * fake credentials, and the test checks what the connector did by asking moto, as a user would ask EC2.
 * One life of a VM (launch → refresh → stop → alter → start → snapshots → destroy), then the shared-group,
 * user-address, snapshot-image, quota and instance-type cases. Every destroy must leave nothing behind.
 */
import {
  CreateSnapshotCommand,
  CreateVolumeCommand,
  DeleteSnapshotCommand,
  DeleteVolumeCommand,
  DescribeAddressesCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeVolumesCommand,
  AllocateAddressCommand,
  ReleaseAddressCommand,
  type EC2Client,
  type Instance,
  type InstanceTypeInfo as Ec2TypeInfo,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRadl, type Radl } from '#radl/index';
import { loadConfig } from '#core/config';
import { createLogger } from '#core/logger';
import type { AuthItem, LaunchedVm, LaunchRequest, VmHandle } from '#core/types';
import { Ec2Connector } from '#connectors/ec2/connector';
import { INSTANCE_TYPES } from '#connectors/ec2/instance-types';
import { leftovers, motoInventory, MOTO_AUTH, MOTO_GAPS, startMoto, type MotoInventory, type MotoServer } from '../../helpers/moto.ts';

const REGION = 'us-east-1';
const logLines: string[] = [];
let moto: MotoServer;
let ec2: EC2Client;
let connector: Ec2Connector;
let ami: string;

beforeAll(async () => {
  moto = await startMoto();
  ec2 = moto.client(REGION);
  connector = new Ec2Connector({
    config: loadConfig({ VM_TAG_USERNAME: 'IM_USER' }),
    logger: createLogger({ level: 'DEBUG', write: (l) => logLines.push(l) }),
    clientFactory: moto.clientFactory,
    quotasFactory: moto.quotasFactory,
    pollIntervalMs: 20,
    maxPolls: 50,
  });
  // The AMI comes from moto's DescribeImages, through the connector's image list (newest first).
  const images = await connector.listImages(MOTO_AUTH, { region: REGION, distribution: 'ubuntu', version: '16.04', architecture: 'x86_64' });
  expect(images.length).toBeGreaterThan(0);
  for (const i of images) expect(i.name.toLowerCase()).toMatch(/ubuntu.*16\.04/);
  ami = images[0].uri;
}, 60_000);

afterAll(async () => {
  await moto?.stop();
  // Whatever happened, the auth item's secrets never reached a log line.
  expect(logLines.join('\n')).not.toContain(MOTO_AUTH.password);
});

function radlText(body: string): string {
  return body.replace(/\$AMI/g, ami);
}

function request(radl: Radl, infId: string, vmId: number, auth: AuthItem = MOTO_AUTH): LaunchRequest {
  const system = connector.concreteSystem(radl.systems[0], auth)[0];
  expect(system, 'concreteSystem accepts the aws:// image').toBeDefined();
  return { infId, vmId, attempt: 1, clientToken: `im-${infId}-${vmId}-1`, radl, system, auth, tags: { IM_USER: 'alice', IM_INFRA_ID: infId } };
}

function handle(req: LaunchRequest, vm: { providerId: string; system: LaunchedVm['system']; cloudData?: Record<string, unknown> }): VmHandle {
  return { infId: req.infId, vmId: req.vmId, providerId: vm.providerId, system: vm.system, radl: req.radl, ...(vm.cloudData ? { cloudData: vm.cloudData } : {}) };
}

async function instance(id: string): Promise<Instance> {
  const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return out.Reservations?.[0]?.Instances?.[0] as Instance;
}

const instanceIdOf = (providerId: string) => providerId.split(';')[1];

async function groupsOf(infId: string) {
  return (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [infId] }] }))).SecurityGroups ?? [];
}

async function typeInfo(name: string): Promise<Ec2TypeInfo> {
  return (await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [name as _InstanceType] }))).InstanceTypes?.[0] as Ec2TypeInfo;
}

describe('one VM through its whole life on moto', () => {
  const INF = 'moto-life-1';
  let before: MotoInventory;
  let req: LaunchRequest;
  let vm: VmHandle;
  const RADL = `
network pub (outbound = 'yes' and outports = '80,443,8000:8010,53/udp')
network priv (cidr = '172.31.*.0/16')
system front (
  cpu.count >= 2 and memory.size >= 4G and cpu.arch = 'x86_64' and
  net_interface.0.connection = 'pub' and net_interface.0.ip = '54.200.1.10' and
  net_interface.1.connection = 'priv' and
  disk.0.image.url = '$AMI' and disk.0.os.name = 'linux' and
  disk.1.size = 10GiB and disk.1.type = 'gp3' and disk.1.mount_path = '/data' and
  instance_tags = 'project=im-moto,owner=ops'
)
deploy front 1`;

  it('launches: cheapest fitting type, security groups from outports, key pair, EBS data disk, Elastic IP, tags, user data', async () => {
    before = await motoInventory(ec2);
    req = request(parseRadl(radlText(RADL)), INF, 0);
    const launched = await connector.launch(req);
    expect(launched.providerId).toMatch(/^us-east-1;i-[0-9a-f]+$/);
    expect(launched.state).toBe('pending');
    vm = handle(req, launched);
    const inst = await instance(instanceIdOf(launched.providerId));

    // Instance type: the cheapest x86_64 type with >= 2 vCPUs and >= 4 GB, as EC2 itself describes it.
    expect(inst.InstanceType).toBe('t3a.medium');
    const info = await typeInfo('t3a.medium');
    expect(info.VCpuInfo?.DefaultVCpus).toBeGreaterThanOrEqual(2);
    expect((info.MemoryInfo?.SizeInMiB ?? 0) * 2 ** 20).toBeGreaterThanOrEqual(4e9);
    expect(info.ProcessorInfo?.SupportedArchitectures).toContain('x86_64');
    expect(launched.system.getString('instance_type')).toBe('t3a.medium');
    expect(launched.system.getNumber('cpu.count')).toBe(2);

    // One group per network, in the default VPC, with SSH, same-group traffic and the outports on the public one.
    const vpc = inst.VpcId;
    const groups = await groupsOf(INF);
    expect(groups.map((g) => g.GroupName).sort()).toEqual([`im-${INF}-priv`, `im-${INF}-pub`]);
    for (const g of groups) expect(g.VpcId).toBe(vpc);
    // (EC2 lists them on the instance too; moto only on its network interface.)
    expect((inst.NetworkInterfaces?.[0]?.Groups ?? []).map((g) => g.GroupName).sort()).toEqual([`im-${INF}-priv`, `im-${INF}-pub`]);
    const rules = (name: string) => {
      const g = groups.find((x) => x.GroupName === name);
      return (g?.IpPermissions ?? []).map((p) =>
        p.UserIdGroupPairs?.length ? `${p.IpProtocol} self` : `${p.IpProtocol} ${p.FromPort}-${p.ToPort} ${p.IpRanges?.map((r) => r.CidrIp).join(',')}`,
      );
    };
    expect(rules(`im-${INF}-pub`).sort()).toEqual(
      ['-1 self', 'tcp 22-22 0.0.0.0/0', 'tcp 80-80 0.0.0.0/0', 'tcp 443-443 0.0.0.0/0', 'tcp 8000-8010 0.0.0.0/0', 'udp 53-53 0.0.0.0/0'].sort(),
    );
    expect(rules(`im-${INF}-priv`).sort()).toEqual(['-1 self', 'tcp 22-22 0.0.0.0/0']);

    // A generated key pair, whose private key the VM's system carries for the SSH access.
    expect(inst.KeyName).toBe(`im-${INF}-0`);
    const keys = (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [`im-${INF}-0`] }))).KeyPairs ?? [];
    expect(keys).toHaveLength(1);
    expect(launched.system.getString('disk.0.os.credentials.private_key')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(launched.system.getString('disk.0.os.credentials.username')).toBe('cloudadm');

    // The data disk: a 10 GiB gp3 EBS volume at /dev/sdb, deleted with the instance.
    const data = inst.BlockDeviceMappings?.find((m) => m.DeviceName === '/dev/sdb');
    expect(data?.Ebs?.DeleteOnTermination).toBe(true);
    const vol = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [data?.Ebs?.VolumeId as string] }))).Volumes?.[0];
    expect(vol).toMatchObject({ Size: 10, VolumeType: 'gp3' });
    expect(launched.system.getString('disk.1.device')).toBe('sdb');

    // The fixed public IP became an Elastic IP of the account, on this instance.
    const addr = (await ec2.send(new DescribeAddressesCommand({ PublicIps: ['54.200.1.10'] }))).Addresses?.[0];
    expect(addr?.InstanceId || addr?.NetworkInterfaceId).toBeTruthy();
    expect(addr?.NetworkInterfaceId).toBe(inst.NetworkInterfaces?.[0]?.NetworkInterfaceId);

    // Tags: instance_tags, VM_TAG_* of the request, IM-USER, IM-INFRA-ID and Name.
    const tags = Object.fromEntries((inst.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ project: 'im-moto', owner: 'ops', IM_USER: 'alice', 'IM-USER': 'alice', 'IM-INFRA-ID': INF });
    expect(tags.Name).toMatch(/^front-[0-9a-f-]{36}$/);

    // The user data creates the user with the key pair's public key.
    const ud = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: inst.InstanceId, Attribute: 'userData' }));
    const userData = Buffer.from(ud.UserData?.Value ?? '', 'base64').toString();
    expect(userData).toMatch(/^#cloud-config\nusers:\n {2}- default\n {2}- name: cloudadm\n/);
    expect(userData).toMatch(/ssh_authorized_keys:\n {6}- "ssh-rsa AAAA/);
  });

  it('refreshes: pending → running, with the Elastic IP and the private address on their interfaces', async () => {
    const up = await connector.updateVmInfo(vm, MOTO_AUTH);
    expect(up.state).toBe('running');
    expect(up.system.getString('net_interface.0.ip')).toBe('54.200.1.10');
    expect(up.system.getString('net_interface.1.ip')).toMatch(/^172\.31\.\d+\.\d+$/);
    expect(up.system.getString('availability_zone')).toMatch(/^us-east-1[a-f]$/);
    expect(up.system.getString('instance_type')).toBe('t3a.medium');
    vm = { ...vm, system: up.system, ...(up.cloudData ? { cloudData: up.cloudData } : {}) };
  });

  it('refreshes several VMs with one DescribeInstances (updateVmsInfo); an unknown instance reads off', async () => {
    const gone: VmHandle = { ...vm, vmId: 7, providerId: vm.providerId.replace(/i-[0-9a-f]+$/, 'i-0123456789abcdef0'), cloudData: {} };
    const system = vm.system.clone();
    system.setValue('launch_time', 1);
    gone.system = system;
    let describes = 0;
    const counting = new Ec2Connector({
      config: loadConfig({}),
      logger: createLogger({ level: 'SILENT' }),
      clientFactory: (region, auth) => {
        const c = moto.clientFactory(region, auth);
        c.middlewareStack.add(
          (next, context) => (args) => {
            if (context.commandName === 'DescribeInstancesCommand') describes++;
            return next(args);
          },
          { step: 'initialize', name: 'countDescribes', override: true },
        );
        return c;
      },
      quotasFactory: moto.quotasFactory,
    });
    const single = await connector.updateVmInfo(vm, MOTO_AUTH);
    const [one, two] = await counting.updateVmsInfo([vm, gone], MOTO_AUTH);
    expect(one).not.toBeInstanceOf(Error);
    expect((one as typeof single).state).toBe(single.state);
    expect((one as typeof single).system.getString('net_interface.0.ip')).toBe(single.system.getString('net_interface.0.ip'));
    expect((two as typeof single).state).toBe('off');
    expect(describes).toBe(1);
  });

  it('stops, refuses to resize a running VM, resizes the stopped one and starts it again', async () => {
    await connector.stop(vm, MOTO_AUTH);
    expect((await connector.updateVmInfo(vm, MOTO_AUTH)).state).toBe('stopped');

    const bigger = parseRadl('system front (cpu.count >= 4 and memory.size >= 16G)').systems[0];
    const altered = await connector.alterVm(vm, bigger, MOTO_AUTH);
    expect(altered.state).toBe('stopped');
    expect(altered.system.getString('instance_type')).toBe('t3a.xlarge');
    const inst = await instance(instanceIdOf(vm.providerId));
    expect(inst.InstanceType).toBe('t3a.xlarge');
    const info = await typeInfo('t3a.xlarge');
    expect(info.VCpuInfo?.DefaultVCpus).toBe(4);
    expect((info.MemoryInfo?.SizeInMiB ?? 0) * 2 ** 20).toBeGreaterThanOrEqual(16e9);
    vm = { ...vm, system: altered.system };

    await connector.start(vm, MOTO_AUTH);
    const up = await connector.updateVmInfo(vm, MOTO_AUTH);
    expect(up.state).toBe('running');
    expect(up.system.getString('instance_type')).toBe('t3a.xlarge');
    expect(up.system.getNumber('cpu.count')).toBe(4);

    const larger = parseRadl('system front (cpu.count >= 8)').systems[0];
    await expect(connector.alterVm(vm, larger, MOTO_AUTH)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/stopped VM/) });
    expect((await instance(instanceIdOf(vm.providerId))).InstanceType).toBe('t3a.xlarge');
  });

  it('snapshots disk 0 (CreateImage) and disk 1 (CreateSnapshot), lists and deletes them', async () => {
    const url = await connector.createSnapshot(vm, 0, 'im-moto-image', true, MOTO_AUTH);
    expect(url).toMatch(/^aws:\/\/us-east-1\/ami-[0-9a-f]+$/);
    const amiId = url.split('/').pop() as string;
    const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
    expect(img).toMatchObject({ Name: 'im-moto-image', State: 'available' });
    expect(img?.Tags).toEqual(expect.arrayContaining([{ Key: 'IM-INFRA-ID', Value: INF }]));
    // The connector asked EC2 to tag the AMI's snapshots as well (moto cannot: the helper drops that part).
    expect(moto.gaps).toContain(MOTO_GAPS.createImageSnapshotTags);
    const listed = await connector.listImages(MOTO_AUTH, { region: REGION, owners: 'self' });
    expect(listed).toContainEqual({ uri: url, name: 'im-moto-image' });
    const snaps = (img?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId).filter(Boolean);
    expect(snaps.length).toBeGreaterThan(0);

    const dataUrl = await connector.createSnapshot(vm, 1, 'im-moto-data', false, MOTO_AUTH);
    expect(dataUrl).toMatch(/^aws:\/\/us-east-1\/snap-[0-9a-f]+$/);

    await connector.deleteImage(url, MOTO_AUTH);
    await connector.deleteImage(dataUrl, MOTO_AUTH);
    await connector.deleteImage(url, MOTO_AUTH); // idempotent
    expect((await connector.listImages(MOTO_AUTH, { region: REGION, owners: 'self' })).map((i) => i.uri)).not.toContain(url);
    const inv = await motoInventory(ec2);
    expect(inv.images).not.toContain(amiId);
    for (const s of [...snaps, dataUrl.split('/').pop()]) expect(inv.snapshots).not.toContain(s);
  });

  it('destroys (finalize, last) and leaves nothing behind', async () => {
    await connector.finalize(vm, true, MOTO_AUTH);
    expect((await instance(instanceIdOf(vm.providerId))).State?.Name).toBe('terminated');
    expect(leftovers(before, await motoInventory(ec2))).toEqual({});
    expect((await connector.updateVmInfo(vm, MOTO_AUTH)).state).toBe('off');
    // A finalize retried after success completes without error.
    await connector.finalize(vm, true, MOTO_AUTH);
  });
});

describe('shared resources and the user’s own resources', () => {
  it('keeps the shared groups until the last VM of the infrastructure goes', async () => {
    const INF = 'moto-shared-2';
    const before = await motoInventory(ec2);
    const radl = parseRadl(radlText(`
network pub (outbound = 'yes')
system node (cpu.count >= 1 and net_interface.0.connection = 'pub' and disk.0.image.url = '$AMI')
deploy node 2`));
    const r0 = request(radl, INF, 0);
    const r1 = request(radl, INF, 1);
    const vm0 = handle(r0, await connector.launch(r0));
    const vm1 = handle(r1, await connector.launch(r1));
    expect((await groupsOf(INF)).map((g) => g.GroupName)).toEqual([`im-${INF}-pub`]);
    expect((vm1.cloudData?.securityGroups as { managed: boolean }[])[0].managed).toBe(true);

    await connector.finalize(vm1, false, MOTO_AUTH);
    expect(await groupsOf(INF)).toHaveLength(1);
    expect((await instance(instanceIdOf(vm0.providerId))).State?.Name).toBe('running');
    await connector.finalize(vm0, true, MOTO_AUTH);
    expect(await groupsOf(INF)).toHaveLength(0);
    expect(leftovers(before, await motoInventory(ec2))).toEqual({});
  });

  it('uses the account’s own Elastic IP and only disassociates it at the end', async () => {
    const INF = 'moto-eip-3';
    const own = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
    const before = await motoInventory(ec2);
    const radl = parseRadl(radlText(`
network pub (outbound = 'yes')
system node (net_interface.0.connection = 'pub' and net_interface.0.ip = '${own.PublicIp}' and disk.0.image.url = '$AMI')
deploy node 1`));
    const r0 = request(radl, INF, 0);
    const launched = await connector.launch(r0);
    const vm = handle(r0, launched);
    const addr = async () => (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [own.AllocationId as string] }))).Addresses?.[0];
    const inst = await instance(instanceIdOf(launched.providerId));
    expect((await addr())?.NetworkInterfaceId).toBe(inst.NetworkInterfaces?.[0]?.NetworkInterfaceId);
    expect((await connector.updateVmInfo(vm, MOTO_AUTH)).system.getString('net_interface.0.ip')).toBe(own.PublicIp);

    await connector.finalize(vm, true, MOTO_AUTH);
    const after = await addr();
    expect(after?.AllocationId).toBe(own.AllocationId);
    expect(after?.AssociationId).toBeUndefined();
    expect(leftovers(before, await motoInventory(ec2))).toEqual({});
    await ec2.send(new ReleaseAddressCommand({ AllocationId: own.AllocationId }));
  });

  it('launches from a snapshot URL (RegisterImage) and deregisters that AMI at finalize', async () => {
    const INF = 'moto-snap-4';
    const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 8 }));
    const snap = await ec2.send(new CreateSnapshotCommand({ VolumeId: volume.VolumeId as string }));
    const before = await motoInventory(ec2);
    const radl = parseRadl(`
network priv ()
system node (net_interface.0.connection = 'priv' and disk.0.image.url = 'aws://us-east-1/${snap.SnapshotId}')
deploy node 1`);
    const r0 = request(radl, INF, 0);
    const launched = await connector.launch(r0);
    const registered = (launched.cloudData as { registeredImage: string }).registeredImage;
    // (moto's RegisterImage keeps only the name: the AMI's mapping to the snapshot is not modelled.)
    const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [registered] }))).Images?.[0];
    expect(img?.Name).toBe(`im-${INF}-0-${snap.SnapshotId}`);
    const inst = await instance(instanceIdOf(launched.providerId));
    expect(inst.ImageId).toBe(registered);
    expect(inst.PublicIpAddress).toBeUndefined(); // a private-only VM gets no public address

    await connector.finalize(handle(r0, launched), true, MOTO_AUTH);
    expect(leftovers(before, await motoInventory(ec2))).toEqual({});
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snap.SnapshotId }));
    await ec2.send(new DeleteVolumeCommand({ VolumeId: volume.VolumeId }));
  });
});

describe('quotas and instance types as EC2 describes them', () => {
  it('counts what runs against the account limits', async () => {
    const INF = 'moto-quota-5';
    const radl = parseRadl(radlText(`network pub (outbound = 'yes')
system node (cpu.count >= 2 and memory.size >= 8G and net_interface.0.connection = 'pub' and disk.0.image.url = '$AMI')
deploy node 1`));
    const empty = await connector.getQuotas(MOTO_AUTH);
    const r0 = request(radl, INF, 0);
    const vm = handle(r0, await connector.launch(r0));
    const q = await connector.getQuotas(MOTO_AUTH);
    expect(q.instances.used).toBe(empty.instances.used + 1);
    expect(q.cores.used).toBe(empty.cores.used + 2); // t3a.large: 2 vCPUs
    expect(q.security_groups.used).toBe(empty.security_groups.used + 1);
    // Limits: Service Quotas where moto has them (vpc L-E79EC296), the account attributes otherwise.
    expect(q.security_groups.limit).toBeGreaterThan(0);
    expect(q.instances.limit).toBeGreaterThan(0);
    expect(q.cores.limit).toBeGreaterThan(0);
    expect(q.floating_ips.limit).toBeGreaterThan(0);
    expect(q).not.toHaveProperty('ram');
    await connector.finalize(vm, true, MOTO_AUTH);
    expect((await connector.getQuotas(MOTO_AUTH)).instances.used).toBe(empty.instances.used);
  });

  it('has an instance-type table that agrees with DescribeInstanceTypes', async () => {
    const described = new Map<string, Ec2TypeInfo>();
    for (const t of INSTANCE_TYPES) {
      try {
        const info = await typeInfo(t.name);
        if (info) described.set(t.name, info);
      } catch {
        // a type moto's copy of the AWS data does not list (see the report of MOTO gaps)
      }
    }
    expect(described.size).toBeGreaterThanOrEqual(Math.floor(INSTANCE_TYPES.length * 0.9));
    const wrong: string[] = [];
    for (const t of INSTANCE_TYPES) {
      const d = described.get(t.name);
      if (!d) continue;
      const gpus = (d.GpuInfo?.Gpus ?? []).reduce((s, g) => s + (g.Count ?? 0), 0);
      if (d.VCpuInfo?.DefaultVCpus !== t.vcpus) wrong.push(`${t.name} vCPUs ${t.vcpus} ≠ ${d.VCpuInfo?.DefaultVCpus}`);
      if (d.MemoryInfo?.SizeInMiB !== t.memoryMiB) wrong.push(`${t.name} memory ${t.memoryMiB} ≠ ${d.MemoryInfo?.SizeInMiB} MiB`);
      if (!d.ProcessorInfo?.SupportedArchitectures?.includes(t.arch)) wrong.push(`${t.name} arch ${t.arch}`);
      if (gpus !== t.gpus) wrong.push(`${t.name} GPUs ${t.gpus} ≠ ${gpus}`);
      if (t.gpus && !(d.GpuInfo?.Gpus ?? []).some((g) => g.Name?.includes(t.gpuModel ?? '?'))) wrong.push(`${t.name} GPU model ${t.gpuModel}`);
    }
    expect(wrong).toEqual([]);
  });
});
