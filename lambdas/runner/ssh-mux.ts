/**
 * The SSH master connections of a run (ControlMaster / ControlPersist, one per host, shared by every
 * ansible-playbook of the run). A master backgrounds itself in a session of its own, so killing an
 * ansible-playbook's process group at the time limit leaves it running, holding its sessions on the VM
 * (and its ProxyCommand to the jump host). So the run closes them itself when it ends
 * (`ssh -O exit` on every socket of its control folder, then SIGKILL for a master still there), and
 * ControlPersist is short, for the masters of a runner that was killed outright.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Control folders of the runs still going (closed from the exit path of the process too). */
const active = new Set<string>();

export function registerControlDir(dir: string): void {
  active.add(dir);
}

function sockets(dir: string): string[] {
  if (!existsSync(dir)) return [];
  try {
    return readdirSync(dir).map((f) => join(dir, f));
  } catch {
    return [];
  }
}

const CHECK_RE = /pid=(\d+)/;

function ssh(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      resolve(err);
    };
    child.once('error', done);
    child.once('close', done);
  });
}

/**
 * Whether the process still runs. A master that exited stays a zombie until init reaps it (a backgrounded
 * master's parent is init, which in a container may take seconds): a zombie counts as gone.
 */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    if (existsSync('/proc/self/stat')) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Closes every SSH master whose socket is in `dir`; resolves when they are gone (at most ~timeoutMs). */
export async function closeMasters(dir: string, timeoutMs = 3000): Promise<number> {
  active.delete(dir);
  const socks = sockets(dir);
  const pids: number[] = [];
  await Promise.all(
    socks.map(async (sock) => {
      const check = await ssh(['-o', `ControlPath=${sock}`, '-O', 'check', 'im-ctxt'], timeoutMs);
      const pid = Number(CHECK_RE.exec(check)?.[1]);
      if (pid > 0) pids.push(pid);
      await ssh(['-o', `ControlPath=${sock}`, '-O', 'exit', 'im-ctxt'], timeoutMs);
    }),
  );
  const until = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  for (const pid of pids) if (alive(pid)) kill(pid);
  return pids.length;
}

/** The synchronous form, for the exit path of the process (SIGTERM of the task). */
export function closeAllMastersSync(): void {
  for (const dir of active) {
    for (const sock of sockets(dir)) {
      const check = spawnSync('ssh', ['-o', `ControlPath=${sock}`, '-O', 'check', 'im-ctxt'], { encoding: 'utf8', timeout: 2000 });
      const pid = Number(CHECK_RE.exec(check.stderr ?? '')?.[1]);
      if (pid > 0) kill(pid);
    }
  }
  active.clear();
}
