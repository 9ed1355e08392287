/**
 * Values of TOSCA types, as tosca-parser checks them: primitive types, scalar units, versions, ranges,
 * lists and maps with `entry_schema`, complex data types (unknown fields, required fields, defaults
 * filled in) and constraints. Problems are reported through a callback; the (normalised) value is
 * returned.
 */
import type { Def, TypeRegistry } from '#tosca/types';
import { FloatValue, isMap, numberOf } from '#tosca/yaml';

export const SIZE_UNITS: Record<string, number> = {
  B: 1,
  kB: 1e3,
  KiB: 1024,
  MB: 1e6,
  MiB: 1048576,
  GB: 1e9,
  GiB: 1073741824,
  TB: 1e12,
  TiB: 1099511627776,
};
const TIME_UNITS: Record<string, number> = { d: 86400, h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };
const FREQ_UNITS: Record<string, number> = { Hz: 1, kHz: 1e3, MHz: 1e6, GHz: 1e9 };

const UNITS: Record<string, Record<string, number>> = {
  'scalar-unit.size': SIZE_UNITS,
  'scalar-unit.time': TIME_UNITS,
  'scalar-unit.frequency': FREQ_UNITS,
};

/** Python's `str()` of a value, for messages. */
export function pyStr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v instanceof FloatValue) return `${v.value}.0`;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (isMap(v)) return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return pyStr(v);
}

/** A scalar unit split: number and canonical unit; undefined when not of the form `<number> <unit>`. */
export function parseScalar(type: string, value: unknown): { num: number; unit: string; known: boolean } | undefined {
  const m = /^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([A-Za-z]+)\s*$/.exec(String(numberOf(value) ?? value));
  if (!m) return undefined;
  const units = UNITS[type] ?? SIZE_UNITS;
  const num = Number(m[1]);
  if (m[2] in units) return { num, unit: m[2], known: true };
  const u = Object.keys(units).find((k) => k.toUpperCase() === m[2].toUpperCase());
  return u ? { num, unit: u, known: true } : { num, unit: m[2], known: false };
}

/** A scalar unit in base units (bytes, seconds, Hz); undefined when unparsable. */
export function scalarToBase(type: string, value: unknown): number | undefined {
  const p = parseScalar(type, value);
  if (!p || !p.known) return undefined;
  return p.num * (UNITS[type] ?? SIZE_UNITS)[p.unit];
}

const VERSION_RE = /^([0-9][0-9]*)(\.([0-9][0-9]*))?(\.([0-9][0-9]*))?(\.([0-9A-Za-z]+))?(-[0-9]*)?$/;
const TIMESTAMP_RE = /^\d{4}-\d{1,2}-\d{1,2}(?:(?:[Tt]|\s+)\d{1,2}:\d{2}:\d{2}(?:\.\d*)?\s*(?:Z|[-+]\d{1,2}(?::?\d{2})?)?)?$/;

export type Report = (message: string) => void;

export interface ValueContext {
  types: TypeRegistry;
  report: Report;
}

/** Every constraint of a schema. */
function constraintsOf(schema: Def): Record<string, unknown>[] {
  const c = schema.constraints;
  return Array.isArray(c) ? c.filter(isMap) : [];
}

function comparable(type: string, v: unknown): unknown {
  if (UNITS[type]) return scalarToBase(type, v);
  return numberOf(v) ?? v;
}

/** Checks one constraint; reports the tosca-parser message when it does not hold. */
export function checkConstraint(c: Record<string, unknown>, type: string, value: unknown, pname: string, report: Report): void {
  const [op, raw] = Object.entries(c)[0] ?? [];
  if (op === undefined) return;
  const pv = pyStr(value);
  const v = comparable(type, value);
  const cmp = (x: unknown) => comparable(type, x);
  const num = (x: unknown) => (typeof x === 'number' ? x : NaN);
  const len = (x: unknown) => (typeof x === 'string' || Array.isArray(x) ? x.length : isMap(x) ? Object.keys(x).length : NaN);
  switch (op) {
    case 'equal':
      if (v !== cmp(raw)) report(`The value "${pv}" of property "${pname}" is not equal to "${pyStr(raw)}".`);
      break;
    case 'greater_than':
      if (!(num(v) > num(cmp(raw)))) report(`The value "${pv}" of property "${pname}" must be greater than "${pyStr(raw)}".`);
      break;
    case 'greater_or_equal':
      if (!(num(v) >= num(cmp(raw)))) report(`The value "${pv}" of property "${pname}" must be greater than or equal to "${pyStr(raw)}".`);
      break;
    case 'less_than':
      if (!(num(v) < num(cmp(raw)))) report(`The value "${pv}" of property "${pname}" must be less than "${pyStr(raw)}".`);
      break;
    case 'less_or_equal':
      if (!(num(v) <= num(cmp(raw)))) report(`The value "${pv}" of property "${pname}" must be less than or equal to "${pyStr(raw)}".`);
      break;
    case 'in_range': {
      if (!Array.isArray(raw) || raw.length !== 2) break;
      const lo = raw[0] === 'UNBOUNDED' ? -Infinity : num(cmp(raw[0]));
      const hi = raw[1] === 'UNBOUNDED' ? Infinity : num(cmp(raw[1]));
      if (!(num(v) >= lo && num(v) <= hi)) report(`The value "${pv}" of property "${pname}" is out of range "(min:${pyStr(raw[0])}, max:${pyStr(raw[1])})".`);
      break;
    }
    case 'valid_values': {
      if (!Array.isArray(raw)) break;
      const ok = raw.some((x) => {
        const cx = cmp(x);
        return cx === v || (typeof cx === 'object' && JSON.stringify(cx) === JSON.stringify(v));
      });
      if (!ok) report(`The value "${pv}" of property "${pname}" is not valid. Expected a value from "${pyStr(raw)}".`);
      break;
    }
    case 'length':
      if (len(value) !== num(raw)) report(`Length of value "${pv}" of property "${pname}" must be equal to "${pyStr(raw)}".`);
      break;
    case 'min_length':
      if (!(len(value) >= num(raw))) report(`Length of value "${pv}" of property "${pname}" must be at least "${pyStr(raw)}".`);
      break;
    case 'max_length':
      if (!(len(value) <= num(raw))) report(`Length of value "${pv}" of property "${pname}" must be no greater than "${pyStr(raw)}".`);
      break;
    case 'pattern': {
      let re: RegExp | undefined;
      try {
        re = new RegExp(`^(?:${String(raw)})`);
      } catch {
        re = undefined;
      }
      if (re && !re.test(String(value))) report(`The value "${pv}" of property "${pname}" does not match pattern "${pyStr(raw)}".`);
      break;
    }
    default:
      report(`Invalid property "${op}".`);
  }
}

/** True for `{get_input: …}`-style function calls (one key naming a TOSCA function). */
export function isFunction(v: unknown): v is Record<string, unknown> {
  if (!isMap(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && FUNCTION_NAMES.has(keys[0]);
}

export const FUNCTION_NAMES = new Set([
  'get_input',
  'get_property',
  'get_attribute',
  'get_operation_output',
  'get_nodes_of_type',
  'get_artifact',
  'concat',
  'join',
  'token',
]);

/**
 * Validates (and normalises) `value` against a type (`type` + `entry_schema`), as
 * DataEntity.validate_datatype does. Function calls are not checked (they are resolved later).
 */
export function validateValue(ctx: ValueContext, type: string, value: unknown, entrySchema: unknown, pname: string): unknown {
  if (isFunction(value)) return value;
  const report = ctx.report;
  switch (type) {
    case 'string':
      if (typeof value !== 'string') report(`"${pyStr(value)}" is not a string.`);
      return value;
    case 'integer': {
      if (typeof value === 'number' || value instanceof FloatValue || typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number(value);
      report(`"${pyStr(value)}" is not an integer.`);
      return value;
    }
    case 'float':
      if (!(value instanceof FloatValue) && !(typeof value === 'number' && !Number.isInteger(value))) report(`"${pyStr(value)}" is not a float.`);
      return value;
    case 'number':
      if (numberOf(value) === undefined && typeof value !== 'boolean') report(`"${pyStr(value)}" is not a numeric.`);
      return value;
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && ['true', 'false'].includes(value.toLowerCase())) return value.toLowerCase() === 'true';
      report(`"${pyStr(value)}" is not a boolean.`);
      return value;
    case 'timestamp':
      if (!(typeof value === 'string' && TIMESTAMP_RE.test(value.trim()))) report(`"${pyStr(value)}" is not a valid timestamp.`);
      return value;
    case 'version':
      if (!VERSION_RE.test(pyStr(value))) report(`Value of TOSCA version property "${pyStr(value)}" is invalid.`);
      return value;
    case 'null':
    case 'any':
    case 'json':
      return value;
    case 'range':
      return validateRange(value, report);
    case 'list': {
      if (!Array.isArray(value)) {
        report(`"${pyStr(value)}" is not a list.`);
        return value;
      }
      return validateEntries(ctx, value, entrySchema, pname);
    }
    case 'map': {
      if (!isMap(value)) {
        report(`"${pyStr(value)}" is not a map.`);
        return value;
      }
      return validateEntries(ctx, value, entrySchema, pname);
    }
    case 'scalar-unit.size':
    case 'scalar-unit.time':
    case 'scalar-unit.frequency': {
      const p = parseScalar(type, value);
      if (!p) {
        report(`"${pyStr(value)}" is not a valid scalar-unit.`);
        return value;
      }
      if (!p.known) {
        report(`The unit "${p.unit}" is not valid. Valid units are "${pyStr(Object.keys(UNITS[type]).sort())}".`);
        return value;
      }
      return value;
    }
    case 'PortDef':
    case 'tosca.datatypes.network.PortDef': {
      const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : numberOf(value);
      if (n === undefined || !Number.isInteger(n)) report(`"${pyStr(value)}" is not an integer.`);
      else if (n < 1 || n > 65535) report(`The value "${pyStr(value)}" of property "${pname}" is out of range "(min:1, max:65535)".`);
      return value;
    }
    default:
      return validateComplex(ctx, type, value, pname);
  }
}

function validateRange(value: unknown, report: Report): unknown {
  if (!Array.isArray(value)) {
    report(`"${pyStr(value)}" is not a list.`);
    return value;
  }
  const bad = () => report(`"${pyStr(value)}" is not a valid range.`);
  if (value.length !== 2) {
    bad();
    return value;
  }
  const [a, b] = value;
  const na = a === 'UNBOUNDED' ? undefined : numberOf(a);
  const nb = b === 'UNBOUNDED' ? undefined : numberOf(b);
  if ((a !== 'UNBOUNDED' && na === undefined) || (b !== 'UNBOUNDED' && nb === undefined)) {
    report(`"${pyStr(na === undefined ? a : b)}" is not a numeric.`);
    return value;
  }
  if (na !== undefined && nb !== undefined && na > nb) bad();
  return value;
}

function schemaOf(entrySchema: unknown): Def | undefined {
  if (typeof entrySchema === 'string') return { type: entrySchema };
  return isMap(entrySchema) ? entrySchema : undefined;
}

function validateEntries(ctx: ValueContext, value: unknown[] | Record<string, unknown>, entrySchema: unknown, pname: string): unknown {
  const schema = schemaOf(entrySchema);
  if (!schema || typeof schema.type !== 'string') return value;
  const type = schema.type;
  const check = (v: unknown): unknown => {
    const out = validateValue(ctx, type, v, schema.entry_schema, pname);
    if (!isFunction(v)) for (const c of constraintsOf(schema)) checkConstraint(c, type, out, pname, ctx.report);
    return out;
  };
  if (Array.isArray(value)) return value.map(check);
  for (const k of Object.keys(value)) value[k] = check(value[k]);
  return value;
}

/** A property schema's `required` (tosca-parser: true unless false/no). */
export function isRequired(schema: Def): boolean {
  return schema.required !== false && schema.required !== 'false' && schema.required !== 'no';
}

/** A complex (data type) value: a map of the type's properties; or a value of a derived primitive type. */
function validateComplex(ctx: ValueContext, type: string, value: unknown, pname: string): unknown {
  const { types, report } = ctx;
  const name = types.resolve('data_types', type);
  if (name === undefined) {
    // tosca-parser reports unknown data types; IM's catalogue relies on a few undefined ones
    // (e.g. tosca.datatypes.Dataset): accept the value as is.
    return value;
  }
  // A data type derived from a primitive (`type:` in its definition, e.g. PortDef).
  for (const t of types.ancestors('data_types', name)) {
    const d = types.def('data_types', t) as Def;
    if (typeof d.type === 'string') {
      const out = validateValue(ctx, d.type, value, undefined, pname);
      for (const c of constraintsOf(d)) checkConstraint(c, d.type, out, pname, report);
      return out;
    }
  }
  if (!isMap(value)) {
    report(`${pyStr(value)} must be of type "${name}".`);
    return value;
  }
  const props = types.properties('data_types', name);
  for (const k of Object.keys(value)) {
    if (!(k in props)) report(`Data value of type "${name}" contains unknown field "${k}". Refer to the definition to verify valid values.`);
  }
  for (const [k, schema] of Object.entries(props)) {
    if (!(k in value) && isMap(schema) && schema.default !== undefined && schema.default !== null && schema.default !== '' && schema.default !== false && schema.default !== 0) {
      value[k] = schema.default;
    }
  }
  const missing = Object.entries(props)
    .filter(([k, s]) => isMap(s) && isRequired(s) && !(k in value))
    .map(([k]) => k);
  if (missing.length > 0) report(`Data value of type "${name}" is missing required field "${pyStr(missing)}".`);
  for (const [k, v] of Object.entries(value)) {
    const schema = props[k];
    if (!isMap(schema) || typeof schema.type !== 'string') continue;
    value[k] = validateValue(ctx, schema.type, v, schema.entry_schema, k);
    if (isFunction(v)) continue;
    for (const c of constraintsOf(schema)) {
      if (Array.isArray(value[k])) for (const x of value[k] as unknown[]) checkConstraint(c, schema.type, x, k, report);
      else checkConstraint(c, schema.type, value[k], k, report);
    }
  }
  if (types.isA('data_types', name, 'tosca.datatypes.network.PortSpec')) {
    if (value.source === undefined && value.source_range === undefined && value.target === undefined && value.target_range === undefined) {
      report(`Additional requirements for type "tosca.datatypes.network.PortSpec" not met.`);
    }
  }
  return value;
}

/** Validates a property value against its schema: type, entry_schema and constraints. */
const OPERATOR_KEYS = new Set(['equal', 'greater_than', 'greater_or_equal', 'less_than', 'less_or_equal']);

/** `{greater_or_equal: 4}`: IM's way to choose the RADL comparator of a capability property. */
export function isOperatorMap(v: unknown): v is Record<string, unknown> {
  return isMap(v) && Object.keys(v).length === 1 && OPERATOR_KEYS.has(Object.keys(v)[0]);
}

export function validateProperty(ctx: ValueContext, schema: Def, value: unknown, pname: string): unknown {
  if (isFunction(value) || typeof schema.type !== 'string') return value;
  if (isOperatorMap(value) && schema.type !== 'map') {
    const [op, inner] = Object.entries(value)[0];
    return { [op]: validateProperty(ctx, { ...schema, constraints: undefined }, inner, pname) };
  }
  let v = value;
  // tosca-parser converts values of string properties with str().
  if (schema.type === 'string' && typeof v !== 'string' && v !== null && v !== undefined) v = pyStr(v);
  let bad = false;
  v = validateValue({ ...ctx, report: (m) => ((bad = true), ctx.report(m)) }, schema.type, v, schema.entry_schema, pname);
  // A value of the wrong type is not checked against the constraints (tosca-parser stops there too).
  if (!bad) for (const c of constraintsOf(schema)) checkConstraint(c, schema.type, v, pname, ctx.report);
  return v;
}
