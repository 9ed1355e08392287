import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ssh2 from 'ssh2';
import { DummyConnector } from '#connectors/dummy';
import { ImError } from '#core/errors';
import type { AuthItem, LaunchedVm, LaunchRequest, VmHandle, VmUpdate } from '#core/types';
import { parseVmInfo, vmSystem } from '#core/vm-refresh';
import { prepareLaunch } from '#orchestration/launch-tasks';
import { makeEnv, nodesRadl, runFlow, seedInfra, testConfig, type TestEnv } from './fixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Records how many launches run at once. */
class CountingDummy extends DummyConnector {
  active = 0;
  maxActive = 0;
  launches = 0;
  override async launch(req: LaunchRequest): Promise<LaunchedVm> {
    this.launches++;
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    await sleep(25);
    this.active--;
    return super.launch(req);
  }
}

/** Fails the first `failures` launches of each VM with the given error. */
class FlakyDummy extends DummyConnector {
  attempts = new Map<number, number>();
  constructor(
    private readonly failures: number,
    private readonly error: () => Error,
  ) {
    super();
  }
  override async launch(req: LaunchRequest): Promise<LaunchedVm> {
    const n = (this.attempts.get(req.vmId) ?? 0) + 1;
    this.attempts.set(req.vmId, n);
    if (n <= this.failures) throw this.error();
    return super.launch(req);
  }
}

/** Launches pending; the provider reports running after `pollsToRun` refreshes (never when Infinity). */
class SlowBootDummy extends DummyConnector {
  polls = 0;
  constructor(private readonly pollsToRun: number) {
    super();
  }
  override async launch(req: LaunchRequest): Promise<LaunchedVm> {
    return { ...(await super.launch(req)), state: 'pending' };
  }
  override async updateVmInfo(vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
    this.polls++;
    const u = await super.updateVmInfo(vm, auth);
    return { ...u, state: this.polls >= this.pollsToRun ? 'running' : 'pending' };
  }
}

async function vmsOf(env: TestEnv, infId: string) {
  return env.store.listVms(infId);
}

describe('launch flow (local orchestrator, in-memory store)', () => {
  it.each([1, 10, 50])('launches %i Dummy VMs to configured with contextualize ()', async (n) => {
    const env = makeEnv({ config: { MAX_SIMULTANEOUS_LAUNCHES: '10' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(n));
    const r = await runFlow(env, 'launch', { infId, vmIds });
    expect(r.status).toBe('SUCCEEDED');
    const vms = await vmsOf(env, infId);
    expect(vms).toHaveLength(n);
    for (const vm of vms) {
      expect(vm).toMatchObject({ state: 'configured', ctxtState: 'disabled', creating: false, launchAttempts: 1 });
      const sys = vmSystem(parseVmInfo(vm), vm);
      expect(sys.getValue('state')).toBe('configured');
      expect(sys.getValue('provider.type')).toBe('Dummy');
      expect(sys.getValue('net_interface.0.ip')).toBe('10.0.0.1');
    }
    expect(new Set(vms.map((v) => v.providerId)).size).toBe(n);
    const inf = await env.store.getInfrastructure(infId);
    expect(inf?.configured).toBe(true);
    expect(await env.store.getLog(infId, 'inf')).toContain('Contextualization disabled by the RADL/TOSCA template.');
  });

  it('keeps at most MAX_SIMULTANEOUS_LAUNCHES launches in flight', async () => {
    const conn = new CountingDummy();
    const env = makeEnv({ connectors: [conn], config: { MAX_SIMULTANEOUS_LAUNCHES: '3' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(12));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect(conn.launches).toBe(12);
    expect(conn.maxActive).toBe(3);
  });

  it('relaunches on CloudRetryable: two failures then running after 3 attempts (MAX_VM_FAILS=3)', async () => {
    const conn = new FlakyDummy(2, () => new ImError('CLOUD_RETRYABLE', 'InsufficientInstanceCapacity'));
    const env = makeEnv({ connectors: [conn], config: { MAX_VM_FAILS: '3' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(2));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    for (const vm of await vmsOf(env, infId)) {
      expect(conn.attempts.get(vm.vmId)).toBe(3);
      expect(vm).toMatchObject({ state: 'configured', launchAttempts: 3 });
      expect(vm.errorMsg).toBeUndefined();
    }
  });

  it('a VM that always fails with CloudRetryable ends failed with the per-attempt message', async () => {
    const conn = new FlakyDummy(99, () => new ImError('CLOUD_RETRYABLE', 'RequestLimitExceeded'));
    const env = makeEnv({ connectors: [conn], config: { MAX_VM_FAILS: '3' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    const [vm] = await vmsOf(env, infId);
    expect(conn.attempts.get(0)).toBe(3);
    expect(vm).toMatchObject({ state: 'failed', creating: false, launchAttempts: 3 });
    expect(vm.providerId).toBeUndefined();
    expect(vm.errorMsg).toBe(
      'Error launching the VMs of type node to cloud ID dummy of type Dummy. ' +
        'Attempt 1: RequestLimitExceeded\nAttempt 2: RequestLimitExceeded\nAttempt 3: RequestLimitExceeded',
    );
    const log = await env.store.getLog(infId, 'inf');
    expect(log).toContain('All VMs failed. No contextualize.');
    expect(log).toContain('Attempt 3: RequestLimitExceeded');
  });

  it('a non-retryable launch error fails the VM at once', async () => {
    const conn = new FlakyDummy(99, () => new ImError('BAD_REQUEST', 'Invalid AMI'));
    const env = makeEnv({ connectors: [conn] });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    await runFlow(env, 'launch', { infId, vmIds });
    const [vm] = await vmsOf(env, infId);
    expect(conn.attempts.get(0)).toBe(1);
    expect(vm.state).toBe('failed');
    expect(vm.errorMsg).toBe('Error launching the VMs of type node to cloud ID dummy of type Dummy. Attempt 1: Invalid AMI');
  });

  it('only the failing VMs fail; the others go on', async () => {
    class OddFails extends DummyConnector {
      override async launch(req: LaunchRequest): Promise<LaunchedVm> {
        if (req.vmId % 2 === 1) throw new ImError('BAD_REQUEST', 'no');
        return super.launch(req);
      }
    }
    const env = makeEnv({ connectors: [new OddFails()] });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(4));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect((await vmsOf(env, infId)).map((v) => v.state)).toEqual(['configured', 'failed', 'configured', 'failed']);
    expect((await env.store.getInfrastructure(infId))?.configured).toBe(true);
  });

  it('polls a pending VM every VM_INFO_UPDATE_FREQUENCY until it runs', async () => {
    const conn = new SlowBootDummy(3);
    const env = makeEnv({ connectors: [conn], config: { VM_INFO_UPDATE_FREQUENCY: '0.02' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    const t0 = Date.now();
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(conn.polls).toBe(3);
    expect((await vmsOf(env, infId))[0]).toMatchObject({ state: 'configured', creating: false });
  });

  it('a VM that never runs fails after WAIT_RUNNING_VM_TIMEOUT, with the reason in its log', async () => {
    const env = makeEnv({ connectors: [new SlowBootDummy(Infinity)], config: { WAIT_RUNNING_VM_TIMEOUT: '0.2' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    const [vm] = await vmsOf(env, infId);
    expect(vm).toMatchObject({ state: 'failed', ctxtState: 'failed', creating: false });
    expect(vm.providerId).toBeDefined();
    expect(await env.store.getLog(infId, 0)).toMatch(/Error waiting the VM to be running: timeout of 0.2 s exceeded \(last state: pending\)/);
  });

  it('Dummy VMs with contextualization enabled end unconfigured after the SSH timeout, never connecting to 10.0.0.1', async () => {
    const env = makeEnv({ config: { WAIT_SSH_ACCCESS_TIMEOUT: '0.5' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(2, ''));
    const t0 = Date.now();
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    for (const vm of await vmsOf(env, infId)) {
      expect(vm).toMatchObject({ state: 'unconfigured', ctxtState: 'failed', creating: false });
      expect(await env.store.getLog(infId, vm.vmId)).toMatch(
        /^Error waiting the VM to have the SSH access active \(10\.0\.0\.1:22\): no SSH server answers at 10\.0\.0\.1: the VM is simulated and has no network\. Timeout of 0\.5 s exceeded\.\n$/,
      );
    }
    expect((await env.store.getInfrastructure(infId))?.configured).toBe(false);
  });

  it('VMs reachable over SSH go to the contextualization runner (ECS task) with the launch input; its failure leaves them unconfigured', async () => {
    const targets: string[] = [];
    const tasks: unknown[] = [];
    let fail = false;
    // A non-simulated Dummy: its VMs are real hosts as far as the flow knows.
    class RealDummy extends DummyConnector {
      override readonly simulated: boolean = false;
    }
    const env = makeEnv({
      connectors: [new RealDummy()],
      orchestrator: {
        sshProbe: async (t) => {
          targets.push(`${t.username}:${t.password}@${t.host}:${t.port}`);
        },
        ecsRunTask: async (params) => {
          tasks.push(params);
          if (fail) throw Object.assign(new Error('The contextualization runner failed (exit code 1): boom'), { name: 'States.TaskFailed' });
          return {};
        },
      },
    });
    const ids = await seedInfra(env.services, nodesRadl(2, ''));
    expect((await runFlow(env, 'launch', ids)).status).toBe('SUCCEEDED');
    expect(targets).toEqual(['username:password@10.0.0.1:22', 'username:password@10.0.0.1:22']);
    expect(tasks).toHaveLength(1);
    const overrides = (tasks[0] as { Overrides: { ContainerOverrides: { Environment: { Name: string; Value: string }[] }[] } }).Overrides;
    const envVars = Object.fromEntries(overrides.ContainerOverrides[0].Environment.map((e) => [e.Name, e.Value]));
    expect(envVars.INF_ID).toBe(ids.infId);
    expect(JSON.parse(envVars.CTXT_INPUT)).toMatchObject({ infId: ids.infId, vmIds: ids.vmIds });
    // The runner (here a fake that writes nothing) owns the VMs' final state.
    for (const vm of await vmsOf(env, ids.infId)) expect(vm).toMatchObject({ state: 'running', ctxtState: 'pending' });

    fail = true;
    const again = await seedInfra(env.services, nodesRadl(1, ''));
    expect((await runFlow(env, 'launch', again)).status).toBe('FAILED');
    expect((await vmsOf(env, again.infId))[0]).toMatchObject({ state: 'unconfigured', ctxtState: 'failed' });
    expect(await env.store.getLog(again.infId, 'inf')).toContain('Contextualization Error: The contextualization runner failed (exit code 1): boom');
  });

  it('an empty configure <system> () disables contextualization for its VMs (log "Contextualization disabled")', async () => {
    const env = makeEnv({ orchestrator: { sshProbe: async () => Promise.reject(new Error('must not be called')) } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1, 'configure node ()'));
    await runFlow(env, 'launch', { infId, vmIds });
    expect((await vmsOf(env, infId))[0]).toMatchObject({ state: 'configured', ctxtState: 'disabled' });
    expect(await env.store.getLog(infId, 0)).toBe('Contextualization disabled\n');
  });

  it('an unexpected error in a VM task ends in a final state (MarkFailed)', async () => {
    class Broken extends DummyConnector {
      override async launch(req: LaunchRequest): Promise<LaunchedVm> {
        return { ...(await super.launch(req)), system: null as never };
      }
    }
    const env = makeEnv({ connectors: [new Broken()] });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    const [vm] = await vmsOf(env, infId);
    expect(vm).toMatchObject({ state: 'failed', creating: false });
    expect(vm.errorMsg).toMatch(/^Error launching the VMs of type node to cloud ID dummy of type Dummy\. .+/);
  });

  it('context: false launches the VMs and leaves them running: no SSH wait, no contextualization', async () => {
    let probes = 0;
    const env = makeEnv({
      orchestrator: {
        sshProbe: async () => {
          probes++;
        },
      },
    });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(2, ''));
    expect((await runFlow(env, 'launch', { infId, vmIds, context: false })).status).toBe('SUCCEEDED');
    expect(probes).toBe(0);
    for (const vm of await vmsOf(env, infId)) expect(vm).toMatchObject({ state: 'running', ctxtState: 'none', creating: false });
    expect((await env.store.getInfrastructure(infId))?.configured).toBeUndefined();
    expect(await env.store.getLog(infId, 'inf')).toBe('');
  });

  it('releases its own add operation, and only that one, even when run twice', async () => {
    const env = makeEnv();
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(1));
    const inf = (await env.store.getInfrastructure(infId))!;
    await env.store.updateInfrastructure(infId, inf.version, { addingOps: ['mine', 'other'] });
    await runFlow(env, 'launch', { infId, vmIds, addOp: 'mine' });
    expect((await env.store.getInfrastructure(infId))?.addingOps).toEqual(['other']);
    await runFlow(env, 'launch', { infId, vmIds, addOp: 'mine' }); // resumed after a crash
    expect((await env.store.getInfrastructure(infId))?.addingOps).toEqual(['other']);
  });

  it('a launch into an infrastructure being deleted fails its VMs at once', async () => {
    const conn = new CountingDummy();
    const env = makeEnv({ connectors: [conn] });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(2));
    const inf = (await env.store.getInfrastructure(infId))!;
    await env.store.updateInfrastructure(infId, inf.version, { status: 'deleting' });
    await runFlow(env, 'launch', { infId, vmIds });
    expect(conn.launches).toBe(0);
    for (const vm of await vmsOf(env, infId)) {
      expect(vm.state).toBe('failed');
      expect(vm.errorMsg).toContain('Infrastructure deleted. Do not add resources.');
    }
  });

  it('records a batch with one batched write: no per-VM store call (Dummy, contextualize ())', async () => {
    const env = makeEnv();
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(10));
    const store = env.store as unknown as { calls: Record<string, number> };
    for (const k of Object.keys(store.calls)) delete store.calls[k];
    await runFlow(env, 'launch', { infId, vmIds });
    // launchBatch: one read of the record and of the VM list, one batched write; finishLaunch: the same reads, one record write.
    expect(store.calls.updateVms).toBe(1);
    expect(store.calls.getVm ?? 0).toBe(0);
    expect(store.calls.updateVm ?? 0).toBe(0);
    expect(store.calls.listVms).toBe(2);
    expect(store.calls.getInfrastructure).toBe(2);
    expect(store.calls.updateInfrastructure).toBe(1);
  });

  it('splits the VMs into batches of LAUNCH_BATCH_SIZE, all launched and recorded', async () => {
    const conn = new CountingDummy();
    const env = makeEnv({ connectors: [conn], config: { LAUNCH_BATCH_SIZE: '4', MAX_SIMULTANEOUS_LAUNCHES: '2' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(10));
    const store = env.store as unknown as { calls: Record<string, number> };
    for (const k of Object.keys(store.calls)) delete store.calls[k];
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect(conn.launches).toBe(10);
    expect(conn.maxActive).toBeLessThanOrEqual(2);
    expect(store.calls.updateVms).toBe(3); // batches of 4, 4 and 2
    expect((await vmsOf(env, infId)).every((v) => v.state === 'configured')).toBe(true);
  });
});

describe('prepareLaunch', () => {
  it('turns the configuration into integers, keeping the running wait under MAX_RUNNING_POLLS polls', async () => {
    const env = makeEnv();
    env.services.config = testConfig({
      MAX_SIMULTANEOUS_LAUNCHES: '7',
      DELAY_BETWEEN_VM_RETRIES: '2.5',
      VM_INFO_UPDATE_FREQUENCY: '0.5',
      WAIT_RUNNING_VM_TIMEOUT: '100000',
    });
    const plan = await prepareLaunch(env.services, { action: 'prepareLaunch', input: { infId: 'x', vmIds: [3, 1, 3] } });
    expect(plan).toEqual({ batches: [[1, 3]], maxConcurrency: 1, launchConcurrency: 7, retryDelay: 3, pollSeconds: 50, contextualize: true });
    env.services.config = testConfig({ MAX_SIMULTANEOUS_LAUNCHES: '5', LAUNCH_BATCH_SIZE: '2' });
    const many = await prepareLaunch(env.services, { action: 'prepareLaunch', input: { infId: 'x', vmIds: [0, 1, 2, 3, 4, 5, 6] } });
    // 4 batches: 4 at once × 1 launch call each ≤ 5 launch calls in flight.
    expect(many).toMatchObject({ batches: [[0, 1], [2, 3], [4, 5], [6]], maxConcurrency: 4, launchConcurrency: 1 });
    const noCtxt = await prepareLaunch(env.services, { action: 'prepareLaunch', input: { infId: 'x', vmIds: [], context: false } });
    expect(noCtxt.contextualize).toBe(false);
  });
});

describe('SSH wait against a real SSH server', () => {
  let server: ssh2.Server;
  let port: number;
  const logins: string[] = [];

  beforeAll(async () => {
    const { private: hostKey } = ssh2.utils.generateKeyPairSync('ed25519');
    server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
      client.on('authentication', (ctx) => {
        if (ctx.method === 'password' && ctx.username === 'username' && ctx.password === 'password') {
          logins.push(ctx.username);
          ctx.accept();
        } else ctx.reject(['password']);
      });
      client.on('ready', () => client.end());
      client.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  });

  it('logs in with the VM credentials at its public IP, on the port outports maps to 22', async () => {
    class LocalHostDummy extends DummyConnector {
      // A real VM at 127.0.0.1 (not a simulated one): the SSH wait must really connect.
      override readonly simulated: boolean = false;
      override async launch(req: LaunchRequest): Promise<LaunchedVm> {
        const l = await super.launch(req);
        l.system.setValue('net_interface.0.ip', '127.0.0.1');
        return l;
      }
    }
    const ran: unknown[] = [];
    const env = makeEnv({
      connectors: [new LocalHostDummy()],
      config: { WAIT_SSH_ACCCESS_TIMEOUT: '10' },
      orchestrator: { ecsRunTask: async (params) => ran.push(params) },
    });
    const radl = nodesRadl(1, '').replace("network publica (outbound = 'yes')", `network publica (outbound = 'yes' and outports = '${port}-22')`);
    const { infId, vmIds } = await seedInfra(env.services, radl);
    expect((await runFlow(env, 'launch', { infId, vmIds })).status).toBe('SUCCEEDED');
    expect(logins).toEqual(['username']);
    // SSH answered: ready for the contextualization runner, which the flow started.
    expect((await vmsOf(env, infId))[0]).toMatchObject({ state: 'running', ctxtState: 'pending' });
    expect(ran).toHaveLength(1);
  });
});
