/**
 * RADL features with interval semantics: one Feature, and the Features set every section extends
 * (conflicts, merges, bounds). Pure domain code; the sections and the document are in ./model.ts.
 */
import { RadlError } from './errors.ts';
import {
  compareVersions,
  formatNumber,
  fromBaseUnits,
  isIdentifier,
  quoteString,
  toBaseUnits,
} from './format.ts';

export type Comparator = '=' | '<' | '>' | '<=' | '>=';
export type Operator = Comparator | 'contains';
/** Values a simple (non-contains) feature can hold. */
export type SimpleValue = string | number | string[];
export type FeatureValue = SimpleValue | Features;
/** How addFeature resolves a conflict: throw, keep the existing constraint ('me') or take the new one ('other'). */
export type ConflictMode = 'error' | 'me' | 'other';

// ---------------------------------------------------------------------------------------------------------------
// Feature
// ---------------------------------------------------------------------------------------------------------------

/** One constraint `prop operator value [unit]`, or `prop contains (features)`. */
export class Feature {
  prop: string;
  operator: Operator;
  value: FeatureValue;
  unit?: string;
  line?: number;
  column?: number;

  constructor(prop: string, operator: Operator, value: FeatureValue, unit?: string, line?: number, column?: number) {
    this.prop = prop;
    this.operator = operator;
    this.value = value;
    if (unit !== undefined && unit !== '') this.unit = unit;
    if (line !== undefined) this.line = line;
    if (column !== undefined) this.column = column;
  }

  isNumber(): boolean {
    return typeof this.value === 'number';
  }
  isString(): boolean {
    return typeof this.value === 'string';
  }
  isList(): boolean {
    return Array.isArray(this.value);
  }
  isContains(): boolean {
    return this.value instanceof Features;
  }

  /** Numeric value in base units (bytes for memory units), or converted to `unit` when given. */
  getNumber(unit?: string): number | undefined {
    if (typeof this.value !== 'number') return undefined;
    const base = toBaseUnits(this.value, this.unit);
    return unit === undefined ? base : fromBaseUnits(base, unit);
  }

  /** The value as getValue returns it: numbers in base units (or `unit`), strings, a copy of lists. */
  getValue(unit?: string): number | string | string[] | undefined {
    const v = this.value;
    if (typeof v === 'number') return this.getNumber(unit);
    if (typeof v === 'string') return v;
    if (Array.isArray(v)) return v.slice();
    return undefined;
  }

  clone(): Feature {
    const v = this.value;
    const value: FeatureValue = v instanceof Features ? v.clone() : Array.isArray(v) ? v.slice() : v;
    return new Feature(this.prop, this.operator, value, this.unit, this.line, this.column);
  }

  /** RADL text of the feature. Throws RadlError when a value cannot be written (see quoteString). */
  toText(strict = true): string {
    const v = this.value;
    if (strict && !isIdentifier(this.prop)) {
      throw new RadlError(`Invalid feature name ${JSON.stringify(this.prop)}: it cannot be written as a RADL identifier`);
    }
    if (strict && this.unit !== undefined && !isIdentifier(this.unit)) {
      throw new RadlError(`Invalid unit ${JSON.stringify(this.unit)} in feature '${this.prop}'`);
    }
    if (v instanceof Features) return `${this.prop} contains (${v.featuresToText(' and ', strict)})`;
    return `${this.prop} ${this.operator} ${valueToText(v, this.unit, strict)}`;
  }

  /** Text form for messages (never throws). */
  toString(): string {
    try {
      return this.toText(false);
    } catch {
      return `${this.prop} ${this.operator} ${JSON.stringify(this.value)}`;
    }
  }
}

function valueToText(v: SimpleValue, unit: string | undefined, strict: boolean): string {
  if (typeof v === 'number') return strict ? formatNumber(v) + (unit ?? '') : String(v) + (unit ?? '');
  if (typeof v === 'string') return quoteString(v, strict);
  return '[' + v.map((s) => quoteString(s, strict)).join(', ') + ']';
}

function isLower(op: Operator): boolean {
  return op === '>' || op === '>=';
}
function isUpper(op: Operator): boolean {
  return op === '<' || op === '<=';
}

// ---------------------------------------------------------------------------------------------------------------
// Features
// ---------------------------------------------------------------------------------------------------------------

/**
 * Constraints on one property: an equality, a lower bound and an upper bound (numbers; strings only for
 * properties whose name contains `version`), or a set of `contains` sub-feature sets keyed by their `name`.
 */
interface Slot {
  eq?: Feature;
  lo?: Feature;
  hi?: Feature;
  contains?: Map<string, Feature>;
}

type Kind = 'num' | 'str' | 'list' | 'contains';

function kindOf(f: Feature): Kind {
  const v = f.value;
  if (typeof v === 'number') return 'num';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  return 'contains';
}

function slotFeatures(s: Slot): Feature[] {
  const out: Feature[] = [];
  if (s.eq) out.push(s.eq);
  if (s.lo) out.push(s.lo);
  if (s.hi) out.push(s.hi);
  if (s.contains) for (const f of s.contains.values()) out.push(f);
  return out;
}

function containsKey(f: Feature): string {
  const inner = f.value as Features;
  const name = inner.getValue('name');
  return typeof name === 'string' ? name : '';
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function compareBound(a: Feature, b: Feature): number {
  if (typeof a.value === 'number' && typeof b.value === 'number') {
    return toBaseUnits(a.value, a.unit) - toBaseUnits(b.value, b.unit);
  }
  return compareVersions(String(a.value), String(b.value));
}

function conflictError(reason: string, f: Feature): RadlError {
  return f.line !== undefined ? RadlError.at(reason, f.line, f.column) : new RadlError(reason);
}

/** A set of features (the body of network/system/ansible/description sections and of `contains`). */
export class Features {
  protected slots = new Map<string, Slot>();

  constructor(features?: Iterable<Feature>) {
    if (features) for (const f of features) this.addFeature(f);
  }

  /**
   * Add a constraint. Numeric constraints (and comparisons of `*version*` strings) intersect as closed intervals;
   * an empty intersection is `Disjoint intervals!`. A different `=` value is `Conflict adding …`. `contains` sets
   * with the same inner `name` are merged. `conflict` decides what happens on a clash: 'error' throws RadlError,
   * 'me' keeps the existing constraints, 'other' replaces them with the new feature.
   */
  addFeature(f: Feature, conflict: ConflictMode = 'error'): void {
    validateFeatureShape(f);
    const slot = this.slots.get(f.prop);
    if (slot === undefined) {
      this.slots.set(f.prop, newSlot(f));
      return;
    }
    const existing = slotFeatures(slot);
    if (existing.length === 0) {
      this.slots.set(f.prop, newSlot(f));
      return;
    }
    const kind = kindOf(f);
    const oldKind = kindOf(existing[0]);
    const clash = (reason: string): void => {
      if (conflict === 'error') throw conflictError(reason, f);
      if (conflict === 'other') this.slots.set(f.prop, newSlot(f));
    };
    if (kind !== oldKind) {
      clash(conflictMessage(f, existing));
      return;
    }
    if (kind === 'contains') {
      const key = containsKey(f);
      const map = slot.contains as Map<string, Feature>;
      const old = map.get(key);
      if (old === undefined) map.set(key, f);
      else (old.value as Features).merge(f.value as Features, conflict);
      return;
    }
    if (kind === 'list') {
      if (!sameList(slot.eq!.value as string[], f.value as string[])) clash(conflictMessage(f, existing));
      return;
    }
    // Numbers, and strings (only `=` unless the name contains "version").
    if (kind === 'str' && f.operator === '=' && slot.eq !== undefined && slot.eq.value !== f.value) {
      if (!f.prop.includes('version') || compareVersions(String(slot.eq.value), String(f.value)) !== 0) {
        clash(conflictMessage(f, existing));
        return;
      }
    }
    if (kind === 'num' && f.operator === '=' && slot.eq !== undefined && compareBound(slot.eq, f) !== 0) {
      clash(conflictMessage(f, existing));
      return;
    }
    // Interval intersection.
    let lower: Feature | undefined;
    let upper: Feature | undefined;
    for (const c of [slot.eq, slot.lo, f.operator === '=' || isLower(f.operator) ? f : undefined]) {
      if (c && (lower === undefined || compareBound(c, lower) > 0)) lower = c;
    }
    for (const c of [slot.eq, slot.hi, f.operator === '=' || isUpper(f.operator) ? f : undefined]) {
      if (c && (upper === undefined || compareBound(c, upper) < 0)) upper = c;
    }
    if (lower !== undefined && upper !== undefined && compareBound(lower, upper) > 0) {
      clash(`Disjoint intervals!. Involved features: [${[...existing, f].map(String).join(', ')}]`);
      return;
    }
    if (f.operator === '=') {
      if (slot.eq === undefined) slot.eq = f;
    } else if (isLower(f.operator)) {
      if (slot.lo === undefined || compareBound(f, slot.lo) > 0) slot.lo = f;
    } else if (slot.hi === undefined || compareBound(f, slot.hi) < 0) {
      slot.hi = f;
    }
  }

  /** Add every feature of `other` (cloned) with the given conflict mode. */
  merge(other: Features, conflict: ConflictMode = 'error'): void {
    for (const f of other.features()) this.addFeature(f.clone(), conflict);
  }

  /** All constraints, grouped by property in insertion order (equality, lower, upper, contains sets). */
  features(): Feature[] {
    const out: Feature[] = [];
    for (const s of this.slots.values()) {
      if (s.eq) out.push(s.eq);
      if (s.lo) out.push(s.lo);
      if (s.hi) out.push(s.hi);
      if (s.contains) for (const f of s.contains.values()) out.push(f);
    }
    return out;
  }

  /** Property names, in insertion order. */
  props(): string[] {
    return Array.from(this.slots.keys());
  }

  /** Number of constraints. */
  get size(): number {
    let n = 0;
    for (const s of this.slots.values()) n += slotFeatures(s).length;
    return n;
  }

  isEmpty(): boolean {
    return this.slots.size === 0;
  }

  hasFeature(prop: string): boolean {
    return this.slots.has(prop);
  }

  /** The main constraint on `prop`: the equality, else the lower bound, else the upper bound, else a contains. */
  getFeature(prop: string): Feature | undefined {
    const s = this.slots.get(prop);
    if (s === undefined) return undefined;
    if (s.eq) return s.eq;
    if (s.lo) return s.lo;
    if (s.hi) return s.hi;
    if (s.contains) for (const f of s.contains.values()) return f;
    return undefined;
  }

  /** Every constraint on `prop`. */
  getFeatures(prop: string): Feature[] {
    const s = this.slots.get(prop);
    return s === undefined ? [] : slotFeatures(s);
  }

  /** Lower and upper bound features of `prop` (an equality counts as both). */
  getBounds(prop: string): { min?: Feature; max?: Feature } {
    const s = this.slots.get(prop);
    if (s === undefined) return {};
    const out: { min?: Feature; max?: Feature } = {};
    const min = s.eq ?? s.lo;
    const max = s.eq ?? s.hi;
    if (min) out.min = min;
    if (max) out.max = max;
    return out;
  }

  /**
   * Value of `prop` (see getFeature): numbers in base units (bytes for memory units) or converted to `unit`
   * (e.g. getValue('memory.size', 'M')), strings, a copy of string lists; undefined when absent or a contains.
   */
  getValue(prop: string, unit?: string): number | string | string[] | undefined {
    const f = this.getFeature(prop);
    return f === undefined ? undefined : f.getValue(unit);
  }

  /** String value of `prop`, or undefined when absent or not a string. */
  getString(prop: string): string | undefined {
    const v = this.getFeature(prop)?.value;
    return typeof v === 'string' ? v : undefined;
  }

  /** Numeric value of `prop` in base units (or `unit`), or undefined when absent or not a number. */
  getNumber(prop: string, unit?: string): number | undefined {
    return this.getFeature(prop)?.getNumber(unit);
  }

  /** String-list value of `prop`; a single string is returned as a one-element list. */
  getList(prop: string): string[] | undefined {
    const v = this.getFeature(prop)?.value;
    if (typeof v === 'string') return [v];
    return Array.isArray(v) ? v.slice() : undefined;
  }

  /** Replace every constraint on `prop` with `prop = value [unit]`. */
  setValue(prop: string, value: SimpleValue, unit?: string): void {
    const f = new Feature(prop, '=', Array.isArray(value) ? value.slice() : value, unit);
    validateFeatureShape(f);
    this.slots.set(prop, newSlot(f));
  }

  /** Remove every constraint on the given properties. */
  delValue(...props: string[]): void {
    for (const p of props) this.slots.delete(p);
  }

  /** The `contains` feature sets of `prop` (e.g. the applications of `disk.0.applications`). */
  getContains(prop: string): Features[] {
    const s = this.slots.get(prop);
    if (s?.contains === undefined) return [];
    return Array.from(s.contains.values(), (f) => f.value as Features);
  }

  /** The application sets of disk `disk` (`disk.N.applications contains (name = … )`). */
  getApplications(disk = 0): Features[] {
    return this.getContains(`disk.${disk}.applications`);
  }

  /** Add `prop contains (features)` (merged by inner name). */
  addContains(prop: string, features: Features, conflict: ConflictMode = 'error'): void {
    this.addFeature(new Feature(prop, 'contains', features), conflict);
  }

  /** Number of network interfaces: consecutive N from 0 with `net_interface.N.connection`. */
  getNumNetInterfaces(): number {
    let i = 0;
    while (this.slots.has(`net_interface.${i}.connection`)) i++;
    return i;
  }

  /** Number of disks: consecutive N from 0 with some `disk.N.*` feature. */
  getNumDisks(): number {
    const used = new Set<number>();
    for (const p of this.slots.keys()) {
      if (!p.startsWith('disk.')) continue;
      const dot = p.indexOf('.', 5);
      const idx = p.slice(5, dot < 0 ? undefined : dot);
      if (/^\d+$/.test(idx)) used.add(Number(idx));
    }
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  /** Features joined by `sep` as RADL text. */
  featuresToText(sep = ' and\n', strict = true): string {
    return this.features()
      .map((f) => f.toText(strict))
      .join(sep);
  }

  clone(): Features {
    const c = new Features();
    this.copyFeaturesTo(c);
    return c;
  }

  protected copyFeaturesTo(target: Features): void {
    for (const [prop, s] of this.slots) {
      const n: Slot = {};
      if (s.eq) n.eq = s.eq.clone();
      if (s.lo) n.lo = s.lo.clone();
      if (s.hi) n.hi = s.hi.clone();
      if (s.contains) {
        n.contains = new Map();
        for (const [k, f] of s.contains) n.contains.set(k, f.clone());
      }
      target.slots.set(prop, n);
    }
  }
}

function newSlot(f: Feature): Slot {
  if (f.value instanceof Features) return { contains: new Map([[containsKey(f), f]]) };
  if (f.operator === '=') return { eq: f };
  return isLower(f.operator) ? { lo: f } : { hi: f };
}

function conflictMessage(f: Feature, existing: Feature[]): string {
  const old = existing[0];
  const where = old.line !== undefined ? ` (line ${old.line})` : '';
  return `Conflict adding feature ${String(f)}: it is already defined as ${String(old)}${where}`;
}

/** Reject ill-formed features (operator/value combinations no RADL text could express). */
function validateFeatureShape(f: Feature): void {
  const v = f.value;
  const op = f.operator;
  if (v instanceof Features) {
    if (op !== 'contains') throw conflictError(`Feature '${f.prop}' with a feature set must use 'contains'`, f);
    return;
  }
  if (op === 'contains') throw conflictError(`Feature '${f.prop}': 'contains' needs a feature set`, f);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw conflictError(`Invalid number in feature '${f.prop}'`, f);
    return;
  }
  if (typeof v === 'string') {
    if (op !== '=' && !f.prop.includes('version')) {
      throw conflictError(
        `Invalid operator '${op}' for the string feature ${String(f)}: strings only accept '=' ` +
          "(comparisons are only allowed on '*version*' features)",
        f,
      );
    }
    return;
  }
  if (Array.isArray(v)) {
    if (op !== '=') throw conflictError(`Invalid operator '${op}' for the list feature '${f.prop}': use '='`, f);
    for (const s of v) {
      if (typeof s !== 'string') throw conflictError(`Lists may only contain strings (feature '${f.prop}')`, f);
    }
    return;
  }
  throw conflictError(`Invalid value in feature '${f.prop}'`, f);
}

