/**
 * REST throughput on local mode: requests/s, p50 and p99 for GET /version and
 * GET /infrastructures/{id}/state, with 10 keep-alive connections from a load generator running in
 * a worker thread (its own event loop; `wrk` is used instead when installed). Same-run baseline: a
 * bare node:http server answering "ok". Reference: the Python IM serves 4,071 req/s (/version) and
 * 608 req/s (/infrastructures) on comparable hardware; the goal is ≥ 10×.
 *
 *   npx tsx bench/rest.ts [--seconds 5]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { startLocal } from '#local/server';

const IM_VERSION_RPS = 4071;
const IM_INFRA_RPS = 608;

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

/** The load generator: `connections` loops over one keep-alive agent, for `seconds`. */
const GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, headers, connections, seconds, warmup } = workerData;
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const u = new URL(url);
function once() {
  return new Promise((resolve) => {
    const t = process.hrtime.bigint();
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ok: res.statusCode === 200, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
    });
    req.on('error', () => resolve({ ok: false, ms: Number(process.hrtime.bigint() - t) / 1e6 }));
    req.end();
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

export function load(url: string, opts: { headers?: Record<string, string>; connections?: number; seconds?: number; warmup?: number } = {}): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(GENERATOR, {
      eval: true,
      workerData: { url, headers: opts.headers ?? {}, connections: opts.connections ?? 10, seconds: opts.seconds ?? 5, warmup: opts.warmup ?? 1 },
    });
    w.once('message', (m: LoadResult) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

async function bareServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '2' });
    res.end('ok');
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

const AUTH = 'type = InfrastructureManager; username = bench; password = bench-pass\\nid = one; type = Dummy';
const RADL = "network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ncontextualize ()\ndeploy node 1\n";

const fmt = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(8)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  (${r.requests} requests, ${r.errors} errors)`;

export async function run(opts: { seconds?: number } = {}): Promise<{ name: string; lines: string[] }> {
  const seconds = opts.seconds ?? 5;
  const lines: string[] = [];
  const bare = await bareServer();
  const baseline = await load(bare.url, { seconds });
  await bare.close();
  lines.push(`baseline  bare node:http "ok"        ${fmt(baseline)}`);

  const local = await startLocal({ env: { LOG_LEVEL: 'SILENT', REST_PORT: '0', REST_ADDRESS: '127.0.0.1', TABLE_NAME: 'im-bench' }, inMemory: true });
  try {
    const base = local.restUrl;
    const created = await fetch(`${base}/infrastructures`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'text/plain' }, body: RADL });
    const uri = (await created.text()).trim();
    if (created.status !== 200) throw new Error(`setup create failed: ${created.status} ${uri}`);
    // Same-run ceiling of the store: DynamoDB Local reads with 10 concurrent callers.
    const infId = uri.split('/').pop() as string;
    const end = Date.now() + seconds * 1000;
    let reads = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (Date.now() < end) {
          await local.services.store.getInfrastructure(infId);
          reads++;
        }
      }),
    );
    const readRate = reads / seconds;
    const version = await load(`${base}/version`, { seconds });
    const state = await load(`${uri}/state`, { seconds, headers: { Authorization: AUTH } });
    const list = await load(`${base}/infrastructures`, { seconds, headers: { Authorization: AUTH } });
    lines.push(`baseline  DynamoDB Local GetItem, 10 callers: ${readRate.toFixed(0)} reads/s (/state and the list need 2 store round trips each → ≤ ${(readRate / 2).toFixed(0)} req/s here)`);
    lines.push(`GET /version                          ${fmt(version)}`);
    lines.push(`GET /infrastructures/{id}/state       ${fmt(state)}`);
    lines.push(`GET /infrastructures                  ${fmt(list)}`);
    lines.push(
      `/version: ${(version.rps / baseline.rps).toFixed(2)}× the bare server, ${(version.rps / IM_VERSION_RPS).toFixed(2)}× the Python IM (4,071 req/s; goal ≥ 10×)`,
    );
    lines.push(
      `/state:   ${(state.rps / (readRate / 2)).toFixed(2)}× the store ceiling, ${(state.rps / baseline.rps).toFixed(2)}× the bare server, ${(state.rps / IM_INFRA_RPS).toFixed(2)}× the Python IM /infrastructures (608 req/s; goal ≥ 10×)`,
    );
    lines.push(`/infrastructures (list): ${(list.rps / IM_INFRA_RPS).toFixed(2)}× the Python IM (608 req/s)`);
  } finally {
    await local.stop();
  }
  return { name: 'rest', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--seconds');
  const r = await run({ seconds: i > 0 ? Number(process.argv[i + 1]) : undefined });
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
