/**
 * Contextualization wall time for 1, 3 and 6 hosts: the runner (basic play + one trivial recipe) against
 * SSH hosts in network namespaces (test/e2e/helpers/ssh-hosts.ts), records in an in-memory store.
 *
 *   npx tsx bench/ctxt.ts              (BENCH_CTXT_SIZES=1,3,6 BENCH_CTXT_ROUNDS=1 by default)
 *
 * Prints each size's wall time (best of the rounds) and the growth ratio t(n)/t(1); with one Ansible
 * process per step for all the hosts (forks ≥ hosts) t6/t1 should be well under 6. Needs root (network
 * namespaces), ansible-core, sshpass and openssh-server (scripts/ensure-system-deps.sh). The machine may be
 * shared with other work: the best of several rounds is the undisturbed figure.
 */
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { contextualize } from '#runner/runner';
import { MemoryStore } from '../test/e2e/helpers/memory-store.ts';
import { quietLogger, seedInfrastructure, testConfig } from '../test/e2e/helpers/ctxt-fixture.ts';
import { createSshHosts, sshHostsUnsupportedReason } from '../test/e2e/helpers/ssh-hosts.ts';

const RECIPE = `configure node (
@begin
- tasks:
  - name: trivial recipe
    command: 'true'
@end
)`;

export interface CtxtBenchResult {
  hosts: number;
  ms: number;
}

async function once(n: number): Promise<number> {
  const set = await createSshHosts(n);
  try {
    const store = new MemoryStore();
    const infId = await seedInfrastructure(
      store,
      set.hosts.map((host) => ({ system: 'node', host })),
      RECIPE,
    );
    const t0 = process.hrtime.bigint();
    const r = await contextualize({ infId }, { store, config: testConfig(), logger: quietLogger() });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const bad = r.vms.filter((v) => v.ctxtState !== 'ok');
    if (bad.length > 0 || r.vms.length !== n) {
      const logs = await Promise.all(bad.map((v) => store.getLog(infId, v.vmId)));
      throw new Error(`contextualization of ${n} hosts failed: ${JSON.stringify(r.vms)}\n${logs.join('\n').slice(-3000)}`);
    }
    return ms;
  } finally {
    await set.destroy();
  }
}

export async function run(opts: { sizes?: number[]; rounds?: number } = {}): Promise<{ name: string; lines: string[]; results: CtxtBenchResult[] }> {
  const name = 'contextualization (runner, namespace SSH hosts)';
  const why = sshHostsUnsupportedReason() ?? (spawnSync('sh', ['-c', 'command -v ansible-playbook && command -v sshpass']).status === 0 ? undefined : 'ansible-playbook / sshpass missing');
  if (why) return { name, lines: [`skipped: ${why}`], results: [] };
  const sizes = opts.sizes ?? (process.env.BENCH_CTXT_SIZES ?? '1,3,6').split(',').map(Number);
  const rounds = opts.rounds ?? Number(process.env.BENCH_CTXT_ROUNDS ?? 1);
  const results: CtxtBenchResult[] = [];
  for (const n of sizes) {
    let best = Infinity;
    for (let r = 0; r < rounds; r++) best = Math.min(best, await once(n));
    results.push({ hosts: n, ms: best });
  }
  const base = results[0]?.ms ?? 1;
  const lines = results.map(
    (r) => `${String(r.hosts).padStart(2)} host${r.hosts === 1 ? ' ' : 's'}: ${(r.ms / 1000).toFixed(2).padStart(6)} s   t${r.hosts}/t${results[0].hosts} = ${(r.ms / base).toFixed(2)}`,
  );
  return { name, lines, results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(r.name);
  for (const l of r.lines) console.log(`  ${l}`);
}
