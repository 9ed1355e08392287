/**
 * The connector registry: auth item type → connector.
 *
 * Connectors that pull in a large cloud SDK are registered lazily: the registry holds a thin proxy
 * whose synchronous `concreteSystem` is SDK-free and whose other methods load the real connector
 * on first use. This keeps the SDK out of every Lambda's cold start until a request needs that cloud.
 */
import type { AuthItem, CloudConnector, ConnectorRegistry, Logger } from '#core/types';
import type { Config } from '#core/config';
import type { System } from '#radl/index';
import { DeployedNodeConnector } from '#connectors/deployed-node';
import { DummyConnector } from '#connectors/dummy';
import { ec2ConcreteSystem } from '#connectors/ec2/concrete-system';
import { openstackConcreteSystem } from '#connectors/openstack/concrete';

/** Optional methods of the port a lazy connector may forward (named when registering). */
export type OptionalMethod = 'updateVmsInfo' | 'estimateSystem';
type AsyncMethods = Exclude<keyof CloudConnector, 'type' | 'simulated' | 'concreteSystem' | OptionalMethod>;

/** A connector whose implementation module is imported on the first asynchronous call. */
export function lazyConnector(
  type: string,
  concreteSystem: (system: System, auth: AuthItem) => System[],
  load: () => Promise<CloudConnector>,
  optional: OptionalMethod[] = [],
): CloudConnector {
  let loading: Promise<CloudConnector> | undefined;
  const real = () => (loading ??= load());
  const forward =
    <M extends AsyncMethods>(method: M) =>
    async (...args: Parameters<CloudConnector[M]>): Promise<Awaited<ReturnType<CloudConnector[M]>>> => {
      const c = await real();
      return (c[method] as (...a: Parameters<CloudConnector[M]>) => Promise<Awaited<ReturnType<CloudConnector[M]>>>).apply(c, args);
    };
  const proxy: CloudConnector = {
    type,
    concreteSystem,
    launch: forward('launch'),
    updateVmInfo: forward('updateVmInfo'),
    finalize: forward('finalize'),
    start: forward('start'),
    stop: forward('stop'),
    reboot: forward('reboot'),
    alterVm: forward('alterVm'),
    createSnapshot: forward('createSnapshot'),
    deleteImage: forward('deleteImage'),
    listImages: forward('listImages'),
    getQuotas: forward('getQuotas'),
  };
  if (optional.includes('updateVmsInfo')) {
    proxy.updateVmsInfo = async (vms, auth) => {
      const c = await real();
      if (c.updateVmsInfo) return c.updateVmsInfo(vms, auth);
      return Promise.all(vms.map((v) => c.updateVmInfo(v, auth).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
    };
  }
  if (optional.includes('estimateSystem')) {
    proxy.estimateSystem = async (system, auth) => {
      const c = await real();
      return c.estimateSystem ? c.estimateSystem(system, auth) : system;
    };
  }
  return proxy;
}

/** What every connector gets from the composition root that builds the registry. */
export interface ConnectorDeps {
  config: Config;
  logger: Logger;
}

/** The connectors every deployment has. Add a cloud here (one line). */
function builtInConnectors(deps: ConnectorDeps): CloudConnector[] {
  const logger = (component: string): Logger => withComponent(deps.logger, component);
  return [
    new DummyConnector(),
    new DeployedNodeConnector(),
    lazyConnector('EC2', ec2ConcreteSystem, async () => new (await import('#connectors/ec2/connector')).Ec2Connector({ config: deps.config, logger: logger('ec2-connector') }), ['updateVmsInfo']),
    lazyConnector('OpenStack', openstackConcreteSystem, async () => new (await import('#connectors/openstack/connector')).OpenStackConnector({ config: deps.config, logger: logger('openstack-connector') }), ['updateVmsInfo', 'estimateSystem']),
  ];
}

/** A logger that adds `component` to every line. */
function withComponent(logger: Logger, component: string): Logger {
  const add = (fields?: Record<string, unknown>) => ({ component, ...fields });
  return {
    debug: (m, f) => logger.debug(m, add(f)),
    info: (m, f) => logger.info(m, add(f)),
    warn: (m, f) => logger.warn(m, add(f)),
    error: (m, f) => logger.error(m, add(f)),
  };
}

/**
 * A registry with the built-in connectors, built with the caller's config and logger; `extra` ones
 * (tests, instrumented fakes) are added and replace a built-in connector of the same type.
 */
export function createConnectorRegistry(deps: ConnectorDeps, extra: CloudConnector[] = []): ConnectorRegistry {
  const byType = new Map<string, CloudConnector>();
  for (const c of [...builtInConnectors(deps), ...extra]) byType.set(c.type, c);
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()],
  };
}
