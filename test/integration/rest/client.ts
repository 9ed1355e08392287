/** A tiny im_client-like HTTP client for the REST integration tests. */
import { DummyConnector } from '#connectors/dummy';
import { ImError } from '#core/errors';
import type { CloudConnector } from '#core/types';

/** The header exactly as im_client sends it (auth file lines joined with a literal `\n`). */
export const authHeader = (user = 'user', pass = 'pass', clouds = 'id = one; type = Dummy') =>
  `type = InfrastructureManager; username = ${user}; password = ${pass}\\n${clouds}`;

export const AUTH = authHeader();

export interface CallOptions {
  auth?: string | null;
  body?: string;
  contentType?: string;
  accept?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  json<T = unknown>(): T;
}

export function client(baseUrl: string) {
  return async function call(method: string, path: string, opts: CallOptions = {}): Promise<CallResult> {
    const url = new URL(path.startsWith('http') ? path : `${baseUrl}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    const auth = opts.auth === undefined ? AUTH : opts.auth;
    if (auth !== null) headers.Authorization = auth;
    if (opts.accept) headers.Accept = opts.accept;
    if (opts.body !== undefined) headers['Content-Type'] = opts.contentType ?? 'text/plain';
    const res = await fetch(url, { method, headers, body: opts.body });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
  };
}

export type Call = ReturnType<typeof client>;

/** Dummy VMs, contextualization disabled: fast runs. */
export const radl = (n = 1, system = 'front', extra = '') => `network publica (outbound = 'yes')
system ${system} (
  cpu.count >= 1 and
  memory.size >= 512m and
  net_interface.0.connection = 'publica' and
  disk.0.os.name = 'linux'${extra}
)
contextualize ()
deploy ${system} ${n}
`;

/** The infrastructure id at the end of a URI. */
export const idOf = (uri: string) => uri.trim().split('/').pop() as string;

/** Creates an infrastructure (sync) and returns its id. */
export async function create(call: Call, n = 1, opts: CallOptions = {}): Promise<string> {
  const r = await call('POST', '/infrastructures', { body: radl(n), ...opts });
  if (r.status !== 200) throw new Error(`create failed: ${r.status} ${r.text}`);
  return idOf(r.text);
}

/** A connector (type `type`) that behaves as Dummy except for what `over` replaces. */
export function dummyLike(type: string, over: Partial<CloudConnector> = {}): CloudConnector {
  const d = new DummyConnector();
  return {
    type,
    concreteSystem: (s, a) => d.concreteSystem(s, a),
    launch: (r) => d.launch(r),
    updateVmInfo: (v, a) => d.updateVmInfo(v, a),
    finalize: (v, l, a) => d.finalize(v, l, a),
    start: (v, a) => d.start(v, a),
    stop: (v, a) => d.stop(v, a),
    reboot: (v, a) => d.reboot(v, a),
    alterVm: (v, s, a) => d.alterVm(v, s, a),
    createSnapshot: (v, n, i, x, a) => d.createSnapshot(v, n, i, x, a),
    deleteImage: (u, a) => d.deleteImage(u, a),
    listImages: (a, f) => d.listImages(a, f),
    getQuotas: (a) => d.getQuotas(a),
    ...over,
  };
}

/** Launches always fail (a client error of the cloud). */
export const failingConnector = () =>
  dummyLike('Failing', {
    launch: async () => {
      throw new ImError('BAD_REQUEST', 'Not enough quota in the cloud');
    },
  });

/** Launches take `ms` (to observe `adding`). */
export const slowConnector = (ms: number) => {
  const d = new DummyConnector();
  return dummyLike('Slow', {
    launch: async (r) => {
      await new Promise((res) => setTimeout(res, ms));
      return d.launch(r);
    },
  });
};
