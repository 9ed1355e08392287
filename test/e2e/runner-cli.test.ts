/**
 * The runner entry point as the Fargate task and the local orchestrator run it: a child process
 * (`tsx lambdas/runner/main.ts`, and the esbuild bundle `node index.mjs`) reading INF_ID / VM_IDS and the
 * store from the environment (DynamoDB Local), against SSH hosts in network namespaces.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo.ts';
import { seedInfrastructure } from './helpers/ctxt-fixture.ts';
import { createSshHosts, sshHostsUnsupportedReason, type SshHosts } from './helpers/ssh-hosts.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED runner CLI e2e tests: ${unsupported}`);

function runChild(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

const RECIPE = `configure node (
@begin
- tasks:
  - name: mark
    shell: echo "configured by {{ IM_NODE_HOSTNAME }}" >> /tmp/cli
@end
)`;

describe.skipIf(!!unsupported)('runner entry point (child process, DynamoDB Local)', () => {
  let set: SshHosts;
  let db: TestDynamo;
  let bundleDir = '';

  beforeAll(async () => {
    [set, db] = await Promise.all([createSshHosts(2), startTestDynamo()]);
    bundleDir = mkdtempSync(join(tmpdir(), 'imt-bundle-'));
  });

  afterAll(async () => {
    await set?.destroy();
    await db?.stop();
    if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
  });

  const env = (infId: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    ...process.env,
    INF_ID: infId,
    DYNAMODB_SOCKET: db.socketPath,
    TABLE_NAME: db.tableName,
    LOG_LEVEL: 'INFO',
    ...extra,
  });

  it('tsx lambdas/runner/main.ts configures the VMs and exits 0', async () => {
    const infId = await seedInfrastructure(
      db.store,
      set.hosts.map((host) => ({ system: 'node', host })),
      RECIPE,
    );
    const r = await runChild(join(ROOT, 'node_modules', '.bin', 'tsx'), ['lambdas/runner/main.ts'], env(infId));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('"msg":"Contextualization finished"');
    const vms = await db.store.listVms(infId);
    expect(vms.map((v) => [v.ctxtState, v.state])).toEqual([
      ['ok', 'configured'],
      ['ok', 'configured'],
    ]);
    expect(await set.readFile(1, '/tmp/cli')).toBe('configured by vnode-1\n');
    expect(await db.store.getLog(infId, 1)).toContain('TASK [mark]');
    // Unknown infrastructure: exit code 1 (the state machine's Catch marks the VMs unconfigured).
    const bad = await runChild(join(ROOT, 'node_modules', '.bin', 'tsx'), ['lambdas/runner/main.ts', 'no-such-inf'], env(''));
    expect(bad.code).toBe(1);
  }, 240_000);

  it('the esbuild bundle (the Fargate image command) runs the same way', async () => {
    const out = join(bundleDir, 'index.mjs');
    const b = spawnSync(join(ROOT, 'node_modules', '.bin', 'esbuild'), ['lambdas/runner/main.ts', '--bundle', '--platform=node', '--format=esm', `--outfile=${out}`, '--log-level=error'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(b.status, b.stderr).toBe(0);
    const infId = await seedInfrastructure(db.store, [{ system: 'node', host: set.hosts[0] }], RECIPE);
    const r = await runChild(process.execPath, [out], env(infId, { VM_IDS: '0' }));
    expect(r.code, r.out).toBe(0);
    expect((await db.store.getVm(infId, 0))?.state).toBe('configured');
  }, 240_000);
});
