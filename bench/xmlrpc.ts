/**
 * XML-RPC throughput on local mode as `npm start` runs it (lambdas/local/main.ts in a child process,
 * bench/local-process.ts; DynamoDB Local in memory): calls/s of GetVersion and GetInfrastructureState
 * under `wrk -t1 -c10` (POST bodies through a wrk script; the in-Node generator of bench/rest.ts when
 * wrk is missing), on npm start's one process. Same-run baselines:
 *   - a bare node:http server answering a canned `<methodResponse>` (one process);
 *   - when python3 is available, Python's `SimpleXMLRPCServer` with `ThreadingMixIn` — the server
 *     class IM 1.19 ran (im_service.py) — answering a constant GetVersion. Real IM also queues every
 *     call to a worker thread and does the work, so this is an upper bound for IM's throughput.
 *
 *   npx tsx bench/xmlrpc.ts            (BENCH_SECONDS=5 BENCH_CONNECTIONS=10 by default)
 *
 * Goal: ≥ 10× the original IM's XML-RPC server. No reference figure of IM was measured here: the
 * maintainers compare side by side with a running IM; the Python line is only an upper bound for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { decodeMethodResponse, encodeMethodCall, encodeMethodResponse, type XmlRpcValue } from '#api/xmlrpc/codec';
import { handler as xmlrpcHandler } from '#handlers/xmlrpc';
import { generateSecretKey } from '#core/secrets';
import { startLocalProcess } from './local-process';
import { cannedServer, load, type LoadResult } from './rest';

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
  // The AWS composition root wants the key that seals stored credentials (the stack passes SECRET_KEY_ARN);
  // GetVersion reads no store and starts no workflow, so a generated key and a placeholder ARN prefix will do.
  process.env.SECRET_KEY ??= generateSecretKey();
  process.env.STATE_MACHINE_ARN_PREFIX ??= 'arn:aws:states:us-east-1:000000000000:stateMachine:im-bench-';
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
  const warmup = opts.warmup ?? 1;
  const connections = opts.connections ?? Number(process.env.BENCH_CONNECTIONS ?? 10);
  const lines: string[] = [];
  const xml = { 'Content-Type': 'text/xml' };
  const versionCall = encodeMethodCall('GetVersion', []);
  const lo = { seconds, warmup, connections, headers: xml };
  const row = (label: string, r: LoadResult) =>
    `${label.padEnd(48)}${r.rps.toFixed(0).padStart(10)}${r.p50.toFixed(2).padStart(9)}${r.p99.toFixed(2).padStart(9)}${String(r.errors).padStart(8)}  ${r.tool}`;
  lines.push(`${connections} keep-alive connections, ${seconds} s per target after a ${warmup} s warm-up; node ${process.version}`);
  lines.push(`${'target'.padEnd(48)}${'calls/s'.padStart(10)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'errors'.padStart(8)}`);

  const canned = await cannedServer(encodeMethodResponse([true, '2.0.0']), 'text/xml');
  let cannedRate: number;
  try {
    const r = await load(canned.url, { ...lo, body: versionCall });
    cannedRate = r.rps;
    lines.push(row('baseline: bare node:http, canned response', r));
  } finally {
    await canned.close();
  }
  let pythonRate: number | undefined;
  const python = await pythonServer();
  if (python) {
    try {
      const r = await load(python.url, { ...lo, body: versionCall });
      pythonRate = r.rps;
      lines.push(row('Python SimpleXMLRPCServer, constant GetVersion', r));
    } finally {
      await python.close();
    }
  } else lines.push('python3 not found: no Python SimpleXMLRPCServer line.');

  const auth: XmlRpcValue[] = [
    { type: 'InfrastructureManager', username: 'bench', password: 'bench-password' },
    { id: 'dummy', type: 'Dummy' },
  ];
  const radl =
    "network publica ( outbound = 'yes' )\n" +
    "system node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'publica' )\n" +
    'deploy node 2\ncontextualize ()';
  const summary: string[] = [];
  {
    const local = await startLocalProcess();
    try {
      const url = `${local.xmlrpcUrl}/RPC2`;
      const post = async (method: string, params: XmlRpcValue[]): Promise<XmlRpcValue | undefined> => {
        const res = await fetch(url, { method: 'POST', headers: xml, body: encodeMethodCall(method, params) });
        return decodeMethodResponse(new Uint8Array(await res.arrayBuffer())).value;
      };
      const created = (await post('CreateInfrastructure', [radl, auth])) as [boolean, string];
      if (!created?.[0]) throw new Error(`cannot create the bench infrastructure: ${JSON.stringify(created)}`);
      const infId = created[1];
      const state = (await post('GetInfrastructureState', [infId, auth])) as [boolean, unknown];
      if (!state?.[0]) throw new Error(`GetInfrastructureState failed: ${JSON.stringify(state)}`);
      const label = 'npm start, one process';
      const v = await load(url, { ...lo, body: versionCall });
      const st = await load(url, { ...lo, body: encodeMethodCall('GetInfrastructureState', [infId, auth]) });
      lines.push(row(`GetVersion (${label})`, v));
      lines.push(row(`GetInfrastructureState, 2 VMs (${label})`, st));
      const vsPython = pythonRate ? `; vs Python: GetVersion ${(v.rps / pythonRate).toFixed(1)}×, GetInfrastructureState ${(st.rps / pythonRate).toFixed(1)}×` : '';
      summary.push(`${label}: vs the bare baseline: GetVersion ${(v.rps / cannedRate).toFixed(2)}, GetInfrastructureState ${(st.rps / cannedRate).toFixed(2)}${vsPython}`);
      await post('DestroyInfrastructure', [infId, auth]);
    } finally {
      await local.stop();
    }
  }
  lines.push(...summary);
  const micros = await handlerMicros(versionCall);
  lines.push(`Lambda handler alone (proxy event → result, no HTTP), GetVersion: ${micros.toFixed(1)} µs/call`);
  lines.push("Python = SimpleXMLRPCServer (IM's server class) answering a constant: an upper bound for IM. Goal ≥ 10× IM, compared side by side.");
  return { name: 'xmlrpc', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
