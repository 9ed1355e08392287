/** Volumes at launch, availability zone, floating-IP pool choice, alter of the public IP, slow answers. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { ImError } from '#core/errors';
import { parseRadl } from '#radl/index';
import { OpenStackConnector } from '#connectors/openstack/connector';
import { FakeOpenStack } from '../../../helpers/fake-openstack/server.ts';
import { authItem, connector, FAST, handleOf, launchRequest, logCapture, until } from './helpers.ts';

let fake: FakeOpenStack;
beforeAll(async () => {
  fake = await FakeOpenStack.start();
});
afterAll(async () => fake.stop());
beforeEach(() => fake.reset());

const VOLUME_RADL = `
network publica (outbound = 'yes' and provider_id = 'public')
network privada ()
system front (
  cpu.count >= 1 and memory.size >= 1024m and availability_zone = 'nova' and
  net_interface.0.connection = 'publica' and net_interface.1.connection = 'privada' and
  disk.0.image.url = 'ost://127.0.0.1/img-ubuntu-2204' and disk.0.size = 20G and
  disk.1.size = 10G and disk.1.device = 'hdb' and disk.1.fstype = 'xfs' and disk.1.mount_path = '/data'
)
`;

describe('OpenStack extras', () => {
  it('boot volume + data volume, availability zone, disks read back, volumes gone with the server', async () => {
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth, VOLUME_RADL);
    const launched = await con.launch(req);
    const sv = (fake.calls(/\/servers$/, 'POST')[0].body as { server: Record<string, unknown> }).server;
    expect(sv.availability_zone).toBe('nova');
    expect(sv.block_device_mapping_v2).toEqual([
      { boot_index: 0, source_type: 'image', uuid: 'img-ubuntu-2204', destination_type: 'volume', volume_size: 20, delete_on_termination: true },
      { boot_index: 1, source_type: 'blank', destination_type: 'volume', volume_size: 10, guest_format: 'xfs', delete_on_termination: true, device_name: 'vdb' },
    ]);
    const h = handleOf(req, launched);
    const up = await until(() => con.updateVmInfo(h, auth), (u) => u.state === 'running' && u.system.hasFeature('disk.1.image.url'));
    expect(up.system.getString('disk.0.device')).toBe('vda');
    expect(up.system.getString('disk.1.device')).toBe('vdb');
    expect(up.system.getString('disk.1.image.url')).toMatch(/^ost:\/\/127\.0\.0\.1\/[0-9a-f-]{36}$/);
    expect(up.system.getString('disk.1.mount_path')).toBe('/data');
    // Volumes read once: the next refresh makes no Cinder call.
    fake.log.length = 0;
    const again = await con.updateVmInfo({ ...h, system: up.system, cloudData: up.cloudData }, auth);
    expect(fake.calls(/^\/volume\//)).toHaveLength(0);
    await con.finalize({ ...h, system: again.system, cloudData: again.cloudData }, true, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
  });

  it('floating IP from the pool named by provider_id; alter releases it and adds it back', async () => {
    const ext2 = fake.state.addNetwork('public2', { external: true, shared: true, cidr: '198.51.100.0/24' });
    for (const r of fake.state.routers.values()) r.external_gateway_info = { network_id: ext2.id };
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const radl = `
network publica (outbound = 'yes' and provider_id = 'public2')
network privada ()
system front (
  net_interface.0.connection = 'publica' and net_interface.1.connection = 'privada' and
  disk.0.image.url = 'ost://127.0.0.1/img-cirros'
)`;
    const req = launchRequest(con, auth, radl);
    const h = handleOf(req, await con.launch(req));
    const up = await until(() => con.updateVmInfo(h, auth), (u) => /^198\.51\.100\./.test(u.system.getString('net_interface.0.ip') ?? ''));
    expect(up.system.getString('net_interface.0.ip')).toMatch(/^198\.51\.100\./);
    const cur = { ...h, system: up.system, cloudData: up.cloudData };
    const privOnly = parseRadl("system front ( net_interface.0.connection = 'privada' )").systems[0];
    const noIp = await con.alterVm(cur, privOnly, auth);
    expect(fake.state.fips.size).toBe(0);
    expect(noIp.system.getString('net_interface.0.ip') ?? '').not.toMatch(/^198\./);
    const withPub = parseRadl("system front ( net_interface.0.connection = 'publica' and net_interface.1.connection = 'privada' )").systems[0];
    await con.alterVm({ ...cur, system: noIp.system, cloudData: noIp.cloudData }, withPub, auth);
    expect([...fake.state.fips.values()].map((f) => String(f.floating_ip_address))).toEqual([expect.stringMatching(/^198\.51\.100\./)]);
    const last = await con.updateVmInfo({ ...cur, system: noIp.system, cloudData: noIp.cloudData }, auth);
    await con.finalize({ ...cur, system: last.system, cloudData: last.cloudData }, true, auth);
    // What remains is the test's own external network (ext2) and its subnet.
    await until(async () => fake.state.leakCount(), (n) => n === 2);
    expect(fake.state.leftovers()).toEqual({ networks: [ext2.id as string], subnets: [(ext2.subnets as string[])[0]] });
  });

  it('a slow cloud: the request timeout is a retryable error naming the connection problem', async () => {
    fake.configure({ latency_ms: { '^/compute/': 400 } });
    const con = new OpenStackConnector({ config: loadConfig({}), logger: logCapture().logger, timing: FAST, requestTimeoutMs: 100 });
    const err = await con.getQuotas(authItem(fake)).catch((e: unknown) => e as ImError);
    expect(err).toBeInstanceOf(ImError);
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(err.message).toMatch(/timeout after 100 ms/);
  });
});
