/**
 * An EC2 infrastructure over REST in local mode, with the real EC2 connector talking to moto 5 (the EC2 API
 * over HTTP, test/helpers/moto.ts): create, query, stop, alter, start, snapshot (auto-deleted), cloud
 * images and quotas, destroy — and then nothing the connector created is left in moto.
 *
 * Fault injection: aws-sdk-client-mock stubs EC2Client.send and passes every command it is not told about
 * through to moto (`send.callThrough()`), so a test makes RunInstances fail while the rest stays real.
 */
import {
  CreateKeyPairCommand,
  CreateSecurityGroupCommand,
  DescribeInstancesCommand,
  EC2Client,
  EC2ServiceException,
  RunInstancesCommand,
  type Instance,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { createLogger } from '#core/logger';
import { Ec2Connector } from '#connectors/ec2/connector';
import { startTestServer, TEST_ENV, type TestServer } from '../../helpers/local-server.ts';
import { leftovers, motoInventory, MOTO_AUTH, startMoto, type MotoInventory, type MotoServer } from '../../helpers/moto.ts';

const ec2Mock = mockClient(EC2Client);
const SECRET = MOTO_AUTH.password;
const AUTH = `id = im; type = InfrastructureManager; username = ec2user; password = ec2pass\\nid = aws; type = EC2; username = ${MOTO_AUTH.username}; password = ${SECRET}`;

let moto: MotoServer;
let srv: TestServer;
let ec2: EC2Client;
let ami: string;
const logLines: string[] = [];

const radl = (n: number) => `
network pub (outbound = 'yes' and outports = '80,8000:8010')
network priv ()
system node (
  cpu.count >= 2 and memory.size >= 2G and
  net_interface.0.connection = 'pub' and net_interface.1.connection = 'priv' and
  disk.0.image.url = '${ami}' and disk.0.os.name = 'linux' and
  disk.1.size = 10GiB and disk.1.mount_path = '/data' and
  instance_tags = 'project=im-test'
)
contextualize ()
deploy node ${n}
`;

async function call(method: string, path: string, body?: string, accept?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${srv.baseUrl}${path}`, {
    method,
    headers: { Authorization: AUTH, ...(accept ? { Accept: accept } : {}), ...(body !== undefined ? { 'Content-Type': 'text/plain' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.text();
  expect(text).not.toContain(SECRET);
  return { status: res.status, text };
}

type InfState = { state: string; vm_states: Record<string, string> };

async function waitForState(infId: string, wanted: (s: InfState) => boolean, timeoutMs = 30_000): Promise<InfState> {
  const end = Date.now() + timeoutMs;
  let last: InfState | undefined;
  while (Date.now() < end) {
    const r = await call('GET', `/infrastructures/${infId}/state`, undefined, 'application/json');
    expect(r.status).toBe(200);
    last = (JSON.parse(r.text) as { state: InfState }).state;
    if (wanted(last)) return last;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`infrastructure ${infId} did not reach the wanted state: ${JSON.stringify(last)}`);
}

async function instancesOf(infId: string): Promise<Instance[]> {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:IM-INFRA-ID', Values: [infId] }] }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []);
}

function capacityError(): EC2ServiceException {
  return new EC2ServiceException({ name: 'InsufficientInstanceCapacity', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'We currently do not have sufficient capacity in the Availability Zone you requested.' });
}

beforeAll(async () => {
  moto = await startMoto();
  ec2 = moto.client('us-east-1');
  const connector = new Ec2Connector({
    config: loadConfig(TEST_ENV),
    logger: createLogger({ level: 'DEBUG', write: (l) => logLines.push(l) }),
    clientFactory: moto.clientFactory,
    quotasFactory: moto.quotasFactory,
    pollIntervalMs: 20,
    maxPolls: 50,
  });
  srv = await startTestServer({ connectors: [connector] });
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  await moto?.stop();
  ec2Mock.restore();
  expect(logLines.join('\n')).not.toContain(SECRET);
});

beforeEach(async () => {
  ec2Mock.reset();
  ec2Mock.send.callThrough();
  if (!ami) {
    // An Amazon AMI of moto's, found through the cloud's image list as a user would.
    const imgs = await call('GET', `/clouds/aws/images?filters=${encodeURIComponent('region=us-east-1,distribution=ubuntu,version=16.04,architecture=x86_64')}`, undefined, 'application/json');
    expect(imgs.status, imgs.text).toBe(200);
    const list = (JSON.parse(imgs.text) as { images: { uri: string; name: string }[] }).images;
    expect(list.length).toBeGreaterThan(0);
    ami = list[0].uri;
  }
});

describe('EC2 infrastructure over REST (local mode, EC2 = moto)', () => {
  let before: MotoInventory;

  it('creates, queries, stops, alters, starts, snapshots and destroys an infrastructure without leaving anything behind', async () => {
    before = await motoInventory(ec2);
    const created = await call('POST', '/infrastructures', radl(2));
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;

    const st = await waitForState(infId, (s) => s.state === 'configured');
    expect(st.vm_states).toEqual({ 0: 'configured', 1: 'configured' });
    const insts = await instancesOf(infId);
    expect(insts).toHaveLength(2);
    expect(insts.map((i) => i.InstanceType)).toEqual(['t3a.small', 't3a.small']);
    for (const i of insts) expect(i.Tags).toEqual(expect.arrayContaining([{ Key: 'project', Value: 'im-test' }, { Key: 'IM-INFRA-ID', Value: infId }]));

    const vms = await call('GET', `/infrastructures/${infId}`);
    expect(vms.text.trim().split('\n')).toHaveLength(2);
    const info = await call('GET', `/infrastructures/${infId}/vms/0`);
    expect(info.status).toBe(200);
    const inst0 = insts.find((i) => info.text.includes(i.InstanceId as string)) as Instance;
    expect(inst0, info.text).toBeDefined();
    expect(info.text).toContain(`net_interface.0.ip = '${inst0.PublicIpAddress}'`);
    expect(info.text).toContain(`net_interface.1.ip = '${inst0.PrivateIpAddress}'`);
    expect(info.text).toContain("instance_type = 't3a.small'");
    expect(info.text).toContain("provider.type = 'EC2'");
    expect(info.text).toContain(`instance_id = 'us-east-1;${inst0.InstanceId}'`);
    expect(info.text).toContain("disk.1.mount_path = '/data'");

    // Stop VM 1, give it a bigger type, start it again.
    const stop = await call('PUT', `/infrastructures/${infId}/vms/1/stop`);
    expect(stop.status, stop.text).toBe(200);
    const afterStop = await waitForState(infId, (s) => s.vm_states['1'] === 'stopped');
    expect(afterStop.vm_states['0']).toBe('configured');
    const alter = await call('PUT', `/infrastructures/${infId}/vms/1`, 'system node ( cpu.count >= 4 and memory.size >= 16G )');
    expect(alter.status, alter.text).toBe(200);
    expect(alter.text).toContain("instance_type = 't3a.xlarge'");
    const vm1 = (await instancesOf(infId)).find((i) => i.InstanceId !== inst0.InstanceId) as Instance;
    expect(vm1.InstanceType).toBe('t3a.xlarge');
    expect(vm1.State?.Name).toBe('stopped');
    const start = await call('PUT', `/infrastructures/${infId}/vms/1/start`);
    expect(start.status, start.text).toBe(200);
    await waitForState(infId, (s) => s.vm_states['1'] !== 'stopped' && s.vm_states['1'] !== 'pending');
    expect((await instancesOf(infId)).find((i) => i.InstanceId === vm1.InstanceId)?.State?.Name).toBe('running');

    // A snapshot of VM 0's disk that the destroy deletes (auto_delete), visible in the cloud's image list.
    const snap = await call('PUT', `/infrastructures/${infId}/vms/0/disks/0/snapshot?image_name=im-rest-snap&auto_delete=yes`);
    expect(snap.status, snap.text).toBe(200);
    expect(snap.text.trim()).toMatch(/^aws:\/\/us-east-1\/ami-[0-9a-f]+$/);
    const mine = await call('GET', `/clouds/aws/images?filters=${encodeURIComponent('region=us-east-1,owners=self')}`, undefined, 'application/json');
    expect((JSON.parse(mine.text) as { images: { uri: string; name: string }[] }).images).toContainEqual({ uri: snap.text.trim(), name: 'im-rest-snap' });

    const quotas = await call('GET', '/clouds/aws/quotas', undefined, 'application/json');
    expect(quotas.status, quotas.text).toBe(200);
    const q = (JSON.parse(quotas.text) as { quotas: Record<string, { used: number; limit: number }> }).quotas;
    expect(q.instances.used).toBeGreaterThanOrEqual(2);
    expect(q.security_groups.used).toBeGreaterThanOrEqual(2);

    const destroyed = await call('DELETE', `/infrastructures/${infId}`);
    expect(destroyed.status, destroyed.text).toBe(200);
    expect(leftovers(before, await motoInventory(ec2))).toEqual({});
    expect((await instancesOf(infId)).every((i) => i.State?.Name === 'terminated')).toBe(true);
    const gone = await call('GET', `/infrastructures/${infId}/state`);
    expect(gone.status).toBe(404);
  });

  it('retries a capacity error and leaks nothing from the failed attempt', async () => {
    const start = await motoInventory(ec2);
    ec2Mock.on(RunInstancesCommand).rejectsOnce(capacityError());
    const created = await call('POST', '/infrastructures', radl(1));
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;
    await waitForState(infId, (s) => s.state === 'configured');
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(2);
    expect(await instancesOf(infId)).toHaveLength(1);
    expect(leftovers(start, await motoInventory(ec2)).keyPairs).toEqual([`im-${infId}-0`]);

    const destroyed = await call('DELETE', `/infrastructures/${infId}`);
    expect(destroyed.status, destroyed.text).toBe(200);
    expect(leftovers(start, await motoInventory(ec2))).toEqual({});
  });

  it('reports a launch that always fails and rolls back everything it created', async () => {
    const start = await motoInventory(ec2);
    ec2Mock.on(RunInstancesCommand).rejects(capacityError());
    const created = await call('POST', '/infrastructures', radl(1));
    expect(created.status).toBe(400);
    expect(created.text).toMatch(/InsufficientInstanceCapacity/);
    expect(ec2Mock.commandCalls(RunInstancesCommand)).toHaveLength(3); // MAX_VM_FAILS
    // Each attempt created its key pair (and the first its security groups) in moto, and rolled them back.
    expect(ec2Mock.commandCalls(CreateKeyPairCommand)).toHaveLength(3);
    expect(ec2Mock.commandCalls(CreateSecurityGroupCommand).length).toBeGreaterThan(0);
    expect(leftovers(start, await motoInventory(ec2))).toEqual({});
  });
});
