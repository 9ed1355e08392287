/**
 * One contextualization run of an infrastructure (lifecycle.md §3, ARCHITECTURE §7).
 *
 *  1. Load the infrastructure and its VMs; take those the one rule of #core/ctxt-rules names; plan the
 *     steps (plan.ts). Disabled → those VMs configured, done.
 *  2. Claim the run (`ctxtRunId`; the supervisor stops this run when another one claims it or the
 *     infrastructure goes), mark the VMs `running`, select the master VM.
 *  3. Write the work folder (workspace.ts): ansible.cfg, callback plugin, inventory, keys.
 *  4. Run the basic plays on every VM, then the steps (execution.ts): one ansible-playbook per step, all
 *     systems of the step in one playbook; the basic plays and the steps share one process when nothing
 *     has to happen between them (one attempt, no new credentials). A VM that failed skips the later steps.
 *     The per-VM output streams into the VM logs.
 *  5. The contextualize max_time (or MAX_CONTEXTUALIZATION_TIME): `ERROR: Max contextualization time
 *     passed.`, unfinished VMs unconfigured.
 *  6. Write each VM's outcome (outcome.ts): ok → configured, failed → unconfigured.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '#core/config';
import { ctxtParticipation, type CtxtScope } from '#core/ctxt-rules';
import { errors } from '#core/errors';
import type { InfraRecord, InfrastructureStore, Logger, VmRecord } from '#core/types';
import { createConnectorRegistry } from '#connectors/registry';
import { parseRadlJson, type Radl } from '#radl/index';
import { basicPlays, packageName } from '#runner/basic-play';
import { Aborted, Execution, MAX_TIME_MSG, Supervisor, type Unit } from '#runner/execution';
import { buildInventory, type MasterNames } from '#runner/inventory';
import { ansibleHostJump, jumpFor, nodeFromVm, selectMaster, type CtxtNode, type JumpHost } from '#runner/nodes';
import { Outcome, type VmOutcome } from '#runner/outcome';
import { planContextualization, type CtxtPlan, type PlanStep } from '#runner/plan';
import { galaxyRequirements, recipePlays, taskHeader, type Play } from '#runner/playbooks';
import { Workspace } from '#runner/workspace';
import { dumpYaml } from '#runner/yaml';

export { MAX_TIME_MSG } from '#runner/execution';
export type { VmOutcome } from '#runner/outcome';

export interface RunnerServices {
  store: InfrastructureStore;
  config: Config;
  logger: Logger;
  now?: () => number;
  /** Whether a cloud type's VMs are simulated (never contacted); default: the connector registry's flag. */
  isSimulated?: (cloudType: string) => boolean;
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
  /** Seconds an idle SSH master connection stays open (default 30). */
  controlPersist?: number;
  /** Seconds the basic play waits for a busy package manager (default 600). */
  pkgLockTimeout?: number;
}

/**
 * What to contextualize (the contextualize workflow's input): the VMs of the infrastructure that
 * #core/ctxt-rules names for this scope. `vmIds` with `reconfigure` (Reconfigure's vm_list) limits the
 * user configure steps; without it (the launch flow), they are the VMs just launched.
 */
export interface RunInput extends CtxtScope {
  infId: string;
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
  /** ansible-playbook processes this run started, and the wall time spent in them (ms). */
  ansibleRuns: number;
  ansibleMs: number;
  durationMs: number;
}

const NO_MASTER = 'Contextualization Error: No correct Master VM found. Check if there a linux VM with Public IP.';

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The contextualization of one infrastructure (see the module comment). */
export async function contextualize(input: RunInput, services: RunnerServices): Promise<RunResult> {
  return new Run(input, services).execute();
}

class Run {
  private readonly now: () => number;
  private readonly config: Config;
  private readonly runId = randomUUID();
  private readonly t0: number;
  private deadline = 0;
  private readonly out: Outcome;
  private readonly supervisor: Supervisor;
  private workspace?: Workspace;
  private execution?: Execution;
  private readonly failed = new Map<number, string>();
  private readonly done = new Set<number>();
  private nodes: CtxtNode[] = [];
  private hostNames = new Map<number, string>();
  private radl!: Radl;
  private master?: CtxtNode;
  private ansibleJump?: JumpHost;
  private masterNames?: MasterNames;

  constructor(
    private readonly input: RunInput,
    private readonly services: RunnerServices,
  ) {
    this.now = services.now ?? Date.now;
    this.config = services.config;
    this.t0 = this.now();
    this.out = new Outcome({ store: services.store, infId: input.infId, runId: this.runId, logger: services.logger, now: this.now, logIntervalMs: services.logIntervalMs ?? 1000 });
    this.supervisor = new Supervisor(services.store, input.infId, this.runId, services.logger, services.superviseIntervalMs ?? 5000);
  }

  private fail(vmId: number, reason: string): void {
    if (!this.failed.has(vmId)) this.failed.set(vmId, reason);
  }

  private result(extra: Partial<RunResult> & { vms: VmOutcome[] }): RunResult {
    return {
      infId: this.input.infId,
      runId: this.runId,
      disabled: false,
      timedOut: this.execution?.timedOut ?? false,
      superseded: this.supervisor.superseded,
      ansibleRuns: this.execution?.processes ?? 0,
      ansibleMs: this.execution?.processMs ?? 0,
      durationMs: this.now() - this.t0,
      ...extra,
    };
  }

  private isSimulated(): (cloudType: string) => boolean {
    if (this.services.isSimulated) return this.services.isSimulated;
    const registry = createConnectorRegistry({ config: this.config, logger: this.services.logger });
    return (t) => !!registry.get(t)?.simulated;
  }

  async execute(): Promise<RunResult> {
    const { infId } = this.input;
    const { store } = this.services;
    const inf = await store.getInfrastructure(infId);
    if (!inf || inf.status !== 'active') throw errors.infNotFound();
    this.radl = parseRadlJson(inf.radl);
    const maxTime = this.radl.contextualize?.maxTime ?? this.config.MAX_CONTEXTUALIZATION_TIME;
    this.deadline = this.t0 + maxTime * 1000;

    const simulated = this.isSimulated();
    const eligible: VmRecord[] = [];
    for (const vm of await store.listVms(infId)) {
      const part = ctxtParticipation(vm, this.input, simulated);
      if (part === 'takes') eligible.push(vm);
      else if (part === 'not-running') this.out.infLog(`WARNING: The VM ID: ${vm.vmId} is not running, do not include in the contextualization agent.`);
    }
    const plan = planContextualization(this.radl, eligible, this.input.reconfigure ? this.input.vmIds : undefined);
    for (const w of plan.warnings) this.out.infLog(w);

    await this.out.claim();
    this.supervisor.start();
    try {
      if (plan.disabled) return await this.disabled(eligible);
      return await this.enabled(plan, eligible, inf);
    } catch (err) {
      if (err instanceof Aborted || this.supervisor.superseded) return this.result({ vms: [] });
      await this.failRunning(err);
      throw err;
    } finally {
      this.supervisor.stop();
      await this.out.flush();
      await this.workspace?.dispose(this.services.keepWorkDir);
    }
  }

  /** Stops here when the supervisor found this run superseded. */
  private async checkCurrent(): Promise<void> {
    await this.supervisor.check();
    if (this.supervisor.signal.aborted) throw new Aborted('aborted');
  }

  private async disabled(eligible: VmRecord[]): Promise<RunResult> {
    this.out.infLog('Contextualization disabled by the RADL/TOSCA template.');
    await this.checkCurrent();
    const vms = await this.out.finalWrites(eligible.map((vm) => ({ vmId: vm.vmId, ctxtState: 'disabled' as const })), undefined);
    await this.out.setInfra({ configured: true });
    return this.result({ disabled: true, vms });
  }

  private async enabled(plan: CtxtPlan, eligible: VmRecord[], inf: InfraRecord): Promise<RunResult> {
    const disabledSet = new Set(plan.disabledVms);
    for (const vmId of plan.disabledVms) this.out.vmLog(vmId, 'Contextualization disabled');
    const outcomes = await this.out.finalWrites(plan.disabledVms.map((vmId) => ({ vmId, ctxtState: 'disabled' as const })), undefined);

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
        this.out.infLog(`WARNING: The VM ID: ${n.vmId} does not have an IP, do not include in the contextualization agent.`);
        this.fail(n.vmId, 'ERROR: The VM does not have an IP.');
      }
    }
    await Promise.all(this.nodes.map((n) => this.out.markRunning(n.vmId)));

    let infraError: string | undefined;
    try {
      this.selectMaster(inf, all);
    } catch (err) {
      infraError = errText(err);
    }
    if (!infraError) {
      try {
        this.prepareWorkspace(all);
        await this.installGalaxy(all);
        await this.runPhases(plan, all);
      } catch (err) {
        if (err instanceof Aborted) throw err;
        infraError = `Error in the contextualization process: ${errText(err)}`;
        this.services.logger.error('Contextualization error', { infId: this.input.infId, error: err });
      }
    }
    this.execution?.checkAbort();

    if (infraError) {
      const msg = infraError.startsWith('Contextualization Error') ? infraError : `ERROR: ${infraError}`;
      this.out.infLog(msg);
      for (const n of this.nodes) this.fail(n.vmId, msg);
    }
    const timedOut = this.execution?.timedOut ?? false;
    if (timedOut) this.out.infLog(MAX_TIME_MSG);
    for (const n of this.nodes) if (!this.failed.has(n.vmId) && !this.done.has(n.vmId)) this.fail(n.vmId, MAX_TIME_MSG);
    for (const [id, reason] of this.failed) if (!disabledSet.has(id)) this.out.vmLog(id, reason);
    for (const n of this.nodes) if (!this.failed.has(n.vmId)) this.out.vmLog(n.vmId, 'Contextualization process finished successfully.');
    this.out.infLog(infraError ? 'Contextualization finished with errors.' : 'Contextualization process finished.');
    await this.out.flush();

    // A newer run may have claimed the infrastructure meanwhile: then it writes the states.
    await this.checkCurrent();
    await this.out.setInfra({ configured: !infraError, ...(this.master ? { vmMaster: this.master.vmId } : {}) });
    const writes = eligible
      .map((v) => v.vmId)
      .filter((id) => !disabledSet.has(id))
      .map((vmId) => ({ vmId, ctxtState: this.failed.has(vmId) ? ('failed' as const) : ('ok' as const) }));
    outcomes.push(...(await this.out.finalWrites(writes, infraError ? false : undefined)));
    outcomes.sort((a, b) => a.vmId - b.vmId);
    return this.result({ vms: outcomes, ...(infraError ? { error: infraError } : {}) });
  }

  /** After an unexpected error: the VMs this run marked running end unconfigured (best effort). */
  private async failRunning(err: unknown): Promise<void> {
    try {
      const msg = `ERROR: contextualization agent error: ${errText(err)}`;
      this.out.infLog(msg);
      for (const n of this.nodes) this.out.vmLog(n.vmId, msg);
      await Promise.all(this.nodes.map((n) => this.out.writeVm(n.vmId, 'failed', undefined)));
    } catch (e) {
      this.services.logger.error('Error marking the VMs unconfigured after a runner error', { infId: this.input.infId, error: e });
    }
  }

  private selectMaster(inf: InfraRecord, all: CtxtNode[]): void {
    const ansible = ansibleHostJump(this.radl);
    if (ansible) {
      this.ansibleJump = ansible.jump;
      this.masterNames = { hostname: ansible.host, domain: '', fqdn: ansible.host };
      this.out.infLog(`Using ansible host: ${ansible.host}`);
      return;
    }
    this.out.infLog('Select master VM');
    const ctxtIds = new Set(this.nodes.map((n) => n.vmId));
    const master = selectMaster(all, (n) => ctxtIds.has(n.vmId) && !this.failed.has(n.vmId), inf.vmMaster);
    if (!master) throw new Error(NO_MASTER);
    this.master = master;
    this.masterNames = { hostname: master.hostname, domain: master.domain, fqdn: master.fqdn };
    this.out.infLog(`Master VM: ${master.vmId} (${master.publicIp ?? master.ip})`);
  }

  private prepareWorkspace(all: CtxtNode[]): void {
    this.workspace = Workspace.create({
      root: this.services.workRoot,
      forks: this.nodes.length,
      sshTimeout: this.services.sshTimeout ?? 30,
      controlPersist: this.services.controlPersist ?? 30,
    });
    this.out.infLog('Generating YAML, hosts and inventory files.');
    this.writeInventory(all);
    for (const n of this.nodes) for (const app of n.applications) if (packageName(app)) this.out.infLog(`App: ${app.name} set to be installed.`);
    this.execution = new Execution({
      config: this.config,
      workspace: this.workspace,
      outcome: this.out,
      now: this.now,
      deadline: this.deadline,
      signal: this.supervisor.signal,
      hostNames: this.hostNames,
      groups: this.groups(all),
      ansiblePlaybook: this.services.ansiblePlaybook ?? process.env.ANSIBLE_PLAYBOOK_BIN ?? 'ansible-playbook',
      ansibleGalaxy: this.services.ansibleGalaxy ?? process.env.ANSIBLE_GALAXY_BIN ?? 'ansible-galaxy',
      retryDelayMs: this.services.retryDelayMs ?? 2000,
    });
  }

  /** The VMs of each system (the inventory groups). */
  private groups(all: CtxtNode[]): Map<string, number[]> {
    const g = new Map<string, number[]>();
    for (const n of all) g.set(n.systemName, [...(g.get(n.systemName) ?? []), n.vmId]);
    return g;
  }

  private writeInventory(all: CtxtNode[]): void {
    const ws = this.workspace as Workspace;
    const inv = buildInventory({
      infId: this.input.infId,
      nodes: all.filter((n) => !!n.ip),
      master: this.masterNames,
      jumpFor: (n) => jumpFor(n, this.master, this.ansibleJump),
      keyDir: ws.keyDir,
      infraRadl: this.radl,
      connectTimeout: this.services.sshTimeout ?? 30,
    });
    ws.writeInventory(inv.yaml, inv.files);
    // Host names only depend on the IP and the VM id: the same map serves every rewrite.
    for (const [id, name] of inv.hostNames) this.hostNames.set(id, name);
  }

  private async installGalaxy(all: CtxtNode[]): Promise<void> {
    const req = galaxyRequirements(this.nodes.length > 0 ? this.nodes : all);
    if (req.roles.length === 0 && req.collections.length === 0) return;
    for (const r of req.roles) this.out.infLog(`Galaxy role ${r.name ?? r.src} detected setting to install.`);
    for (const c of req.collections) this.out.infLog(`Galaxy collection ${c.name} detected setting to install.`);
    const ws = this.workspace as Workspace;
    const file = `${ws.dir}/requirements.yml`;
    ws.write([{ path: file, content: dumpYaml(req), mode: 0o600 }]);
    await (this.execution as Execution).installGalaxy(file, { roles: req.roles.length > 0, collections: req.collections.length > 0 });
  }

  // ---- phases: the basic plays, then the steps -------------------------------------------------

  private live(nodes: CtxtNode[]): CtxtNode[] {
    return nodes.filter((n) => !this.failed.has(n.vmId) && this.hostNames.has(n.vmId));
  }

  private basicUnit(all: CtxtNode[]): Unit {
    const targets = this.live(this.nodes).filter((n) => n.os !== 'windows');
    const plays = basicPlays({
      nodes: targets,
      allNodes: all.filter((n) => !!n.ip),
      hostNames: this.hostNames,
      masterVmId: this.master?.vmId,
      infId: this.input.infId,
      remoteConfDir: this.config.REMOTE_CONF_DIR,
      sshWaitTimeout: Math.min(this.config.WAIT_SSH_ACCCESS_TIMEOUT, 600),
      pkgLockTimeout: this.services.pkgLockTimeout,
    });
    return { plays, nodes: plays.length > 0 ? targets : [], labelOf: () => 'basic', vaultFiles: [] };
  }

  /** The plays of a step: per task (item order), its system's recipe plays; a recipe that cannot be read fails its VMs. */
  private stepUnit(step: PlanStep, index: number): Unit {
    const byId = new Map(this.nodes.map((n) => [n.vmId, n]));
    const plays: Play[] = [];
    const tasksOf = new Map<number, string[]>();
    const vaults = new Map<string, string>();
    for (const t of step.tasks) {
      const nodes = this.live(t.vmIds.map((id) => byId.get(id)).filter((n): n is CtxtNode => !!n));
      if (nodes.length === 0) continue;
      const vault = nodes[0].vaultPassword;
      try {
        plays.push(...recipePlays(this.radl.getConfigureByName(t.configure)?.recipes ?? '', taskHeader(t.name, t.system, nodes[0].os), vault));
      } catch (err) {
        for (const n of nodes) {
          this.out.vmLog(n.vmId, `Launch task: ${t.name}`);
          this.fail(n.vmId, `ERROR: in configure ${t.configure}: ${errText(err)}`);
        }
        continue;
      }
      if (vault && !vaults.has(vault)) vaults.set(vault, (this.workspace as Workspace).writeSecret(`step${index}_v${vaults.size}.vault`, vault));
      for (const n of nodes) tasksOf.set(n.vmId, [...(tasksOf.get(n.vmId) ?? []), t.name]);
    }
    const nodes = this.live([...tasksOf.keys()].map((id) => byId.get(id) as CtxtNode));
    return { plays, nodes, labelOf: (id) => (tasksOf.get(id) ?? []).join(','), vaultFiles: [...vaults.values()] };
  }

  /** Units in a row share one process when nothing has to happen between them. */
  private static merge(a: Unit, b: Unit): Unit {
    const nodes = new Map([...a.nodes, ...b.nodes].map((n) => [n.vmId, n]));
    return {
      plays: [...a.plays, ...b.plays],
      nodes: [...nodes.values()],
      labelOf: (id) => [a.labelOf(id), b.labelOf(id)].filter(Boolean).join(','),
      vaultFiles: [...new Set([...a.vaultFiles, ...b.vaultFiles])],
    };
  }

  /**
   * Phase 0 is the basic plays, phase i the plan's step i-1. Consecutive phases share one process when
   * nothing has to happen between them: one attempt only (PLAYBOOK_RETRIES = 1: a retry repeats one
   * step), and no new credentials to adopt after the basic plays.
   */
  private async runPhases(plan: CtxtPlan, all: CtxtNode[]): Promise<void> {
    const execution = this.execution as Execution;
    const oneAttempt = Math.max(1, this.config.PLAYBOOK_RETRIES) === 1;
    const basic = this.basicUnit(all);
    const changing = basic.nodes.filter((n) => n.newCreds.password || n.newCreds.privateKey);
    const phases = plan.steps.length + 1;
    const unitOf = (p: number): Unit => (p === 0 ? basic : this.stepUnit(plan.steps[p - 1], p - 1));
    // The last phase of each VM: it is done once that phase ended well for it.
    const lastPhase = new Map<number, number>(basic.nodes.map((n) => [n.vmId, 0]));
    for (const [i, step] of plan.steps.entries()) for (const t of step.tasks) for (const id of t.vmIds) lastPhase.set(id, i + 1);
    for (const n of this.nodes) if (!lastPhase.has(n.vmId) && !this.failed.has(n.vmId)) this.done.add(n.vmId);

    for (let p = 0; p < phases; ) {
      execution.checkAbort();
      if (execution.timedOut || this.now() >= this.deadline) {
        execution.timedOut = true;
        return;
      }
      let unit = unitOf(p);
      let end = p;
      while (end + 1 < phases && oneAttempt && !(end === 0 && changing.length > 0)) unit = Run.merge(unit, unitOf(++end));
      const failed = unit.plays.length > 0 && unit.nodes.length > 0 ? await execution.runUnit(unit) : new Map<number, string>();
      for (const [id, task] of failed) this.fail(id, execution.timedOut ? MAX_TIME_MSG : `ERROR: task ${task} failed.`);
      if (p === 0) await this.adoptCredentials(changing, failed, all);
      if (!execution.timedOut) {
        for (const [id, last] of lastPhase) if (last <= end && !this.failed.has(id)) this.done.add(id);
      }
      p = end + 1;
    }
  }

  /** New credentials are now the current ones: persist them and use them from here on. */
  private async adoptCredentials(changing: CtxtNode[], failed: Map<number, string>, all: CtxtNode[]): Promise<void> {
    const changed = changing.filter((n) => !failed.has(n.vmId) && !this.failed.has(n.vmId));
    for (const n of changed) {
      if (n.newCreds.password) n.creds.password = n.newCreds.password;
      if (n.newCreds.privateKey) {
        n.creds.privateKey = n.newCreds.privateKey;
        n.creds.publicKey = n.newCreds.publicKey;
      }
      n.newCreds = {};
      await this.out.persistCredentials(n);
    }
    if (changed.length > 0) this.writeInventory(all);
  }
}
