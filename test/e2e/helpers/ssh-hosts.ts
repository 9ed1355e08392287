/**
 * SSH test hosts: one Linux network namespace per host, each with its own sshd, hostname and private
 * copies of /etc, /root and /home, so that a contextualization play (hostname, /etc/hosts, new
 * passwords…) run against it never touches the real machine.
 *
 * Layout of one set of hosts (one call to {@link createSshHosts}):
 *  - a bridge `imtb<k>` in the root namespace with address `<base>.<k>.1/24` (the runner reaches the hosts
 *    through it). `<base>` is 10.213 by default, a range used only by these namespaces; `<k>` is picked
 *    so that no route of the machine overlaps `<base>.<k>.0/24`, and reserved atomically by creating the bridge;
 *  - per host i: a network namespace `imt<pid>-<k>-<i>`, a veth pair `imtv<k>x<i>` (root side, in the bridge) /
 *    `eth0` (inside) with address `<base>.<k>.<10+i>/24`, no default route (traffic only to these addresses);
 *  - sshd started through `ip netns exec NS unshare -m -u --propagation private sh start.sh`: start.sh
 *    bind-mounts the host's private copies over /etc, /root and /home, mounts tmpfs on /tmp, /run and /var/tmp,
 *    sets the hostname, creates the test user (password + authorized key, passwordless sudo) and execs sshd,
 *    which listens only on the namespace address. The pid of the spawned process is sshd's pid.
 *  - the hosts' working folder lives in /var/lib/im-test-hosts (not under /tmp, which the tmpfs hides).
 *
 * `destroy()` kills every process of the namespaces and removes namespaces, veths, bridge and folder. It
 * also runs from process exit / signal handlers, and a new call cleans what dead test processes left.
 * Needs root, `ip netns`, `unshare`, `nsenter` and sshd (scripts/ensure-system-deps.sh installs them).
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import ipaddr from 'ipaddr.js';

export interface SshHost {
  /** Namespace name, also the host's hostname at start. */
  name: string;
  netns: string;
  ip: string;
  port: number;
  user: string;
  password: string;
  /** OpenSSH private key (ed25519) accepted for `user`; undefined with `withKey: false`. */
  privateKey?: string;
  publicKey?: string;
  sshdPid: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface SshHosts {
  hosts: SshHost[];
  /** Bridge in the root namespace and its address (what the hosts see as the runner's address). */
  bridge: string;
  gateway: string;
  /** `<base>.<k>.0/24` */
  subnet: string;
  /** Runs `sh -c cmd` as root inside the host (its mount, UTS and network namespaces), through nsenter. */
  exec(host: SshHost | number, cmd: string): Promise<ExecResult>;
  /** A file as the host sees it (its private /etc, /tmp…). Throws when missing. */
  readFile(host: SshHost | number, path: string): Promise<string>;
  /** Kills an sshd (the host stops answering) without removing its namespace. */
  stopSshd(host: SshHost | number): void;
  /** Removes everything this set created. Idempotent. */
  destroy(): Promise<void>;
}

export interface SshHostsOptions {
  user?: string;
  password?: string;
  /** Also create a key pair and authorize it (default true). */
  withKey?: boolean;
  /** First two octets of the address range (default 10.213). */
  netBase?: string;
  /** Milliseconds to wait for every sshd to accept connections (default 15 000). */
  startTimeoutMs?: number;
}

export const DEFAULT_TEST_USER = 'imtest';
export const DEFAULT_TEST_PASSWORD = 'Imt-pass-1';
const STATE_ROOT = '/var/lib/im-test-hosts';
const NS_RE = /^imt(\d+)-(\d+)-(\d+)$/;

// ---------------------------------------------------------------------------------------------------------------
// Support check
// ---------------------------------------------------------------------------------------------------------------

function run(cmd: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function must(cmd: string, args: string[], input?: string): string {
  const r = run(cmd, args, input);
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

function which(bin: string): boolean {
  return run('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/** Why SSH test hosts cannot be created here, or undefined when they can. */
export function sshHostsUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return 'SSH test hosts need Linux network namespaces';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'SSH test hosts need root (ip netns, unshare, mount)';
  for (const bin of ['ip', 'unshare', 'nsenter', 'ssh-keygen', 'useradd', 'chpasswd', 'sudo']) {
    if (!which(bin)) return `SSH test hosts need '${bin}' (run scripts/ensure-system-deps.sh)`;
  }
  if (!existsSync('/usr/sbin/sshd')) return "SSH test hosts need /usr/sbin/sshd (package openssh-server; run scripts/ensure-system-deps.sh)";
  const probe = `imtprobe${process.pid}`;
  const add = run('ip', ['netns', 'add', probe]);
  if (add.status !== 0) return `no 'ip netns' support here: ${add.stderr.trim()}`;
  const ex = run('ip', ['netns', 'exec', probe, 'unshare', '-m', '-u', '--propagation', 'private', 'true']);
  run('ip', ['netns', 'del', probe]);
  if (ex.status !== 0) return `cannot enter a network namespace with private mounts here: ${ex.stderr.trim()}`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Bookkeeping and cleanup
// ---------------------------------------------------------------------------------------------------------------

interface SetState {
  ownerPid: number;
  k: number;
  bridge: string;
  netns: string[];
  veths: string[];
  sshdPids?: number[];
  dir: string;
}

const live = new Map<string, SetState>();
let handlersInstalled = false;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function netnsList(): string[] {
  const r = run('ip', ['netns', 'list']);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n);
}

function netnsPids(ns: string): number[] {
  const r = run('ip', ['netns', 'pids', ns]);
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function killPids(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** True when the process exists and is not a zombie. */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function runningPids(namespaces: string[]): number[] {
  return namespaces.flatMap(netnsPids).filter(processRunning);
}

function waitGone(namespaces: string[], keep: Set<number>, ms: number): number[] {
  let pids = runningPids(namespaces).filter((p) => !keep.has(p));
  for (let waited = 0; pids.length > 0 && waited < ms; waited += 50) {
    sleepSync(50);
    pids = runningPids(namespaces).filter((p) => !keep.has(p));
  }
  return pids;
}

/**
 * Kills every process in the namespaces, then deletes namespaces, veths and bridge. Sessions go first
 * while their sshd is alive to reap them (no zombies reparented to init), then the sshd listeners,
 * then SIGKILL for anything left.
 */
function cleanupSync(state: SetState): void {
  const listeners = new Set(state.sshdPids ?? []);
  const sessions = runningPids(state.netns).filter((p) => !listeners.has(p));
  if (sessions.length > 0) {
    killPids(sessions, 'SIGTERM');
    killPids(waitGone(state.netns, listeners, 1000), 'SIGKILL');
  }
  if (runningPids(state.netns).length > 0) {
    killPids([...listeners], 'SIGTERM');
    const left = waitGone(state.netns, new Set(), 1000);
    if (left.length > 0) {
      killPids(left, 'SIGKILL');
      waitGone(state.netns, new Set(), 1000);
    }
  }
  const existing = new Set(netnsList());
  for (const ns of state.netns) if (existing.has(ns)) run('ip', ['netns', 'del', ns]);
  for (const v of state.veths) run('ip', ['link', 'del', v]);
  run('ip', ['link', 'del', state.bridge]);
  rmSync(state.dir, { recursive: true, force: true });
}

function cleanupAllSync(): void {
  for (const [key, state] of live) {
    try {
      cleanupSync(state);
    } catch {
      // best effort at exit
    }
    live.delete(key);
  }
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', cleanupAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      cleanupAllSync();
      // If nobody else handles the signal, restore its default action (terminate).
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal);
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

/** Removes what test processes that died without cleaning up left behind (their pid is gone). */
export function cleanupStale(): void {
  if (existsSync(STATE_ROOT)) {
    for (const entry of readdirSync(STATE_ROOT)) {
      const file = join(STATE_ROOT, entry, 'state.json');
      let state: SetState | undefined;
      try {
        state = JSON.parse(readFileSync(file, 'utf8')) as SetState;
      } catch {
        state = undefined;
      }
      const owner = state?.ownerPid ?? Number(entry.split('-')[0]);
      if (Number.isInteger(owner) && owner > 0 && pidAlive(owner)) continue;
      if (state) cleanupSync(state);
      else rmSync(join(STATE_ROOT, entry), { recursive: true, force: true });
    }
  }
  // Namespaces whose owner died before its state file was written.
  for (const ns of netnsList()) {
    const m = NS_RE.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    killPids(netnsPids(ns), 'SIGKILL');
    run('ip', ['netns', 'del', ns]);
  }
}

/** Namespaces and processes of this process's host sets still present (for leak assertions). */
export function leftovers(ownerPid = process.pid): { netns: string[]; pids: number[]; links: string[] } {
  const netns = netnsList().filter((n) => NS_RE.exec(n)?.[1] === String(ownerPid));
  const pids = netns.flatMap(netnsPids).filter(processRunning);
  const owned = [...live.values()].filter((s) => s.ownerPid === ownerPid);
  const names = new Set(owned.flatMap((s) => [s.bridge, ...s.veths]));
  const links = run('ip', ['-o', 'link', 'show'])
    .stdout.split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && names.has(n));
  return { netns, pids, links };
}

// ---------------------------------------------------------------------------------------------------------------
// Address range
// ---------------------------------------------------------------------------------------------------------------

function routedPrefixes(): [ipaddr.IPv4, number][] {
  const out: [ipaddr.IPv4, number][] = [];
  const r = run('ip', ['-4', 'route', 'show', 'table', 'all']);
  for (const line of r.stdout.split('\n')) {
    const words = line.trim().split(/\s+/);
    let dst = words[0];
    if (!dst) continue;
    if (['local', 'broadcast', 'unicast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw'].includes(dst)) dst = words[1] ?? '';
    if (!dst || dst === 'default') continue;
    try {
      const [addr, bits] = dst.includes('/') ? ipaddr.IPv4.parseCIDR(dst) : [ipaddr.IPv4.parse(dst), 32];
      out.push([addr, bits]);
    } catch {
      // not an IPv4 prefix
    }
  }
  for (const line of run('ip', ['-4', '-o', 'addr', 'show']).stdout.split('\n')) {
    const m = /inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line);
    if (m) out.push([ipaddr.IPv4.parse(m[1]), Number(m[2])]);
  }
  return out;
}

function overlaps(a: [ipaddr.IPv4, number], b: [ipaddr.IPv4, number]): boolean {
  const bits = Math.min(a[1], b[1]);
  return a[0].match(b[0], bits);
}

/** Picks `k` so that `<base>.<k>.0/24` overlaps no route/address, and reserves it by creating the bridge. */
function reserveSubnet(netBase: string): { k: number; bridge: string; subnet: string } {
  const start = (process.pid % 200) + 20;
  for (let j = 0; j < 234; j++) {
    const k = ((start - 20 + j) % 234) + 20;
    const subnet = `${netBase}.${k}.0/24`;
    const cand = ipaddr.IPv4.parseCIDR(subnet);
    if (routedPrefixes().some((p) => overlaps(p, cand))) continue;
    const bridge = `imtb${k}`;
    if (run('ip', ['link', 'add', bridge, 'type', 'bridge']).status !== 0) continue; // taken by a parallel run
    // Re-check after reserving: another tool could have added a route meanwhile.
    if (routedPrefixes().some((p) => overlaps(p, cand))) {
      run('ip', ['link', 'del', bridge]);
      continue;
    }
    return { k, bridge, subnet };
  }
  throw new Error(`No free /24 in ${netBase}.0.0/16 for SSH test hosts`);
}

// ---------------------------------------------------------------------------------------------------------------
// Hosts
// ---------------------------------------------------------------------------------------------------------------

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function startScript(o: { dir: string; name: string; ip: string; user: string; password: string; pubKey?: string }): string {
  const sshdConfig = [
    `ListenAddress ${o.ip}`,
    'Port 22',
    'PasswordAuthentication yes',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'PidFile none',
    'PermitRootLogin no',
    'UseDNS no',
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'Subsystem sftp internal-sftp',
  ].join('\n');
  return `#!/bin/sh
set -e
D=${shQuote(o.dir)}
mount --bind "$D/etc" /etc
mount --bind "$D/root" /root
mount --bind "$D/home" /home
mount -t tmpfs -o mode=1777,size=64m tmpfs /tmp
mount -t tmpfs -o mode=1777,size=64m tmpfs /var/tmp
mount -t tmpfs -o mode=755,size=16m tmpfs /run
mkdir -p /run/sshd
chmod 755 /run/sshd
hostname ${shQuote(o.name)}
echo ${shQuote(o.name)} > /etc/hostname
printf '127.0.0.1 localhost\\n${o.ip} ${o.name}\\n' > /etc/hosts
useradd -m -s /bin/bash ${shQuote(o.user)}
echo ${shQuote(`${o.user}:${o.password}`)} | chpasswd
mkdir -p /etc/sudoers.d
echo ${shQuote(`${o.user} ALL=(ALL) NOPASSWD:ALL`)} > /etc/sudoers.d/imtest
chmod 440 /etc/sudoers.d/imtest
${
  o.pubKey
    ? `mkdir -p /home/${o.user}/.ssh
echo ${shQuote(o.pubKey)} > /home/${o.user}/.ssh/authorized_keys
chmod 700 /home/${o.user}/.ssh
chmod 600 /home/${o.user}/.ssh/authorized_keys
chown -R ${o.user}: /home/${o.user}/.ssh`
    : ''
}
cat > /etc/ssh/sshd_config <<'EOF'
${sshdConfig}
EOF
exec /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config
`;
}

function waitPort(ip: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = connect({ host: ip, port });
      sock.setTimeout(1000);
      const retry = (why: string) => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`sshd on ${ip}:${port} did not answer: ${why}`));
        else setTimeout(attempt, 100);
      };
      sock.once('data', () => {
        sock.destroy();
        resolve();
      });
      sock.once('timeout', () => retry('timeout'));
      sock.once('error', (e) => retry(e.message));
    };
    attempt();
  });
}

function execIn(pid: number, cmd: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(pid), '-m', '-u', '-n', '--', 'sh', '-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
  });
}

let setSeq = 0;

/** Creates `n` SSH hosts (see the module comment). */
export async function createSshHosts(n: number, opts: SshHostsOptions = {}): Promise<SshHosts> {
  if (n < 1 || n > 200) throw new Error('createSshHosts: 1..200 hosts');
  const why = sshHostsUnsupportedReason();
  if (why) throw new Error(why);
  installExitHandlers();
  cleanupStale();

  const user = opts.user ?? DEFAULT_TEST_USER;
  const password = opts.password ?? DEFAULT_TEST_PASSWORD;
  const netBase = opts.netBase ?? '10.213';
  const withKey = opts.withKey ?? true;

  const { k, bridge, subnet } = reserveSubnet(netBase);
  const key = `${process.pid}-${k}-${setSeq++}`;
  const dir = join(STATE_ROOT, key);
  const state: SetState = { ownerPid: process.pid, k, bridge, netns: [], veths: [], dir };
  live.set(key, state);
  const saveState = () => writeFileSync(join(dir, 'state.json'), JSON.stringify(state));

  const hosts: SshHost[] = [];
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    saveState();
    const gateway = `${netBase}.${k}.1`;
    must('ip', ['addr', 'add', `${gateway}/24`, 'dev', bridge]);
    must('ip', ['link', 'set', bridge, 'up']);

    let privateKey: string | undefined;
    let publicKey: string | undefined;
    if (withKey) {
      must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `imtest-${key}`, '-f', join(dir, 'id_ed25519')]);
      privateKey = readFileSync(join(dir, 'id_ed25519'), 'utf8');
      publicKey = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8').trim();
    }

    const children: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const ns = `imt${process.pid}-${k}-${i}`;
      const veth = `imtv${k}x${i}`;
      const ip = `${netBase}.${k}.${10 + i}`;
      const hdir = join(dir, `h${i}`);
      state.netns.push(ns);
      state.veths.push(veth);
      saveState();

      must('ip', ['netns', 'add', ns]);
      must('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      must('ip', ['link', 'set', veth, 'master', bridge]);
      must('ip', ['link', 'set', veth, 'up']);
      must('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);

      mkdirSync(join(hdir, 'root'), { recursive: true, mode: 0o700 });
      mkdirSync(join(hdir, 'home'), { recursive: true, mode: 0o755 });
      must('cp', ['-a', '/etc', join(hdir, 'etc')]);
      const script = join(hdir, 'start.sh');
      writeFileSync(script, startScript({ dir: hdir, name: ns, ip, user, password, pubKey: publicKey }));
      chmodSync(script, 0o700);

      const child = spawn('ip', ['netns', 'exec', ns, 'unshare', '-m', '-u', '--propagation', 'private', 'sh', script], {
        stdio: ['ignore', 'ignore', 'pipe'],
        detached: true,
      });
      let errText = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        if (errText.length < 8000) errText += d;
      });
      child.unref();
      (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
      const host: SshHost = { name: ns, netns: ns, ip, port: 22, user, password, privateKey, publicKey, sshdPid: child.pid ?? -1 };
      hosts.push(host);
      state.sshdPids = hosts.map((h) => h.sshdPid);
      saveState();
      const exited = new Promise<never>((_, reject) =>
        child.once('exit', (code) => reject(new Error(`sshd of ${ns} exited (${code}): ${errText.trim()}`))),
      );
      exited.catch(() => undefined);
      children.push(Promise.race([waitPort(ip, 22, opts.startTimeoutMs ?? 15_000), exited]));
    }
    await Promise.all(children);
    return makeSet(hosts, state, gateway, subnet, key);
  } catch (err) {
    cleanupSync(state);
    live.delete(key);
    throw err;
  }
}

function makeSet(hosts: SshHost[], state: SetState, gateway: string, subnet: string, key: string): SshHosts {
  const pick = (h: SshHost | number) => (typeof h === 'number' ? hosts[h] : h);
  return {
    hosts,
    bridge: state.bridge,
    gateway,
    subnet,
    exec: (h, cmd) => execIn(pick(h).sshdPid, cmd),
    async readFile(h, path) {
      const r = await execIn(pick(h).sshdPid, `cat -- ${shQuote(path)}`);
      if (r.code !== 0) throw new Error(`readFile ${pick(h).name}:${path}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    stopSshd(h) {
      killPids([pick(h).sshdPid], 'SIGKILL');
    },
    async destroy() {
      if (!live.has(key)) return;
      cleanupSync(state);
      live.delete(key);
    },
  };
}
