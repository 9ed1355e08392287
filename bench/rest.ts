/**
 * REST throughput on local mode as `npm start` runs it (lambdas/local/main.ts in a child process,
 * bench/local-process.ts; DynamoDB Local in memory), measured like the reference:
 * `wrk -t1 -c10 -d<N>s --latency` (one thread, 10 keep-alive connections) for
 *   - GET /version                         (no auth, no store access),
 *   - GET /infrastructures                 (the caller owns INFRAS infrastructures, as a user would),
 *   - GET /infrastructures with token sign-in (an OIDC access token of the test OpenID provider,
 *                                          test/helpers/oidc-provider.ts, owning as many; goal ≥ 0.9×
 *                                          the user/password figure: the keys and the verified
 *                                          token are cached),
 *   - GET /infrastructures/{id}/state      (auth, the record, its VM list, a refresh of the VM),
 * in one process, as npm start runs it.
 * Same-run baseline: a bare single-process node:http server answering "ok" under the same load.
 * Ratios against the Python IM on comparable hardware: 4,071 req/s (/version), 608 req/s
 * (/infrastructures, p50 16 ms); the goal is ≥ 10×.
 *
 * wrk is used when it is on the PATH (installed with `apt-get install -y wrk` when missing and running
 * as root); otherwise an in-Node load generator in a worker thread (its own event loop) stands in.
 *
 *   npx tsx bench/rest.ts [--seconds 5] [--infras 20] [--node]
 *   (--node: force the in-Node generator)
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startLocalProcess } from './local-process';
import { startTestIssuer } from '../test/helpers/oidc-provider';

const IM_VERSION_RPS = 4071;
const IM_LIST_RPS = 608;
const IM_LIST_P50_MS = 16;
const GOAL = 10;

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
  tool: 'wrk' | 'node';
}

export interface LoadOptions {
  headers?: Record<string, string>;
  /** A POST body (with `headers` giving its Content-Type); default: GET without a body. */
  body?: string;
  connections?: number;
  seconds?: number;
  /** Seconds of unrecorded load first (JIT, caches). */
  warmup?: number;
  /** Force the in-Node generator even when wrk is available. */
  node?: boolean;
}

// ---------------------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------------------

let wrkChecked: boolean | undefined;

/** True when `wrk` runs; installs it (apt-get) when missing and this process is root. */
export function ensureWrk(): boolean {
  if (wrkChecked !== undefined) return wrkChecked;
  const works = () => spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;
  if (!works() && process.getuid?.() === 0) {
    const install = () => spawnSync('apt-get', ['install', '-y', '-q', 'wrk'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (install().status !== 0) {
      spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore' });
      install();
    }
  }
  wrkChecked = works();
  return wrkChecked;
}

/** `1.23ms` / `456.00us` / `1.20s` → ms. */
function wrkDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60_000;
}

/** Parses wrk's `--latency` report. */
export function parseWrk(out: string): Omit<LoadResult, 'tool'> {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? Number.NaN);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const pct = (p: string) => wrkDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`cannot parse wrk output:\n${out}`);
  return { rps, p50: pct('50'), p99: pct('99'), requests, errors: non2xx + socketErrors };
}

function runWrk(url: string, seconds: number, connections: number, headers: Record<string, string>, body?: string): Promise<string> {
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  let scriptDir: string | undefined;
  if (body !== undefined) {
    // A POST body needs a wrk script.
    scriptDir = mkdtempSync(join(tmpdir(), 'im-bench-'));
    const script = join(scriptDir, 'post.lua');
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = ${JSON.stringify(body)}\n`);
    args.push('-s', script);
  }
  args.push(url);
  const cleanup = () => {
    if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
  };
  return new Promise<string>((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`wrk exited with ${code}: ${out}`))));
  }).finally(cleanup);
}

// ---------------------------------------------------------------------------------------------
// In-Node fallback generator
// ---------------------------------------------------------------------------------------------

/** The load generator: `connections` loops over one keep-alive agent, for `seconds`. */
const GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, headers, connections, seconds, warmup, body } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const u = new URL(url);
function once() {
  return new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
    });
    req.on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
    req.end(body);
  });
}
async function phase(ms, record) {
  const end = Date.now() + ms;
  const lat = [];
  let errors = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (Date.now() < end) {
      const r = await once();
      if (!r.ok) errors++;
      if (record) lat.push(r.ms);
    }
  }));
  return { lat, errors };
}
(async () => {
  await phase(warmup * 1000, false);
  const t0 = Date.now();
  const { lat, errors } = await phase(seconds * 1000, true);
  const elapsed = (Date.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const q = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : 0;
  agent.destroy();
  parentPort.postMessage({ rps: lat.length / elapsed, p50: q(0.5), p99: q(0.99), errors, requests: lat.length });
})();
`;

function nodeLoad(url: string, opts: Required<Omit<LoadOptions, 'node' | 'body'>> & { body?: string }): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(GENERATOR, { eval: true, workerData: { url, ...opts } });
    w.once('message', (m: Omit<LoadResult, 'tool'>) => {
      resolve({ ...m, tool: 'node' });
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/** Load on `url` with `connections` keep-alive connections: wrk when available, else the in-Node generator. */
export async function load(url: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const o = { headers: opts.headers ?? {}, connections: opts.connections ?? 10, seconds: opts.seconds ?? 5, warmup: opts.warmup ?? 1, body: opts.body };
  if (opts.node || !ensureWrk()) return nodeLoad(url, o);
  if (o.warmup > 0) await runWrk(url, o.warmup, o.connections, o.headers, o.body);
  return { ...parseWrk(await runWrk(url, o.seconds, o.connections, o.headers, o.body)), tool: 'wrk' };
}

/**
 * A bare node:http server answering every request with the same bytes (the same-run ceiling of any
 * Node server here). A request body, if any, is read to its end first.
 */
export async function cannedServer(response: string, contentType: string): Promise<{ url: string; close(): Promise<void> }> {
  const body = Buffer.from(response);
  const headers = { 'Content-Type': contentType, 'Content-Length': String(body.length) };
  const server = createServer((req, res) => {
    const send = () => {
      res.writeHead(200, headers);
      res.end(body);
    };
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) send();
    else {
      req.resume();
      req.on('end', send);
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

// Sent as is (wrk -H): `\n` inside the header value is the auth-line separator of the REST API.
const AUTH = 'type = InfrastructureManager; username = bench; password = bench-pass\\nid = one; type = Dummy';
const RADL = "network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ncontextualize ()\ndeploy node 1\n";

const fmt = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  (${r.requests} requests, ${r.errors} errors, ${r.tool})`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

export interface RestBenchOptions {
  seconds?: number;
  /** Infrastructures owned by the caller (the list answers all of them). Default 20. */
  infras?: number;
  /** Force the in-Node generator. */
  node?: boolean;
  /** Extra IM options for local mode (e.g. INF_CACHE_TIME=0 to measure without the record cache). */
  env?: Record<string, string>;
}

export async function run(opts: RestBenchOptions = {}): Promise<{ name: string; lines: string[] }> {
  const seconds = opts.seconds ?? 5;
  const infras = opts.infras ?? 20;
  const lo = { seconds, node: opts.node };
  const lines: string[] = [];
  const bare = await cannedServer('ok', 'text/plain');
  const baseline = await load(bare.url, lo);
  await bare.close();
  lines.push(`baseline  bare node:http "ok" (1 process)  ${fmt(baseline)}`);
  const cache = opts.env?.INF_CACHE_TIME;
  lines.push(`record cache: INF_CACHE_TIME=${cache === undefined ? 'unset (local default: unlimited)' : cache}`);
  // Token sign-in: a real OpenID provider on loopback, a signed JWT access token (RS256).
  const idp = await startTestIssuer({ accounts: { bench: { preferred_username: 'bench' } } });
  const token = await idp.token({ account: 'bench', scope: 'openid profile', ttl: 3600, extra: { preferred_username: 'bench' } });
  const TOKEN_AUTH = `type = InfrastructureManager; token = ${token}\\nid = one; type = Dummy`;
  const oidcEnv = { OIDC_ISSUERS: idp.issuer, OIDC_AUDIENCE: 'im-api' };

  // npm start's program: one process.
  {
    const local = await startLocalProcess({ env: { TABLE_NAME: 'im-bench', ...oidcEnv, ...(opts.env ?? {}) } });
    try {
      const base = local.restUrl;
      const uris: string[] = [];
      for (let i = 0; i < infras; i++) {
        const created = await fetch(`${base}/infrastructures`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'text/plain' }, body: RADL });
        const uri = (await created.text()).trim();
        if (created.status !== 200) throw new Error(`setup create failed: ${created.status} ${uri}`);
        uris.push(uri);
        const byToken = await fetch(`${base}/infrastructures`, { method: 'POST', headers: { Authorization: TOKEN_AUTH, 'Content-Type': 'text/plain' }, body: RADL });
        if (byToken.status !== 200) throw new Error(`setup create (token) failed: ${byToken.status} ${await byToken.text()}`);
        await byToken.text();
      }
      const uri = uris[0];
      const auth = { Authorization: AUTH };
      const version = await load(`${base}/version`, lo);
      const list = await load(`${base}/infrastructures`, { ...lo, headers: auth });
      const tokenList = await load(`${base}/infrastructures`, { ...lo, headers: { Authorization: TOKEN_AUTH } });
      const state = await load(`${uri}/state`, { ...lo, headers: auth });
      const label = 'npm start (one process)';
      lines.push(`-- ${label}`);
      lines.push(`GET /version                              ${fmt(version)}`);
      lines.push(`GET /infrastructures (${String(infras).padStart(2)} owned)           ${fmt(list)}`);
      lines.push(`GET /infrastructures (${String(infras).padStart(2)} owned, token)    ${fmt(tokenList)}`);
      lines.push(`GET /infrastructures/{id}/state           ${fmt(state)}`);
      lines.push(`/version:         ${ratio(version.rps, baseline.rps)} the bare server, ${ratio(version.rps, IM_VERSION_RPS)} the Python IM (4,071 req/s; goal ≥ ${GOAL}×)`);
      lines.push(
        `/infrastructures: ${ratio(list.rps, baseline.rps)} the bare server, ${ratio(list.rps, IM_LIST_RPS)} the Python IM (608 req/s; goal ≥ ${GOAL}×), p50 ${list.p50.toFixed(2)} ms vs ${IM_LIST_P50_MS} ms`,
      );
      lines.push(`token sign-in:    ${ratio(tokenList.rps, list.rps)} the user/password /infrastructures (goal ≥ 0.9×), p50 ${tokenList.p50.toFixed(2)} ms vs ${list.p50.toFixed(2)} ms`);
      lines.push(`/state:           ${ratio(state.rps, baseline.rps)} the bare server, ${ratio(state.rps, IM_LIST_RPS)} the Python IM /infrastructures (608 req/s)`);
      const errors = version.errors + list.errors + tokenList.errors + state.errors;
      if (errors > 0) lines.push(`WARNING: ${errors} non-2xx answers or socket errors (the figures above count them as requests)`);
    } finally {
      await local.stop();
    }
  }
  await idp.stop();
  return { name: 'rest', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const num = (name: string) => (arg(name) === undefined ? undefined : Number(arg(name)));
  const env: Record<string, string> = {};
  if (process.env.INF_CACHE_TIME !== undefined) env.INF_CACHE_TIME = process.env.INF_CACHE_TIME;
  const r = await run({ seconds: num('--seconds'), infras: num('--infras'), node: process.argv.includes('--node'), env });
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
