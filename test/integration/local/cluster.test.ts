/**
 * `npm start` with LOCAL_WORKERS=2 (lambdas/local/main.ts → lambdas/local/cluster.ts): one primary,
 * two worker processes on the same ports, one DynamoDB Local.
 *
 * Every request below goes on a NEW connection, and node:cluster hands new connections to the
 * workers in turn, so consecutive requests are served by different workers. Both workers' record
 * caches hold the infrastructure before each write, so a worker that missed a write would answer
 * from its stale cache: these tests fail if the cache relay between workers breaks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH, radl } from '../rest/client';

const ROOT = new URL('../../../', import.meta.url).pathname;

interface Reply {
  status: number;
  text: string;
}

/** One request on a connection of its own (no keep-alive agent). */
function once(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        agent: false,
        headers: {
          Authorization: AUTH,
          Connection: 'close',
          ...(body !== undefined ? { 'Content-Type': 'text/plain', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Pids of every descendant of `pid` (workers, DynamoDB Local's Java, their children). */
function descendants(pid: number): number[] {
  const out = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const children = new Map<number, number[]>();
  for (const line of out.trim().split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const all: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      all.push(c);
      walk(c);
    }
  };
  walk(pid);
  return all;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('local mode with two worker processes', () => {
  let child: ChildProcess;
  let rest = '';
  let xmlrpc = '';
  let output = '';

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts', '--in-memory', '--port', '0'], {
      cwd: ROOT,
      env: {
        ...process.env,
        LOCAL_WORKERS: '2',
        XMLRCP_PORT: '0',
        REST_ADDRESS: '127.0.0.1',
        XMLRCP_ADDRESS: '127.0.0.1',
        LOG_LEVEL: 'ERROR',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`local mode did not start:\n${output}`)), 90_000);
      child.stdout!.on('data', (chunk: string) => {
        output += chunk;
        const r = /IM REST API listening on (\S+)/.exec(output);
        const x = /IM XML-RPC API listening on (\S+)/.exec(output);
        if (r && x && output.includes('Press Ctrl-C')) {
          rest = r[1];
          xmlrpc = x[1];
          clearTimeout(timer);
          resolve();
        }
      });
      child.stderr!.on('data', (chunk: string) => (output += chunk));
      child.once('exit', (code) => reject(new Error(`local mode exited (${code}):\n${output}`)));
    });
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      for (const pid of descendants(child.pid!)) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('says how many workers serve', () => {
    expect(output).toContain('2 worker processes.');
  });

  it('answers on both ports, on every connection', async () => {
    for (let i = 0; i < 6; i++) {
      const v = await once(rest, 'GET', '/version', undefined, { Authorization: '' });
      expect(v.status).toBe(200);
    }
    const call = await once(xmlrpc, 'POST', '/RPC2', "<?xml version='1.0'?><methodCall><methodName>GetVersion</methodName><params></params></methodCall>", {
      'Content-Type': 'text/xml',
    });
    expect(call.status).toBe(200);
    expect(call.text).toContain('<boolean>1</boolean>');
  });

  it('a write made through one worker is seen at once through the other (stop / start)', async () => {
    const created = await once(rest, 'POST', '/infrastructures', radl(2));
    expect(created.status).toBe(200);
    const uri = created.text.trim();
    const path = new URL(uri).pathname;
    const state = async () => {
      const r = await once(rest, 'GET', `${path}/state`, undefined, { Accept: 'application/json' });
      expect(r.status).toBe(200);
      return (JSON.parse(r.text) as { state: { state: string } }).state.state;
    };
    // Both workers read (and cache) the infrastructure.
    const first = await state();
    expect(await state()).toBe(first);
    expect(first).not.toBe('stopped');
    for (let round = 0; round < 3; round++) {
      expect((await once(rest, 'PUT', `${path}/stop`)).status).toBe(200);
      // The next two requests go to both workers: each must see the stop.
      expect(await state()).toBe('stopped');
      expect(await state()).toBe('stopped');
      expect((await once(rest, 'PUT', `${path}/start`)).status).toBe(200);
      expect(await state()).not.toBe('stopped');
      expect(await state()).not.toBe('stopped');
    }
    expect((await once(rest, 'DELETE', path)).status).toBe(200);
    expect((await once(rest, 'GET', `${path}/state`)).status).toBe(404);
    expect((await once(rest, 'GET', `${path}/state`)).status).toBe(404);
  }, 60_000);

  it('owner listings follow creations and deletions made by the other worker', async () => {
    const list = async () => {
      const r = await once(rest, 'GET', '/infrastructures', undefined, { Accept: 'application/json' });
      expect(r.status).toBe(200);
      return (JSON.parse(r.text) as { 'uri-list': { uri: string }[] })['uri-list'].map((u) => u.uri);
    };
    // Both workers load (and cache) the listing.
    const before = await list();
    expect(await list()).toEqual(before);
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await once(rest, 'POST', '/infrastructures', radl(1));
      expect(c.status).toBe(200);
      created.push(c.text.trim());
      expect(await list()).toContain(c.text.trim());
      expect(await list()).toContain(c.text.trim());
    }
    for (const uri of created) {
      expect((await once(rest, 'DELETE', new URL(uri).pathname)).status).toBe(200);
      expect(await list()).not.toContain(uri);
      expect(await list()).not.toContain(uri);
    }
  }, 60_000);

  it('20 parallel add-resource calls spread over both workers lose no VM', async () => {
    const created = await once(rest, 'POST', '/infrastructures', radl(1));
    expect(created.status).toBe(200);
    const path = new URL(created.text.trim()).pathname;
    const adds = await Promise.all(Array.from({ length: 20 }, () => once(rest, 'POST', path, radl(1))));
    for (const a of adds) expect(a.status).toBe(200);
    const vms = await once(rest, 'GET', path, undefined, { Accept: 'application/json' });
    const ids = (JSON.parse(vms.text) as { 'uri-list': { uri: string }[] })['uri-list'].map((u) => Number(u.uri.split('/').pop()));
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i));
    expect((await once(rest, 'DELETE', path)).status).toBe(200);
  }, 90_000);

  it('Ctrl-C stops the primary, both workers and DynamoDB Local', async () => {
    const tree = descendants(child.pid!);
    // Two workers and a Java process at least.
    expect(tree.length).toBeGreaterThanOrEqual(3);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const deadline = Date.now() + 10_000;
    while (tree.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(tree.filter(alive)).toEqual([]);
  }, 60_000);
});
