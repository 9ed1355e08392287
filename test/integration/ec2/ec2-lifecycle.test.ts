/**
 * EC2 end to end in local mode: create, query, stop/start and destroy an infrastructure over REST with the
 * real EC2 connector, the EC2 API mocked at the SDK level by a stateful fake (every EC2Client of the
 * process is mocked), and a check that every resource the connector created is gone afterwards.
 */
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';
import { Ec2Connector } from '#connectors/ec2';
import { EC2Client, FakeEc2 } from './fake-ec2.ts';

const ec2Mock = mockClient(EC2Client);
const SECRET = 'fakeSecretKeyThatMustNeverLeak0123456789';
const AUTH = `id = im; type = InfrastructureManager; username = ec2user; password = ec2pass\\nid = aws; type = EC2; username = AKIAFAKEFAKEFAKE; password = ${SECRET}`;

const RADL = `
network pub (outbound = 'yes' and outports = '80,8000:8010')
network priv ()
system node (
  cpu.count >= 2 and memory.size >= 2G and
  net_interface.0.connection = 'pub' and net_interface.1.connection = 'priv' and
  disk.0.image.url = 'aws://us-east-1/ami-0fake' and disk.0.os.name = 'linux' and
  disk.1.size = 10GiB and disk.1.mount_path = '/data' and
  instance_tags = 'project=im-test'
)
contextualize ()
deploy node 2
`;

let srv: TestServer;
let fake: FakeEc2;

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

async function waitForState(infId: string, wanted: string, timeoutMs = 30_000): Promise<{ state: string; vm_states: Record<string, string> }> {
  const end = Date.now() + timeoutMs;
  let last: { state: string; vm_states: Record<string, string> } | undefined;
  while (Date.now() < end) {
    const r = await call('GET', `/infrastructures/${infId}/state`, undefined, 'application/json');
    expect(r.status).toBe(200);
    last = (JSON.parse(r.text) as { state: { state: string; vm_states: Record<string, string> } }).state;
    if (last.state === wanted) return last;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`infrastructure ${infId} did not reach ${wanted}: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  srv = await startTestServer({ connectors: [new Ec2Connector({ sleep: async () => undefined, pollIntervalMs: 1, maxPolls: 20 })] });
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  ec2Mock.restore();
});

beforeEach(() => {
  ec2Mock.reset();
  fake = new FakeEc2();
  fake.install(ec2Mock);
});

describe('EC2 infrastructure over REST (local mode, EC2 mocked at the SDK level)', () => {
  it('creates, queries, stops/starts and destroys an infrastructure without leaving anything behind', async () => {
    const created = await call('POST', '/infrastructures', RADL);
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;

    const st = await waitForState(infId, 'configured');
    expect(st.vm_states).toEqual({ 0: 'configured', 1: 'configured' });
    expect(fake.created.instance).toHaveLength(2);
    expect(fake.groups.size).toBe(2);
    expect([...fake.groups.values()].map((g) => g.name).sort()).toEqual([`im-${infId}-priv`, `im-${infId}-pub`]);
    expect(fake.keys).toEqual(new Set([`im-${infId}-0`, `im-${infId}-1`]));
    const run = [...fake.instances.values()][0].input;
    expect(run.InstanceType).toBe('t3a.small');
    expect(run.NetworkInterfaces?.[0]).toMatchObject({ AssociatePublicIpAddress: true, SubnetId: 'subnet-0fake' });
    expect(run.TagSpecifications?.[0].Tags).toEqual(expect.arrayContaining([{ Key: 'project', Value: 'im-test' }, { Key: 'IM-INFRA-ID', Value: infId }]));

    const vms = await call('GET', `/infrastructures/${infId}`);
    expect(vms.text.trim().split('\n')).toHaveLength(2);
    const info = await call('GET', `/infrastructures/${infId}/vms/0`);
    expect(info.status).toBe(200);
    expect(info.text).toMatch(/net_interface\.0\.ip = '54\.0\.0\.\d+'/);
    expect(info.text).toMatch(/net_interface\.1\.ip = '172\.31\.0\.\d+'/);
    expect(info.text).toContain("instance_type = 't3a.small'");
    expect(info.text).toContain("provider.type = 'EC2'");
    expect(info.text).toMatch(/instance_id = 'us-east-1;i-0f\d+'/);
    expect(info.text).toContain("disk.1.mount_path = '/data'");

    const stop = await call('PUT', `/infrastructures/${infId}/vms/1/stop`);
    expect(stop.status, stop.text).toBe(200);
    const afterStop = await waitForState(infId, 'configured');
    expect(afterStop.vm_states['1']).toBe('stopped');
    expect(fake.calls).toContain('StopInstances');
    const start = await call('PUT', `/infrastructures/${infId}/vms/1/start`);
    expect(start.status, start.text).toBe(200);

    const destroyed = await call('DELETE', `/infrastructures/${infId}`);
    expect(destroyed.status, destroyed.text).toBe(200);
    expect(fake.leaks()).toEqual({});
    expect([...fake.instances.values()].every((i) => i.state === 'terminated')).toBe(true);
    expect(fake.calls.filter((c) => c === 'DeleteSecurityGroup').length).toBeGreaterThanOrEqual(2);
    const gone = await call('GET', `/infrastructures/${infId}/state`);
    expect(gone.status).toBe(404);
  });

  it('retries a capacity error and leaks nothing from the failed attempt', async () => {
    fake.runFailures = ['InsufficientInstanceCapacity'];
    const created = await call('POST', '/infrastructures', RADL.replace('deploy node 2', 'deploy node 1'));
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;
    await waitForState(infId, 'configured');
    expect(fake.calls.filter((c) => c === 'RunInstances')).toHaveLength(2);
    expect(fake.created.instance).toHaveLength(1);
    expect(fake.keys.size).toBe(1);

    const destroyed = await call('DELETE', `/infrastructures/${infId}`);
    expect(destroyed.status, destroyed.text).toBe(200);
    expect(fake.leaks()).toEqual({});
  });

  it('reports a launch that always fails and rolls back everything it created', async () => {
    fake.runFailures = ['InsufficientInstanceCapacity', 'InsufficientInstanceCapacity', 'InsufficientInstanceCapacity'];
    const created = await call('POST', '/infrastructures', RADL.replace('deploy node 2', 'deploy node 1'));
    expect(created.status).toBe(400);
    expect(created.text).toMatch(/InsufficientInstanceCapacity/);
    expect(fake.created.group.length).toBeGreaterThan(0);
    expect(fake.created.key.length).toBe(3);
    expect(fake.leaks()).toEqual({});
  });
});
