/** Fake Glance (images v2) and Cinder (block storage v3) — §8.2–8.3. */
import { PROJECT_ID, type FakeState, type J } from './state.ts';
import { novaError, route, type Ctx, type Reply, type Route } from './routes.ts';

const V = `/volume/v3/([^/]+)`;

export function createVolume(s: FakeState, opts: { size: number; name: string; status?: string; volume_type?: string; description?: string; metadata?: J; availability_zone?: string }): J {
  const id = s.id();
  const v: J = {
    id,
    name: opts.name,
    description: opts.description ?? null,
    size: opts.size,
    status: opts.status ?? 'creating',
    volume_type: opts.volume_type ?? '__DEFAULT__',
    availability_zone: opts.availability_zone ?? 'nova',
    attachments: [],
    metadata: opts.metadata ?? {},
    bootable: 'false',
    encrypted: false,
    multiattach: false,
    created_at: s.now(),
    updated_at: null,
    'os-vol-tenant-attr:tenant_id': PROJECT_ID,
    user_id: 'u0000000000000000000000000000001',
  };
  s.volumes.set(id, v);
  s.track('volumes', id);
  return v;
}

function gigabytesUsed(s: FakeState): number {
  return [...s.volumes.values()].reduce((n, v) => n + Number(v.size ?? 0), 0);
}

function listImages(s: FakeState, c: Ctx): Reply {
  let all = [...s.images.values()];
  const marker = c.query.get('marker');
  if (marker) {
    const i = all.findIndex((x) => x.id === marker);
    if (i < 0) return { status: 400, body: { message: `marker ${marker} could not be found.` } };
    all = all.slice(i + 1);
  }
  const limit = Math.min(Number(c.query.get('limit') ?? s.knobs.images_page_size), s.knobs.images_page_size);
  const page = all.slice(0, limit);
  const body: J = { images: page, first: '/v2/images', schema: '/v2/schemas/images' };
  if (all.length > limit) body.next = `/v2/images?marker=${String(page[page.length - 1].id)}`;
  return { status: 200, body };
}

export const storageRoutes: Route[] = [
  route('GET', '/image/v2/images', listImages),
  route('GET', '/image/v2/images/([^/]+)', (s, c) => {
    const img = s.images.get(c.params[0]);
    return img ? { status: 200, body: img } : { status: 404, body: { message: `No image found with ID ${c.params[0]}`, code: '404 Not Found', title: 'Not Found' } };
  }),
  route('DELETE', '/image/v2/images/([^/]+)', (s, c) => (s.images.delete(c.params[0]) ? { status: 204 } : { status: 404, body: { message: `Failed to find image ${c.params[0]} to delete` } })),
  route('POST', `${V}/volumes`, (s, c) => {
    const b = (c.body.volume ?? {}) as J;
    const size = Number(b.size);
    if (!Number.isInteger(size) || size < 1) return novaError(400, 'badRequest', `Invalid input received: Volume size '${String(b.size)}' must be an integer and greater than 0.`);
    if (s.volumes.size + 1 > s.quota('volumes')) return novaError(413, 'overLimit', `VolumeLimitExceeded: Maximum number of volumes allowed (${s.quota('volumes')}) exceeded for quota 'volumes'.`);
    if (gigabytesUsed(s) + size > s.quota('gigabytes')) return novaError(413, 'overLimit', `VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${size}G, quota is ${s.quota('gigabytes')}G and ${gigabytesUsed(s)}G has been consumed.`);
    const v = createVolume(s, { size, name: String(b.name ?? ''), description: String(b.description ?? ''), metadata: (b.metadata as J | undefined) ?? {}, ...(typeof b.availability_zone === 'string' ? { availability_zone: b.availability_zone } : {}), ...(typeof b.volume_type === 'string' ? { volume_type: b.volume_type } : {}) });
    s.later(s.knobs.volume_delay_ms, () => {
      if (v.status === 'creating') v.status = 'available';
    });
    return { status: 202, body: { volume: v } };
  }),
  route('GET', `${V}/volumes/([^/]+)`, (s, c) => {
    const v = s.volumes.get(c.params[1]);
    return v ? { status: 200, body: { volume: v } } : novaError(404, 'itemNotFound', `Volume ${c.params[1]} could not be found.`);
  }),
  route('DELETE', `${V}/volumes/([^/]+)`, (s, c) => {
    const v = s.volumes.get(c.params[1]);
    if (!v) return novaError(404, 'itemNotFound', `Volume ${c.params[1]} could not be found.`);
    if (!['available', 'error', 'error_restoring', 'error_extending'].includes(String(v.status))) {
      return novaError(400, 'badRequest', `Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer.`);
    }
    v.status = 'deleting';
    s.later(s.knobs.volume_delay_ms, () => s.volumes.delete(c.params[1]));
    return { status: 202 };
  }),
  route('GET', `${V}/os-quota-sets/([^/]+)`, (s) => {
    const q = (limit: number, used: number) => ({ in_use: used, limit, reserved: 0, allocated: 0 });
    return { status: 200, body: { quota_set: { id: PROJECT_ID, volumes: q(s.quota('volumes'), s.volumes.size), gigabytes: q(s.quota('gigabytes'), gigabytesUsed(s)), snapshots: q(10, 0) } } };
  }),
];
