/**
 * XML-RPC throughput on local mode: calls/s of GetVersion and GetInfrastructureState with N
 * concurrent keep-alive connections over a fixed duration, against same-run baselines:
 *   - a bare node:http server answering a canned `<methodResponse>` (the ceiling of any Node server
 *     on this machine: our figure / this one = the share our stack keeps);
 *   - when python3 is available, Python's `SimpleXMLRPCServer` with `ThreadingMixIn` — the server
 *     class IM 1.19 ran (im_service.py) — answering a constant GetVersion. Real IM also queues every
 *     call to a worker thread and does the work, so this is an upper bound for IM's throughput.
 *
 *   npx tsx bench/xmlrpc.ts            (BENCH_SECONDS=5 BENCH_CONNECTIONS=10 by default)
 *
 * Goal: ≥ 10× the original IM's XML-RPC server. No reference figure of IM was measured here: the
 * maintainers compare side by side with a running IM; the Python line is only an upper bound for it.
 * The load generator runs in a worker thread (plain node:http, one keep-alive Agent with
 * maxSockets = connections, requests pre-encoded) so that it shares the process but not the event
 * loop of the server under test. DynamoDB Local (Java) runs on the same machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { decodeMethodResponse, encodeMethodCall, encodeMethodResponse, type XmlRpcValue } from '#api/xmlrpc/codec';
import { handler as xmlrpcHandler } from '#handlers/xmlrpc';
import { startLocal } from '#local/server';
import { XMLRPC_FRONT_END, xmlrpcFrontEnd } from '#local/xmlrpc-server';

interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  p50: number;
  p99: number;
}

/** The load generator (plain JS, run in a worker thread). */
const LOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { url, body, seconds, warmup, connections, expect } = workerData;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const payload = Buffer.from(body);
function once() {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
        headers: { 'Content-Type': 'text/xml', 'Content-Length': payload.length } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const ok = res.statusCode === 200 && text.includes(expect);
          resolve({ ok, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
        });
        res.on('error', () => resolve({ ok: false, ms: 0 }));
      });
    req.on('error', () => resolve({ ok: false, ms: 0 }));
    req.end(payload);
  });
}
async function phase(durationS, record) {
  const end = Date.now() + durationS * 1000;
  let calls = 0, errors = 0;
  const lat = [];
  const loop = async () => {
    while (Date.now() < end) {
      const r = await once();
      if (r.ok) { calls++; if (record) lat.push(r.ms); } else errors++;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: connections }, loop));
  return { calls, errors, seconds: Number(process.hrtime.bigint() - t0) / 1e9, lat };
}
(async () => {
  await phase(warmup, false);
  const r = await phase(seconds, true);
  r.lat.sort((a, b) => a - b);
  const q = (f) => (r.lat.length ? r.lat[Math.min(r.lat.length - 1, Math.floor(f * r.lat.length))] : NaN);
  agent.destroy();
  parentPort.postMessage({ calls: r.calls, errors: r.errors, seconds: r.seconds, p50: q(0.5), p99: q(0.99) });
})();
`;

function load(url: string, body: string, opts: { seconds: number; warmup: number; connections: number; expect: string }): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LOAD_WORKER, { eval: true, workerData: { url, body, ...opts } });
    w.once('message', (m: LoadResult) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
}

/** A bare node:http server that answers every request with the same bytes. */
async function cannedServer(response: string): Promise<{ url: string; close(): Promise<void> }> {
  const body = Buffer.from(response);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/xml', 'Content-Length': body.length });
      res.end(body);
    });
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

const PYTHON_SERVER = `
import sys
from socketserver import ThreadingMixIn
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler
class Handler(SimpleXMLRPCRequestHandler):
    def log_message(self, *a): pass
class AsyncXMLRPCServer(ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    request_queue_size = 128
s = AsyncXMLRPCServer(('127.0.0.1', 0), requestHandler=Handler, logRequests=False, allow_none=False)
s.register_function(lambda: (True, '1.19.2'), 'GetVersion')
print(s.server_address[1], flush=True)
s.serve_forever()
`;

/** Python's SimpleXMLRPCServer + ThreadingMixIn (IM 1.19's server class), or undefined without python3. */
async function pythonServer(): Promise<{ url: string; close(): Promise<void> } | undefined> {
  let child: ChildProcess;
  try {
    child = spawn('python3', ['-c', PYTHON_SERVER], { stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  const port = await new Promise<number | undefined>((resolve) => {
    child.once('error', () => resolve(undefined));
    child.once('exit', () => resolve(undefined));
    child.stdout?.once('data', (d: Buffer) => resolve(Number(String(d).trim()) || undefined));
    setTimeout(() => resolve(undefined), 10_000).unref();
  });
  if (!port) {
    child.kill('SIGKILL');
    return undefined;
  }
  return {
    url: `http://127.0.0.1:${port}/RPC2`,
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** µs per call of the Lambda handler itself (no HTTP): proxy event in, proxy result out. */
async function handlerMicros(body: string, ms = 1000): Promise<number> {
  const event = { httpMethod: 'POST', path: '/RPC2', body, isBase64Encoded: false, headers: {} } as unknown as APIGatewayProxyEvent;
  const ctx = {} as Context;
  for (let i = 0; i < 2000; i++) await xmlrpcHandler(event, ctx);
  let n = 0;
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 100; i++) await xmlrpcHandler(event, ctx);
    n += 100;
  }
  return Number(process.hrtime.bigint() - t0) / 1e3 / n;
}

export async function run(opts: { seconds?: number; warmup?: number; connections?: number } = {}): Promise<{ name: string; lines: string[] }> {
  const seconds = opts.seconds ?? Number(process.env.BENCH_SECONDS ?? 5);
  const warmup = opts.warmup ?? Math.min(1, seconds / 5);
  const connections = opts.connections ?? Number(process.env.BENCH_CONNECTIONS ?? 10);
  const lines: string[] = [];
  const OK = '<boolean>1</boolean>';

  const local = await startLocal({
    inMemory: true,
    restPort: 0,
    env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'WARNING' },
    frontEnds: [xmlrpcFrontEnd({ port: 0 })],
  });
  const canned = await cannedServer(encodeMethodResponse([true, local.config.IM_VERSION]));
  const python = await pythonServer();
  try {
    const url = `${local.urls[XMLRPC_FRONT_END]}/RPC2`;
    const auth: XmlRpcValue[] = [
      { type: 'InfrastructureManager', username: 'bench', password: 'bench-password' },
      { id: 'dummy', type: 'Dummy' },
    ];
    const radl =
      "network publica ( outbound = 'yes' )\n" +
      "system node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'publica' )\n" +
      'deploy node 2\ncontextualize ()';
    const post = async (method: string, params: XmlRpcValue[]): Promise<XmlRpcValue | undefined> => {
      const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body: encodeMethodCall(method, params) });
      return decodeMethodResponse(new Uint8Array(await res.arrayBuffer())).value;
    };
    const created = (await post('CreateInfrastructure', [radl, auth])) as [boolean, string];
    if (!created?.[0]) throw new Error(`cannot create the bench infrastructure: ${JSON.stringify(created)}`);
    const infId = created[1];
    const state = await post('GetInfrastructureState', [infId, auth]);
    const version = await post('GetVersion', []);

    const targets: { label: string; url: string; body: string; key: string }[] = [
      { label: 'bare node:http, canned response', url: canned.url, body: encodeMethodCall('GetVersion', []), key: 'canned' },
      { label: 'XML-RPC GetVersion', url, body: encodeMethodCall('GetVersion', []), key: 'version' },
      { label: 'XML-RPC GetInfrastructureState (2 VMs)', url, body: encodeMethodCall('GetInfrastructureState', [infId, auth]), key: 'state' },
    ];
    if (python) {
      targets.push({ label: 'Python SimpleXMLRPCServer GetVersion', url: python.url, body: encodeMethodCall('GetVersion', []), key: 'python' });
    }
    const results: Record<string, LoadResult> = {};
    for (const t of targets) results[t.key] = await load(t.url, t.body, { seconds, warmup, connections, expect: OK });

    lines.push(`${connections} keep-alive connections, ${seconds} s per target after a ${warmup} s warm-up; node ${process.version}`);
    lines.push(`GetVersion → ${JSON.stringify(version)}; GetInfrastructureState → ${JSON.stringify(state)}`);
    lines.push(`${'target'.padEnd(44)}${'calls/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}`);
    for (const t of targets) {
      const r = results[t.key];
      lines.push(
        `${t.label.padEnd(44)}${(r.calls / r.seconds).toFixed(0).padStart(10)}${r.p50.toFixed(2).padStart(9)}` +
          `${r.p99.toFixed(2).padStart(9)}${String(r.errors).padStart(8)}`,
      );
    }
    const rate = (k: string) => results[k].calls / results[k].seconds;
    const micros = await handlerMicros(encodeMethodCall('GetVersion', []));
    lines.push(`Lambda handler alone (proxy event → result, no HTTP), GetVersion: ${micros.toFixed(1)} µs/call`);
    lines.push(
      `ratio to the bare node:http baseline (same run): GetVersion ${(rate('version') / rate('canned')).toFixed(2)}, ` +
        `GetInfrastructureState ${(rate('state') / rate('canned')).toFixed(3)}`,
    );
    if (python) {
      lines.push(
        `ratio to Python SimpleXMLRPCServer (IM's server class, constant GetVersion; an upper bound for IM): ` +
          `GetVersion ${(rate('version') / rate('python')).toFixed(1)}×, GetInfrastructureState ${(rate('state') / rate('python')).toFixed(1)}×`,
      );
    } else {
      lines.push('python3 not found: no Python SimpleXMLRPCServer line.');
    }
    lines.push('goal ≥ 10× the original IM XML-RPC server: no IM figure was measured here; the maintainers compare side by side.');
    await post('DestroyInfrastructure', [infId, auth]);
  } finally {
    await canned.close();
    await python?.close();
    await local.stop();
  }
  return { name: 'xmlrpc', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
