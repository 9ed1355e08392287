/**
 * DynamoDB Local life cycle (ports, no orphan Java process, persistence in a data dir) and the
 * purge CLI end to end on a temporary data dir.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
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
  it('refuses a fixed port that is already taken, and serves on a free fixed port', { timeout: 60_000 }, async () => {
    const blocker = createServer();
    await new Promise<void>((ok) => blocker.listen(0, ok));
    const port = (blocker.address() as AddressInfo).port;
    await expect(startDynamoLocal({ port })).rejects.toThrow(/port .* not available/);
    await new Promise((ok) => blocker.close(ok));
    const local = await startDynamoLocal({ port });
    expect(local.port).toBe(port);
    await local.stop();
    expect(isAlive(local.pid)).toBe(false);
  });

  it('kills Java when the owning process gets SIGTERM', { timeout: 60_000 }, async () => {
    const dataDir = join(tempDir(), 'sigterm');
    const script = `
      import { startDynamoLocal } from '#local/dynamodb-local';
      const d = await startDynamoLocal({ dataDir: ${JSON.stringify(dataDir)} });
      process.stdout.write('ready ' + d.pid + '\\n');
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    expect(local.endpoint).toBe(`http://127.0.0.1:${local.port}`);
    expect(await dynamoPids(dataDir)).toEqual([local.pid]);
    let client = createLocalDynamoClient(local.endpoint);
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
    expect(isAlive(local.pid)).toBe(false);
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
    client = createLocalDynamoClient(local.endpoint);
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
