/**
 * Volumes (openstack.md §3.5, §4.4, §5.2b, §6.1): the block device mapping of a new server, the disks a
 * refresh writes into the system, volumes added by alter (created, attached, deleted at finalize).
 */
import { randomUUID } from 'node:crypto';
import type { System } from '#radl/index';
import type { OstSession } from '#connectors/openstack/session';
import { isNotFound } from '#connectors/openstack/errors';
import { imageUrl, type OstImageRef } from '#connectors/openstack/images';
import { num, obj, objs, str } from '#connectors/openstack/util';

const sizeG = (system: System, prop: string): number | undefined => {
  const v = system.getNumber(prop, 'G');
  return v === undefined ? undefined : Math.max(1, Math.ceil(v - 1e-9));
};

/** `hdb` → `vdb` (the device of a mapping is `vd` + the last character of `disk.N.device`). */
const deviceName = (d: string | undefined) => (d ? `vd${d.slice(-1)}` : undefined);

export async function getVolume(s: OstSession, id: string): Promise<Record<string, unknown>> {
  return obj((await s.request('volume', 'GET', `/volumes/${encodeURIComponent(id)}`)).json.volume);
}

/** A boot volume of `ost://…/volume/<id>`: Cinder, falling back to Nova's proxy. */
export async function checkBootVolume(s: OstSession, id: string): Promise<void> {
  try {
    await getVolume(s, id);
    return;
  } catch {
    // fall back to Nova's os-volumes
  }
  try {
    await s.request('compute', 'GET', `/os-volumes/${encodeURIComponent(id)}`);
  } catch {
    throw new Error(`Volume ${id} not found.`);
  }
}

/** `block_device_mapping_v2` (always sent). */
export async function blockDeviceMapping(s: OstSession, system: System, image: OstImageRef): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  if (image.kind === 'volume') {
    out.push({ boot_index: 0, source_type: 'volume', destination_type: 'volume', uuid: image.id, delete_on_termination: false });
  } else {
    const size = sizeG(system, 'disk.0.size');
    out.push(
      size !== undefined
        ? { boot_index: 0, source_type: 'image', uuid: image.id, destination_type: 'volume', volume_size: size, delete_on_termination: true }
        : { boot_index: 0, source_type: 'image', uuid: image.id, delete_on_termination: false },
    );
  }
  for (let n = 1; system.hasFeature(`disk.${n}.size`) || system.hasFeature(`disk.${n}.image.url`); n++) {
    const device = deviceName(system.getString(`disk.${n}.device`));
    const url = system.getString(`disk.${n}.image.url`);
    let entry: Record<string, unknown>;
    if (url) {
      const raw = url.split('/').pop() ?? url;
      let id = raw;
      try {
        id = str((await getVolume(s, raw)).id) ?? raw;
      } catch {
        id = raw;
      }
      entry = { boot_index: n, source_type: 'volume', destination_type: 'volume', uuid: id, delete_on_termination: false };
    } else {
      const type = system.getString(`disk.${n}.type`);
      entry = {
        boot_index: n,
        source_type: 'blank',
        destination_type: type === 'ephemeral' ? 'local' : 'volume',
        volume_size: sizeG(system, `disk.${n}.size`),
        guest_format: system.getString(`disk.${n}.fstype`) ?? 'ext3',
        delete_on_termination: true,
        ...(type && type !== 'ephemeral' ? { volume_type: type } : {}),
      };
    }
    if (device) entry.device_name = device;
    out.push(entry);
  }
  return out;
}

export interface KnownVolume {
  size: number;
  device?: string;
  type?: string;
}

/**
 * §4.4: the attached volumes (server `os-extended-volumes:volumes_attached`, in order) as `disk.k.*`. Volumes
 * already described in `known` are not read again; errors are ignored.
 */
export async function refreshDisks(s: OstSession, server: Record<string, unknown>, system: System, hostServer: string, known: Record<string, KnownVolume>): Promise<void> {
  const ids = objs(server['os-extended-volumes:volumes_attached']).map((v) => str(v.id)).filter((x): x is string => !!x);
  let k = system.hasFeature('disk.0.size') ? 0 : 1;
  for (const id of ids) {
    let info = known[id];
    if (!info) {
      try {
        const v = await getVolume(s, id);
        const dev = str(obj(objs(v.attachments)[0]).device);
        info = { size: num(v.size) ?? 0, ...(dev ? { device: dev.split('/').pop() as string } : {}), ...(str(v.volume_type) ? { type: str(v.volume_type) } : {}) };
        known[id] = info;
      } catch {
        continue;
      }
    }
    const want = system.getNumber(`disk.${k}.size`, 'G');
    if (want !== undefined && Math.abs(want - info.size) > 1e-6) continue;
    system.setValue(`disk.${k}.size`, info.size, 'G');
    if (k > 0) system.setValue(`disk.${k}.image.url`, imageUrl(hostServer, id));
    if (info.device) system.setValue(`disk.${k}.device`, info.device);
    if (info.type) system.setValue(`disk.${k}.type`, info.type);
    k++;
  }
}

export interface WaitTiming {
  intervalMs: number;
  budgetMs: number;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** Polls the volume until its status is one of `wanted`; false when the budget ran out (or it went to error). */
export async function waitVolume(s: OstSession, id: string, wanted: string[], t: WaitTiming): Promise<boolean> {
  const end = t.now() + t.budgetMs;
  for (;;) {
    let status: string | undefined;
    try {
      status = str((await getVolume(s, id)).status);
    } catch (err) {
      if (isNotFound(err)) return wanted.includes('deleted');
    }
    if (status && wanted.includes(status)) return true;
    if (status === 'error') return false;
    if (t.now() + t.intervalMs > end) return false;
    await t.sleep(t.intervalMs);
  }
}

/**
 * §5.2b: a new volume of `sizeG` for the server, attached; returns its id and the device Nova reports. The id is
 * passed to `record` as soon as the volume exists, so a failure later still lets finalize delete it.
 */
export async function addVolume(
  s: OstSession,
  server: Record<string, unknown>,
  sizeGb: number,
  device: string | undefined,
  name: string,
  t: WaitTiming,
  record: (id: string) => void,
): Promise<{ id: string; device?: string }> {
  const az = str(server['OS-EXT-AZ:availability_zone']);
  const r = await s.request('volume', 'POST', '/volumes', {
    body: { volume: { name: `im-${randomUUID()}`, description: name, size: sizeGb, metadata: { contents: name }, ...(az ? { availability_zone: az } : {}) } },
  });
  const id = str(obj(r.json.volume).id) ?? '';
  record(id);
  if (!(await waitVolume(s, id, ['available'], t))) {
    await s.request('volume', 'DELETE', `/volumes/${id}`).catch(() => undefined);
    throw new Error(`Error creating or attaching the Volume: Error waiting the volume ID ${id}.`);
  }
  const sid = str(server.id) ?? '';
  const att = await s.request('compute', 'POST', `/servers/${sid}/os-volume_attachments`, { body: { volumeAttachment: { volumeId: id, device: device ?? null } } });
  const dev = str(obj(att.json.volumeAttachment).device);
  await waitVolume(s, id, ['in-use'], t);
  return { id, ...(dev ? { device: dev.split('/').pop() as string } : {}) };
}

/** Finalize (a)+(e): detach from the server, wait until available, delete. Returns failure messages. */
export async function removeVolumes(s: OstSession, serverId: string | undefined, ids: string[], t: WaitTiming, serverGone: boolean): Promise<string[]> {
  const messages: string[] = [];
  for (const id of ids) {
    try {
      if (serverId && !serverGone) {
        await s.request('compute', 'DELETE', `/servers/${serverId}/os-volume_attachments/${id}`).catch(() => undefined);
      }
      await waitVolume(s, id, ['available', 'error', 'deleted'], t);
      await s.request('volume', 'DELETE', `/volumes/${id}`);
    } catch (err) {
      if (!isNotFound(err)) messages.push(`Error deleting volume ${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return messages;
}
