/**
 * DynamoDB Local life cycle (ports, no orphan Java process, persistence in a data dir) and the
 * purge CLI end to end on a temporary data dir.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { DataDirInUseError, localDynamoClient, startDynamoLocal } from '#local/dynamodb-local';
import { createTable, DynamoInfrastructureStore } from '#store/dynamodb/index';
import { makeInf, makeVm } from './fixtures';

const execFileP = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'im-store-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of the DynamoDB Local Java processes that have `marker` in their command line. */
async function dynamoPids(marker: string): Promise<number[]> {
  try {
    const { stdout } = await execFileP('pgrep', ['-f', `^java .*DynamoDBLocal.*${marker}`]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

/** A DynamoDB ListTables over TCP to host:port: the table names, or the network error. */
async function listTablesOverTcp(host: string, port: number): Promise<string> {
  try {
    const res = await fetch(`http://${host}:${port}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.ListTables', Authorization: 'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00' },
      body: '{}',
      signal: AbortSignal.timeout(3000),
    });
    return `answered ${res.status}: ${(await res.text()).slice(0, 80)}`;
  } catch (err) {
    return `refused: ${((err as Error).cause as { code?: string } | undefined)?.code ?? (err as Error).message}`;
  }
}

/** The machine's own IPv4 addresses (loopback included). */
function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => !!a && a.family === 'IPv4')
    .map((a) => a.address);
}

describe('startDynamoLocal', () => {
  it('is reachable only through its private socket: no address of the machine answers DynamoDB', { timeout: 60_000 }, async () => {
    const dataDir = join(tempDir(), 'private');
    const local = await startDynamoLocal({ dataDir, isolation: 'namespace' });
    try {
      expect(local.isolated).toBe(true);
      const client = localDynamoClient(local.socketPath);
      await createTable(client, 'probe');
      client.destroy();
      const addresses = ownAddresses();
      expect(addresses).toContain('127.0.0.1');
      for (const address of addresses) expect(await listTablesOverTcp(address, local.port), address).toMatch(/^refused/);
      expect(statSync(local.socketPath).mode & 0o777).toBe(0o600);
      expect(statSync(dataDir).mode & 0o777).toBe(0o700);
      for (const f of readdirSync(dataDir).filter((n) => n.endsWith('.db'))) expect(statSync(join(dataDir, f)).mode & 0o777, f).toBe(0o600);
    } finally {
      await local.stop();
    }
  });

  it('without the namespace the same probe reaches it (what the isolation prevents)', { timeout: 60_000 }, async () => {
    const local = await startDynamoLocal({ isolation: 'none' });
    try {
      expect(local.isolated).toBe(false);
      expect(await listTablesOverTcp('127.0.0.1', local.port)).toMatch(/^answered/);
    } finally {
      await local.stop();
    }
  });

  it('refuses a second server on the same data folder (one database file, one server)', { timeout: 60_000 }, async () => {
    const dataDir = join(tempDir(), 'twice');
    const local = await startDynamoLocal({ dataDir });
    try {
      await expect(startDynamoLocal({ dataDir })).rejects.toBeInstanceOf(DataDirInUseError);
    } finally {
      await local.stop();
    }
    const again = await startDynamoLocal({ dataDir });
    await again.stop();
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`Java ends when the owning process gets ${signal}`, { timeout: 60_000 }, async () => {
      const dataDir = join(tempDir(), signal.toLowerCase());
      const script = `
        import { startDynamoLocal } from '#local/dynamodb-local';
        const d = await startDynamoLocal({ dataDir: ${JSON.stringify(dataDir)} });
        process.on('SIGTERM', () => d.stop().then(() => process.exit(0)));
        process.stdout.write('ready ' + d.javaPid + '\\n');
        setInterval(() => {}, 1000);
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      const javaPid = await new Promise<number>((ok, fail) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /ready (\d+)/.exec(out);
          if (m) ok(Number(m[1]));
        });
        child.once('exit', (code) => fail(new Error(`child exited (${code}) before DynamoDB Local was ready`)));
      });
      expect(isAlive(javaPid)).toBe(true);
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill(signal);
      await exited;
      for (let i = 0; i < 100 && isAlive(javaPid); i++) await new Promise((r) => setTimeout(r, 100));
      expect(isAlive(javaPid)).toBe(false);
      expect(await dynamoPids(dataDir)).toEqual([]);
    });
  }
});

describe('purge CLI (npm run purge)', () => {
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) => {
      const cleanEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
      for (const key of ['TABLE_NAME', 'DYNAMODB_ENDPOINT', 'DELETED_RETENTION_DAYS']) if (!(key in env)) delete cleanEnv[key];
      execFile(TSX, ['bin/purge.ts', ...args], { cwd: ROOT, env: cleanEnv }, (err, stdout, stderr) => {
        ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  it('rejects a bad or missing date with exit 1 and a clear message', { timeout: 60_000 }, async () => {
    const env = { IM_DATA_DIR: tempDir() };
    const bad = await run(['--before', '2024-02-30'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Incorrect date format (YYYY-MM-DD)');
    const missing = await run([], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No date specified.');
    const retention = await run(['--before', '2024-01-01', '--retention-days', 'ten'], env);
    expect(retention.code).toBe(1);
    expect(retention.stderr).toContain('--retention-days');
  });

  it('persists across restarts; purges the deleted infrastructures of the data dir and nothing else', { timeout: 90_000 }, async () => {
    const dataRoot = tempDir();
    const dataDir = join(dataRoot, 'dynamodb');
    const table = 'im-infrastructures';
    const now = Date.now();
    const oldDeleted = makeInf({ createdAt: Date.UTC(2023, 0, 1) });
    const recentDeleted = makeInf({ createdAt: Date.UTC(2025, 0, 1) });
    const oldActive = makeInf({ createdAt: Date.UTC(2020, 0, 1) });

    // 1. Populate a data dir, then stop: no Java process may remain.
    let local = await startDynamoLocal({ dataDir });
    expect(await dynamoPids(dataDir)).toEqual([local.javaPid]);
    let client = localDynamoClient(local.socketPath);
    await createTable(client, table);
    let store = new DynamoInfrastructureStore({ client, tableName: table });
    for (const inf of [oldDeleted, recentDeleted, oldActive]) {
      await store.createInfrastructure(inf);
      await store.putVms([makeVm(inf.id, 0), makeVm(inf.id, 1)]);
      await store.appendLog(inf.id, 0, `log of ${inf.id}`);
    }
    await store.updateInfrastructure(oldDeleted.id, 1, { status: 'deleted', deletedAt: Date.UTC(2024, 0, 10) });
    const recent = await store.updateInfrastructure(recentDeleted.id, 1, { status: 'deleted', deletedAt: now - 86_400_000 });
    client.destroy();
    await local.stop();
    await local.stop(); // idempotent
    expect(isAlive(local.javaPid)).toBe(false);
    expect(await dynamoPids(dataDir)).toEqual([]);

    // 2. The CLI starts DynamoDB Local on <IM_DATA_DIR>/dynamodb, purges, stops.
    const result = await run(['--before', '2024-06-01', '--retention-days', '30'], { IM_DATA_DIR: dataRoot });
    expect(result.stderr).not.toContain('purge failed');
    expect(result.code).toBe(0);
    // 1 record + 2 VMs + 1 log chunk + 1 owner link + 1 tombstone
    expect(result.stdout).toMatch(/Purged 1 deleted infrastructure\(s\), 6 item\(s\)/);
    expect(await dynamoPids(dataDir)).toEqual([]);

    // 3. Restart on the same dir: everything else is still there.
    local = await startDynamoLocal({ dataDir });
    client = localDynamoClient(local.socketPath);
    await createTable(client, table); // already there: no-op
    store = new DynamoInfrastructureStore({ client, tableName: table });
    expect(await store.getInfrastructure(oldDeleted.id)).toBeUndefined();
    expect(await store.listVms(oldDeleted.id)).toEqual([]);
    expect(await store.getInfrastructure(recentDeleted.id)).toEqual(recent);
    expect(await store.getInfrastructure(oldActive.id)).toEqual(oldActive);
    expect(await store.listVms(oldActive.id)).toHaveLength(2);
    expect(await store.getLog(oldActive.id, 0)).toBe(`log of ${oldActive.id}`);
    expect((await store.listInfrastructures({ ownerKey: oldActive.ownerKeys[0] })).map((i) => i.id)).toEqual([oldActive.id]);
    client.destroy();
    await local.stop();
    expect(await dynamoPids(dataDir)).toEqual([]);
  });
});
