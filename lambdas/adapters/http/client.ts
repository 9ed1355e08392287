/**
 * The small HTTP client of the auth adapters (OpenID issuers, Vault): a deadline on the whole
 * exchange, a cap on the answer's size, no redirects, TLS verification as VERIFI_SSL says (IM's
 * meaning: verify the certificates only when true), and plain `http` only towards loopback
 * addresses (local mode and tests), so that no credential crosses a network in clear.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface HttpCall {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  status: number;
  text: string;
}

export interface HttpClientOptions {
  /** Verify TLS certificates (VERIFI_SSL). */
  verifyTls: boolean;
  /** Deadline of one exchange (default 10 s, as IM's OpenID client). */
  timeoutMs?: number;
  /** Largest answer accepted (default 256 KiB). */
  maxBytes?: number;
}

/** A transport failure (refused URL, network error, deadline, answer too large). */
export class HttpFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HttpFailure';
  }
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** The URL if this client may call it: https anywhere, http on loopback only. */
export function allowedUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HttpFailure(`invalid URL ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol === 'https:') return u;
  if (u.protocol === 'http:' && LOOPBACK.test(u.hostname)) return u;
  throw new HttpFailure(`only https URLs are accepted (http on loopback only): ${u.origin}`);
}

export type HttpClient = (url: string, call?: HttpCall) => Promise<HttpAnswer>;

export function createHttpClient(opts: HttpClientOptions): HttpClient {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxBytes = opts.maxBytes ?? 256 * 1024;
  return (url, call = {}) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      let u: URL;
      try {
        u = allowedUrl(url);
      } catch (e) {
        reject(e);
        return;
      }
      const headers: Record<string, string> = { accept: 'application/json', ...(call.headers ?? {}) };
      if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
      const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
      let done = false;
      const finish = (err: Error | undefined, answer?: HttpAnswer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(answer as HttpAnswer);
      };
      const req = send(
        u,
        { method: call.method ?? 'GET', headers, ...(u.protocol === 'https:' ? { rejectUnauthorized: opts.verifyTls } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > maxBytes) {
              finish(new HttpFailure(`answer of ${u.origin} larger than ${maxBytes} bytes`));
              req.destroy();
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', (e) => finish(new HttpFailure(`${u.origin}: ${e.message}`)));
        },
      );
      const timer = setTimeout(() => {
        finish(new HttpFailure(`${u.origin} did not answer within ${timeoutMs} ms`));
        req.destroy();
      }, timeoutMs);
      timer.unref?.();
      req.on('error', (e) => finish(new HttpFailure(`${u.origin}: ${e.message}`)));
      req.end(call.body);
    });
}

/** The answer's JSON object, or a failure naming the origin (never the body: it may hold secrets). */
export function jsonObject(answer: HttpAnswer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(answer.text);
  } catch {
    throw new HttpFailure(`${what}: the answer is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpFailure(`${what}: the answer is not a JSON object`);
  return v as Record<string, unknown>;
}
