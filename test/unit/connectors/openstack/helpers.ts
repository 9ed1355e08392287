/** Shared set-up of the OpenStack connector tests: a fake cloud, a connector with short waits and a captured log. */
import { loadConfig } from '#core/config';
import type { AuthItem, LaunchRequest, Logger, VmHandle } from '#core/types';
import { OpenStackConnector } from '#connectors/openstack/connector';
import { parseRadl, systemRadl, type Radl } from '#radl/index';
import { FakeOpenStack } from '../../../helpers/fake-openstack/server.ts';

export const PASSWORD = 'demo-secret-pass';

export const FAST = { volumePollMs: 5, volumeWaitMs: 2000, sgRetryMs: 20, sgWaitMs: 3000, serverPollMs: 10, serverGoneWaitMs: 3000, resizeWaitMs: 1500, rollbackRetryMs: 5 };

export function logCapture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const put = (level: string) => (msg: string, fields?: Record<string, unknown>) => lines.push(JSON.stringify({ level, msg, ...fields }));
  return { lines, logger: { debug: put('debug'), info: put('info'), warn: put('warn'), error: put('error') } };
}

export function connector(logger: Logger): OpenStackConnector {
  const config = loadConfig({});
  return new OpenStackConnector({ config, logger, timing: FAST, requestTimeoutMs: 5000 });
}

export function authItem(fake: FakeOpenStack, extra: Record<string, string> = {}): AuthItem {
  return { id: 'ost', type: 'OpenStack', host: fake.url, username: 'demo', password: PASSWORD, tenant: 'demo', auth_version: '3.x_password', ...extra };
}

export const RADL = `
network publica (outbound = 'yes' and outports = '8080,9000:9100')
network privada ()
system front (
  cpu.count >= 1 and memory.size >= 1024m and
  net_interface.0.connection = 'publica' and net_interface.1.connection = 'privada' and
  disk.0.image.url = 'ost://127.0.0.1/img-ubuntu-2204' and disk.0.os.name = 'linux' and
  instance_tags = 'project=im-test'
)
deploy front 1
`;

export function launchRequest(con: OpenStackConnector, auth: AuthItem, radlText = RADL, vmId = 0, infId = 'inf-0001'): LaunchRequest {
  const radl = parseRadl(radlText);
  const [system] = con.concreteSystem(radl.systems[0], auth);
  if (!system) throw new Error('no concrete system');
  return { infId, vmId, attempt: 1, clientToken: `im-${infId}-${vmId}-1`, radl, system, auth, tags: { project: 'im-test', IM_INFRA_ID: infId } };
}

export function handleOf(req: LaunchRequest, launched: { providerId: string; system: LaunchRequest['system']; cloudData?: Record<string, unknown> }): VmHandle {
  const radl: Radl = systemRadl(req.radl, req.system.name);
  radl.systems = [launched.system];
  return { infId: req.infId, vmId: req.vmId, providerId: launched.providerId, system: launched.system, radl, ...(launched.cloudData ? { cloudData: launched.cloudData } : {}) };
}

export async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}
