/**
 * Contextualization against a bare ansible-playbook run (issue 15): on SSH hosts in network namespaces
 * (test/e2e/helpers/ssh-hosts.ts), for 2 and 6 hosts, in the same run:
 *
 *  (a) bare: one `ansible-playbook` with Ansible's defaults (only host key checking off) and a plain
 *      inventory, running the same two recipes as two plays (facts gathered once, in the first);
 *  (b) ours: the runner's whole contextualization of an infrastructure with those two recipes in two
 *      contextualize steps: load, claim, master, work folder, the basic plays (Python bootstrap, package
 *      manager lock, SELinux, host name, /etc/hosts, the master's key), both steps, logs and final states
 *      (records in an in-memory store).
 *
 * Also, as a second reference, (a) with pipelining on. Rounds alternate bare and ours; each size prints the
 * best and the range of each, and ours / bare (goals: ≤ 2 for 2 hosts, ≤ 1.5 for 6). Each run starts
 * with no SSH connection open (the bare runs' ControlPersist masters are closed after each run).
 *
 *   npm run bench -- ctxt          (BENCH_CTXT_SIZES=2,6 BENCH_CTXT_ROUNDS=2 by default)
 *
 * Needs root (network namespaces), ansible-core, sshpass and openssh-server (scripts/ensure-system-deps.sh).
 * The machine may be shared with other work: compare figures of one run only.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { contextualize, type RunResult } from '#runner/runner';
import { closeMasters } from '#runner/ssh-mux';
import { MemoryStore } from '../test/e2e/helpers/memory-store.ts';
import { quietLogger, seedInfrastructure, testConfig } from '../test/e2e/helpers/ctxt-fixture.ts';
import { createSshHosts, sshHostsUnsupportedReason, type SshHosts } from '../test/e2e/helpers/ssh-hosts.ts';

const R1 = `- tasks:
  - name: r1 write a file
    copy: { dest: /tmp/r1, content: "r1 {{ inventory_hostname }}\\n" }
  - name: r1 run a command
    command: 'true'`;
const R2 = `- tasks:
  - name: r2 edit the file
    lineinfile: { path: /tmp/r1, line: r2 }
  - name: r2 run a command
    command: 'true'`;

const RADL = `configure r1 (
@begin
${R1}
@end
)
configure r2 (
@begin
${R2}
@end
)
contextualize (
  system node configure r1 step 1
  system node configure r2 step 2
)`;

/** The bare playbook: the same tasks, two plays, facts gathered once. */
const BARE_PLAYBOOK = `- hosts: all
  become: true
  tasks:
${R1.split('\n').slice(1).join('\n')}
- hosts: all
  become: true
  gather_facts: false
  tasks:
${R2.split('\n').slice(1).join('\n')}
`;

export interface CtxtBenchSize {
  hosts: number;
  bareMs: number[];
  pipelinedMs: number[];
  oursMs: number[];
  /** ansible-playbook processes and the time in them, per run of ours. */
  oursAnsible: { runs: number; ms: number }[];
}

function runBare(set: SshHosts, pipelining: boolean): Promise<number> {
  const dir = mkdtempSync('/tmp/im-bare-');
  const inv = ['[node]', ...set.hosts.map((h) => `${h.ip} ansible_user=${h.user} ansible_password=${h.password} ansible_become_password=${h.password}`)].join('\n');
  writeFileSync(join(dir, 'hosts'), `${inv}\n`);
  writeFileSync(join(dir, 'pb.yml'), BARE_PLAYBOOK);
  const cfg = ['[defaults]', 'host_key_checking = False', `forks = ${Math.max(5, set.hosts.length)}`, '[ssh_connection]', `control_path_dir = ${join(dir, 'cp')}`];
  if (pipelining) cfg.push('pipelining = True');
  writeFileSync(join(dir, 'ansible.cfg'), `${cfg.join('\n')}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANSIBLE_')));
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn('ansible-playbook', ['-i', 'hosts', 'pb.yml'], { cwd: dir, env: { ...env, ANSIBLE_CONFIG: join(dir, 'ansible.cfg') }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      void closeMasters(join(dir, 'cp')).then(() => {
        rmSync(dir, { recursive: true, force: true });
        if (code === 0) resolve(ms);
        else reject(new Error(`bare ansible-playbook failed (${code}): ${out.slice(-2000)}`));
      });
    });
  });
}

async function runOurs(set: SshHosts): Promise<{ ms: number; r: RunResult }> {
  const store = new MemoryStore();
  const infId = await seedInfrastructure(
    store,
    set.hosts.map((host) => ({ system: 'node', host })),
    RADL,
  );
  const t0 = process.hrtime.bigint();
  const r = await contextualize({ infId }, { store, config: testConfig(), logger: quietLogger() });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const bad = r.vms.filter((v) => v.ctxtState !== 'ok');
  if (bad.length > 0 || r.vms.length !== set.hosts.length) {
    const logs = await Promise.all(bad.map((v) => store.getLog(infId, v.vmId)));
    throw new Error(`contextualization of ${set.hosts.length} hosts failed: ${JSON.stringify(r.vms)}\n${logs.join('\n').slice(-3000)}`);
  }
  return { ms, r };
}

const s = (ms: number) => (ms / 1000).toFixed(2);
const range = (xs: number[]) => (xs.length > 1 ? `${s(Math.min(...xs))}–${s(Math.max(...xs))} s` : `${s(xs[0])} s`);

export async function run(opts: { sizes?: number[]; rounds?: number } = {}): Promise<{ name: string; lines: string[]; results: CtxtBenchSize[] }> {
  const name = 'contextualization vs bare ansible-playbook (namespace SSH hosts)';
  const why = sshHostsUnsupportedReason() ?? (spawnSync('sh', ['-c', 'command -v ansible-playbook && command -v sshpass']).status === 0 ? undefined : 'ansible-playbook / sshpass missing');
  if (why) return { name, lines: [`skipped: ${why}`], results: [] };
  const sizes = opts.sizes ?? (process.env.BENCH_CTXT_SIZES ?? '2,6').split(',').map(Number);
  const rounds = opts.rounds ?? Number(process.env.BENCH_CTXT_ROUNDS ?? 2);
  const goals: Record<number, number> = { 2: 2, 6: 1.5 };
  const results: CtxtBenchSize[] = [];
  const lines: string[] = ['two recipes (2 tasks each) in two steps; ours = the whole contextualization (basic plays included)'];
  for (const n of sizes) {
    const set = await createSshHosts(n);
    const res: CtxtBenchSize = { hosts: n, bareMs: [], pipelinedMs: [], oursMs: [], oursAnsible: [] };
    try {
      for (let i = 0; i < rounds; i++) {
        res.bareMs.push(await runBare(set, false));
        const ours = await runOurs(set);
        res.oursMs.push(ours.ms);
        res.oursAnsible.push({ runs: ours.r.ansibleRuns, ms: ours.r.ansibleMs });
        res.pipelinedMs.push(await runBare(set, true));
      }
    } finally {
      await set.destroy();
    }
    results.push(res);
    const bare = Math.min(...res.bareMs);
    const ours = Math.min(...res.oursMs);
    const ratio = ours / bare;
    const goal = goals[n];
    const best = res.oursAnsible[res.oursMs.indexOf(ours)];
    lines.push(
      `${String(n).padStart(2)} hosts: bare ${range(res.bareMs)} (pipelining ${range(res.pipelinedMs)}), ours ${range(res.oursMs)}` +
        ` [${best.runs} ansible-playbook, ${s(best.ms)} s in Ansible, ${s(ours - best.ms)} s around it]`,
      `          ours/bare = ${ratio.toFixed(2)} (best of each)${goal ? `, goal ≤ ${goal}: ${ratio <= goal ? 'met' : 'NOT met'}` : ''}; ours/bare+pipelining = ${(ours / Math.min(...res.pipelinedMs)).toFixed(2)}`,
    );
  }
  return { name, lines, results };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(r.name);
  for (const l of r.lines) console.log(`  ${l}`);
}
