/**
 * Validation pass (IM's `radl.check()`): types, operators, enumerations, units, indexed families, references
 * between sections, deploy counts, recipe YAML and contextualize items. Throws RadlError with IM's wording,
 * prefixed `Line N: ` when the line is known, and followed by where the problem is.
 */
import yaml from 'js-yaml';
import { RadlError } from './errors.ts';
import { isMemoryUnit, isPerformanceUnit, MEMORY_UNITS, PERFORMANCE_UNITS, toBaseUnits } from './format.ts';
import type { AnsibleHost, Feature, Features, Network, Radl, System } from './model.ts';
import { parseOutports } from './outports.ts';

type ValueType = 'str' | 'num' | 'int' | 'strOrList' | 'contains';
type Ops = 'eq' | 'cmp' | 'contains';
type Units = 'none' | 'memory' | 'performance';

interface Rule {
  type: ValueType;
  ops: Ops;
  units?: Units;
  /** Allowed values, compared upper-cased. */
  values?: readonly string[];
  /** Extra predicate: returns an explanation when the value is invalid. */
  pred?: (v: string, radl: Radl) => string | undefined;
  /** Numbers must be ≥ 0. */
  nonNegative?: boolean;
}

const STR: Rule = { type: 'str', ops: 'eq' };
const YES_NO = ['YES', 'NO'] as const;

function passwordProblem(v: string): string | undefined {
  if (v.length > 6 && /[A-Z]/.test(v) && /[0-9]/.test(v) && /[^A-Za-z0-9]/.test(v)) return undefined;
  return 'the new password must be longer than 6 characters and contain an upper-case letter, a digit and a non-alphanumeric character';
}

const SYSTEM_RULES: Record<string, Rule> = {
  'cpu.count': { type: 'num', ops: 'cmp', units: 'none', nonNegative: true },
  'cpu.arch': { type: 'str', ops: 'eq', values: ['I386', 'X86_64'] },
  'cpu.performance': { type: 'num', ops: 'cmp', units: 'performance', nonNegative: true },
  'memory.size': { type: 'int', ops: 'cmp', units: 'memory', nonNegative: true },
  price: { type: 'num', ops: 'cmp', units: 'none', nonNegative: true },
  spot: { type: 'str', ops: 'eq', values: YES_NO },
  image_type: { type: 'str', ops: 'eq', values: ['VMDK', 'QCOW', 'QCOW2', 'RAW'] },
  virtual_system_type: STR,
  ansible_host: {
    type: 'str',
    ops: 'eq',
    pred: (v, radl) => (radl.getAnsibleHostById(v) ? undefined : `there is no 'ansible ${v}' section`),
  },
};

const NET_IFACE_RULES: Record<string, Rule> = {
  connection: {
    type: 'str',
    ops: 'eq',
    pred: (v, radl) => (radl.getNetworkById(v) ? undefined : `there is no 'network ${v}' section`),
  },
  ip: STR,
  dns_name: STR,
};

const DISK_RULES: Record<string, Rule> = {
  'image.url': { type: 'strOrList', ops: 'eq' },
  'image.name': STR,
  type: STR,
  device: STR,
  mount_path: STR,
  fstype: STR,
  'os.flavour': STR,
  'os.credentials.username': STR,
  'os.credentials.password': STR,
  'os.credentials.public_key': STR,
  'os.credentials.private_key': STR,
  'os.credentials.new.password': { type: 'str', ops: 'eq', pred: passwordProblem },
  size: { type: 'num', ops: 'cmp', units: 'memory', nonNegative: true },
  free_size: { type: 'num', ops: 'cmp', units: 'memory', nonNegative: true },
  'os.name': { type: 'str', ops: 'eq', values: ['LINUX', 'WINDOWS', 'MAC OS X'] },
  'os.version': {
    type: 'str',
    ops: 'cmp',
    pred: (v) => (/^[0-9.]*$/.test(v) ? undefined : 'a version has only digits and dots'),
  },
  applications: { type: 'contains', ops: 'contains' },
};

const NETWORK_RULES: Record<string, Rule> = {
  outbound: { type: 'str', ops: 'eq', values: YES_NO },
  outports: {
    type: 'str',
    ops: 'eq',
    pred: (v) => {
      try {
        parseOutports(v);
        return undefined;
      } catch (e) {
        return e instanceof RadlError ? e.reason.replace("Invalid value in property 'outports': ", '') : 'malformed';
      }
    },
  },
  provider_id: STR,
};

const ANSIBLE_RULES: Record<string, Rule> = {
  host: STR,
  'credentials.username': STR,
  'credentials.password': STR,
  'credentials.private_key': STR,
};

const APP_RULES: Record<string, Rule> = {
  name: STR,
  version: { type: 'str', ops: 'cmp' },
  preinstalled: { type: 'str', ops: 'eq', values: YES_NO },
  path: STR,
};

const TYPE_NAMES: Record<ValueType, string> = {
  str: "<class 'str'>",
  num: "(<class 'int'>, <class 'float'>)",
  int: "<class 'int'>",
  strOrList: "(<class 'str'>, <class 'list'>)",
  contains: "<class 'Features'> (use 'contains')",
};

function fail(reason: string, line: number | undefined): never {
  throw RadlError.check(reason, line);
}

/** `(system 'front': cpu.arch = 'i686')` */
function where(owner: string, f: Feature): string {
  return ` (${owner}: ${String(f)})`;
}

function checkFeature(f: Feature, rule: Rule, owner: string, radl: Radl, ownerLine?: number): void {
  const line = f.line ?? ownerLine;
  const v = f.value;
  // Type.
  let typeOk: boolean;
  switch (rule.type) {
    case 'str':
      typeOk = typeof v === 'string';
      break;
    case 'num':
    case 'int':
      typeOk = typeof v === 'number';
      break;
    case 'strOrList':
      typeOk = typeof v === 'string' || Array.isArray(v);
      break;
    default:
      typeOk = f.isContains();
  }
  if (!typeOk) fail(`Invalid type; expected ${TYPE_NAMES[rule.type]}${where(owner, f)}`, line);
  // Operator.
  if (rule.ops === 'eq' && f.operator !== '=') fail(`Invalid operator; expected '='${where(owner, f)}`, line);
  if (rule.ops === 'cmp' && f.operator === 'contains') {
    fail(`Invalid operator; expected '=', '<=', '>=', '>' or '<'${where(owner, f)}`, line);
  }
  if (rule.ops === 'contains' && f.operator !== 'contains') fail(`Invalid operator; expected 'contains'${where(owner, f)}`, line);
  // Units.
  if (typeof v === 'number') {
    const units = rule.units ?? 'none';
    if (units === 'none' && f.unit !== undefined) fail(`Invalid unit; expected none${where(owner, f)}`, line);
    if (units === 'memory' && f.unit !== undefined && !isMemoryUnit(f.unit)) {
      fail(`Invalid unit; expected one of ${pyList(MEMORY_UNITS)}${where(owner, f)}`, line);
    }
    if (units === 'performance' && !isPerformanceUnit(f.unit)) {
      fail(`Invalid unit; expected one of ${pyList(PERFORMANCE_UNITS)}${where(owner, f)}`, line);
    }
    if (rule.nonNegative && v < 0) fail(`Invalid value in property '${f.prop}'; it must not be negative${where(owner, f)}`, line);
    if (rule.type === 'int' && !Number.isInteger(toBaseUnits(v, f.unit))) {
      fail(`Invalid type; expected ${TYPE_NAMES.int} (a whole number of bytes)${where(owner, f)}`, line);
    }
  }
  // Values.
  if (typeof v === 'string') {
    if (rule.values && !rule.values.includes(v.toUpperCase())) {
      fail(`Invalid value; expected one of ${pyList(rule.values)}${where(owner, f)}`, line);
    }
    if (rule.pred) {
      const problem = rule.pred(v, radl);
      if (problem !== undefined) fail(`Invalid value in property '${f.prop}': ${problem}${where(owner, f)}`, line);
    }
  }
}

function pyList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v}'`).join(', ')}]`;
}

/** Split `disk.3.size` into index '3' and suffix 'size'. */
function splitIndexed(prop: string, prefixLen: number): { idx: string; suffix: string } {
  const dot = prop.indexOf('.', prefixLen);
  return dot < 0 ? { idx: prop.slice(prefixLen), suffix: '' } : { idx: prop.slice(prefixLen, dot), suffix: prop.slice(dot + 1) };
}

function checkIndices(used: Map<number, Feature>, family: string, owner: string, ownerLine?: number): void {
  let i = 0;
  while (used.has(i)) i++;
  if (i !== used.size) {
    const bad = [...used.keys()].filter((k) => k >= i).sort((a, b) => a - b)[0];
    const f = used.get(bad)!;
    fail(
      `Invalid indices values in properties '${family}' (${owner}: indices must be consecutive from 0, ` +
        `'${family}.${bad}' is used but '${family}.${i}' is not)`,
      f.line ?? ownerLine,
    );
  }
}

/** How a system property is validated (memoised per property name: documents reuse the same names). */
interface PropClass {
  rule: Rule | undefined;
  /** 0 = plain, 1 = disk.N.*, 2 = net_interface.N.*, -1 = indexed family with a non-integer index. */
  family: number;
  index: number;
  isApplications: boolean;
  /** `net_interface.N.connection` of the same index (family 2). */
  connection: string;
}

const PROP_CLASS = new Map<string, PropClass>();
const PROP_CLASS_MAX = 4096;

function own<T>(rules: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(rules, key) ? rules[key] : undefined;
}

function classify(p: string): PropClass {
  let c = PROP_CLASS.get(p);
  if (c !== undefined) return c;
  const family = p.startsWith('disk.') ? 1 : p.startsWith('net_interface.') ? 2 : 0;
  if (family === 0) {
    c = { rule: own(SYSTEM_RULES, p), family, index: 0, isApplications: false, connection: '' };
  } else {
    const { idx, suffix } = splitIndexed(p, family === 1 ? 5 : 14);
    if (!/^\d+$/.test(idx)) {
      c = { rule: undefined, family: -1, index: 0, isApplications: false, connection: '' };
    } else {
      c = {
        rule: own(family === 1 ? DISK_RULES : NET_IFACE_RULES, suffix),
        family,
        index: Number(idx),
        isApplications: family === 1 && suffix === 'applications',
        connection: family === 2 ? `net_interface.${idx}.connection` : '',
      };
    }
  }
  if (PROP_CLASS.size >= PROP_CLASS_MAX) PROP_CLASS.clear();
  PROP_CLASS.set(p, c);
  return c;
}

/** Feature checks of a system (or of one of its soft blocks when `soft`). */
function checkSystemFeatures(fs: Features, owner: string, radl: Radl, ownerLine: number | undefined, soft: boolean): void {
  let disks: Map<number, Feature> | undefined;
  let ifaces: Map<number, Feature> | undefined;
  let ifaceAny: Map<number, [Feature, string]> | undefined;
  for (const f of fs.features()) {
    const c = classify(f.prop);
    if (c.family === -1) fail(`Invalid property name; expected an index.${where(owner, f)}`, f.line ?? ownerLine);
    if (c.family === 2) {
      ifaceAny ??= new Map();
      if (!ifaceAny.has(c.index)) ifaceAny.set(c.index, [f, c.connection]);
      if (c.rule) (ifaces ??= new Map()).set(c.index, f);
    } else if (c.family === 1 && c.rule) {
      (disks ??= new Map()).set(c.index, f);
    }
    if (c.isApplications && f.isContains()) checkApplication(f, owner, radl, ownerLine);
    if (c.rule) checkFeature(f, c.rule, owner, radl, ownerLine);
  }
  if (soft) return;
  if (disks) checkIndices(disks, 'disk', owner, ownerLine);
  if (ifaces) checkIndices(ifaces, 'net_interface', owner, ownerLine);
  if (ifaceAny) {
    for (const [n, [f, conn]] of ifaceAny) {
      if (!fs.hasFeature(conn)) {
        fail(`Some net_interface does not have a connection (${owner}: 'net_interface.${n}.connection' is missing)`, f.line ?? ownerLine);
      }
    }
  }
}

function checkApplication(f: Feature, owner: string, radl: Radl, ownerLine?: number): void {
  const app = f.value as Features;
  const name = app.getFeature('name');
  if (name === undefined) {
    fail(`Invalid value in property '${f.prop}': every application needs name = '…'${where(owner, f)}`, f.line ?? ownerLine);
  }
  for (const g of app.features()) {
    const rule = APP_RULES[g.prop];
    if (rule && Object.prototype.hasOwnProperty.call(APP_RULES, g.prop)) {
      checkFeature(g, rule, `${owner}, application '${String(name.value)}'`, radl, f.line ?? ownerLine);
    }
  }
}

function checkSystem(s: System, radl: Radl): void {
  const owner = `system '${s.name}'`;
  checkSystemFeatures(s, owner, radl, s.line, false);
  for (const soft of s.softs) checkSystemFeatures(soft, `${owner}, soft ${soft.weight}`, radl, soft.line ?? s.line, true);
}

function checkRuled(fs: Network | AnsibleHost, rules: Record<string, Rule>, owner: string, radl: Radl): void {
  for (const f of fs.features()) {
    if (Object.prototype.hasOwnProperty.call(rules, f.prop)) checkFeature(f, rules[f.prop], owner, radl, fs.line);
  }
}

function checkAnsible(a: AnsibleHost, radl: Radl): void {
  const owner = `ansible '${a.id}'`;
  checkRuled(a, ANSIBLE_RULES, owner, radl);
  if (!a.hasFeature('host')) fail(`Ansible host must have a host (${owner})`, a.line);
  if (!a.hasFeature('credentials.username')) fail(`Ansible host must have a credentials.username (${owner})`, a.line);
  if (!a.hasFeature('credentials.password') && !a.hasFeature('credentials.private_key')) {
    fail(`Ansible host must have a credentials.password or credentials.private_key (${owner})`, a.line);
  }
}

// Recipe YAML validation results, memoised: the IM checks the same recipes again and again (create, add,
// merge into the infrastructure). Bounded; only successes are cached.
const YAML_OK = new Map<string, true>();
const YAML_CACHE_MAX = 256;
const YAML_CACHE_MAX_LEN = 1 << 20;

export interface CheckOptions {
  /** Memoise successful recipe YAML validations (default true). */
  yamlCache?: boolean;
}

function checkYaml(recipe: string, name: string, line: number | undefined, recipeLine: number | undefined, cache: boolean): void {
  if (cache && YAML_OK.has(recipe)) return;
  try {
    yaml.load(recipe);
  } catch (e) {
    const ex = e as { reason?: unknown; mark?: { line?: unknown; column?: unknown }; message?: unknown };
    const reason = typeof ex.reason === 'string' ? ex.reason : String(ex.message ?? e);
    const mLine = typeof ex.mark?.line === 'number' ? ex.mark.line : undefined;
    // Absolute line: the recipe starts right after '@begin' (its first character is on the @begin line).
    const abs = recipeLine !== undefined && mLine !== undefined ? recipeLine + mLine : line;
    const pos = mLine !== undefined ? ` at line ${mLine + 1} of the recipe` : '';
    fail(`Invalid YAML code: ${reason}${pos}. (configure '${name}')`, abs);
  }
  if (cache && recipe.length <= YAML_CACHE_MAX_LEN) {
    if (YAML_OK.size >= YAML_CACHE_MAX) YAML_OK.delete(YAML_OK.keys().next().value as string);
    YAML_OK.set(recipe, true);
  }
}

/**
 * Validate a RADL (IM's `check()`). Throws RadlError on the first problem found; order: networks, ansible
 * hosts, systems, deploys, configures, contextualize, global duplicates.
 */
export function checkRadl(radl: Radl, opts: CheckOptions = {}): void {
  const cache = opts.yamlCache !== false;
  for (const n of radl.networks) checkRuled(n, NETWORK_RULES, `network '${n.id}'`, radl);
  for (const a of radl.ansibleHosts) checkAnsible(a, radl);
  for (const s of radl.systems) checkSystem(s, radl);
  for (const d of radl.deploys) {
    if (!radl.getSystemByName(d.systemId)) {
      fail(`Invalid system id in the deploy. (deploy ${d.systemId}: there is no 'system ${d.systemId}' section)`, d.line);
    }
    if (!Number.isInteger(d.vmNumber) || d.vmNumber < 0) {
      fail(`Invalid number of virtual machines to deploy. (deploy ${d.systemId} ${d.vmNumber}: expected an integer ≥ 0)`, d.line);
    }
  }
  for (const c of radl.configures) {
    if (c.recipes !== null && c.recipes.trim() !== '') checkYaml(c.recipes, c.name, c.line, c.recipeLine, cache);
  }
  const ctx = radl.contextualize;
  if (ctx) {
    if (ctx.maxTime !== undefined && (!Number.isInteger(ctx.maxTime) || ctx.maxTime < 0)) {
      fail(`Invalid 'max time' in 'contextualize' (${ctx.maxTime}: expected an integer number of seconds ≥ 0)`, ctx.line);
    }
    for (const it of ctx.items) {
      const item = `system ${it.systemId} configure ${it.configureId}`;
      if (!radl.getSystemByName(it.systemId)) {
        fail(`Invalid system id '${it.systemId}' in 'contextualize' (${item}: there is no 'system ${it.systemId}' section)`, it.line ?? ctx.line);
      }
      if (!radl.getConfigureByName(it.configureId)) {
        fail(
          `Invalid configure id '${it.configureId}' in 'contextualize' (${item}: there is no 'configure ${it.configureId}' section)`,
          it.line ?? ctx.line,
        );
      }
      if (it.step !== undefined && (!Number.isInteger(it.step) || it.step < 0)) {
        fail(`Invalid step ${it.step} in 'contextualize' (${item}: expected an integer ≥ 0)`, it.line ?? ctx.line);
      }
    }
  }
  const dup = (names: string[]): boolean => new Set(names).size !== names.length;
  if (dup(radl.systems.map((s) => s.name))) fail('Some System name duplicated.', undefined);
  if (dup(radl.networks.map((n) => n.id))) fail('Some Network name duplicated.', undefined);
}
