/**
 * Launch of one VM (openstack.md §3): image, flavor, block devices, site probing, networks, security groups,
 * key, POST /servers. Every failure before the server exists is CLOUD_RETRYABLE (IM retries any launch failure,
 * §7.2) with IM's text (`Error: <msg>` for steps 1–8, the bare POST error otherwise); what this attempt
 * created is removed before the error is thrown, so a VM that never launched leaves nothing behind.
 */
import { generateKeyPairSync } from 'node:crypto';
import { ImError } from '#core/errors';
import type { LaunchedVm, LaunchRequest } from '#core/types';
import type { System } from '#radl/index';
import type { OstEnv } from '#connectors/openstack/env';
import { sessionFor } from '#connectors/openstack/env';
import type { OstSession } from '#connectors/openstack/session';
import { errorText, isNotFound } from '#connectors/openstack/errors';
import { rememberAuth } from '#connectors/openstack/auth-item';
import { getImage, systemImageRef } from '#connectors/openstack/images';
import { applyFlavor, selectFlavor } from '#connectors/openstack/flavors';
import { blockDeviceMapping, checkBootVolume } from '#connectors/openstack/volumes';
import { adaptToSite, chooseServerNetworks, probeSite } from '#connectors/openstack/network';
import { deleteInfraRouter, deleteNetwork, ensurePrivateNetworks, type CreatedNetwork } from '#connectors/openstack/network-create';
import { ensureSecurityGroups } from '#connectors/openstack/security-groups';
import { buildUserData } from '#connectors/openstack/user-data';
import { normalisePublicKey, publicKeyFromPrivate } from '#connectors/openstack/shared';
import { writeCloudData, type OstCloudData } from '#connectors/openstack/cloud-data';
import { uuid1 } from '#connectors/openstack/uuid1';
import { obj, objs, str } from '#connectors/openstack/util';

export const DEFAULT_USER = 'cloudadm';

/** The fixed part of a server name (§3.7): instance_name | disk.0.image.name | system name | im-userimage, lower-cased, `_`→`-`. */
function serverBase(system: System): string {
  const base = system.getString('instance_name') ?? system.getString('disk.0.image.name') ?? (system.name || 'im-userimage');
  return base.toLowerCase().replace(/_/g, '-');
}

/** Server name (§3.7): the base + `-` + a uuid1. */
export function serverName(system: System): string {
  return `${serverBase(system)}-${uuid1()}`;
}

/** The server metadata key that carries the launch's client token (idempotent launches). */
export const TOKEN_METADATA = 'im_client_token';

/**
 * The server an earlier run of this very launch attempt created (POST /servers answered, the VM record was
 * never written: the process died in between), found by its client token among the servers of the same
 * base name (Nova's name filter, a regular expression). Its id and name, or undefined.
 */
async function serverOfToken(s: OstSession, system: System, token: string): Promise<{ id: string; name: string } | undefined> {
  const pattern = `^${serverBase(system).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-`;
  const r = await s.request('compute', 'GET', `/servers/detail?name=${encodeURIComponent(pattern)}`);
  for (const server of objs(r.json.servers)) {
    if (str(obj(server.metadata)[TOKEN_METADATA]) !== token || str(server.status) === 'DELETED') continue;
    const id = str(server.id);
    if (id) return { id, name: str(server.name) ?? serverName(system) };
  }
  return undefined;
}

/** The key cloud-init installs: the RADL public key, the one of the RADL private key, else a new RSA-2048 pair. */
function credentials(system: System): { publicKey: string | undefined; generated?: string } {
  const pub = system.getString('disk.0.os.credentials.public_key');
  if (pub) return { publicKey: normalisePublicKey(pub) ?? pub.trim() };
  const priv = system.getString('disk.0.os.credentials.private_key');
  if (priv) return { publicKey: publicKeyFromPrivate(priv) };
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  return { publicKey: publicKeyFromPrivate(pair.privateKey), generated: pair.privateKey };
}

/** Public interfaces the VM asked for (fixed IP or not), descending index order (§4.3). */
export function requestedPublic(req: LaunchRequest): { iface: number; fixedIp?: string; pool?: string }[] {
  const out: { iface: number; fixedIp?: string; pool?: string }[] = [];
  const sys = req.system;
  for (let i = sys.getNumNetInterfaces() - 1; i >= 0; i--) {
    const net = req.radl.getNetworkById(sys.getString(`net_interface.${i}.connection`) ?? '');
    if (!net?.isPublic()) continue;
    const ip = sys.getString(`net_interface.${i}.ip`);
    const pool = net.getString('provider_id');
    out.push({ iface: i, ...(ip ? { fixedIp: ip } : {}), ...(pool ? { pool } : {}) });
  }
  return out;
}

interface Created {
  networks: CreatedNetwork[];
  routers: string[];
  groups: { id: string; name: string }[];
  serverId?: string;
}

class StepError extends Error {}

export async function launch(env: OstEnv, req: LaunchRequest): Promise<LaunchedVm> {
  const s = sessionFor(env, req.auth);
  const server = s.auth.host.server;
  const system = req.system.clone();
  const radl = req.radl.clone();
  if (!radl.getSystemByName(system.name)) radl.systems.push(system);
  const created: Created = { networks: [], routers: [], groups: [] };
  const messages: string[] = [];
  const step = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new StepError(`Error: ${errorText(err, s.secretValues())}`);
    }
  };
  try {
    const image = await step(async () => {
      const ref = systemImageRef(system, server);
      if (!ref) throw new Error('Incorrect OpenStack image set.');
      if (ref.kind === 'image') await getImage(s, ref.id);
      else await checkBootVolume(s, ref.id);
      return ref;
    });
    const flavor = await step(async () => {
      const f = await selectFlavor(s, await env.flavors.list(s, env.now()), system);
      if (!f) throw new Error('No flavor found for the specified VM requirements.');
      return f;
    });
    const bdm = await step(() => blockDeviceMapping(s, system, image));
    const site = await step(() => probeSite(s, env.config.PRIVATE_NET_MASKS));
    adaptToSite(radl, system, site);
    await step(() => ensurePrivateNetworks(s, { infId: req.infId, radl, system, site, lock: env.lock, logger: env.logger }, created));
    const nets = await step(async () => chooseServerNetworks(radl, system, site));
    const groups = await step(() => ensureSecurityGroups(s, { infId: req.infId, radl, system, lock: env.lock, logger: env.logger }, created.groups, messages));
    const username = system.getString('disk.0.os.credentials.username') ?? DEFAULT_USER;
    const key = credentials(system);
    // The same attempt repeated after a crash finds the server it created instead of creating a second one.
    const earlier = await step(() => serverOfToken(s, system, req.clientToken));
    const name = earlier?.name ?? serverName(system);
    const attach = nets.filter((n) => n.attach).map((n) => ({ uuid: n.neutron.id }));
    const az = system.getString('availability_zone');
    const body: Record<string, unknown> = {
      name,
      imageRef: image.kind === 'image' ? image.id : '',
      flavorRef: flavor.id,
      metadata: { ...req.tags, [TOKEN_METADATA]: req.clientToken },
      block_device_mapping_v2: bdm,
      user_data: Buffer.from(buildUserData(radl, system, username, key.publicKey)).toString('base64'),
      ...(attach.length ? { networks: attach } : s.computeMicroversion() >= 2.037 ? { networks: 'auto' } : {}),
      ...(groups ? { security_groups: groups.map((g) => ({ name: g })) } : {}),
      ...(az ? { availability_zone: az } : {}),
    };
    let sid = earlier?.id;
    if (earlier) env.logger.warn('OpenStack: adopting the server an interrupted launch created', { infId: req.infId, vmId: req.vmId, serverId: earlier.id });
    else {
      let r;
      try {
        r = await s.request('compute', 'POST', '/servers', { body: { server: body } });
      } catch (err) {
        throw new StepError(errorText(err, s.secretValues()));
      }
      sid = str(obj(r.json.server).id);
    }
    if (!sid) throw new StepError('Error: the server was not created (no id in the answer)');
    created.serverId = sid;

    system.setValue('instance_id', sid);
    system.setValue('instance_name', name);
    system.setValue('provider.type', 'OpenStack');
    system.setValue('disk.0.os.credentials.username', username);
    if (key.generated) system.setValue('disk.0.os.credentials.private_key', key.generated);
    applyFlavor(system, flavor);
    const networks: NonNullable<OstCloudData['networks']> = {};
    for (const id of system.getNetworkIds()) {
      const n = radl.getNetworkById(id);
      const pid = n?.getString('provider_id');
      if (pid) networks[id] = { providerId: pid, ...(created.networks.some((c) => c.radlNet === id) ? { cidr: n?.getString('cidr') } : {}) };
    }
    const data: OstCloudData = {
      serverId: sid,
      flavorId: flavor.id,
      auth: rememberAuth(req.auth),
      volumes: [],
      floatingIps: [],
      createdFips: [],
      networks,
      ...(created.networks.length ? { createdNetworks: created.networks.map((n) => n.id) } : {}),
      ...(created.routers.length ? { createdRouters: created.routers } : {}),
      ...(groups?.length ? { securityGroups: groups } : {}),
      requestedPublic: requestedPublic(req),
    };
    const cloudData = writeCloudData(data);
    if (messages.length) env.logger.info('OpenStack launch messages', { infId: req.infId, vmId: req.vmId, messages: messages.join('') });
    env.logger.info('OpenStack server created', { infId: req.infId, vmId: req.vmId, serverId: sid, flavor: flavor.name });
    return { providerId: sid, state: 'pending', system, cloudData };
  } catch (err) {
    const text = err instanceof StepError ? err.message : `Error: ${errorText(err, s.secretValues())}`;
    env.logger.warn('OpenStack launch attempt failed', { infId: req.infId, vmId: req.vmId, error: text });
    await rollback(env, s, created, req.infId);
    throw new ImError('CLOUD_RETRYABLE', text);
  }
}

/** Repeats a cleanup step a few times (an injected or transient 5xx must not leave a resource behind). */
async function retrying(env: OstEnv, fn: () => Promise<unknown>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    try {
      await fn();
      return true;
    } catch (err) {
      if (isNotFound(err)) return true;
      if (i < 2) await env.sleep(env.timing.rollbackRetryMs * (i + 1));
    }
  }
  return false;
}

/** Removes what a failed attempt created: the server, then its groups, networks and router (unused ones only). */
async function rollback(env: OstEnv, s: OstSession, created: Created, infId: string): Promise<void> {
  const failed: string[] = [];
  if (created.serverId) {
    const sid = created.serverId;
    if (!(await retrying(env, () => s.request('compute', 'DELETE', `/servers/${sid}`)))) failed.push(`server ${sid}`);
    else if (created.groups.length || created.networks.length) await waitServerGone(env, s, sid);
  }
  for (const g of created.groups) {
    if (!(await retrying(env, () => s.request('network', 'DELETE', `/v2.0/security-groups/${g.id}`)))) failed.push(`security group ${g.name}`);
  }
  for (const n of created.networks) {
    let msgs: string[] = [];
    const ok = await retrying(env, async () => {
      msgs = await deleteNetwork(s, n.id, true);
      if (msgs.length) throw new Error(msgs.join('; '));
    });
    if (!ok) failed.push(`network ${n.name}`);
  }
  if (created.routers.length) {
    const ok = await retrying(env, async () => {
      const m = await deleteInfraRouter(s, infId, created.routers);
      if (m.length) throw new Error(m.join('; '));
    });
    if (!ok) failed.push('router');
  }
  if (failed.length) env.logger.error('OpenStack launch rollback left resources (the last finalize of the infrastructure sweeps them)', { infId, left: failed });
}

/** Polls GET /servers/{id} until 404 (bounded). */
export async function waitServerGone(env: OstEnv, s: OstSession, sid: string): Promise<boolean> {
  const end = env.now() + env.timing.serverGoneWaitMs;
  for (;;) {
    try {
      const r = await s.request('compute', 'GET', `/servers/${sid}`);
      if (str(obj(r.json.server).status) === 'DELETED') return true;
    } catch (err) {
      if (isNotFound(err)) return true;
    }
    if (env.now() + env.timing.serverPollMs > end) return false;
    await env.sleep(env.timing.serverPollMs);
  }
}
