/**
 * The normative types of TOSCA Simple Profile in YAML 1.0 (OASIS, §5), written out from the
 * specification: data, artifact, capability, interface, relationship, node, group and policy types.
 * Parsed once, on first use. Custom types of the same name (from `imports`) take precedence.
 */
import { loadYaml } from '#tosca/yaml';

const NORMATIVE = `
data_types:
  tosca.datatypes.Root:
    description: The root of every TOSCA data type.
  tosca.datatypes.Credential:
    derived_from: tosca.datatypes.Root
    properties:
      protocol: { type: string, required: false }
      token_type: { type: string, default: password }
      token: { type: string }
      keys: { type: map, required: false, entry_schema: { type: string } }
      user: { type: string, required: false }
  tosca.datatypes.TimeInterval:
    derived_from: tosca.datatypes.Root
    properties:
      start_time: { type: timestamp, required: true }
      end_time: { type: timestamp, required: true }
  tosca.datatypes.network.NetworkInfo:
    derived_from: tosca.datatypes.Root
    properties:
      network_name: { type: string, required: false }
      network_id: { type: string, required: false }
      addresses: { type: list, required: false, entry_schema: { type: string } }
  tosca.datatypes.network.PortInfo:
    derived_from: tosca.datatypes.Root
    properties:
      port_name: { type: string, required: false }
      port_id: { type: string, required: false }
      network_id: { type: string, required: false }
      mac_address: { type: string, required: false }
      addresses: { type: list, required: false, entry_schema: { type: string } }
  tosca.datatypes.network.PortDef:
    derived_from: tosca.datatypes.Root
    type: integer
    constraints:
      - in_range: [ 1, 65535 ]
  tosca.datatypes.network.PortSpec:
    derived_from: tosca.datatypes.Root
    properties:
      protocol:
        type: string
        required: true
        default: tcp
        constraints:
          - valid_values: [ udp, tcp, igmp ]
      target: { type: PortDef, required: false }
      target_range: { type: range, required: false, constraints: [ { in_range: [ 1, 65535 ] } ] }
      source: { type: PortDef, required: false }
      source_range: { type: range, required: false, constraints: [ { in_range: [ 1, 65535 ] } ] }

artifact_types:
  tosca.artifacts.Root:
    description: The root of every TOSCA artifact type.
  tosca.artifacts.File:
    derived_from: tosca.artifacts.Root
  tosca.artifacts.Deployment:
    derived_from: tosca.artifacts.Root
  tosca.artifacts.Deployment.Image:
    derived_from: tosca.artifacts.Deployment
  tosca.artifacts.Deployment.Image.VM:
    derived_from: tosca.artifacts.Deployment.Image
  tosca.artifacts.Deployment.Image.Container.Docker:
    derived_from: tosca.artifacts.Deployment.Image
  tosca.artifacts.Implementation:
    derived_from: tosca.artifacts.Root
  tosca.artifacts.Implementation.Bash:
    derived_from: tosca.artifacts.Implementation
    mime_type: application/x-sh
    file_ext: [ sh ]
  tosca.artifacts.Implementation.Python:
    derived_from: tosca.artifacts.Implementation
    mime_type: application/x-python
    file_ext: [ py ]

capability_types:
  tosca.capabilities.Root:
    description: The root of every TOSCA capability type.
  tosca.capabilities.Node:
    derived_from: tosca.capabilities.Root
  tosca.capabilities.Container:
    derived_from: tosca.capabilities.Root
    properties:
      num_cpus: { type: integer, required: false, constraints: [ { greater_or_equal: 1 } ] }
      cpu_frequency: { type: scalar-unit.frequency, required: false, constraints: [ { greater_or_equal: 0.1 GHz } ] }
      disk_size: { type: scalar-unit.size, required: false, constraints: [ { greater_or_equal: 0 MB } ] }
      mem_size: { type: scalar-unit.size, required: false, constraints: [ { greater_or_equal: 0 MB } ] }
  tosca.capabilities.Compute:
    derived_from: tosca.capabilities.Container
    properties:
      name: { type: string, required: false }
  tosca.capabilities.Container.Docker:
    derived_from: tosca.capabilities.Container
    properties:
      version: { type: list, required: false, entry_schema: { type: version } }
      publish_all: { type: boolean, default: false, required: false }
      publish_ports: { type: list, entry_schema: { type: PortSpec }, required: false }
      expose_ports: { type: list, entry_schema: { type: PortSpec }, required: false }
      volumes: { type: list, entry_schema: { type: string }, required: false }
  tosca.capabilities.Network:
    derived_from: tosca.capabilities.Root
    properties:
      name: { type: string, required: false }
  tosca.capabilities.Storage:
    derived_from: tosca.capabilities.Root
    properties:
      name: { type: string, required: false }
  tosca.capabilities.Endpoint:
    derived_from: tosca.capabilities.Root
    properties:
      protocol: { type: string, required: true, default: tcp }
      port: { type: PortDef, required: false }
      secure: { type: boolean, required: false, default: false }
      url_path: { type: string, required: false }
      port_name: { type: string, required: false }
      network_name: { type: string, required: false, default: PRIVATE }
      initiator:
        type: string
        required: false
        default: source
        constraints:
          - valid_values: [ source, target, peer ]
      ports:
        type: map
        required: false
        constraints:
          - min_length: 1
        entry_schema: { type: PortSpec }
    attributes:
      ip_address: { type: string }
  tosca.capabilities.Endpoint.Admin:
    derived_from: tosca.capabilities.Endpoint
    properties:
      secure: { type: boolean, default: true, constraints: [ { equal: true } ] }
  tosca.capabilities.Endpoint.Public:
    derived_from: tosca.capabilities.Endpoint
    properties:
      network_name: { type: string, default: PUBLIC, constraints: [ { equal: PUBLIC } ] }
      floating: { type: boolean, default: false }
      dns_name: { type: string, required: false }
  tosca.capabilities.Endpoint.Database:
    derived_from: tosca.capabilities.Endpoint
  tosca.capabilities.Attachment:
    derived_from: tosca.capabilities.Root
  tosca.capabilities.OperatingSystem:
    derived_from: tosca.capabilities.Root
    properties:
      architecture: { type: string, required: false }
      type: { type: string, required: false }
      distribution: { type: string, required: false }
      version: { type: version, required: false }
  tosca.capabilities.Scalable:
    derived_from: tosca.capabilities.Root
    properties:
      min_instances: { type: integer, required: true, default: 1 }
      max_instances: { type: integer, required: true, default: 1 }
      default_instances: { type: integer, required: false }
  tosca.capabilities.network.Bindable:
    derived_from: tosca.capabilities.Node
  tosca.capabilities.network.Linkable:
    derived_from: tosca.capabilities.Node

interface_types:
  tosca.interfaces.Root:
    description: The root of every TOSCA interface type.
  tosca.interfaces.node.lifecycle.Standard:
    derived_from: tosca.interfaces.Root
    create: { description: creation }
    configure: { description: configuration }
    start: { description: start }
    stop: { description: stop }
    delete: { description: deletion }
  tosca.interfaces.relationship.Configure:
    derived_from: tosca.interfaces.Root
    pre_configure_source: { description: before the source is configured }
    pre_configure_target: { description: before the target is configured }
    post_configure_source: { description: after the source is configured }
    post_configure_target: { description: after the target is configured }
    add_target: { description: a target was added }
    add_source: { description: a source was added }
    target_changed: { description: a target changed }
    remove_target: { description: a target was removed }

relationship_types:
  tosca.relationships.Root:
    attributes:
      tosca_id: { type: string }
      tosca_name: { type: string }
      state: { type: string }
    interfaces:
      Configure:
        type: tosca.interfaces.relationship.Configure
  tosca.relationships.DependsOn:
    derived_from: tosca.relationships.Root
    valid_target_types: [ tosca.capabilities.Node ]
  tosca.relationships.HostedOn:
    derived_from: tosca.relationships.Root
    valid_target_types: [ tosca.capabilities.Container ]
  tosca.relationships.ConnectsTo:
    derived_from: tosca.relationships.Root
    valid_target_types: [ tosca.capabilities.Endpoint ]
    properties:
      credential: { type: tosca.datatypes.Credential, required: false }
  tosca.relationships.AttachesTo:
    derived_from: tosca.relationships.Root
    valid_target_types: [ tosca.capabilities.Attachment ]
    properties:
      location: { type: string, constraints: [ { min_length: 1 } ] }
      device: { type: string, required: false }
  tosca.relationships.RoutesTo:
    derived_from: tosca.relationships.ConnectsTo
    valid_target_types: [ tosca.capabilities.Endpoint ]
  tosca.relationships.network.LinksTo:
    derived_from: tosca.relationships.DependsOn
    valid_target_types: [ tosca.capabilities.network.Linkable ]
  tosca.relationships.network.BindsTo:
    derived_from: tosca.relationships.DependsOn
    valid_target_types: [ tosca.capabilities.network.Bindable ]

node_types:
  tosca.nodes.Root:
    attributes:
      tosca_id: { type: string }
      tosca_name: { type: string }
      state: { type: string }
    capabilities:
      feature: { type: tosca.capabilities.Node }
    requirements:
      - dependency:
          capability: tosca.capabilities.Node
          node: tosca.nodes.Root
          relationship: tosca.relationships.DependsOn
          occurrences: [ 0, UNBOUNDED ]
    interfaces:
      Standard:
        type: tosca.interfaces.node.lifecycle.Standard
  tosca.nodes.Compute:
    derived_from: tosca.nodes.Root
    attributes:
      private_address: { type: string }
      public_address: { type: string }
      networks: { type: map, entry_schema: { type: tosca.datatypes.network.NetworkInfo } }
      ports: { type: map, entry_schema: { type: tosca.datatypes.network.PortInfo } }
    requirements:
      - local_storage:
          capability: tosca.capabilities.Attachment
          node: tosca.nodes.BlockStorage
          relationship: tosca.relationships.AttachesTo
          occurrences: [ 0, UNBOUNDED ]
    capabilities:
      host:
        type: tosca.capabilities.Compute
        valid_source_types: [ tosca.nodes.SoftwareComponent ]
      endpoint: { type: tosca.capabilities.Endpoint.Admin }
      os: { type: tosca.capabilities.OperatingSystem }
      scalable: { type: tosca.capabilities.Scalable }
      binding: { type: tosca.capabilities.network.Bindable }
  tosca.nodes.SoftwareComponent:
    derived_from: tosca.nodes.Root
    properties:
      component_version: { type: version, required: false }
      admin_credential: { type: tosca.datatypes.Credential, required: false }
    requirements:
      - host:
          capability: tosca.capabilities.Compute
          node: tosca.nodes.Compute
          relationship: tosca.relationships.HostedOn
  tosca.nodes.WebServer:
    derived_from: tosca.nodes.SoftwareComponent
    capabilities:
      data_endpoint: { type: tosca.capabilities.Endpoint }
      admin_endpoint: { type: tosca.capabilities.Endpoint.Admin }
      host:
        type: tosca.capabilities.Container
        valid_source_types: [ tosca.nodes.WebApplication ]
  tosca.nodes.WebApplication:
    derived_from: tosca.nodes.Root
    properties:
      context_root: { type: string, required: false }
    capabilities:
      app_endpoint: { type: tosca.capabilities.Endpoint }
    requirements:
      - host:
          capability: tosca.capabilities.Container
          node: tosca.nodes.WebServer
          relationship: tosca.relationships.HostedOn
  tosca.nodes.DBMS:
    derived_from: tosca.nodes.SoftwareComponent
    properties:
      root_password: { type: string, required: false }
      port: { type: integer, required: false }
    capabilities:
      host:
        type: tosca.capabilities.Container
        valid_source_types: [ tosca.nodes.Database ]
  tosca.nodes.Database:
    derived_from: tosca.nodes.Root
    properties:
      name: { type: string }
      port: { type: integer, required: false }
      user: { type: string, required: false }
      password: { type: string, required: false }
    requirements:
      - host:
          capability: tosca.capabilities.Container
          node: tosca.nodes.DBMS
          relationship: tosca.relationships.HostedOn
    capabilities:
      database_endpoint: { type: tosca.capabilities.Endpoint.Database }
  tosca.nodes.ObjectStorage:
    derived_from: tosca.nodes.Root
    properties:
      name: { type: string }
      size: { type: scalar-unit.size, required: false, constraints: [ { greater_or_equal: 0 GB } ] }
      maxsize: { type: scalar-unit.size, required: false, constraints: [ { greater_or_equal: 0 GB } ] }
    capabilities:
      storage_endpoint: { type: tosca.capabilities.Endpoint }
  tosca.nodes.BlockStorage:
    derived_from: tosca.nodes.Root
    properties:
      size: { type: scalar-unit.size, required: false, constraints: [ { greater_or_equal: 1 MB } ] }
      volume_id: { type: string, required: false }
      snapshot_id: { type: string, required: false }
    attributes:
      volume_id: { type: string }
    capabilities:
      attachment: { type: tosca.capabilities.Attachment }
  tosca.nodes.Container.Runtime:
    derived_from: tosca.nodes.SoftwareComponent
    capabilities:
      host: { type: tosca.capabilities.Container }
      scalable: { type: tosca.capabilities.Scalable }
  tosca.nodes.Container.Application:
    derived_from: tosca.nodes.Root
    requirements:
      - host:
          capability: tosca.capabilities.Container
          node: tosca.nodes.Container.Runtime
          relationship: tosca.relationships.HostedOn
  tosca.nodes.LoadBalancer:
    derived_from: tosca.nodes.Root
    properties:
      algorithm: { type: string, required: false }
    capabilities:
      client: { type: tosca.capabilities.Endpoint.Public }
    requirements:
      - application:
          capability: tosca.capabilities.Endpoint
          relationship: tosca.relationships.RoutesTo
          occurrences: [ 0, UNBOUNDED ]
  tosca.nodes.network.Network:
    derived_from: tosca.nodes.Root
    properties:
      ip_version: { type: integer, required: false, default: 4, constraints: [ { valid_values: [ 4, 6 ] } ] }
      cidr: { type: string, required: false }
      start_ip: { type: string, required: false }
      end_ip: { type: string, required: false }
      gateway_ip: { type: string, required: false }
      network_name: { type: string, required: false }
      network_id: { type: string, required: false }
      segmentation_id: { type: string, required: false }
      network_type: { type: string, required: false }
      physical_network: { type: string, required: false }
      dhcp_enabled: { type: boolean, required: false, default: true }
    capabilities:
      link: { type: tosca.capabilities.network.Linkable }
  tosca.nodes.network.Port:
    derived_from: tosca.nodes.Root
    properties:
      ip_address: { type: string, required: false }
      order: { type: integer, required: true, default: 0, constraints: [ { greater_or_equal: 0 } ] }
      is_default: { type: boolean, required: false, default: false }
      ip_range_start: { type: string, required: false }
      ip_range_end: { type: string, required: false }
    requirements:
      - link:
          capability: tosca.capabilities.network.Linkable
          relationship: tosca.relationships.network.LinksTo
      - binding:
          capability: tosca.capabilities.network.Bindable
          relationship: tosca.relationships.network.BindsTo

group_types:
  tosca.groups.Root:
    description: The root of every TOSCA group type.

policy_types:
  tosca.policies.Root:
    description: The root of every TOSCA policy type.
  tosca.policies.Placement:
    derived_from: tosca.policies.Root
  tosca.policies.Scaling:
    derived_from: tosca.policies.Root
  tosca.policies.Update:
    derived_from: tosca.policies.Root
  tosca.policies.Performance:
    derived_from: tosca.policies.Root
`;

export type TypeSection =
  | 'data_types'
  | 'artifact_types'
  | 'capability_types'
  | 'interface_types'
  | 'relationship_types'
  | 'node_types'
  | 'group_types'
  | 'policy_types';

export const TYPE_SECTIONS: readonly TypeSection[] = [
  'data_types',
  'artifact_types',
  'capability_types',
  'interface_types',
  'relationship_types',
  'node_types',
  'group_types',
  'policy_types',
];

let parsed: Record<TypeSection, Record<string, Record<string, unknown>>> | undefined;

/** The normative type definitions by section (shared; never modify). */
export function normativeTypes(): Record<TypeSection, Record<string, Record<string, unknown>>> {
  parsed ??= loadYaml(NORMATIVE) as Record<TypeSection, Record<string, Record<string, unknown>>>;
  return parsed;
}
