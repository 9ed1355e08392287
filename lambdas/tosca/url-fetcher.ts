/**
 * The DocumentFetcher adapter: every URL is first read from TOSCA_URL_DIR laid out as
 * `<dir>/<host>/<path>` (tests and air-gapped deployments need no network); otherwise it is fetched
 * over HTTPS, with a timeout, a size cap, an allow-list of hosts and an in-memory cache.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import type { DocumentFetcher } from '#tosca/documents';

export interface UrlFetcherOptions {
  /** TOSCA_URL_DIR: folder with `<host>/<path>` copies of the documents. */
  dir?: string;
  /** Fetch over HTTPS when not in `dir` (TOSCA_FETCH_REMOTE). */
  remote?: boolean;
  /** Hosts that may be fetched (TOSCA_URL_ALLOWED_HOSTS); `*` allows any. */
  allowedHosts?: string[];
  /** Per-request timeout in ms (TOSCA_URL_TIMEOUT). */
  timeoutMs?: number;
  /** Maximum document size in bytes (TOSCA_URL_MAX_SIZE). */
  maxBytes?: number;
  /** Cache lifetime in ms (TOSCA_URL_CACHE_TIME); 0 disables the cache. */
  cacheMs?: number;
  /** The fetch implementation (tests). */
  fetch?: typeof fetch;
  now?: () => number;
}

export const DEFAULT_ALLOWED_HOSTS = ['raw.githubusercontent.com', 'github.com', 'gitlab.com'];

/** `<dir>/<host>/<path>` of a URL, or undefined when it would leave `dir`. */
export function localPath(dir: string, url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const rel = normalize(`${u.hostname}${decodeURIComponent(u.pathname)}`);
  if (rel.startsWith('..') || rel.includes(`${sep}..${sep}`) || rel.endsWith(`${sep}..`)) return undefined;
  const root = normalize(dir);
  const p = join(root, rel);
  return p.startsWith(root.endsWith(sep) ? root : root + sep) ? p : undefined;
}

export class UrlFetcher implements DocumentFetcher {
  private readonly cache = new Map<string, { at: number; text: string }>();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(private readonly opts: UrlFetcherOptions = {}) {}

  fetch(url: string): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    const ttl = this.opts.cacheMs ?? 300_000;
    const hit = this.cache.get(url);
    if (hit && ttl > 0 && now - hit.at < ttl) return Promise.resolve(hit.text);
    const pending = this.inflight.get(url);
    if (pending) return pending;
    const p = this.load(url).then(
      (text) => {
        this.inflight.delete(url);
        if (ttl > 0) {
          if (this.cache.size > 512) this.cache.clear();
          this.cache.set(url, { at: now, text });
        }
        return text;
      },
      (err: unknown) => {
        this.inflight.delete(url);
        throw err;
      },
    );
    this.inflight.set(url, p);
    return p;
  }

  private async load(url: string): Promise<string> {
    const max = this.opts.maxBytes ?? 2 * 1024 * 1024;
    if (this.opts.dir) {
      const p = localPath(this.opts.dir, url);
      if (p) {
        const st = await stat(p).catch(() => undefined);
        if (st?.isFile()) {
          if (st.size > max) throw new Error(`the document is larger than ${max} bytes`);
          return readFile(p, 'utf8');
        }
      }
    }
    if (!this.opts.remote) throw new Error(this.opts.dir ? `not found in TOSCA_URL_DIR and remote fetching is disabled` : 'remote fetching is disabled');
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new Error('invalid URL');
    }
    if (u.protocol !== 'https:') throw new Error(`only https URLs are fetched (got ${u.protocol.replace(':', '')})`);
    const allowed = this.opts.allowedHosts ?? DEFAULT_ALLOWED_HOSTS;
    if (!allowed.includes('*') && !allowed.includes(u.hostname)) throw new Error(`host ${u.hostname} is not in TOSCA_URL_ALLOWED_HOSTS`);
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), this.opts.timeoutMs ?? 10_000);
    try {
      const res = await (this.opts.fetch ?? fetch)(url, { signal: ctrl.signal, redirect: 'error' });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const len = Number(res.headers.get('content-length') ?? '0');
      if (len > max) throw new Error(`the document is larger than ${max} bytes`);
      const reader = res.body?.getReader();
      if (!reader) return '';
      const chunks: Uint8Array[] = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > max) {
          await reader.cancel();
          throw new Error(`the document is larger than ${max} bytes`);
        }
        chunks.push(value);
      }
      return Buffer.concat(chunks).toString('utf8');
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw new Error(`timed out after ${this.opts.timeoutMs ?? 10_000} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The TOSCA options of the service config (lambdas/core/config.ts). */
export interface ToscaFetchConfig {
  TOSCA_URL_DIR?: string;
  TOSCA_FETCH_REMOTE: boolean;
  TOSCA_URL_ALLOWED_HOSTS: string[];
  TOSCA_URL_TIMEOUT: number;
  TOSCA_URL_MAX_SIZE: number;
  TOSCA_URL_CACHE_TIME: number;
}

/** The fetcher the service and the CLI use, built from the config. */
export function toscaFetcher(config: ToscaFetchConfig): UrlFetcher {
  return new UrlFetcher({
    ...(config.TOSCA_URL_DIR ? { dir: config.TOSCA_URL_DIR } : {}),
    remote: config.TOSCA_FETCH_REMOTE,
    allowedHosts: config.TOSCA_URL_ALLOWED_HOSTS,
    timeoutMs: config.TOSCA_URL_TIMEOUT * 1000,
    maxBytes: config.TOSCA_URL_MAX_SIZE,
    cacheMs: config.TOSCA_URL_CACHE_TIME * 1000,
  });
}
