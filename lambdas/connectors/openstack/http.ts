/**
 * The HTTP transport of the OpenStack connector: one typed request/response function over node:http and
 * node:https, with keep-alive agents, a per-request timeout and TLS verification as VERIFI_SSL says. It knows
 * nothing about OpenStack; it never logs (bodies carry passwords and tokens).
 *
 * Why not `fetch`: Node's fetch cannot switch TLS verification per client without the `undici` package, and
 * IM's VERIFI_SSL (false by default) must be honoured for the EGI sites whose certificates come from IGTF CAs
 * that are not in Node's trust store.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpRequest {
  method: string;
  /** Absolute URL (http or https). */
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Overrides the transport's timeout. */
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  /** The standard reason phrase of `status` (IM's error texts embed it). */
  reason: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
}

export type HttpTransport = (req: HttpRequest) => Promise<HttpResponse>;

/** The request never got an HTTP answer (connection refused, reset, timeout, DNS…). */
export class HttpTransportError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'HttpTransportError';
    this.code = code;
  }
}

/** Reason phrases as IM's Python stack prints them (they differ from Node's for 413/414/416). */
const PYTHON_REASONS: Record<number, string> = {
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  416: 'Requested Range Not Satisfiable',
};

export function reasonPhrase(status: number): string {
  return PYTHON_REASONS[status] ?? http.STATUS_CODES[status] ?? 'Unknown';
}

export interface NodeTransportOptions {
  /** Verify server certificates (VERIFI_SSL). */
  verifyTls: boolean;
  /** Default per-request timeout (ms). */
  timeoutMs?: number;
  /** Largest response body read (bytes); more is an error. */
  maxBodyBytes?: number;
}

/** The default transport. */
export function nodeHttpTransport(opts: NodeTransportOptions): HttpTransport {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: opts.verifyTls });
  const defaultTimeout = opts.timeoutMs ?? 30_000;
  const maxBody = opts.maxBodyBytes ?? 32 * 1024 * 1024;
  return (req) =>
    new Promise<HttpResponse>((resolve, reject) => {
      let url: URL;
      try {
        url = new URL(req.url);
      } catch {
        reject(new HttpTransportError('invalid URL', 'EINVAL'));
        return;
      }
      const isHttps = url.protocol === 'https:';
      if (!isHttps && url.protocol !== 'http:') {
        reject(new HttpTransportError(`unsupported scheme ${url.protocol}`, 'EINVAL'));
        return;
      }
      const headers: Record<string, string> = { ...(req.headers ?? {}) };
      if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
      const lib = isHttps ? https : http;
      const timeout = req.timeoutMs ?? defaultTimeout;
      const r = lib.request(
        url,
        { method: req.method, headers, agent: isHttps ? httpsAgent : httpAgent, timeout },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > maxBody) {
              res.destroy(new HttpTransportError('response too large', 'E2BIG'));
              return;
            }
            chunks.push(c);
          });
          res.on('error', (e) => reject(e instanceof HttpTransportError ? e : new HttpTransportError(e.message, 'ECONNRESET')));
          res.on('end', () => {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
            const status = res.statusCode ?? 0;
            resolve({ status, reason: reasonPhrase(status), headers: out, body: Buffer.concat(chunks).toString('utf8') });
          });
        },
      );
      r.on('timeout', () => r.destroy(new HttpTransportError(`timeout after ${timeout} ms`, 'ETIMEDOUT')));
      r.on('error', (e: NodeJS.ErrnoException) => {
        reject(e instanceof HttpTransportError ? e : new HttpTransportError(e.code ? `${e.code}` : e.message, e.code ?? 'ECONNRESET'));
      });
      if (req.body !== undefined) r.write(req.body);
      r.end();
    });
}
