/**
 * One contextualization run of an infrastructure (lifecycle.md §3, ARCHITECTURE §4).
 *
 *  1. Load the infrastructure and its VMs; plan the steps (plan.ts). Disabled → VMs configured, done.
 *  2. Claim the run (`ctxtRunId`; an older runner that sees another id stops), select the master VM,
 *     mark the VMs `running`.
 *  3. Write the work folder: ansible.cfg, the callback plugin, the inventory, keys, playbooks.
 *  4. Run the basic playbook on every VM, then each step's playbooks (one ansible-playbook per system
 *     of the step, in parallel), each retried PLAYBOOK_RETRIES times in all for the hosts that failed.
 *     A VM whose step failed skips its later steps. The per-VM output streams into the VM logs.
 *  5. Enforce the contextualize max_time (or MAX_CONTEXTUALIZATION_TIME): `ERROR: Max contextualization
 *     time passed.`, unfinished VMs unconfigured.
 *  6. Write each VM's ctxtState (ok → configured, failed → unconfigured) with conditional writes.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Config } from '#core/config';
import { errors } from '#core/errors';
import type { CtxtState, InfraRecord, InfrastructureStore, Logger, VmRecord } from '#core/types';
import { applyVmState, parseVmInfo, refineState, vmInfoWith, vmSystem } from '#core/vm-refresh';
import { parseRadlJson, type Radl } from '#radl/index';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { runAnsible, type AnsibleRunResult } from '#runner/ansible';
import { AnsibleOutputParser } from '#runner/ansible-output';
import { CALLBACK_PLUGIN_NAME, CALLBACK_PLUGIN_SOURCE } from '#runner/callback-plugin';
import { buildInventory, type FileToWrite, type MasterNames } from '#runner/inventory';
import { LogSink } from '#runner/log-sink';
import { nodeFromVm, parseProxyHost, selectMaster, type CtxtNode, type JumpHost } from '#runner/nodes';
import { planContextualization, type CtxtPlan, type PlanTask } from '#runner/plan';
import { UTILS_TASKS } from '#runner/utils-tasks';
import { ansibleCfg, basicPlaybook, dumpPlaybook, galaxyRequirements, packageName, recipePlays, taskHeader, type Play } from '#runner/playbooks';
import { dumpYaml } from '#runner/yaml';

export interface RunnerServices {
  store: InfrastructureStore;
  config: Config;
  logger: Logger;
  now?: () => number;
  /** ansible-playbook command (default `ansible-playbook`, or env ANSIBLE_PLAYBOOK_BIN). */
  ansiblePlaybook?: string;
  /** ansible-galaxy command (default `ansible-galaxy`). */
  ansibleGalaxy?: string;
  /** Parent of the private work folder (default the OS temp folder, or env IM_CTXT_WORK_ROOT). */
  workRoot?: string;
  /** Keep the work folder (debugging). */
  keepWorkDir?: boolean;
  /** Milliseconds between log appends per VM (default 1000). */
  logIntervalMs?: number;
  /** Milliseconds between checks that this run was not superseded (default 5000). */
  superviseIntervalMs?: number;
  /** ssh connection timeout in seconds for Ansible (default 30). */
  sshTimeout?: number;
  /** Pause between playbook attempts, ms (default 2000). */
  retryDelayMs?: number;
}

/**
 * What to contextualize. Every live, running VM of the infrastructure takes part (IM contextualizes the
 * whole infrastructure after adding or removing VMs and on Reconfigure), and `vmIds` means:
 *  - with `reconfigure`: Reconfigure's vm_list, the VMs that run the user configure steps (every VM still
 *    runs the basic play, which refreshes /etc/hosts);
 *  - without (the launch flow): the VMs just launched; those whose SSH wait failed (ctxtState `failed`)
 *    or never happened (`none`) are left out, with the state the launch gave them.
 */
export interface RunInput {
  infId: string;
  vmIds?: number[];
  reconfigure?: boolean;
}

export interface VmOutcome {
  vmId: number;
  ctxtState: CtxtState;
}

export interface RunResult {
  infId: string;
  runId: string;
  disabled: boolean;
  timedOut: boolean;
  /** A newer run (or the deletion of the infrastructure) stopped this one; no final state was written. */
  superseded: boolean;
  /** An infrastructure-level error (no master VM…); every VM ended unconfigured. */
  error?: string;
  vms: VmOutcome[];
  durationMs: number;
}

export const MAX_TIME_MSG = 'ERROR: Max contextualization time passed.';

/**
 * Cloud types whose VMs are simulated and never contacted over the network (the Dummy connector's
 * `simulated` flag); the contextualize flow's prepare step marks them unconfigured.
 */
const SIMULATED_CLOUDS = new Set(['Dummy']);

/** States whose VMs take no part (IM's NOT_RUNNING_STATES and failed launches). */
const NOT_RUNNING = new Set(['pending', 'failed', 'off', 'stopped', 'deleting', 'unknown']);

/** `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), as IM writes its log lines. */
export function logTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return (
    `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000`
  );
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class Aborted extends Error {}

/** The contextualization of one infrastructure (see the module comment). */
export async function contextualize(input: RunInput, services: RunnerServices): Promise<RunResult> {
  const run = new Run(input, services);
  return run.execute();
}

class Run {
  private readonly now: () => number;
  private readonly store: InfrastructureStore;
  private readonly config: Config;
  private readonly logger: Logger;
  private readonly runId = randomUUID();
  private readonly t0: number;
  private deadline = 0;
  private readonly abort = new AbortController();
  private log!: LogSink;
  private workDir = '';
  private timedOut = false;
  private superseded = false;
  private readonly failed = new Map<number, string>();
  private readonly done = new Set<number>();
  private nodes: CtxtNode[] = [];
  private hostNames = new Map<number, string>();
  private byHost = new Map<string, number>();
  private radl!: Radl;
  private master?: CtxtNode;
  private ansibleHostJump?: JumpHost;
  private masterNames?: MasterNames;
  private infRecord?: InfraRecord;

  constructor(
    private readonly input: RunInput,
    private readonly services: RunnerServices,
  ) {
    this.now = services.now ?? Date.now;
    this.store = services.store;
    this.config = services.config;
    this.logger = services.logger;
    this.t0 = this.now();
  }

  private infLog(msg: string): void {
    this.log.write('inf', `${logTimestamp(this.now())}: ${msg}\n`);
  }

  private vmLog(vmId: number, msg: string): void {
    this.log.write(vmId, `${logTimestamp(this.now())}: ${msg}\n`);
  }

  private fail(vmId: number, reason: string): void {
    if (!this.failed.has(vmId)) this.failed.set(vmId, reason);
  }

  private result(extra: Partial<RunResult> & { vms: VmOutcome[] }): RunResult {
    return {
      infId: this.input.infId,
      runId: this.runId,
      disabled: false,
      timedOut: this.timedOut,
      superseded: this.superseded,
      durationMs: this.now() - this.t0,
      ...extra,
    };
  }

  async execute(): Promise<RunResult> {
    const { infId } = this.input;
    this.log = new LogSink(this.store, infId, this.logger, { intervalMs: this.services.logIntervalMs ?? 1000 });
    const inf = await this.store.getInfrastructure(infId);
    if (!inf || inf.status !== 'active') throw errors.infNotFound();
    this.infRecord = inf;
    this.radl = parseRadlJson(inf.radl);
    const maxTime = this.radl.contextualize?.maxTime ?? this.config.MAX_CONTEXTUALIZATION_TIME;
    this.deadline = this.t0 + maxTime * 1000;

    const vms = (await this.store.listVms(infId)).filter((v) => !v.destroyed && !v.deleting && !(v.state === 'failed' && !v.providerId));
    const launched = new Set(this.input.reconfigure ? [] : (this.input.vmIds ?? []));
    const eligible: VmRecord[] = [];
    for (const vm of vms) {
      if (launched.has(vm.vmId) && (vm.ctxtState === 'failed' || vm.ctxtState === 'none')) continue;
      if (SIMULATED_CLOUDS.has(vm.cloudType)) continue;
      if (NOT_RUNNING.has(vm.state)) {
        this.infLog(`WARNING: The VM ID: ${vm.vmId} is not running, do not include in the contextualization agent.`);
      } else eligible.push(vm);
    }
    const plan = planContextualization(this.radl, eligible, this.input.reconfigure ? this.input.vmIds : undefined);
    for (const w of plan.warnings) this.infLog(w);

    await this.claim();
    const supervisor = setInterval(() => void this.supervise(), this.services.superviseIntervalMs ?? 5000);
    try {
      if (plan.disabled) return await this.disabled(eligible);
      return await this.enabled(plan, eligible);
    } catch (err) {
      if (err instanceof Aborted || this.superseded) {
        return this.result({ vms: [] });
      }
      await this.failRunning(err);
      throw err;
    } finally {
      clearInterval(supervisor);
      await this.log.flush();
      if (this.workDir && !this.services.keepWorkDir) rmSync(this.workDir, { recursive: true, force: true });
    }
  }

  /** Records this run as the newest one. */
  private async claim(): Promise<void> {
    await mutateInfrastructure(this.store, this.input.infId, () => ({ ctxtRunId: this.runId }));
  }

  /** Stops this run when the infrastructure is gone or a newer run claimed it. */
  private async supervise(): Promise<void> {
    if (this.abort.signal.aborted) return;
    try {
      const inf = await this.store.getInfrastructure(this.input.infId);
      if (!inf || inf.status !== 'active' || (inf.ctxtRunId !== undefined && inf.ctxtRunId !== this.runId)) {
        this.superseded = true;
        this.logger.info('Contextualization run superseded or infrastructure deleted: stopping', { infId: this.input.infId, runId: this.runId });
        this.abort.abort();
      }
    } catch (err) {
      this.logger.warn('Error checking the contextualization run', { infId: this.input.infId, error: err });
    }
  }

  private checkAbort(): void {
    if (this.abort.signal.aborted) throw new Aborted('aborted');
  }

  private async disabled(eligible: VmRecord[]): Promise<RunResult> {
    this.infLog('Contextualization disabled by the RADL/TOSCA template.');
    await this.supervise();
    this.checkAbort();
    const outcomes = await Promise.all(eligible.map((vm) => this.finalWrite(vm.vmId, 'disabled', undefined)));
    await this.setInfra({ configured: true });
    return this.result({ disabled: true, vms: outcomes.filter((o): o is VmOutcome => !!o) });
  }

  private async enabled(plan: CtxtPlan, eligible: VmRecord[]): Promise<RunResult> {
    const disabledSet = new Set(plan.disabledVms);
    const outcomes: VmOutcome[] = [];
    for (const vmId of plan.disabledVms) this.vmLog(vmId, 'Contextualization disabled');
    outcomes.push(...(await Promise.all(plan.disabledVms.map((id) => this.finalWrite(id, 'disabled', undefined)))).filter((o): o is VmOutcome => !!o));

    // Nodes (VMs whose RADL cannot be read fail alone).
    const all: CtxtNode[] = [];
    for (const vm of eligible) {
      try {
        all.push(nodeFromVm(vm, this.config));
      } catch (err) {
        this.fail(vm.vmId, `ERROR: reading the VM information: ${errText(err)}`);
      }
    }
    const ctxtIds = new Set(plan.ctxtVms);
    this.nodes = all.filter((n) => ctxtIds.has(n.vmId));
    for (const n of this.nodes) {
      if (!n.ip) {
        this.infLog(`WARNING: The VM ID: ${n.vmId} does not have an IP, do not include in the contextualization agent.`);
        this.fail(n.vmId, 'ERROR: The VM does not have an IP.');
      }
    }
    await Promise.all(this.nodes.map((n) => this.markRunning(n.vmId)));

    let infraError: string | undefined;
    try {
      this.selectMaster(this.infRecord, all);
    } catch (err) {
      infraError = errText(err);
    }
    if (!infraError) {
      try {
        this.prepareWorkDir(all);
        await this.installGalaxy(all);
        await this.runBasic(all);
        await this.runSteps(plan);
      } catch (err) {
        if (err instanceof Aborted) throw err;
        infraError = `Error in the contextualization process: ${errText(err)}`;
        this.logger.error('Contextualization error', { infId: this.input.infId, error: err });
      }
    }
    this.checkAbort();

    if (infraError) {
      this.infLog(infraError.startsWith('Contextualization Error') ? infraError : `ERROR: ${infraError}`);
      for (const n of this.nodes) this.fail(n.vmId, infraError.startsWith('Contextualization Error') ? infraError : `ERROR: ${infraError}`);
    }
    if (this.timedOut) this.infLog(MAX_TIME_MSG);
    for (const n of this.nodes) if (!this.failed.has(n.vmId) && !this.done.has(n.vmId)) this.fail(n.vmId, MAX_TIME_MSG);
    for (const [id, reason] of this.failed) if (!disabledSet.has(id)) this.vmLog(id, reason);
    for (const n of this.nodes) if (!this.failed.has(n.vmId)) this.vmLog(n.vmId, 'Contextualization process finished successfully.');
    this.infLog(infraError ? 'Contextualization finished with errors.' : 'Contextualization process finished.');
    await this.log.flush();

    // A newer run may have claimed the infrastructure meanwhile: then it writes the states.
    await this.supervise();
    this.checkAbort();
    const infConfigured = infraError ? false : undefined;
    await this.setInfra({ configured: !infraError, ...(this.master ? { vmMaster: this.master.vmId } : {}) });
    const ids = eligible.map((v) => v.vmId).filter((id) => !disabledSet.has(id));
    const written = await Promise.all(ids.map((id) => this.finalWrite(id, this.failed.has(id) ? 'failed' : 'ok', infConfigured)));
    outcomes.push(...written.filter((o): o is VmOutcome => !!o));
    outcomes.sort((a, b) => a.vmId - b.vmId);
    return this.result({ vms: outcomes, ...(infraError ? { error: infraError } : {}) });
  }

  /** After an unexpected error: the VMs this run marked running end unconfigured (best effort). */
  private async failRunning(err: unknown): Promise<void> {
    try {
      const msg = `ERROR: contextualization agent error: ${errText(err)}`;
      this.infLog(msg);
      for (const n of this.nodes) this.vmLog(n.vmId, msg);
      await Promise.all(this.nodes.map((n) => this.writeVm(n.vmId, 'failed', undefined)));
    } catch (e) {
      this.logger.error('Error marking the VMs unconfigured after a runner error', { infId: this.input.infId, error: e });
    }
  }

  // ---- master and jump hosts -------------------------------------------------------------------

  private selectMaster(infRecord: InfraRecord | undefined, all: CtxtNode[]): void {
    const ah = this.radl.ansibleHosts[0];
    if (ah) {
      const host = ah.getString('host') ?? '';
      const user = ah.getString('credentials.username') ?? 'root';
      const jump: JumpHost = { host, port: 22, user, label: `ansible host ${ah.id}` };
      const pw = ah.getString('credentials.password');
      const key = ah.getString('credentials.private_key');
      if (pw) jump.password = pw;
      if (key) jump.privateKey = key;
      const parsed = parseProxyHost(host);
      if (parsed) {
        jump.host = parsed.host;
        jump.port = parsed.port;
      }
      this.ansibleHostJump = jump;
      this.masterNames = { hostname: host, domain: '', fqdn: host };
      this.infLog(`Using ansible host: ${host}`);
      return;
    }
    this.infLog('Select master VM');
    const ctxtIds = new Set(this.nodes.map((n) => n.vmId));
    const master = selectMaster(all, (n) => ctxtIds.has(n.vmId) && !this.failed.has(n.vmId), infRecord?.vmMaster);
    if (!master) {
      throw new Error('Contextualization Error: No correct Master VM found. Check if there a linux VM with Public IP.');
    }
    this.master = master;
    this.masterNames = { hostname: master.hostname, domain: master.domain, fqdn: master.fqdn };
    this.infLog(`Master VM: ${master.vmId} (${master.publicIp ?? master.ip})`);
  }

  private jumpFor(node: CtxtNode): JumpHost | undefined {
    if (node.publicIp) return undefined;
    if (node.proxy) return node.proxy;
    if (this.ansibleHostJump) return this.ansibleHostJump;
    const m = this.master;
    if (!m || m.vmId === node.vmId || !m.publicIp || !m.creds.user) return undefined;
    const j: JumpHost = { host: m.publicIp, port: m.sshPort, user: m.creds.user, label: `master VM ${m.vmId}` };
    if (m.creds.password) j.password = m.creds.password;
    if (m.creds.privateKey) j.privateKey = m.creds.privateKey;
    return j;
  }

  // ---- work folder -----------------------------------------------------------------------------

  private writeFiles(files: FileToWrite[]): void {
    for (const f of files) {
      mkdirSync(dirname(f.path), { recursive: true, mode: 0o700 });
      writeFileSync(f.path, f.content, { mode: f.mode });
      chmodSync(f.path, f.mode);
    }
  }

  private prepareWorkDir(all: CtxtNode[]): void {
    const root = this.services.workRoot ?? process.env.IM_CTXT_WORK_ROOT ?? tmpdir();
    mkdirSync(root, { recursive: true });
    this.workDir = mkdtempSync(join(root, 'im-ctxt-'));
    chmodSync(this.workDir, 0o700);
    for (const d of ['facts', 'cp', 'tmp', 'roles', 'collections', 'keys', 'callback_plugins']) mkdirSync(join(this.workDir, d), { mode: 0o700 });
    this.writeFiles([
      { path: join(this.workDir, 'callback_plugins', `${CALLBACK_PLUGIN_NAME}.py`), content: CALLBACK_PLUGIN_SOURCE, mode: 0o600 },
      {
        path: join(this.workDir, 'ansible.cfg'),
        content: ansibleCfg({
          workDir: this.workDir,
          forks: Math.max(this.nodes.length, 5),
          timeout: this.services.sshTimeout ?? 30,
          callbackDir: join(this.workDir, 'callback_plugins'),
          callbackName: CALLBACK_PLUGIN_NAME,
        }),
        mode: 0o600,
      },
    ]);
    // utils/tasks/… files that TOSCA recipes include (as IM's contextualization ships them).
    this.writeFiles(Object.entries(UTILS_TASKS).map(([name, content]) => ({ path: join(this.workDir, 'utils', 'tasks', name), content, mode: 0o600 })));
    this.infLog('Generating YAML, hosts and inventory files.');
    this.writeInventory(all);
    for (const n of this.nodes) {
      for (const app of n.applications) {
        const pkg = packageName(app);
        if (pkg) this.infLog(`App: ${app.name} set to be installed.`);
      }
    }
  }

  private inventoryPath(): string {
    return join(this.workDir, 'hosts.yml');
  }

  private writeInventory(all: CtxtNode[]): void {
    const inv = buildInventory({
      infId: this.input.infId,
      nodes: all.filter((n) => !!n.ip),
      master: this.masterNames,
      jumpFor: (n) => this.jumpFor(n),
      keyDir: join(this.workDir, 'keys'),
      infraRadl: this.radl,
      connectTimeout: this.services.sshTimeout ?? 30,
    });
    this.writeFiles([...inv.files, { path: this.inventoryPath(), content: inv.yaml, mode: 0o600 }]);
    this.hostNames = inv.hostNames;
    this.byHost = new Map([...inv.hostNames].map(([id, name]) => [name, id]));
  }

  private async installGalaxy(all: CtxtNode[]): Promise<void> {
    const req = galaxyRequirements(this.nodes.length > 0 ? this.nodes : all);
    if (req.roles.length === 0 && req.collections.length === 0) return;
    for (const r of req.roles) this.infLog(`Galaxy role ${r.name ?? r.src} detected setting to install.`);
    for (const c of req.collections) this.infLog(`Galaxy collection ${c.name} detected setting to install.`);
    const file = join(this.workDir, 'requirements.yml');
    this.writeFiles([{ path: file, content: dumpYaml(req), mode: 0o600 }]);
    const bin = this.services.ansibleGalaxy ?? process.env.ANSIBLE_GALAXY_BIN ?? 'ansible-galaxy';
    const deadline = Math.min(this.deadline, this.now() + this.config.ANSIBLE_INSTALL_TIMEOUT * 1000);
    const steps: [string, string[]][] = [];
    if (req.roles.length > 0) steps.push(['roles', ['role', 'install', '-r', file, '-p', join(this.workDir, 'roles')]]);
    if (req.collections.length > 0) steps.push(['collections', ['collection', 'install', '-r', file, '-p', join(this.workDir, 'collections')]]);
    for (const [what, args] of steps) {
      let out = '';
      const r = await runAnsible({
        bin,
        args,
        cwd: this.workDir,
        env: this.env(),
        deadline,
        now: this.now,
        signal: this.abort.signal,
        onStdoutLine: (l) => {
          if (out.length < 8000) out += `${l}\n`;
        },
      });
      this.checkAbort();
      if (r.code !== 0) this.infLog(`ERROR: installing the Galaxy ${what}: ${(r.spawnError ?? r.stderr ?? out).trim().slice(-2000)}`);
    }
  }

  /**
   * The environment of ansible-playbook: inherited ANSIBLE_* settings are dropped (they would override
   * the generated ansible.cfg, e.g. another stdout callback), then the run's own are set.
   */
  private env(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ANSIBLE_')));
    return {
      ...inherited,
      ANSIBLE_CONFIG: join(this.workDir, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      PYTHONUNBUFFERED: '1',
      ANSIBLE_LOCAL_TEMP: join(this.workDir, 'tmp'),
    };
  }

  // ---- playbook runs ---------------------------------------------------------------------------

  /**
   * Runs a playbook on `nodes` (limit), retrying the hosts that failed; returns the ids that still failed.
   * Output goes to the VM logs as it comes.
   */
  private async runPlaybook(label: string, playbook: string, nodes: CtxtNode[], vaultFile?: string): Promise<Map<number, string>> {
    const attempts = Math.max(1, this.config.PLAYBOOK_RETRIES);
    let pending = nodes.filter((n) => this.hostNames.has(n.vmId));
    const lastTask = new Map<number, string>();
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
      this.checkAbort();
      if (this.now() >= this.deadline) {
        this.timedOut = true;
        break;
      }
      if (attempt > 1) {
        for (const n of pending) this.vmLog(n.vmId, `Playbook ${label} failed. Retrying (attempt ${attempt} of ${attempts}).`);
        await new Promise((r) => setTimeout(r, this.services.retryDelayMs ?? 2000));
      }
      const names = pending.map((n) => this.hostNames.get(n.vmId) as string);
      const parser = new AnsibleOutputParser(() => logTimestamp(this.now()));
      const args = ['-i', this.inventoryPath(), playbook, '--limit', names.join(',')];
      if (vaultFile) args.push('--vault-password-file', vaultFile);
      const res: AnsibleRunResult = await runAnsible({
        bin: this.services.ansiblePlaybook ?? process.env.ANSIBLE_PLAYBOOK_BIN ?? 'ansible-playbook',
        args,
        cwd: this.workDir,
        env: this.env(),
        deadline: this.deadline,
        now: this.now,
        signal: this.abort.signal,
        onStdoutLine: (line) => {
          for (const chunk of parser.line(line)) {
            if (chunk.host === '*') for (const n of pending) this.log.write(n.vmId, chunk.text);
            else {
              const id = this.byHost.get(chunk.host);
              if (id !== undefined) this.log.write(id, chunk.text);
            }
          }
        },
      });
      this.checkAbort();
      if (res.timedOut) this.timedOut = true;
      const stillFailed = pending.filter((n) => !parser.succeeded(this.hostNames.get(n.vmId) as string));
      for (const n of stillFailed) lastTask.set(n.vmId, parser.lastTask(this.hostNames.get(n.vmId) as string) ?? label);
      if (res.spawnError) {
        for (const n of pending) this.vmLog(n.vmId, `ERROR: cannot run ansible-playbook: ${res.spawnError}`);
      } else if (!parser.stats && !res.timedOut) {
        const err = res.stderr.trim() || `ansible-playbook exited with code ${res.code}`;
        for (const n of pending) {
          if (!parser.announced(this.hostNames.get(n.vmId) as string)) this.vmLog(n.vmId, `Launch task: ${label}`);
          this.log.write(n.vmId, `${err}\n`);
        }
      } else if (stillFailed.length > 0 && /ERROR!/.test(res.stderr)) {
        for (const n of stillFailed) this.log.write(n.vmId, `${res.stderr.trim()}\n`);
      }
      pending = stillFailed;
      if (res.timedOut) break;
    }
    return new Map(pending.map((n) => [n.vmId, lastTask.get(n.vmId) ?? label]));
  }

  private async runBasic(all: CtxtNode[]): Promise<void> {
    const targets = this.nodes.filter((n) => !this.failed.has(n.vmId) && n.os !== 'windows');
    if (targets.length === 0) return;
    const playbook = join(this.workDir, 'basic_task_all.yml');
    this.writeFiles([
      {
        path: playbook,
        content: basicPlaybook({
          nodes: targets,
          allNodes: all.filter((n) => !!n.ip),
          hostNames: this.hostNames,
          masterVmId: this.master?.vmId,
          sshWaitTimeout: Math.min(this.config.WAIT_SSH_ACCCESS_TIMEOUT, 600),
        }),
        mode: 0o600,
      },
    ]);
    const failed = await this.runPlaybook('basic', playbook, targets);
    for (const [id, task] of failed) this.fail(id, this.timedOut ? MAX_TIME_MSG : `ERROR: task ${task} failed.`);
    // New credentials are now the current ones: persist them and use them from here on.
    const changed = targets.filter((n) => !failed.has(n.vmId) && (n.newCreds.password || n.newCreds.privateKey));
    for (const n of changed) {
      if (n.newCreds.password) n.creds.password = n.newCreds.password;
      if (n.newCreds.privateKey) {
        n.creds.privateKey = n.newCreds.privateKey;
        n.creds.publicKey = n.newCreds.publicKey;
      }
      n.newCreds = {};
      await this.persistCredentials(n);
    }
    if (changed.length > 0) this.writeInventory(all);
  }

  private async runSteps(plan: CtxtPlan): Promise<void> {
    const nodeById = new Map(this.nodes.map((n) => [n.vmId, n]));
    const remaining = new Map<number, number>();
    for (const s of plan.steps) for (const t of s.tasks) for (const id of t.vmIds) remaining.set(id, (remaining.get(id) ?? 0) + 1);
    for (const n of this.nodes) if (!remaining.has(n.vmId) && !this.failed.has(n.vmId)) this.done.add(n.vmId);

    for (const [idx, step] of plan.steps.entries()) {
      this.checkAbort();
      if (this.timedOut || this.now() >= this.deadline) {
        this.timedOut = true;
        return;
      }
      const bySystem = new Map<string, PlanTask[]>();
      for (const t of step.tasks) bySystem.set(t.system, [...(bySystem.get(t.system) ?? []), t]);
      await Promise.all(
        [...bySystem].map(async ([system, tasks]) => {
          const ids = [...new Set(tasks.flatMap((t) => t.vmIds))].filter((id) => !this.failed.has(id) && nodeById.has(id));
          const nodes = ids.map((id) => nodeById.get(id) as CtxtNode);
          if (nodes.length === 0) return;
          const os = nodes[0].os;
          const plays: Play[] = [];
          for (const t of tasks) {
            try {
              plays.push(...recipePlays(this.radl.getConfigureByName(t.configure)?.recipes ?? '', taskHeader(t.name, system, os), nodes[0].vaultPassword));
            } catch (err) {
              for (const n of nodes) {
                this.vmLog(n.vmId, `Launch task: ${t.name}`);
                this.fail(n.vmId, `ERROR: in configure ${t.configure}: ${errText(err)}`);
              }
              return;
            }
          }
          const base = `step${idx}_${system.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
          const playbook = join(this.workDir, `${base}.yml`);
          const files: FileToWrite[] = [{ path: playbook, content: dumpPlaybook(plays), mode: 0o600 }];
          let vaultFile: string | undefined;
          if (nodes[0].vaultPassword) {
            vaultFile = join(this.workDir, 'keys', `${base}.vault`);
            files.push({ path: vaultFile, content: nodes[0].vaultPassword, mode: 0o600 });
          }
          this.writeFiles(files);
          const failed = await this.runPlaybook(tasks.map((t) => t.name).join(','), playbook, nodes, vaultFile);
          for (const n of nodes) {
            const failedTask = failed.get(n.vmId);
            if (failedTask !== undefined) {
              this.fail(n.vmId, this.timedOut ? MAX_TIME_MSG : `ERROR: task ${failedTask} failed.`);
              continue;
            }
            const left = (remaining.get(n.vmId) ?? 0) - tasks.filter((t) => t.vmIds.includes(n.vmId)).length;
            remaining.set(n.vmId, left);
            if (left <= 0) this.done.add(n.vmId);
          }
        }),
      );
    }
  }

  // ---- store writes ----------------------------------------------------------------------------

  private async setInfra(patch: Partial<InfraRecord>): Promise<void> {
    await mutateInfrastructure(this.store, this.input.infId, (cur) => (cur.ctxtRunId === this.runId ? patch : undefined));
  }

  private async markRunning(vmId: number): Promise<void> {
    await this.writeVm(vmId, 'running', undefined);
  }

  /** Writes the ctxtState (and the refined state into the VM RADL); undefined when the VM is gone. */
  private async finalWrite(vmId: number, ctxtState: CtxtState, infConfigured: boolean | undefined): Promise<VmOutcome | undefined> {
    const ok = await this.writeVm(vmId, ctxtState, infConfigured);
    return ok ? { vmId, ctxtState } : undefined;
  }

  private async writeVm(vmId: number, ctxtState: CtxtState, infConfigured: boolean | undefined): Promise<boolean> {
    try {
      await mutateVm(this.store, this.input.infId, vmId, (vm) => {
        if (vm.destroyed || vm.deleting) return undefined;
        const state = refineState(vm.state, ctxtState, infConfigured);
        const radl = parseVmInfo(vm);
        const system = vmSystem(radl, vm).clone();
        applyVmState(system, state, vm.vmId);
        return { ctxtState, state, info: vmInfoWith(radl, system) };
      });
      return true;
    } catch (err) {
      this.logger.warn('Error writing the contextualization state of a VM', { infId: this.input.infId, vmId, error: err });
      return false;
    }
  }

  private async persistCredentials(node: CtxtNode): Promise<void> {
    try {
      await mutateVm(this.store, this.input.infId, node.vmId, (vm) => {
        const radl = parseVmInfo(vm);
        const system = vmSystem(radl, vm).clone();
        const p = 'disk.0.os.credentials.';
        if (node.creds.password && system.getString(`${p}new.password`)) {
          system.setValue(`${p}password`, node.creds.password);
          system.delValue(`${p}new.password`);
        }
        if (node.creds.privateKey && system.getString(`${p}new.private_key`)) {
          system.setValue(`${p}private_key`, node.creds.privateKey);
          if (node.creds.publicKey) system.setValue(`${p}public_key`, node.creds.publicKey);
          system.delValue(`${p}new.private_key`, `${p}new.public_key`);
        }
        return { info: vmInfoWith(radl, system) };
      });
      this.vmLog(node.vmId, 'The new credentials of the VM are set.');
    } catch (err) {
      this.logger.error('Error storing the new credentials of a VM', { infId: this.input.infId, vmId: node.vmId, error: err });
    }
  }
}
