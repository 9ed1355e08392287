/**
 * RADL-JSON: parse and emit. A JSON array of objects, each with a `class`:
 * network | system | ansible | configure | deploy | contextualize | description.
 *
 * Emission is canonical: numbers in base units (bytes), an equality as `"f": v`, numeric bounds as `"f_min"` / `"f_max"`
 * (a string bound is written as `"f": v`, as IM does)
 * (both when both exist), lists as arrays, `contains` sets as arrays of objects, soft blocks as
 * `"softs": [{"weight": W, "items": {…}}]`, description with its id. text → model → JSON → model keeps meaning.
 */
import { RadlError } from './errors.ts';
import {
  formatNumber,
  isIdentifier,
  isMemoryUnit,
  isPerformanceUnit,
  isQuotable,
  MAX_RANDOM_LENGTH,
  randomAlphanumeric,
  randomSpecLength,
  toBaseUnits,
} from './format.ts';
import {
  AnsibleHost,
  type Comparator,
  Configure,
  Contextualize,
  type ContextualizeItem,
  Deploy,
  Description,
  Feature,
  Features,
  Network,
  Radl,
  SoftBlock,
  System,
} from './model.ts';
import { MAX_NESTING } from './parser.ts';

/** One element of a RADL-JSON document (plain JSON object). */
export type RadlJsonItem = { class: string } & Record<string, unknown>;

type Obj = Record<string, unknown>;

const RESERVED = new Set(['class', 'id', 'reference', 'softs']);
const PERF_RE = /^(\d+(?:\.\d*)?)\s*([A-Za-z]+)$/;

// ---------------------------------------------------------------------------------------------------------------
// Emit
// ---------------------------------------------------------------------------------------------------------------

function jsonNumber(f: Feature): number | string {
  const v = f.value as number;
  if (!Number.isFinite(v) || v < 0) throw new RadlError(`The number ${v} of feature '${f.prop}' cannot be written`);
  if (f.unit === undefined || isMemoryUnit(f.unit)) return toBaseUnits(v, f.unit);
  // cpu.performance units have no base: keep the unit in a string ("2ECU"), which the parser reads back.
  if (isPerformanceUnit(f.unit)) return `${formatNumber(v)}${f.unit}`;
  return v; // unknown unit: dropped (documented)
}

function jsonScalar(f: Feature): unknown {
  const v = f.value;
  if (typeof v === 'number') return jsonNumber(f);
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.slice();
  return featuresToJson(v as Features, {});
}

function put(out: Obj, key: string, value: unknown): void {
  if (Object.prototype.hasOwnProperty.call(out, key)) {
    throw new RadlError(`Feature '${key}' cannot be written in RADL-JSON: the key is already used`);
  }
  setOwn(out, key, value);
}

/** Assign an own enumerable property (safe for keys such as `__proto__`). */
function setOwn(o: Obj, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

function featuresToJson(fs: Features, out: Obj): Obj {
  for (const prop of fs.props()) {
    if (RESERVED.has(prop)) {
      throw new RadlError(`Feature '${prop}' cannot be written in RADL-JSON: '${prop}' is a reserved key`);
    }
    const all = fs.getFeatures(prop);
    if (all.length === 0) continue;
    if (all[0].isContains()) {
      put(
        out,
        prop,
        all.map((f) => featuresToJson(f.value as Features, {})),
      );
      continue;
    }
    const { min, max } = fs.getBounds(prop);
    if (min !== undefined && min === max) {
      put(out, prop, jsonScalar(min));
      continue;
    }
    // IM's writer has no form for a string compared with >= / <= (`disk.0.os.version >= '6'`): it writes the
    // plain key (`"disk.0.os.version": "6"`), and its reader takes `_min` / `_max` only on numbers. Write what
    // IM writes, so that IM's clients read it as IM's own; such a bound survives only the text form.
    const isString = (f: Feature | undefined) => typeof f?.value === 'string' && prop !== 'cpu.performance';
    if (isString(min) || isString(max)) {
      put(out, prop, jsonScalar((isString(min) ? min : max) as Feature));
      continue;
    }
    if (min !== undefined) put(out, `${prop}_min`, jsonScalar(min));
    if (max !== undefined) put(out, `${prop}_max`, jsonScalar(max));
  }
  return out;
}

/** Serialize to RADL-JSON (plain objects). Order: ansible, networks, systems, configures, deploys,
 * contextualize, description. */
export function radlToJson(radl: Radl): RadlJsonItem[] {
  const out: RadlJsonItem[] = [];
  for (const a of radl.ansibleHosts) out.push(featuresToJson(a, { class: 'ansible', id: a.id }) as RadlJsonItem);
  for (const n of radl.networks) {
    out.push(
      (n.reference ? { class: 'network', id: n.id, reference: true } : featuresToJson(n, { class: 'network', id: n.id })) as RadlJsonItem,
    );
  }
  for (const s of radl.systems) {
    if (s.reference) {
      out.push({ class: 'system', id: s.name, reference: true });
      continue;
    }
    const o = featuresToJson(s, { class: 'system', id: s.name });
    if (s.softs.length > 0) o.softs = s.softs.map((b) => ({ weight: b.weight, items: featuresToJson(b, {}) }));
    out.push(o as RadlJsonItem);
  }
  for (const c of radl.configures) {
    const o: RadlJsonItem = { class: 'configure', id: c.name, recipes: c.recipes };
    if (c.reference) o.reference = true;
    out.push(o);
  }
  for (const d of radl.deploys) {
    const o: RadlJsonItem = { class: 'deploy', system: d.systemId, vm_number: d.vmNumber };
    if (d.cloudId !== undefined) o.cloud = d.cloudId;
    out.push(o);
  }
  if (radl.contextualize) {
    const c = radl.contextualize;
    const o: RadlJsonItem = { class: 'contextualize' };
    if (c.maxTime !== undefined) o.max_time = c.maxTime;
    o.items = c.items.map((it) => {
      const x: Obj = { system: it.systemId, configure: it.configureId };
      if (it.step !== undefined) x.step = it.step;
      if (it.ctxtTool !== undefined) x.ctxt_tool = it.ctxtTool;
      return x;
    });
    const names = Object.keys(c.options);
    if (names.length > 0) {
      const opts: Obj = {};
      for (const k of names) {
        const op = c.options[k];
        const key = op.operator === '=' ? k : op.operator.startsWith('>') ? `${k}_min` : `${k}_max`;
        setOwn(opts, key, op.value);
      }
      o.options = opts;
    }
    out.push(o);
  }
  if (radl.description) out.push(featuresToJson(radl.description, { class: 'description', id: radl.description.id }) as RadlJsonItem);
  return out;
}

/** RADL-JSON as a pretty-printed string. */
export function radlToJsonString(radl: Radl, indent = 2): string {
  return JSON.stringify(radlToJson(radl), null, indent);
}

// ---------------------------------------------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------------------------------------------

function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 60 ? s.slice(0, 60) + '…' : s;
  } catch {
    // fall through
  }
  return String(typeof v);
}

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class JsonParser {
  private where = '';

  private fail(reason: string): never {
    throw RadlError.json(`${this.where}: ${reason}`);
  }

  private str(v: string): string {
    if (!isQuotable(v)) {
      this.fail(`the string ${show(v)} cannot be written in RADL text (it ends with an odd number of backslashes, or has one before a quote)`);
    }
    const n = randomSpecLength(v);
    if (n < 0) return v;
    if (n > MAX_RANDOM_LENGTH) this.fail(`'random(N)' supports at most ${MAX_RANDOM_LENGTH} characters`);
    return randomAlphanumeric(n);
  }

  private ident(v: unknown, what: string): string {
    if (v === undefined || v === null) this.fail(`missing ${what}`);
    if (typeof v !== 'string' || !isIdentifier(v)) {
      this.fail(`invalid ${what} ${show(v)} (expected an identifier such as 'front' or 'net_1')`);
    }
    return v;
  }

  private num(v: unknown, what: string): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${what} must be a number`);
    if (v < 0) this.fail(`${what} must not be negative (RADL numbers have no sign)`);
    return v;
  }

  private feature(target: Features, key: string, v: unknown, depth: number): void {
    let prop = key;
    let op: Comparator = '=';
    const bound = key.endsWith('_min') ? '>=' : key.endsWith('_max') ? '<=' : undefined;
    const base = bound ? key.slice(0, -4) : key;
    if (bound && base !== '' && (typeof v === 'number' || (typeof v === 'string' && base.includes('version')))) {
      prop = base;
      op = bound;
    } else if (bound && base === 'cpu.performance' && typeof v === 'string' && PERF_RE.test(v)) {
      prop = base;
      op = bound;
    }
    if (!isIdentifier(prop)) this.fail(`invalid feature name ${show(key)} (feature names are identifiers such as 'cpu.count')`);
    let f: Feature;
    if (typeof v === 'string') {
      const m = prop === 'cpu.performance' ? PERF_RE.exec(v) : null;
      f = m && isPerformanceUnit(m[2]) ? new Feature(prop, op, Number(m[1]), m[2]) : new Feature(prop, op, this.str(v));
    } else if (typeof v === 'number') {
      f = new Feature(prop, op, this.num(v, `feature '${key}'`));
    } else if (Array.isArray(v)) {
      if (v.every((x) => typeof x === 'string')) {
        f = new Feature(prop, '=', v.map((x: string) => this.str(x)));
      } else if (v.every(isObj)) {
        for (const x of v) this.contains(target, prop, x, depth);
        return;
      } else {
        this.fail(`feature '${key}' must be a list of strings or a list of feature objects`);
      }
    } else if (isObj(v)) {
      this.contains(target, prop, v, depth);
      return;
    } else {
      this.fail(`feature '${key}' has an unsupported value ${show(v)} (use a string, a number or a list)`);
    }
    this.add(target, f);
  }

  private add(target: Features, f: Feature): void {
    try {
      target.addFeature(f);
    } catch (e) {
      if (e instanceof RadlError) this.fail(e.reason);
      throw e;
    }
  }

  private contains(target: Features, prop: string, v: Obj, depth: number): void {
    if (depth >= MAX_NESTING) this.fail(`feature sets nested too deeply (max ${MAX_NESTING})`);
    if ('class' in v) this.fail(`the value of feature '${prop}' must be a feature set (an object without 'class')`);
    const inner = new Features();
    this.features(inner, v, depth + 1, false);
    this.add(target, new Feature(prop, 'contains', inner));
  }

  private features(target: Features, o: Obj, depth: number, top: boolean): void {
    for (const key of Object.keys(o)) {
      if (top && RESERVED.has(key)) continue;
      this.feature(target, key, o[key], depth);
    }
  }

  private reference(o: Obj): boolean {
    const r = o.reference;
    if (r === undefined || r === false || r === null) return false;
    if (r === true) return true;
    this.fail("'reference' must be true or false");
  }

  private noBody(o: Obj): void {
    for (const k of Object.keys(o)) {
      if (k !== 'class' && k !== 'id' && k !== 'reference') this.fail(`a reference cannot have features ('${k}')`);
    }
  }

  parse(input: unknown): Radl {
    let doc = input;
    if (typeof doc === 'string') {
      try {
        doc = JSON.parse(doc.charCodeAt(0) === 0xfeff ? doc.slice(1) : doc);
      } catch (e) {
        throw invalidJson(input as string, e);
      }
    }
    if (isObj(doc)) doc = [doc];
    if (!Array.isArray(doc)) throw RadlError.json('RADL-JSON must be an array of objects with a "class"');
    const radl = new Radl();
    const seen = new Map<string, Set<string>>();
    const unique = (cls: string, id: string): void => {
      let s = seen.get(cls);
      if (!s) seen.set(cls, (s = new Set()));
      if (s.has(id)) this.fail(`Aspect with the same id was found. (${cls} '${id}' is defined twice)`);
      s.add(id);
    };
    doc.forEach((item: unknown, i: number) => {
      this.where = `RADL-JSON item ${i}`;
      if (!isObj(item)) this.fail('expected an object with a "class"');
      const cls = item.class;
      if (typeof cls !== 'string') this.fail('missing "class" (network, system, ansible, configure, deploy, contextualize or description)');
      this.where = `RADL-JSON item ${i} (${cls})`;
      switch (cls) {
        case 'network': {
          const id = this.ident(item.id, 'network id');
          this.where = `RADL-JSON network '${id}'`;
          unique(cls, id);
          const n = new Network(id, undefined, this.reference(item));
          if (n.reference) this.noBody(item);
          else this.features(n, item, 0, true);
          radl.networks.push(n);
          break;
        }
        case 'system': {
          const id = this.ident(item.id, 'system id');
          this.where = `RADL-JSON system '${id}'`;
          unique(cls, id);
          const s = new System(id, undefined, this.reference(item));
          if (s.reference) this.noBody(item);
          else {
            this.features(s, item, 0, true);
            if (item.softs !== undefined) s.softs = this.softs(item.softs);
          }
          radl.systems.push(s);
          break;
        }
        case 'ansible': {
          const id = this.ident(item.id, 'ansible id');
          this.where = `RADL-JSON ansible '${id}'`;
          unique(cls, id);
          if (this.reference(item)) this.fail('ansible hosts cannot be references');
          const a = new AnsibleHost(id);
          this.features(a, item, 0, true);
          radl.ansibleHosts.push(a);
          break;
        }
        case 'description': {
          // The reference emitted an internal number as the id: accept it (and a missing id) as 'desc'.
          const id = typeof item.id === 'number' || item.id === undefined ? 'desc' : this.ident(item.id, 'description id');
          this.where = `RADL-JSON description '${id}'`;
          if (radl.description) this.fail('Description can only be defined once.');
          const d = new Description(id);
          this.features(d, item, 0, true);
          radl.description = d;
          break;
        }
        case 'configure': {
          const id = this.ident(item.id, 'configure id');
          this.where = `RADL-JSON configure '${id}'`;
          unique(cls, id);
          const r = item.recipes;
          if (r !== undefined && r !== null && typeof r !== 'string') this.fail('"recipes" must be a string or null');
          const c = new Configure(id, typeof r === 'string' ? r : null, this.reference(item));
          if (c.reference && c.recipes !== null) this.fail('a reference cannot have recipes');
          if (c.recipes !== null && c.recipes.includes('\n@end')) {
            this.fail("the recipe has a line starting with '@end', which RADL text cannot represent");
          }
          radl.configures.push(c);
          break;
        }
        case 'deploy': {
          const sys = this.ident(item.system, 'system id in "system"');
          this.where = `RADL-JSON deploy of '${sys}'`;
          const n = item.vm_number;
          if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) this.fail('Invalid number of virtual machines to deploy.');
          const d = new Deploy(sys, n);
          if (item.cloud !== undefined && item.cloud !== null) d.cloudId = this.ident(item.cloud, 'cloud id');
          radl.deploys.push(d);
          break;
        }
        case 'contextualize': {
          const c = new Contextualize();
          if (item.max_time !== undefined && item.max_time !== null) c.maxTime = this.num(item.max_time, '"max_time"');
          if (item.items !== undefined && item.items !== null) {
            if (!Array.isArray(item.items)) this.fail('"items" must be a list');
            for (const it of item.items as unknown[]) c.addItem(this.item(it));
          }
          if (item.options !== undefined && item.options !== null) {
            if (!isObj(item.options)) this.fail('"options" must be an object');
            for (const k of Object.keys(item.options)) {
              const v = item.options[k];
              if (typeof v !== 'string' && typeof v !== 'number') this.fail(`option '${k}' must be a string or a number`);
              let name = k;
              let operator: Comparator = '=';
              if ((k.endsWith('_min') || k.endsWith('_max')) && k.length > 4) {
                name = k.slice(0, -4);
                operator = k.endsWith('_min') ? '>=' : '<=';
              }
              name = this.ident(name, 'option name');
              c.options[name] = { operator, value: typeof v === 'string' ? this.str(v) : this.num(v, `option '${k}'`) };
            }
          }
          if (radl.contextualize) radl.contextualize.merge(c);
          else radl.contextualize = c;
          break;
        }
        default:
          this.fail(`unknown class '${cls}' (expected network, system, ansible, configure, deploy, contextualize or description)`);
      }
    });
    return radl;
  }

  private item(it: unknown): ContextualizeItem {
    if (!isObj(it)) this.fail('contextualize items must be objects');
    const out: ContextualizeItem = {
      systemId: this.ident(it.system, 'system id in a contextualize item'),
      configureId: this.ident(it.configure, 'configure id in a contextualize item'),
    };
    if (it.step !== undefined && it.step !== null) out.step = this.num(it.step, '"step"');
    if (it.ctxt_tool !== undefined && it.ctxt_tool !== null) out.ctxtTool = this.ident(it.ctxt_tool, 'ctxt_tool');
    return out;
  }

  private softs(v: unknown): SoftBlock[] {
    if (!Array.isArray(v)) this.fail('"softs" must be a list of {"weight": W, "items": {…}}');
    return v.map((s: unknown) => {
      if (!isObj(s)) this.fail('"softs" must be a list of {"weight": W, "items": {…}}');
      const b = new SoftBlock(this.num(s.weight, 'soft "weight"'));
      const items = s.items;
      if (Array.isArray(items)) {
        for (const x of items) {
          if (!isObj(x)) this.fail('soft "items" must be an object of features');
          this.features(b, x, 1, false);
        }
      } else if (isObj(items)) {
        this.features(b, items, 1, false);
      } else if (items !== undefined && items !== null) {
        this.fail('soft "items" must be an object of features');
      }
      return b;
    });
  }
}

function invalidJson(text: string, e: unknown): RadlError {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /position (\d+)/.exec(msg);
  if (m) {
    const pos = Number(m[1]);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < pos && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    return RadlError.at(`invalid JSON: ${msg}`, line, pos - lineStart + 1);
  }
  return RadlError.json(`invalid JSON: ${msg}`);
}

/**
 * Parse RADL-JSON (a JSON string or an already-parsed value). Structure errors throw RadlError naming the item.
 * No validation: call checkRadl.
 */
export function parseRadlJson(input: string | unknown): Radl {
  return new JsonParser().parse(input);
}
