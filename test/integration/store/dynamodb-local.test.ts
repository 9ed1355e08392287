/**
 * DynamoDB Local life cycle (persistence, ports, no orphan Java process) and the purge CLI
 * end to end on a temporary data dir.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalDynamoClient, startDynamoLocal } from '#local/dynamodb-local';
import { createTable, DynamoInfrastructureStore } from '#store/dynamodb-store';
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
    const { stdout } = await execFileP('pgrep', ['-f', `DynamoDBLocal.*${marker}`]);
    return stdout.split('\n').filter(Boolean).map(Number);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

describe('startDynamoLocal', () => {
  it('persists data across a restart with a dataDir, and leaves no Java process after stop', async () => {
    const dataDir = join(tempDir(), 'dynamodb');
    const inf = makeInf();

    const first = await startDynamoLocal({ dataDir });
    expect(first.endpoint).toBe(`http://127.0.0.1:${first.port}`);
    expect(await dynamoPids(dataDir)).toEqual([first.pid]);
    let client = createLocalDynamoClient(first.endpoint);
    await createTable(client, 'persist');
    let store = new DynamoInfrastructureStore({ client, tableName: 'persist' });
    await store.createInfrastructure(inf);
    await store.putVm(makeVm(inf.id, 0));
    await store.appendLog(inf.id, 'inf', 'kept across restarts');
    client.destroy();
    await first.stop();
    await first.stop(); // idempotent
    expect(isAlive(first.pid)).toBe(false);
    expect(await dynamoPids(dataDir)).toEqual([]);

    const second = await startDynamoLocal({ dataDir });
    client = createLocalDynamoClient(second.endpoint);
    await createTable(client, 'persist'); // already there: no-op
    store = new DynamoInfrastructureStore({ client, tableName: 'persist' });
    expect(await store.getInfrastructure(inf.id)).toEqual(inf);
    expect(await store.listVms(inf.id)).toHaveLength(1);
    expect(await store.getLog(inf.id, 'inf')).toBe('kept across restarts');
    client.destroy();
    await second.stop();
    expect(await dynamoPids(dataDir)).toEqual([]);
  });

  it('refuses a fixed port that is already taken, and serves on a free fixed port', async () => {
    const a = await startDynamoLocal({});
    try {
      await expect(startDynamoLocal({ port: a.port })).rejects.toThrow(/port .* not available/);
      await a.stop();
      const b = await startDynamoLocal({ port: a.port });
      expect(b.port).toBe(a.port);
      await b.stop();
      expect(isAlive(b.pid)).toBe(false);
    } finally {
      await a.stop();
    }
  });

  it('kills Java when the owning process gets SIGTERM', async () => {
    const dataDir = join(tempDir(), 'sigterm');
    const script = `
      import { startDynamoLocal } from '#local/dynamodb-local';
      const d = await startDynamoLocal({ dataDir: ${JSON.stringify(dataDir)} });
      process.stdout.write('ready ' + d.pid + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(TSX, ['--eval', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    child.kill('SIGTERM');
    await exited;
    for (let i = 0; i < 50 && isAlive(javaPid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(isAlive(javaPid)).toBe(false);
    expect(await dynamoPids(dataDir)).toEqual([]);
  });
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

  it('rejects a bad or missing date with exit 1 and a clear message', async () => {
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

  it('purges the deleted infrastructures of the local data dir and nothing else', async () => {
    const dataRoot = tempDir();
    const dataDir = join(dataRoot, 'dynamodb');
    const table = 'im-infrastructures';
    const day = 86_400_000;
    const now = Date.now();
    const oldDeleted = makeInf({ createdAt: Date.UTC(2023, 0, 1) });
    const recentDeleted = makeInf({ createdAt: Date.UTC(2023, 0, 1) });
    const oldActive = makeInf({ createdAt: Date.UTC(2020, 0, 1) });

    let local = await startDynamoLocal({ dataDir });
    let client = createLocalDynamoClient(local.endpoint);
    await createTable(client, table);
    let store = new DynamoInfrastructureStore({ client, tableName: table });
    for (const inf of [oldDeleted, recentDeleted, oldActive]) {
      await store.createInfrastructure(inf);
      await store.putVms([makeVm(inf.id, 0), makeVm(inf.id, 1)]);
      await store.appendLog(inf.id, 0, 'log');
    }
    await store.updateInfrastructure(oldDeleted.id, 1, { status: 'deleted', deletedAt: Date.UTC(2024, 0, 10) });
    await store.updateInfrastructure(recentDeleted.id, 1, { status: 'deleted', deletedAt: now - day });
    client.destroy();
    await local.stop();

    const result = await run(['--before', '2024-06-01', '--retention-days', '30'], { IM_DATA_DIR: dataRoot });
    expect(result.stderr).not.toContain('purge failed');
    expect(result.code).toBe(0);
    // 1 record + 2 VMs + 1 log chunk + 1 owner link + 1 tombstone
    expect(result.stdout).toMatch(/Purged 1 deleted infrastructure\(s\), 6 item\(s\)/);
    expect(await dynamoPids(dataDir)).toEqual([]);

    local = await startDynamoLocal({ dataDir });
    client = createLocalDynamoClient(local.endpoint);
    store = new DynamoInfrastructureStore({ client, tableName: table });
    expect(await store.getInfrastructure(oldDeleted.id)).toBeUndefined();
    expect(await store.listVms(oldDeleted.id)).toEqual([]);
    expect((await store.getInfrastructure(recentDeleted.id))?.status).toBe('deleted');
    expect(await store.getInfrastructure(oldActive.id)).toMatchObject({ status: 'active' });
    expect(await store.listVms(oldActive.id)).toHaveLength(2);
    client.destroy();
    await local.stop();
  });
});
