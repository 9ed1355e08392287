/**
 * RADL object model: the sections (network, system, ansible, configure, deploy, contextualize,
 * description) and the document, on the features of ./features.ts. Pure domain code.
 */
import { RadlError } from './errors.ts';
import { replaceNumTemplate as replaceNum } from './format.ts';
import { parseOutports, type OutPort } from './outports.ts';
import { Feature, Features, type ConflictMode, type Comparator } from './features.ts';

export * from './features.ts';

// ---------------------------------------------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------------------------------------------

/** `soft W ( … )`: a weighted preference block of a system. */
export class SoftBlock extends Features {
  weight: number;
  line?: number;
  column?: number;

  constructor(weight: number, features?: Iterable<Feature>) {
    super(features);
    this.weight = weight;
  }

  override clone(): SoftBlock {
    const c = new SoftBlock(this.weight);
    this.copyFeaturesTo(c);
    if (this.line !== undefined) c.line = this.line;
    if (this.column !== undefined) c.column = this.column;
    return c;
  }
}

/** A LAN. `network X` without body is a reference to a network of the infrastructure. */
export class Network extends Features {
  id: string;
  reference: boolean;
  line?: number;
  column?: number;

  constructor(id: string, features?: Iterable<Feature>, reference = false) {
    super(features);
    this.id = id;
    this.reference = reference;
  }

  /** True when `outbound = 'yes'` (lower-case, as in IM). */
  isPublic(): boolean {
    return this.getString('outbound') === 'yes';
  }

  /** Parsed `outports` (undefined when absent). Throws RadlError when malformed. */
  getOutPorts(): OutPort[] | undefined {
    const v = this.getString('outports');
    return v === undefined ? undefined : parseOutports(v);
  }

  override clone(): Network {
    const c = new Network(this.id, undefined, this.reference);
    this.copyFeaturesTo(c);
    copyPos(this, c);
    return c;
  }
}

/** A VM type. `system X` without body is a reference. Soft blocks are kept apart from the hard features. */
export class System extends Features {
  name: string;
  reference: boolean;
  softs: SoftBlock[] = [];
  line?: number;
  column?: number;

  constructor(name: string, features?: Iterable<Feature>, reference = false) {
    super(features);
    this.name = name;
    this.reference = reference;
  }

  /** Merge features (and soft blocks) of `other` into this system. */
  override merge(other: Features, conflict: ConflictMode = 'error'): void {
    super.merge(other, conflict);
    if (other instanceof System) for (const s of other.softs) this.softs.push(s.clone());
  }

  /** Ids of the networks the interfaces connect to, by interface index. */
  getNetworkIds(): string[] {
    const out: string[] = [];
    for (let i = 0; ; i++) {
      const c = this.getString(`net_interface.${i}.connection`);
      if (c === undefined) break;
      out.push(c);
    }
    return out;
  }

  override clone(): System {
    const c = new System(this.name, undefined, this.reference);
    this.copyFeaturesTo(c);
    c.softs = this.softs.map((s) => s.clone());
    copyPos(this, c);
    return c;
  }
}

/** An external Ansible master (`host`, `credentials.username`, `credentials.password|private_key`). */
export class AnsibleHost extends Features {
  id: string;
  line?: number;
  column?: number;

  constructor(id: string, features?: Iterable<Feature>) {
    super(features);
    this.id = id;
  }

  override clone(): AnsibleHost {
    const c = new AnsibleHost(this.id);
    this.copyFeaturesTo(c);
    copyPos(this, c);
    return c;
  }
}

/** Infrastructure metadata (`name`, `namespace`, …). Not validated. */
export class Description extends Features {
  id: string;
  line?: number;
  column?: number;

  constructor(id: string, features?: Iterable<Feature>) {
    super(features);
    this.id = id;
  }

  override clone(): Description {
    const c = new Description(this.id);
    this.copyFeaturesTo(c);
    copyPos(this, c);
    return c;
  }
}

/**
 * A recipe (Ansible YAML or cloud-init) between `@begin` and `@end`.
 * `recipes === null` with `reference === false` is the empty `configure X ()`; `reference` is `configure X`.
 */
export class Configure {
  name: string;
  recipes: string | null;
  reference: boolean;
  line?: number;
  column?: number;
  /** Line of `@begin` (the recipe's first character is on it), for YAML error positions. */
  recipeLine?: number;

  constructor(name: string, recipes: string | null = null, reference = false) {
    this.name = name;
    this.recipes = recipes;
    this.reference = reference;
  }

  clone(): Configure {
    const c = new Configure(this.name, this.recipes, this.reference);
    copyPos(this, c);
    if (this.recipeLine !== undefined) c.recipeLine = this.recipeLine;
    return c;
  }
}

/** `deploy S N [cloudId]`. */
export class Deploy {
  systemId: string;
  vmNumber: number;
  cloudId?: string;
  line?: number;
  column?: number;

  constructor(systemId: string, vmNumber: number, cloudId?: string) {
    this.systemId = systemId;
    this.vmNumber = vmNumber;
    if (cloudId !== undefined) this.cloudId = cloudId;
  }

  clone(): Deploy {
    const c = new Deploy(this.systemId, this.vmNumber, this.cloudId);
    copyPos(this, c);
    return c;
  }
}

/** `system S configure C [step N] [with tool]` inside contextualize. */
export interface ContextualizeItem {
  systemId: string;
  configureId: string;
  step?: number;
  /** `Ansible` (default) or `cloud_init`. */
  ctxtTool?: string;
  line?: number;
  column?: number;
}

export interface ContextualizeOption {
  operator: Comparator;
  value: string | number;
}

/** Ordering/targeting of configures. `contextualize ()` (no items, no options) disables contextualization. */
export class Contextualize {
  maxTime?: number;
  items: ContextualizeItem[] = [];
  /** Options by name (null-prototype object), e.g. `ansible_version`. */
  options: Record<string, ContextualizeOption> = Object.create(null) as Record<string, ContextualizeOption>;
  line?: number;
  column?: number;

  constructor(items: ContextualizeItem[] = [], maxTime?: number) {
    for (const it of items) this.addItem(it);
    if (maxTime !== undefined) this.maxTime = maxTime;
  }

  /** True for `contextualize ()`: no items and no options (contextualization disabled). */
  isEmpty(): boolean {
    return this.items.length === 0 && Object.keys(this.options).length === 0;
  }

  /** Add an item; an item for the same (system, configure) pair replaces the earlier one in place. */
  addItem(item: ContextualizeItem): void {
    const i = this.items.findIndex((x) => x.systemId === item.systemId && x.configureId === item.configureId);
    if (i >= 0) this.items[i] = { ...item };
    else this.items.push({ ...item });
  }

  /** Items of a system, in order. */
  getItemsBySystem(systemId: string): ContextualizeItem[] {
    return this.items.filter((x) => x.systemId === systemId);
  }

  /** Merge another block: items keyed by (system, configure), options by name, max time = maximum. */
  merge(other: Contextualize): void {
    for (const it of other.items) this.addItem(it);
    for (const k of Object.keys(other.options)) this.options[k] = { ...other.options[k] };
    if (other.maxTime !== undefined) {
      this.maxTime = this.maxTime === undefined ? other.maxTime : Math.max(this.maxTime, other.maxTime);
    }
  }

  clone(): Contextualize {
    const c = new Contextualize();
    c.items = this.items.map((x) => ({ ...x }));
    for (const k of Object.keys(this.options)) c.options[k] = { ...this.options[k] };
    if (this.maxTime !== undefined) c.maxTime = this.maxTime;
    copyPos(this, c);
    return c;
  }
}

function copyPos(from: { line?: number; column?: number }, to: { line?: number; column?: number }): void {
  if (from.line !== undefined) to.line = from.line;
  if (from.column !== undefined) to.column = from.column;
}

/** Any top-level section. */
export type Aspect = Network | System | AnsibleHost | Configure | Deploy | Contextualize | Description;

// ---------------------------------------------------------------------------------------------------------------
// Document
// ---------------------------------------------------------------------------------------------------------------

/** A RADL document. */
export class Radl {
  description?: Description;
  networks: Network[] = [];
  systems: System[] = [];
  ansibleHosts: AnsibleHost[] = [];
  configures: Configure[] = [];
  deploys: Deploy[] = [];
  contextualize?: Contextualize;

  getSystemByName(name: string): System | undefined {
    return this.systems.find((s) => s.name === name);
  }
  getNetworkById(id: string): Network | undefined {
    return this.networks.find((n) => n.id === id);
  }
  getConfigureByName(name: string): Configure | undefined {
    return this.configures.find((c) => c.name === name);
  }
  getAnsibleHostById(id: string): AnsibleHost | undefined {
    return this.ansibleHosts.find((a) => a.id === id);
  }
  /** Public networks (outbound = 'yes'). */
  getPublicNetworks(): Network[] {
    return this.networks.filter((n) => n.isPublic());
  }

  /** True when there is nothing in the document. */
  isEmpty(): boolean {
    return (
      this.description === undefined &&
      this.contextualize === undefined &&
      this.networks.length + this.systems.length + this.ansibleHosts.length + this.configures.length === 0 &&
      this.deploys.length === 0
    );
  }

  /**
   * Add a section. For id-bearing sections an existing one with the same id is handled by `ifPresent`:
   * 'error' throws RadlError (`Aspect with the same id was found.`), 'replace' replaces it in place,
   * 'ignore' keeps the existing one. Deploys are appended; contextualize blocks are merged.
   */
  add(aspect: Aspect, ifPresent: 'error' | 'replace' | 'ignore' = 'error'): void {
    const put = <T>(list: T[], idx: number, what: string): void => {
      if (idx < 0) list.push(aspect as T);
      else if (ifPresent === 'replace') list[idx] = aspect as T;
      else if (ifPresent === 'error') throw new RadlError(`Aspect with the same id was found. (${what})`);
    };
    if (aspect instanceof System) {
      put(this.systems, this.systems.findIndex((s) => s.name === aspect.name), `system '${aspect.name}'`);
    } else if (aspect instanceof Network) {
      put(this.networks, this.networks.findIndex((s) => s.id === aspect.id), `network '${aspect.id}'`);
    } else if (aspect instanceof AnsibleHost) {
      put(this.ansibleHosts, this.ansibleHosts.findIndex((s) => s.id === aspect.id), `ansible '${aspect.id}'`);
    } else if (aspect instanceof Description) {
      if (this.description === undefined || ifPresent === 'replace') this.description = aspect;
      else if (ifPresent === 'error') throw new RadlError('Description can only be defined once.');
    } else if (aspect instanceof Configure) {
      put(this.configures, this.configures.findIndex((s) => s.name === aspect.name), `configure '${aspect.name}'`);
    } else if (aspect instanceof Deploy) {
      this.deploys.push(aspect);
    } else if (aspect instanceof Contextualize) {
      if (this.contextualize === undefined) this.contextualize = aspect;
      else this.contextualize.merge(aspect);
    }
  }

  clone(): Radl {
    const r = new Radl();
    if (this.description) r.description = this.description.clone();
    r.networks = this.networks.map((x) => x.clone());
    r.systems = this.systems.map((x) => x.clone());
    r.ansibleHosts = this.ansibleHosts.map((x) => x.clone());
    r.configures = this.configures.map((x) => x.clone());
    r.deploys = this.deploys.map((x) => x.clone());
    if (this.contextualize) r.contextualize = this.contextualize.clone();
    return r;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers for the core
// ---------------------------------------------------------------------------------------------------------------

/**
 * A one-VM RADL: clones of the networks the system connects to (`net_interface.N.connection`, in document
 * order), of the ansible host it names (`ansible_host`), and of the system itself.
 */
export function systemRadl(radl: Radl, system: System | string): Radl {
  const sys = typeof system === 'string' ? radl.getSystemByName(system) : system;
  if (sys === undefined) throw new RadlError(`Unknown system '${String(system)}'`);
  const r = new Radl();
  const used = new Set<string>();
  for (const p of sys.props()) {
    if (p.startsWith('net_interface.') && p.endsWith('.connection')) {
      const c = sys.getString(p);
      if (c !== undefined) used.add(c);
    }
  }
  for (const n of radl.networks) if (used.has(n.id)) r.networks.push(n.clone());
  const ah = sys.getString('ansible_host');
  if (ah !== undefined) {
    const a = radl.getAnsibleHostById(ah);
    if (a) r.ansibleHosts.push(a.clone());
  }
  r.systems.push(sys.clone());
  return r;
}

/** Replace every `#N#` with the VM id. */
export function replaceNumTemplate(s: string, vmId: number | string): string {
  return replaceNum(s, vmId);
}
