/**
 * The local stand-in of the contextualize flow's ECS task (`arn:aws:states:::ecs:runTask.sync`): runs the
 * same entry point as the Fargate container, lambdas/runner/main.ts, as a child process (node + tsx's loader), with the
 * container overrides' environment (INF_ID, CTXT_INPUT) on top of the local mode's (DynamoDB Local
 * endpoint, table, IM options). Resolves like a stopped ECS task when the runner exits 0; otherwise rejects
 * with a `States.TaskFailed` error whose message says the exit code and the end of the runner's output,
 * so that the state machine's Catch marks the VMs unconfigured.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface LocalRunTaskOptions {
  /** Environment of the runner (the container's): DYNAMODB_ENDPOINT, TABLE_NAME, IM options… */
  env: Record<string, string | undefined>;
  /** Runner command (default: node_modules/.bin/tsx lambdas/runner/main.ts). */
  command?: string[];
  /** Where the runner's JSON log lines go (default: this process's stdout). */
  onOutput?: (text: string) => void;
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TSX_LOADER = fileURLToPath(new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url));
const OUTPUT_TAIL = 4000;

/** Every runner child still running: killed when this process exits. */
const children = new Set<ChildProcess>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const c of children) c.kill('SIGTERM');
  });
}

/** The `Environment` of the first container override of RunTask parameters, as a record. */
export function overrideEnvironment(params: unknown): Record<string, string> {
  const overrides = (params as { Overrides?: { ContainerOverrides?: { Environment?: { Name?: unknown; Value?: unknown }[] }[] } } | null)?.Overrides;
  const out: Record<string, string> = {};
  for (const e of overrides?.ContainerOverrides?.[0]?.Environment ?? []) {
    if (typeof e.Name === 'string' && e.Value !== undefined && e.Value !== null) out[e.Name] = String(e.Value);
  }
  return out;
}

/** The error of the runner's last ERROR log line (JSON), else the last line of its output. */
export function failureReason(output: string): string {
  const lines = output.trim().split('\n').filter(Boolean);
  for (const line of lines.reverse()) {
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string; error?: { message?: string } };
      if (e.level === 'ERROR') return e.error?.message ? `${e.msg}: ${e.error.message}` : (e.msg ?? line);
    } catch {
      // not a log line
    }
  }
  return lines[0] ?? 'no output';
}

let setprivFound: boolean | undefined;
function hasSetpriv(): boolean {
  setprivFound ??= spawnSync('setpriv', ['--version']).status === 0;
  return setprivFound;
}

function defaultCommand(): string[] {
  // One process (node with tsx's loader, not the tsx CLI, which forks): the parent-death signal reaches the runner itself.
  return existsSync(TSX_LOADER) ? [process.execPath, '--import', pathToFileURL(TSX_LOADER).href, MAIN] : ['npx', 'tsx', MAIN];
}

/** Runs the runner for the RunTask parameters; resolves with an ECS-like description of the stopped task. */
export function localRunTask(params: unknown, opts: LocalRunTaskOptions): Promise<Record<string, unknown>> {
  installExitHook();
  const [cmd, ...args] = opts.command ?? defaultCommand();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env, ...overrideEnvironment(params) })) if (v !== undefined) env[k] = v;
  const write = opts.onOutput ?? ((t: string) => process.stdout.write(t));
  return new Promise((resolve, reject) => {
    // The runner dies with local mode even on SIGKILL (parent-death signal): a restart resumes the
    // contextualization, and no orphan keeps writing meanwhile.
    const [exe, argv] = process.platform === 'linux' && hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
    const child = spawn(exe, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let tail = '';
    const keep = (t: string) => {
      tail = (tail + t).slice(-OUTPUT_TAIL);
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      keep(d);
      write(d);
    });
    child.stderr?.setEncoding('utf8').on('data', keep);
    child.once('error', (err) => {
      children.delete(child);
      const e = new Error(`The contextualization runner could not start: ${err.message}`);
      e.name = 'States.TaskFailed';
      reject(e);
    });
    child.once('close', (code, signal) => {
      children.delete(child);
      if (code === 0) {
        resolve({ Tasks: [{ LastStatus: 'STOPPED', StopCode: 'EssentialContainerExited', Containers: [{ Name: 'runner', ExitCode: 0 }] }] });
        return;
      }
      const e = new Error(`The contextualization runner failed (${signal ? `signal ${signal}` : `exit code ${code}`}): ${failureReason(tail)}`);
      e.name = 'States.TaskFailed';
      reject(e);
    });
  });
}
