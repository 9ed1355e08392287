/**
 * The SSH wait of the launch flow: log in to a VM with its own credentials (ssh2), at its public IP
 * (or its private one when it has none), on port 22 (or the public port an `outports` rule maps to
 * 22). Nothing else is ever contacted.
 */
import type { ConnectConfig } from 'ssh2';
import type { Radl, System } from '#radl/index';

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  password?: string;
  privateKey?: string;
}

/** One login attempt: resolves once authenticated, rejects with the reason otherwise. */
export type SshProbe = (target: SshTarget, timeoutMs: number) => Promise<void>;

/**
 * The ssh2 implementation of {@link SshProbe}; the host key is not checked (first contact, as IM).
 * ssh2 is loaded by the first probe rather than at cold start: only this wait needs it, and loading
 * it is a large share of the tasks function's cold import (bench/bundles.ts).
 */
export const probeSsh: SshProbe = async (target, timeoutMs) => {
  const { Client } = await import('ssh2');
  return new Promise<void>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`Timed out after ${timeoutMs} ms`)), timeoutMs + 250);
    client
      .on('ready', () => finish())
      .on('error', (e: Error) => finish(e))
      .on('close', () => finish(new Error('Connection closed')))
      .on('keyboard-interactive', (_name, _instructions, _lang, prompts, reply) => reply(prompts.map(() => target.password ?? '')));
    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: Math.max(1, timeoutMs),
      hostVerifier: () => true,
    };
    if (target.password !== undefined) {
      config.password = target.password;
      config.tryKeyboard = true;
    }
    if (target.privateKey !== undefined) config.privateKey = target.privateKey;
    try {
      client.connect(config);
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
};

/**
 * The probe used for the VMs of a simulated connector (Dummy): nothing answers at a placeholder
 * address, so each attempt fails after its time budget without opening any connection. The VM
 * ends unconfigured after WAIT_SSH_ACCCESS_TIMEOUT, as in IM, and no traffic leaves the machine.
 */
export const simulatedUnreachableProbe: SshProbe = (target, timeoutMs) =>
  new Promise<void>((_resolve, reject) =>
    setTimeout(
      () => reject(new Error(`no SSH server answers at ${target.host}: the VM is simulated and has no network`)),
      Math.max(0, Math.min(timeoutMs, 1000)),
    ),
  );

/** The SSH port of an IP on a network: the public port that `outports` maps to 22, else 22. */
function sshPort(radl: Radl, networkId: string | undefined): number {
  const net = networkId ? radl.getNetworkById(networkId) : undefined;
  if (!net?.isPublic()) return 22;
  try {
    const rule = net.getOutPorts()?.find((p) => !p.isRange && p.localPort === 22 && p.protocol === 'tcp');
    return rule ? rule.remotePort : 22;
  } catch {
    return 22;
  }
}

/**
 * Where and how to log in to a VM: its first IP on a public network, else its first IP, with the
 * system's `disk.0.os.credentials.*`. Undefined (with the reason) when there is no IP or username.
 */
export function sshTarget(radl: Radl, system: System): { target?: SshTarget; reason?: string } {
  const username = system.getString('disk.0.os.credentials.username');
  if (!username) return { reason: 'the VM has no username (disk.0.os.credentials.username)' };
  const ips: { ip: string; net?: string; public: boolean }[] = [];
  for (let i = 0; ; i++) {
    const net = system.getString(`net_interface.${i}.connection`);
    const ip = system.getString(`net_interface.${i}.ip`);
    if (net === undefined && ip === undefined) break;
    if (ip) ips.push({ ip, net, public: net !== undefined && radl.getNetworkById(net)?.isPublic() === true });
  }
  const chosen = ips.find((x) => x.public) ?? ips[0];
  if (!chosen) return { reason: 'the VM has no IP address' };
  const target: SshTarget = { host: chosen.ip, port: sshPort(radl, chosen.net), username };
  const password = system.getString('disk.0.os.credentials.password');
  const privateKey = system.getString('disk.0.os.credentials.private_key');
  if (password) target.password = password;
  if (privateKey) target.privateKey = privateKey;
  return { target };
}

/**
 * Tries to log in for `budgetMs` (real time); each attempt gets at most 10 s and attempts start at
 * least 1 s apart.
 *
 * @returns undefined on success, else the last failure reason.
 */
export async function probeFor(probe: SshProbe, target: SshTarget, budgetMs: number): Promise<string | undefined> {
  const until = Date.now() + budgetMs;
  let reason = 'no attempt made';
  for (;;) {
    const start = Date.now();
    const remaining = until - start;
    if (remaining <= 0) return reason;
    try {
      await probe(target, Math.min(10_000, remaining));
      return undefined;
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
    }
    const pause = Math.min(1000 - (Date.now() - start), until - Date.now());
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
}
