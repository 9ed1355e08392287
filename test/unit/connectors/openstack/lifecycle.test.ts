/**
 * The OpenStack connector's VM life against the fake OpenStack: flavor choice, launch (request bodies, security
 * groups, networks, user data), refresh (states, IPs, floating IPs, batching), operations, finalize and leaks.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { ImError } from '#core/errors';
import type { VmHandle, VmUpdate } from '#core/types';
import { parseRadl, System } from '#radl/index';
import { FakeOpenStack } from '../../../helpers/fake-openstack/server.ts';
import { authItem, connector, handleOf, launchRequest, logCapture, PASSWORD, RADL, until } from './helpers.ts';

let fake: FakeOpenStack;
beforeAll(async () => {
  fake = await FakeOpenStack.start();
});
afterAll(async () => fake.stop());
beforeEach(() => fake.reset());

type Body = { server: Record<string, unknown> };

describe('concreteSystem', () => {
  it('accepts ost:// URLs of its own host only, with IM defaults', () => {
    const con = connector(logCapture().logger);
    const s = new System('s');
    s.setValue('disk.0.image.url', ['ost://other.host/img', 'ost://127.0.0.1/img-cirros']);
    const [c] = con.concreteSystem(s, authItem(fake, { vo: 'vo.access.egi.eu' }));
    expect(c.getString('disk.0.image.url')).toBe('ost://127.0.0.1/img-cirros');
    expect(c.getString('provider.type')).toBe('OpenStack');
    expect(c.getString('provider.host')).toBe('127.0.0.1');
    expect(c.getNumber('provider.port')).toBe(Number(new URL(fake.url).port));
    expect(c.getString('disk.0.os.credentials.username')).toBe('cloudadm');
    expect(c.getString('provider.vo')).toBe('vo.access.egi.eu');
    const other = new System('o');
    other.setValue('disk.0.image.url', 'aws://us-east-1/ami-1');
    expect(con.concreteSystem(other, authItem(fake))).toEqual([]);
  });
});

describe('flavors', () => {
  const pick = async (features: string) => {
    const con = connector(logCapture().logger);
    const radl = parseRadl(`system s ( disk.0.image.url = 'ost://127.0.0.1/img-cirros' and ${features} )`);
    const est = await con.estimateSystem(con.concreteSystem(radl.systems[0], authItem(fake))[0], authItem(fake)).catch((e: unknown) => e as Error);
    return est instanceof Error ? est.message : est.getString('instance_type');
  };
  it('cheapest fit, pci devices last, wildcard, GPU, disabled and the 5 GB disk rule', async () => {
    expect(await pick('cpu.count >= 1 and memory.size >= 2048m')).toBe('m1.small');
    expect(await pick("instance_type = 'g.*'")).toBe('g.small');
    // g.small's PCI alias is no GPU by IM's test (no `gpu` key, no Accelerator:Type): the V100 flavor fits.
    expect(await pick('gpu.count >= 1')).toBe('gpu.v100');
    expect(await pick("gpu.count >= 1 and gpu.vendor = 'NVIDIA' and gpu.model = 'Tesla V100' and instance_type = 'gpu.*'")).toBe('gpu.v100');
    expect(await pick('cpu.count >= 1 and memory.size <= 512m')).toBe('No flavor found for the specified VM requirements.');
    expect(await pick('cpu.count = 2 and disk.0.size = 10G')).toBe('m1.nodisk');
    expect(await pick('cpu.count = 2')).toBe('m1.ephemeral');
    expect(fake.calls(/os-extra_specs/).length).toBeLessThan(fake.state.flavors.size * 4);
  });
});

describe('launch, refresh, operations, finalize', () => {
  it('launches with IM request bodies, refreshes to running with a floating IP and finalizes leaving nothing', async () => {
    const { logger, lines } = logCapture();
    const con = connector(logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth);
    const launched = await con.launch(req);
    expect(launched.state).toBe('pending');
    expect(launched.providerId).toMatch(/^[0-9a-f-]{36}$/);
    const post = fake.calls(/\/servers$/, 'POST')[0].body as Body;
    const sv = post.server;
    expect(sv.name).toMatch(/^front-[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-/);
    expect(sv.imageRef).toBe('img-ubuntu-2204');
    expect(sv.flavorRef).toBe('2');
    expect(sv.metadata).toEqual({ project: 'im-test', IM_INFRA_ID: 'inf-0001', im_client_token: req.clientToken });
    expect(sv.key_name).toBeUndefined();
    const privateNet = [...fake.state.networks.values()].find((n) => n.name === 'private');
    expect(sv.networks).toEqual([{ uuid: privateNet?.id }]);
    expect(sv.security_groups).toEqual([{ name: 'im-inf-0001-publica' }, { name: 'im-inf-0001-privada' }]);
    expect(sv.block_device_mapping_v2).toEqual([{ boot_index: 0, source_type: 'image', uuid: 'img-ubuntu-2204', delete_on_termination: false }]);
    const userData = Buffer.from(String(sv.user_data), 'base64').toString();
    expect(userData.startsWith('#cloud-config\n')).toBe(true);
    const doc = yaml.load(userData) as { users: Record<string, unknown>[]; merge_how: string };
    expect(doc.users[0]).toMatchObject({ name: 'cloudadm', sudo: 'ALL=(ALL) NOPASSWD:ALL', 'lock-passwd': true, homedir: '/opt/cloudadm' });
    expect(String((doc.users[0]['ssh-authorized-keys'] as string[])[0])).toMatch(/^ssh-rsa AAAA/);
    expect(launched.system.getString('disk.0.os.credentials.private_key')).toMatch(/^-----BEGIN RSA PRIVATE KEY-----/);
    // Security group rules (IM's list): tcp/udp within the group, the outports and SSH on the public network.
    const rules = fake.calls(/security-group-rules$/, 'POST').map((c) => (c.body as { security_group_rule: Record<string, unknown> }).security_group_rule);
    const pubGroup = [...fake.state.groups.values()].find((g) => g.name === 'im-inf-0001-publica');
    const pubRules = rules.filter((r) => r.security_group_id === pubGroup?.id).map((r) => [r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.remote_group_id ? 'self' : null]);
    expect(pubRules).toEqual([
      ['tcp', null, null, null, 'self'],
      ['udp', null, null, null, 'self'],
      ['tcp', 8080, 8080, '0.0.0.0/0', null],
      ['tcp', 9000, 9100, '0.0.0.0/0', null],
      ['tcp', 22, 22, '0.0.0.0/0', null],
    ]);
    expect(pubGroup?.description).toBe('Security group created by the IM');

    const vm = handleOf(req, launched);
    const running = await until(() => con.updateVmInfo(vm, auth), (u) => u.state === 'running');
    expect(running.state).toBe('running');
    // First refresh while running attaches a floating IP (a new one from the `public` pool); the next sees it.
    const withIp = await until(
      () => con.updateVmInfo({ ...vm, system: running.system, cloudData: running.cloudData }, auth),
      (u) => /^203\.0\.113\./.test(u.system.getString('net_interface.0.ip') ?? ''),
    );
    expect(withIp.system.getString('net_interface.0.ip')).toMatch(/^203\.0\.113\./);
    expect(withIp.system.getString('net_interface.1.ip')).toMatch(/^10\.0\.0\./);
    expect(withIp.system.getString('instance_type')).toBe('m1.small');
    expect(withIp.system.getNumber('memory.size', 'M')).toBe(2048);
    expect(fake.state.fips.size).toBe(1);

    // Stop / start / reboot.
    const h = { ...vm, system: withIp.system, cloudData: withIp.cloudData };
    await con.stop(h, auth);
    expect((await until(() => con.updateVmInfo(h, auth), (u) => u.state === 'stopped')).state).toBe('stopped');
    await con.start(h, auth);
    expect((await until(() => con.updateVmInfo(h, auth), (u) => u.state === 'running')).state).toBe('running');
    await con.reboot(h, auth);
    expect(fake.calls(/\/action$/, 'POST').map((c) => Object.keys(c.body as object)[0])).toEqual(['os-stop', 'os-start', 'reboot']);
    const conflict = await con.start(h, auth).catch((e: unknown) => e as ImError);
    await until(() => con.updateVmInfo(h, auth), (u) => u.state === 'running');

    // Finalize (last VM): floating IP, server, groups; the fake keeps nothing the connector created.
    await con.finalize(h, true, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
    // Idempotent.
    await con.finalize(h, true, auth);
    expect(conflict).toBeInstanceOf(ImError);
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('creates a private network (network, subnet, router, interface) when the site has none, and removes it with the last VM', async () => {
    fake.configure({ only_external_networks: true });
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth);
    const launched = await con.launch(req);
    const net = [...fake.state.networks.values()].find((n) => n.name === 'im-inf-0001-privada');
    expect(net).toBeDefined();
    const subnet = fake.calls(/\/v2\.0\/subnets$/, 'POST')[0].body as { subnet: Record<string, unknown> };
    expect(subnet.subnet).toMatchObject({ name: 'im-inf-0001-subprivada', cidr: '10.0.1.0/24', ip_version: 4, dns_nameservers: [], host_routes: [] });
    expect(fake.calls(/add_router_interface$/, 'PUT')).toHaveLength(1);
    const h = handleOf(req, launched);
    const up = await until(() => con.updateVmInfo(h, auth), (u) => u.state === 'running');
    expect(up.system.getString('net_interface.1.ip')).toMatch(/^10\.0\.1\./);
    expect(h.radl.getNetworkById('privada')?.getString('provider_id')).toBe('im-inf-0001-privada');
    await con.finalize({ ...h, cloudData: up.cloudData }, true, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
  });

  it('quota at POST /servers: CLOUD_RETRYABLE with IM text, and the attempt leaves nothing behind', async () => {
    fake.configure({ quota: { cores: 0 } });
    const con = connector(logCapture().logger);
    const err = (await con.launch(launchRequest(con, authItem(fake))).catch((e: unknown) => e)) as ImError;
    expect(err.code).toBe('CLOUD_RETRYABLE');
    expect(err.message).toBe('403 Forbidden Quota exceeded for cores: Requested 1, but already used 0 of 0 cores');
    expect(fake.state.leftovers()).toEqual({});
    fake.configure({ quota: {}, fail: [{ method: 'GET', path: '/image/v2/images/', nth: 1, status: 500 }] });
    const e2 = (await con.launch(launchRequest(con, authItem(fake))).catch((e: unknown) => e)) as ImError;
    expect(e2.message).toMatch(/^Error: 500 Internal Server Error Injected failure/);
  });

  it('an attempt repeated after a crash adopts the server it created (client token in the metadata); a new attempt creates another', async () => {
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth);
    const first = await con.launch(req);
    expect(fake.state.servers.get(first.providerId)?.metadata).toMatchObject({ im_client_token: req.clientToken });
    // The record of the first launch was never written: the same attempt runs again.
    const again = await con.launch(launchRequest(con, auth));
    expect(again.providerId).toBe(first.providerId);
    expect(again.system.getString('instance_name')).toBe(first.system.getString('instance_name'));
    expect(fake.calls(/\/servers$/, 'POST')).toHaveLength(1);
    expect(fake.state.servers.size).toBe(1);
    // Another attempt (another token) is another server.
    const next = await con.launch({ ...launchRequest(con, auth), attempt: 2, clientToken: 'im-inf-0001-0-2' });
    expect(next.providerId).not.toBe(first.providerId);
    expect(fake.state.servers.size).toBe(2);
  });

  it('a server that goes to ERROR reads failed and reports the fault once', async () => {
    fake.configure({ fail_build_next: 1 });
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth);
    const h = handleOf(req, await con.launch(req));
    const u = await until(() => con.updateVmInfo(h, auth), (x) => x.state === 'failed');
    expect(u.state).toBe('failed');
    expect(u.log).toBe('No valid host was found. There are not enough hosts available.\n');
    const again = await con.updateVmInfo({ ...h, cloudData: u.cloudData }, auth);
    expect(again.log).toBeUndefined();
    await con.finalize({ ...h, cloudData: u.cloudData }, true, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
  });

  it('batch refresh: one server list for several VMs', async () => {
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const handles: VmHandle[] = [];
    for (let i = 0; i < 3; i++) {
      const req = launchRequest(con, auth, RADL, i);
      handles.push(handleOf(req, await con.launch(req)));
    }
    fake.log.length = 0;
    let res: (VmUpdate | Error)[] = [];
    res = await until(() => con.updateVmsInfo(handles, auth), (r) => r.every((x) => !(x instanceof Error) && x.state === 'running'));
    expect(res.map((x) => (x instanceof Error ? x.message : x.state))).toEqual(['running', 'running', 'running']);
    fake.log.length = 0;
    const settled = res.map((x, i) => ({ ...handles[i], system: (x as VmUpdate).system, cloudData: (x as VmUpdate).cloudData }));
    // FIPs get attached, then steady state: one GET /servers/detail for the three.
    for (let k = 0; k < 3; k++) res = await con.updateVmsInfo(settled.map((h, i) => ({ ...h, cloudData: (res[i] as VmUpdate).cloudData ?? h.cloudData })), auth);
    fake.log.length = 0;
    await con.updateVmsInfo(settled.map((h, i) => ({ ...h, cloudData: (res[i] as VmUpdate).cloudData ?? h.cloudData })), auth);
    expect(fake.apiCalls().map((c) => `${c.method} ${c.path}`)).toEqual(['GET /compute/v2.1/servers/detail']);
    // As the destroy flow does: the others first, the lowest id last with last = true.
    for (const i of [2, 1, 0]) await con.finalize({ ...settled[i], cloudData: (res[i] as VmUpdate).cloudData }, i === 0, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
  });

  it('alter (resize + confirm, new volume), snapshot, images, quotas', async () => {
    const con = connector(logCapture().logger);
    const auth = authItem(fake);
    const req = launchRequest(con, auth);
    const launched = await con.launch(req);
    const h0 = handleOf(req, launched);
    const up = await until(() => con.updateVmInfo(h0, auth), (u) => u.state === 'running');
    const h = { ...h0, system: up.system, cloudData: up.cloudData };
    const wanted = parseRadl("system front ( cpu.count >= 2 and memory.size >= 4096m and disk.1.size = 10G and disk.1.device = 'hdc' )").systems[0];
    const altered = await con.alterVm(h, wanted, auth);
    expect(fake.calls(/\/action$/, 'POST').map((c) => Object.keys(c.body as object)[0])).toEqual(expect.arrayContaining(['resize', 'confirmResize']));
    // (price 0, pci, vcpus, ram, disk) order: 2 vCPUs / 4 GiB with the smallest root disk.
    expect(altered.system.getString('instance_type')).toBe('m1.ephemeral');
    expect(altered.system.getNumber('disk.1.size', 'G')).toBe(10);
    const vol = fake.calls(/\/volumes$/, 'POST')[0].body as { volume: Record<string, unknown> };
    expect(vol.volume).toMatchObject({ size: 10, availability_zone: 'nova' });
    const h2 = { ...h, system: altered.system, cloudData: altered.cloudData };
    const url = await con.createSnapshot(h2, 0, 'snap1', true, auth);
    expect(url).toMatch(/^ost:\/\/127\.0\.0\.1\/[0-9a-f-]{36}$/);
    const images = await con.listImages(auth, { distribution: 'ubuntu', version: '24.04' });
    expect(images).toEqual([{ uri: 'ost://127.0.0.1/img-ubuntu-2404', name: 'ubuntu_24.04_image2' }]);
    await con.deleteImage(url, auth);
    await con.deleteImage(url, auth);
    const q = await con.getQuotas(auth);
    expect(q.cores.used).toBe(2);
    expect(q.instances).toEqual({ used: 1, limit: 10 });
    expect(q.volumes.used).toBe(1);
    await con.finalize(h2, true, auth);
    await until(async () => fake.state.leakCount(), (n) => n === 0);
    expect(fake.state.leftovers()).toEqual({});
  });
});
