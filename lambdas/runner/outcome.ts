/**
 * What a contextualization run writes back to the store, through the InfrastructureStore port and the
 * optimistic-locking helpers of #core/mutate:
 *  - the log lines (`<timestamp>: <msg>`) of the infrastructure and of each VM, batched by the LogSink;
 *  - each VM's ctxtState and the state it implies (running at the start; ok → configured,
 *    failed → unconfigured at the end; also the `state` feature of the VM RADL), never on a VM that is
 *    gone or being deleted;
 *  - the new credentials that became current;
 *  - the infrastructure's `configured` flag and master VM, only while this run is the newest one.
 */
import { contMsgLine } from '#core/contmsg';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import type { CtxtState, InfraRecord, InfrastructureStore, Logger } from '#core/types';
import { applyVmState, parseVmInfo, refineState, vmInfoWith, vmSystem } from '#core/vm-refresh';
import { LogSink } from '#runner/log-sink';
import type { CtxtNode } from '#runner/nodes';

export interface VmOutcome {
  vmId: number;
  ctxtState: CtxtState;
}

export interface OutcomeOptions {
  store: InfrastructureStore;
  infId: string;
  runId: string;
  logger: Logger;
  now: () => number;
  /** Milliseconds between log appends per VM. */
  logIntervalMs: number;
}

export class Outcome {
  readonly log: LogSink;
  private readonly store: InfrastructureStore;
  private readonly infId: string;

  constructor(private readonly o: OutcomeOptions) {
    this.store = o.store;
    this.infId = o.infId;
    this.log = new LogSink(o.store, o.infId, o.logger, { intervalMs: o.logIntervalMs });
  }

  /** A line of the infrastructure log. */
  infLog(msg: string): void {
    this.log.write('inf', contMsgLine(this.o.now(), msg));
  }

  /** A line of a VM's log. */
  vmLog(vmId: number, msg: string): void {
    this.log.write(vmId, contMsgLine(this.o.now(), msg));
  }

  /** Records this run as the newest one (`ctxtRunId`). */
  async claim(): Promise<void> {
    await mutateInfrastructure(this.store, this.infId, () => ({ ctxtRunId: this.o.runId }));
  }

  /** Changes the infrastructure while this run is still the newest one. */
  async setInfra(patch: Partial<InfraRecord>): Promise<void> {
    await mutateInfrastructure(this.store, this.infId, (cur) => (cur.ctxtRunId === this.o.runId ? patch : undefined));
  }

  async markRunning(vmId: number): Promise<void> {
    await this.writeVm(vmId, 'running', undefined);
  }

  /** Writes a final ctxtState; undefined when the VM is gone. */
  async finalWrite(vmId: number, ctxtState: CtxtState, infConfigured: boolean | undefined): Promise<VmOutcome | undefined> {
    const ok = await this.writeVm(vmId, ctxtState, infConfigured);
    return ok ? { vmId, ctxtState } : undefined;
  }

  /** The final writes of many VMs, in parallel; the outcomes of the VMs still there. */
  async finalWrites(writes: { vmId: number; ctxtState: CtxtState }[], infConfigured: boolean | undefined): Promise<VmOutcome[]> {
    const done = await Promise.all(writes.map((w) => this.finalWrite(w.vmId, w.ctxtState, infConfigured)));
    return done.filter((o): o is VmOutcome => !!o);
  }

  /** Writes the ctxtState (and the refined state into the VM RADL); false when the VM is gone or the write failed. */
  async writeVm(vmId: number, ctxtState: CtxtState, infConfigured: boolean | undefined): Promise<boolean> {
    try {
      await mutateVm(this.store, this.infId, vmId, (vm) => {
        if (vm.destroyed || vm.deleting) return undefined;
        const state = refineState(vm.state, ctxtState, infConfigured);
        const radl = parseVmInfo(vm);
        const system = vmSystem(radl, vm).clone();
        applyVmState(system, state, vm.vmId);
        return { ctxtState, state, info: vmInfoWith(radl, system) };
      });
      return true;
    } catch (err) {
      this.o.logger.warn('Error writing the contextualization state of a VM', { infId: this.infId, vmId, error: err });
      return false;
    }
  }

  /** The node's credentials (after the basic play changed them) become the VM's current ones. */
  async persistCredentials(node: CtxtNode): Promise<void> {
    try {
      await mutateVm(this.store, this.infId, node.vmId, (vm) => {
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
      this.o.logger.error('Error storing the new credentials of a VM', { infId: this.infId, vmId: node.vmId, error: err });
    }
  }

  async flush(): Promise<void> {
    await this.log.flush();
  }
}
