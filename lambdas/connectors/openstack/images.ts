/**
 * Images (openstack.md §2.1, §5.4, §5.5): `ost://<server>/<id>` URLs, Glance lookups, the image list with
 * IM's distribution/version filters, and image deletion.
 */
import type { System } from '#radl/index';
import type { CloudImage } from '#core/types';
import type { OstSession } from '#connectors/openstack/session';
import { obj, objs, str } from '#connectors/openstack/util';

export interface OstImageRef {
  kind: 'image' | 'volume';
  id: string;
}

/**
 * `ost://<host>[:port]/<id>` → Glance id; `ost://<host>/image/<id>` → `<id>` (the first 6 characters of a path
 * starting with `image` are dropped, quirk); `ost://<host>/volume/<id>` → Cinder volume. Undefined when the
 * scheme is not `ost` or the host (without port) is not `server` (case-sensitive).
 */
export function parseOstUrl(url: string | undefined, server: string): OstImageRef | undefined {
  if (!url) return undefined;
  const m = /^ost:\/\/([^/]+)\/(.+)$/.exec(url.trim());
  if (!m) return undefined;
  const host = m[1].startsWith('[') ? m[1].slice(1, m[1].indexOf(']')) : m[1].replace(/:\d*$/, '');
  if (host !== server) return undefined;
  const path = m[2];
  if (path.startsWith('volume')) {
    const id = path.slice(7);
    return id ? { kind: 'volume', id } : undefined;
  }
  const id = path.startsWith('image') ? path.slice(6) : path;
  return id ? { kind: 'image', id } : undefined;
}

/** The first `disk.0.image.url` of this cloud. */
export function systemImageRef(system: System, server: string): OstImageRef | undefined {
  for (const u of system.getList('disk.0.image.url') ?? []) {
    const ref = parseOstUrl(u, server);
    if (ref) return ref;
  }
  return undefined;
}

export const imageUrl = (server: string, id: string) => `ost://${server}/${id}`;

export async function getImage(s: OstSession, id: string): Promise<Record<string, unknown>> {
  const r = await s.request('image', 'GET', `/v2/images/${encodeURIComponent(id)}`);
  return obj(r.json.image ?? r.json);
}

const VERSION_RE = /^\d+(\.\d+){0,2}$/;

function matches(img: Record<string, unknown>, filters: Record<string, string>): boolean {
  const name = (str(img.name) ?? '').toLowerCase();
  const dist = filters.distribution;
  if (dist) {
    const osd = str(img.os_distro);
    if (osd ? osd.toLowerCase() !== dist.toLowerCase() : !name.includes(dist.toLowerCase())) return false;
  }
  const ver = filters.version;
  if (ver) {
    const osv = str(img.os_version);
    if (osv !== undefined) {
      if (VERSION_RE.test(osv) && VERSION_RE.test(ver)) {
        const want = ver.split('.');
        const have = osv.split('.');
        if (want.some((p, i) => Number(p) !== Number(have[i]))) return false;
      } else if (osv !== ver) return false;
    } else if (!name.includes(ver.toLowerCase())) return false;
  }
  return true;
}

/** Active Glance images (every page), filtered (§5.5). */
export async function listImages(s: OstSession, server: string, filters: Record<string, string>): Promise<CloudImage[]> {
  const out: CloudImage[] = [];
  let r = await s.request('image', 'GET', '/v2/images');
  const seen = new Set<string>();
  for (let page = 0; page < 100; page++) {
    for (const img of objs(r.json.images)) {
      const id = str(img.id);
      if (!id || str(img.status) !== 'active' || !matches(img, filters)) continue;
      out.push({ uri: imageUrl(server, id), name: str(img.name) ?? id });
    }
    const next = str(r.json.next);
    if (!next || seen.has(next)) break;
    seen.add(next);
    r = await s.requestUrl('image', next);
  }
  return out;
}
