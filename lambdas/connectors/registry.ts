/**
 * The connector registry: auth item type → connector.
 */
import type { CloudConnector, ConnectorRegistry } from '#core/types';
import { DeployedNodeConnector } from '#connectors/deployed-node';
import { DummyConnector } from '#connectors/dummy';
import { Ec2Connector } from '#connectors/ec2';

/** The connectors every deployment has. Add a cloud here (one line), e.g. `new Ec2Connector(),`. */
function builtInConnectors(): CloudConnector[] {
  return [
    new DummyConnector(),
    new DeployedNodeConnector(),
    new Ec2Connector(),
  ];
}

/**
 * A registry with the built-in connectors; `extra` ones (tests, instrumented fakes) are added and
 * replace a built-in connector of the same type.
 */
export function createConnectorRegistry(extra: CloudConnector[] = []): ConnectorRegistry {
  const byType = new Map<string, CloudConnector>();
  for (const c of [...builtInConnectors(), ...extra]) byType.set(c.type, c);
  return {
    get: (type) => byType.get(type),
    types: () => [...byType.keys()],
  };
}
