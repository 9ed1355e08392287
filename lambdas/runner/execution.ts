/**
 * Running the plays of a contextualization: ansible-playbook runs, retries, the time limit and the
 * supervision of the run.
 *
 * A unit is what one ansible-playbook process runs: the basic plays, a step (the plays of every task of
 * the step, one play group per system), or, when nothing has to happen between them, several of those
 * in a row. Within a run Ansible keeps IM's rules by itself: a play starts once the previous one ended
 * on every host, and a host that failed takes no part in the plays after. Ansible ends the playbook
 * early when every host of a play failed; the hosts still fine then go on with the plays after that one
 * in a new process. A unit is tried PLAYBOOK_RETRIES times in all for the hosts that failed. The whole
 * run stops at the deadline (the process group is killed) or when the supervisor aborts it.
 */
import { logTimestamp } from '#core/contmsg';
import type { Config } from '#core/config';
import type { InfrastructureStore, Logger } from '#core/types';
import { runAnsible, type AnsibleRunResult } from '#runner/ansible';
import { AnsibleOutputParser } from '#runner/ansible-output';
import type { CtxtNode } from '#runner/nodes';
import type { Outcome } from '#runner/outcome';
import { unitPlaybook, type Play } from '#runner/playbooks';
import type { Workspace } from '#runner/workspace';

export const MAX_TIME_MSG = 'ERROR: Max contextualization time passed.';

/** The run was stopped by its supervisor (superseded or infrastructure deleted). */
export class Aborted extends Error {}

export interface Unit {
  plays: Play[];
  nodes: CtxtNode[];
  /** The tasks of a VM in this unit, for its retry line (`Playbook <label> failed. Retrying…`). */
  labelOf: (vmId: number) => string;
  /** `--vault-id` files (one per distinct vault.password of the unit's systems). */
  vaultFiles: string[];
}

export interface ExecutionOptions {
  config: Config;
  workspace: Workspace;
  outcome: Outcome;
  now: () => number;
  /** Epoch ms at which the contextualization must end. */
  deadline: number;
  signal: AbortSignal;
  /** Inventory host name of each VM. */
  hostNames: Map<number, string>;
  /** The VMs of each inventory group (system). */
  groups: Map<string, number[]>;
  ansiblePlaybook: string;
  ansibleGalaxy: string;
  /** Pause between attempts, ms. */
  retryDelayMs: number;
}

export class Execution {
  /** The deadline was reached. */
  timedOut = false;
  /** ansible-playbook processes started. */
  processes = 0;
  /** Wall time spent in them, ms. */
  processMs = 0;
  private readonly byHost: Map<string, number>;

  constructor(private readonly o: ExecutionOptions) {
    this.byHost = new Map([...o.hostNames].map(([id, name]) => [name, id]));
  }

  /**
   * The VMs a play can run on, when its `hosts` is a list of inventory host names and system groups;
   * undefined for any other pattern.
   */
  private playVms(play: Play): Set<number> | undefined {
    const hosts = play.hosts;
    if (typeof hosts !== 'string') return undefined;
    const out = new Set<number>();
    for (const token of hosts.split(',').map((t) => t.trim())) {
      const id = this.byHost.get(token);
      const group = this.o.groups.get(token);
      if (id !== undefined) out.add(id);
      else if (group) for (const g of group) out.add(g);
      else return undefined;
    }
    return out;
  }

  /** Whether a play from `from` on can run on one of `nodes`. */
  private anyPlayFor(unit: Unit, from: number, nodes: CtxtNode[]): boolean {
    return unit.plays.slice(from).some((p) => {
      const vms = this.playVms(p);
      return !vms || nodes.some((n) => vms.has(n.vmId));
    });
  }

  checkAbort(): void {
    if (this.o.signal.aborted) throw new Aborted('aborted');
  }

  private host(n: CtxtNode): string {
    return this.o.hostNames.get(n.vmId) as string;
  }

  /**
   * Runs a unit on its nodes; returns the VMs that still failed after every attempt, with the task they
   * failed in. The output streams into each VM's log as it comes.
   */
  async runUnit(unit: Unit): Promise<Map<number, string>> {
    const attempts = Math.max(1, this.o.config.PLAYBOOK_RETRIES);
    let pending = unit.nodes.filter((n) => this.o.hostNames.has(n.vmId));
    const lastTask = new Map<number, string>();
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
      this.checkAbort();
      if (this.o.now() >= this.o.deadline) {
        this.timedOut = true;
        break;
      }
      if (attempt > 1) {
        for (const n of pending) this.o.outcome.vmLog(n.vmId, `Playbook ${unit.labelOf(n.vmId)} failed. Retrying (attempt ${attempt} of ${attempts}).`);
        await new Promise((r) => setTimeout(r, this.o.retryDelayMs));
        this.checkAbort();
      }
      const failed = new Set<number>();
      let from = 0;
      let hosts = pending;
      while (hosts.length > 0) {
        const { parser, res } = await this.runOnce(unit, from, hosts);
        for (const n of hosts) {
          if (parser.succeeded(this.host(n))) continue;
          failed.add(n.vmId);
          lastTask.set(n.vmId, parser.lastTask(this.host(n)) ?? unit.labelOf(n.vmId));
        }
        if (res.timedOut || !parser.stats || parser.reached(unit.plays.length)) break;
        // Ansible ended the playbook early (every host of a play failed): the others go on after that play.
        const next = Math.max(from + 1, ...parser.playIndexes.map((i) => i + 1));
        hosts = hosts.filter((n) => !failed.has(n.vmId));
        if (next >= unit.plays.length || !this.anyPlayFor(unit, next, hosts)) break;
        from = next;
      }
      pending = pending.filter((n) => failed.has(n.vmId));
      if (this.timedOut) break;
    }
    return new Map(pending.map((n) => [n.vmId, lastTask.get(n.vmId) ?? unit.labelOf(n.vmId)]));
  }

  /** One ansible-playbook process: the unit's plays from `from` on, limited to `nodes`. */
  private async runOnce(unit: Unit, from: number, nodes: CtxtNode[]): Promise<{ parser: AnsibleOutputParser; res: AnsibleRunResult }> {
    const { workspace, outcome } = this.o;
    const parser = new AnsibleOutputParser(() => logTimestamp(this.o.now()));
    const playbook = workspace.writePlaybook(unitPlaybook(unit.plays, from));
    const args = ['-i', workspace.inventoryPath, playbook, '--limit', nodes.map((n) => this.host(n)).join(',')];
    for (const [i, f] of unit.vaultFiles.entries()) args.push('--vault-id', `v${i}@${f}`);
    this.processes++;
    const t0 = this.o.now();
    const res = await runAnsible({
      bin: this.o.ansiblePlaybook,
      args,
      cwd: workspace.dir,
      env: workspace.env(),
      deadline: this.o.deadline,
      now: this.o.now,
      signal: this.o.signal,
      onStdoutLine: (line) => {
        for (const chunk of parser.line(line)) {
          if (chunk.host === '*') for (const n of nodes) outcome.log.write(n.vmId, chunk.text);
          else {
            const id = this.byHost.get(chunk.host);
            if (id !== undefined) outcome.log.write(id, chunk.text);
          }
        }
      },
    });
    this.processMs += this.o.now() - t0;
    this.checkAbort();
    if (res.timedOut) this.timedOut = true;
    if (res.spawnError) {
      for (const n of nodes) outcome.vmLog(n.vmId, `ERROR: cannot run ansible-playbook: ${res.spawnError}`);
    } else if (!parser.stats && !res.timedOut) {
      const err = res.stderr.trim() || `ansible-playbook exited with code ${res.code}`;
      for (const n of nodes) {
        if (!parser.announced(this.host(n))) outcome.vmLog(n.vmId, `Launch task: ${unit.labelOf(n.vmId)}`);
        outcome.log.write(n.vmId, `${err}\n`);
      }
    } else if (/ERROR!/.test(res.stderr)) {
      for (const n of nodes) if (!parser.succeeded(this.host(n))) outcome.log.write(n.vmId, `${res.stderr.trim()}\n`);
    }
    return { parser, res };
  }

  /** `ansible-galaxy role|collection install` of the requirements file; errors go to the infrastructure log. */
  async installGalaxy(file: string, what: { roles: boolean; collections: boolean }): Promise<void> {
    const { workspace } = this.o;
    const deadline = Math.min(this.o.deadline, this.o.now() + this.o.config.ANSIBLE_INSTALL_TIMEOUT * 1000);
    const steps: [string, string[]][] = [];
    if (what.roles) steps.push(['roles', ['role', 'install', '-r', file, '-p', `${workspace.dir}/roles`]]);
    if (what.collections) steps.push(['collections', ['collection', 'install', '-r', file, '-p', `${workspace.dir}/collections`]]);
    for (const [kind, args] of steps) {
      let out = '';
      const r = await runAnsible({
        bin: this.o.ansibleGalaxy,
        args,
        cwd: workspace.dir,
        env: workspace.env(),
        deadline,
        now: this.o.now,
        signal: this.o.signal,
        onStdoutLine: (l) => {
          if (out.length < 8000) out += `${l}\n`;
        },
      });
      this.checkAbort();
      if (r.code !== 0) this.o.outcome.infLog(`ERROR: installing the Galaxy ${kind}: ${(r.spawnError ?? r.stderr ?? out).trim().slice(-2000)}`);
    }
  }
}

/**
 * Checks every `intervalMs` that the run is still the newest one of an infrastructure that still
 * exists (IM's kill_ctxt_processes); otherwise aborts it: its Ansible processes are killed and it stops
 * without writing final states.
 */
export class Supervisor {
  private readonly controller = new AbortController();
  private timer?: NodeJS.Timeout;
  superseded = false;

  constructor(
    private readonly store: InfrastructureStore,
    private readonly infId: string,
    private readonly runId: string,
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.check(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async check(): Promise<void> {
    if (this.controller.signal.aborted) return;
    try {
      const inf = await this.store.getInfrastructure(this.infId);
      if (!inf || inf.status !== 'active' || (inf.ctxtRunId !== undefined && inf.ctxtRunId !== this.runId)) {
        this.superseded = true;
        this.logger.info('Contextualization run superseded or infrastructure deleted: stopping', { infId: this.infId, runId: this.runId });
        this.controller.abort();
      }
    } catch (err) {
      this.logger.warn('Error checking the contextualization run', { infId: this.infId, error: err });
    }
  }
}
