/**
 * Runs ansible-playbook as a child process in its own process group (so that its forks, ssh and sshpass
 * children go with it), hands every stdout line to the caller as it comes, and kills the whole group at
 * the deadline or on abort (SIGTERM, SIGKILL 5 s later).
 */
import { spawn } from 'node:child_process';

export interface AnsibleRunOptions {
  bin: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Epoch ms after which the run is killed. */
  deadline: number;
  now: () => number;
  onStdoutLine: (line: string) => void;
  signal?: AbortSignal;
}

export interface AnsibleRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
  /** The last 16 kB of stderr. */
  stderr: string;
  /** Could not start at all (binary missing…). */
  spawnError?: string;
}

const KILL_GRACE_MS = 5000;
const STDERR_TAIL = 16_000;

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** Every ansible-playbook still running (killed when this process exits). */
const running = new Set<number>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const pid of running) killGroup(pid, 'SIGKILL');
  });
}

/** Kills every ansible-playbook process group still running (the runner got SIGTERM). */
export function killAllAnsible(): void {
  for (const pid of running) killGroup(pid, 'SIGKILL');
  running.clear();
}

export function runAnsible(o: AnsibleRunOptions): Promise<AnsibleRunResult> {
  installExitHook();
  return new Promise((resolve) => {
    let timedOut = false;
    let aborted = false;
    let stderr = '';
    let pending = '';
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const child = spawn(o.bin, o.args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid) running.add(child.pid);

    const stop = (why: 'timeout' | 'abort') => {
      if (why === 'timeout') timedOut = true;
      else aborted = true;
      killGroup(child.pid, 'SIGTERM');
      killTimer ??= setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS);
    };
    const remaining = Math.max(0, o.deadline - o.now());
    const deadlineTimer = setTimeout(() => stop('timeout'), remaining);
    const onAbort = () => stop('abort');
    if (o.signal?.aborted) stop('abort');
    o.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        o.onStdoutLine(line);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stderr.length > STDERR_TAIL * 2) stderr = stderr.slice(-STDERR_TAIL);
    });

    const finish = (r: Omit<AnsibleRunResult, 'timedOut' | 'aborted' | 'stderr'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadlineTimer);
      if (killTimer) clearTimeout(killTimer);
      o.signal?.removeEventListener('abort', onAbort);
      if (child.pid) running.delete(child.pid);
      // The group may still hold ssh/sshpass children of a killed run.
      if (timedOut || aborted) killGroup(child.pid, 'SIGKILL');
      if (pending) o.onStdoutLine(pending);
      resolve({ ...r, timedOut, aborted, stderr: stderr.slice(-STDERR_TAIL) });
    };
    child.once('error', (err) => finish({ code: null, signal: null, spawnError: err.message }));
    child.once('close', (code, signal) => finish({ code, signal }));
  });
}
