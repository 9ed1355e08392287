/**
 * Parameter schemas of the XML-RPC methods: one decoder per parameter kind.
 *
 * A decoder checks the wire type of one positional parameter and turns it into what the use case
 * takes. A wrong wire type is a protocol problem → {@link ParamError} (XML-RPC fault -32602 naming
 * the parameter). Checks that belong to the core (VM id syntax, auth item ids, dates, regexes…)
 * are left to the core, which reports them as `[false, message]` exactly as it does for REST.
 *
 * Leniencies (documented in docs/API-COMPATIBILITY.md): booleans also accept the ints 0/1 (as
 * Python's truthiness did for IM); `<nil/>` in an optional position means "use the default";
 * auth struct members may be strings, ints, doubles or booleans (converted to text).
 */
import { XmlRpcDouble, type XmlRpcValue } from '#api/xmlrpc/codec';
import { FAULT_INVALID_PARAMS } from '#api/xmlrpc/codec';

/** A parameter of the wrong wire type (or a wrong number of parameters): fault -32602. */
export class ParamError extends Error {
  readonly faultCode = FAULT_INVALID_PARAMS;
  constructor(message: string) {
    super(message);
    this.name = 'ParamError';
  }
}

/** One positional parameter: its name (as the spec calls it) and its decoder. */
export interface Param<T> {
  name: string;
  /** Optional params may be left out (or sent as `<nil/>`): the decoder is not called, `T` gets `undefined`. */
  optional: boolean;
  /** What the wire type must be, for messages (`a string`, `an array of structs`…). */
  expected: string;
  decode(value: XmlRpcValue): T;
}

/** The XML-RPC type name of a decoded value, for messages (the value itself is never echoed: it may be a secret). */
export function wireType(v: XmlRpcValue): string {
  if (v === null) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'bigint') return 'i8';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'double';
  if (v instanceof XmlRpcDouble) return 'double';
  if (v instanceof Date) return 'dateTime.iso8601';
  if (v instanceof Uint8Array) return 'base64';
  if (Array.isArray(v)) return 'array';
  return 'struct';
}

function isStruct(v: XmlRpcValue): v is { [k: string]: XmlRpcValue } {
  return wireType(v) === 'struct';
}

function mismatch(name: string, expected: string, got: string): ParamError {
  return new ParamError(`Incorrect type for parameter '${name}': expected ${expected}, got ${got}`);
}

function param<T>(name: string, expected: string, decode: (v: XmlRpcValue) => T | undefined): Param<T> {
  return {
    name,
    optional: false,
    expected,
    decode(v) {
      const out = decode(v);
      if (out === undefined) throw mismatch(name, expected, wireType(v));
      return out;
    },
  };
}

/** The same parameter, optional (left out or `<nil/>` → undefined). */
export function optional<T>(p: Param<T>): Param<T | undefined> {
  return { ...p, optional: true };
}

/** A struct member value as text: strings as they are, ints/doubles/booleans converted. */
function scalarText(v: XmlRpcValue): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return undefined;
}

/** A struct whose members are all scalars → a string map; `where` names the offending place. */
function stringMap(name: string, v: XmlRpcValue, where: string): Record<string, string> {
  if (!isStruct(v)) throw mismatch(name, 'a struct', `${wireType(v)}${where}`);
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const member = v[k];
    const s = scalarText(member);
    if (s === undefined) {
      throw new ParamError(`Incorrect type for parameter '${name}'${where}: member '${k}' must be a string, got ${wireType(member)}`);
    }
    // An own `__proto__` member, not the prototype setter an assignment would call.
    if (k === '__proto__') Object.defineProperty(out, k, { value: s, enumerable: true, writable: true, configurable: true });
    else out[k] = s;
  }
  return out;
}

export const p = {
  /** A string (infId, radl, property name, image name, cloud id, dates, exported data…). */
  string: (name: string): Param<string> => param(name, 'a string', (v) => (typeof v === 'string' ? v : undefined)),

  /** A boolean; the ints 0 and 1 are accepted too. */
  bool: (name: string): Param<boolean> =>
    param(name, 'a boolean', (v) => (typeof v === 'boolean' ? v : v === 0 || v === 1 ? v === 1 : undefined)),

  /** An int (i4 / int / i8 within the safe integer range). */
  int: (name: string): Param<number> =>
    param(name, 'an int', (v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined)),

  /**
   * A VM id as IM took it (`int(vmId)`): a string or an int. Its syntax is checked by the core
   * (`[false, "Invalid VM ID"]`, as REST answers 404).
   */
  vmId: (name: string): Param<string | number> =>
    param(name, 'a string or an int', (v) =>
      typeof v === 'string' ? v : typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'bigint' ? v.toString() : undefined,
    ),

  /** RemoveResource's ids: the comma-separated string of the spec; an int or an array of strings/ints also work. */
  vmIdList: (name: string): Param<string | number | (string | number)[]> =>
    param(name, 'a string of comma-separated VM ids', (v) => {
      if (typeof v === 'string') return v;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isInteger(x)))) {
        return v as (string | number)[];
      }
      return undefined;
    }),

  /**
   * Reconfigure's vm_list: an array of ints (the spec); the REST form `"1,2"` is accepted too and
   * parsed by the core (`Incorrect vm_list format.`).
   */
  intList: (name: string): Param<number[] | string> =>
    param(name, 'an array of ints', (v) => {
      if (typeof v === 'string') return v;
      if (Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) return v as number[];
      return undefined;
    }),

  /**
   * A list of auth items, each a struct of strings (auth.md §1). The items are validated by the
   * core (`#core/auth`: ids, IM credentials, ownership), never here.
   */
  authList: (name: string): Param<Record<string, string>[]> => ({
    name,
    optional: false,
    expected: 'an array of structs',
    decode(v) {
      if (!Array.isArray(v)) throw mismatch(name, 'an array of structs', wireType(v));
      return v.map((item, i) => stringMap(name, item, ` (item ${i})`));
    },
  }),

  /** A struct of strings (GetCloudImageList's filters). */
  stringMap: (name: string): Param<Record<string, string>> => ({
    name,
    optional: false,
    expected: 'a struct',
    decode: (v) => stringMap(name, v, ''),
  }),

  /** A struct of strings, or the REST text form `k1=v1,k2=v2` (parsed by the core). */
  stringMapOrText: (name: string): Param<Record<string, string> | string> => ({
    name,
    optional: false,
    expected: 'a struct',
    decode: (v) => (typeof v === 'string' ? v : stringMap(name, v, '')),
  }),
};
