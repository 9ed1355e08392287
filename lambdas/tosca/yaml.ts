/**
 * YAML as IM reads and writes it (PyYAML, YAML 1.1): `yes`/`no`/`on`/`off` are booleans, `0644` is octal,
 * `1e3` is a string; timestamps stay strings (TOSCA validates them itself). Dumps sort keys, as
 * `yaml.safe_dump` does, and quote the strings that YAML 1.1 would read as something else.
 *
 * `lineOf(text, path)` finds the line of a key path in block-style YAML, for error messages only (a
 * cold path: the YAML is scanned again each time).
 */
import yaml from 'js-yaml';
import { FLOAT_11, INT_11, bool11, float11Text, float11Value, int11Value } from '#core/yaml11';

const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && INT_11.test(data),
  construct: int11Value,
  predicate: (o: unknown) => typeof o === 'number' && Number.isInteger(o),
  represent: (o: object) => String(o),
});

/** Marks numbers that were written as floats (`1.0`), so that they dump and validate as floats. */
export class FloatValue {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value;
  }
}

const float11 = new yaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && FLOAT_11.test(data),
  construct: (data: string) => {
    const n = float11Value(data);
    // An integral float (`1.0`) keeps its type: TOSCA tells floats from integers.
    return Number.isInteger(n) ? new FloatValue(n) : n;
  },
  predicate: (o: unknown) => typeof o === 'number' && !Number.isInteger(o),
  represent: (o: object) => float11Text(o as unknown as number),
});

/** Dumps FloatValue boxes (integral floats) as floats; never resolves anything when loading. */
const floatBox = new yaml.Type('tag:im-serverless,2024:float-box', {
  kind: 'scalar',
  resolve: () => false,
  instanceOf: FloatValue,
  represent: (o: object) => float11Text((o as FloatValue).value),
});

const T = (yaml as unknown as { types: Record<'null' | 'merge' | 'binary' | 'omap' | 'pairs' | 'set', yaml.Type> }).types;

/** PyYAML's safe schema (YAML 1.1 scalars), timestamps kept as strings. */
export const YAML11_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [T.null, bool11, int11, float11, floatBox, T.merge],
  explicit: [T.binary, T.omap, T.pairs, T.set],
});

/**
 * At most this many values once aliases are expanded: a few kilobytes of nested aliases (a "billion
 * laughs" document) expand to millions, which merging and dumping would walk for many seconds.
 */
export const MAX_YAML_VALUES = 200_000;

/** Counts the values of a parsed document as its consumers see them (an alias counts each time it is used). */
function checkExpandedSize(doc: unknown): void {
  let count = 0;
  const stack: unknown[] = [doc];
  while (stack.length > 0) {
    const v = stack.pop();
    if (++count > MAX_YAML_VALUES) {
      throw new yaml.YAMLException(`the document expands to more than ${MAX_YAML_VALUES} values (aliases included)`);
    }
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (isMap(v)) for (const x of Object.values(v)) stack.push(x);
  }
}

/** Parses YAML 1.1 text; throws js-yaml's YAMLException (with its `mark`) on a syntax error or an expansion bomb. */
export function loadYaml(text: string): unknown {
  // PyYAML keeps the last of duplicated keys (`json: true` does the same).
  const doc = yaml.load(text, { schema: YAML11_SCHEMA, json: true });
  checkExpandedSize(doc);
  return doc;
}

/** `yaml.safe_dump`: block style, sorted keys (unless `sortKeys` is false), long lines kept. */
export function dumpYaml(value: unknown, opts: { sortKeys?: boolean; explicitStart?: boolean; lineWidth?: number } = {}): string {
  const text = yaml.dump(value, {
    schema: YAML11_SCHEMA,
    sortKeys: opts.sortKeys ?? true,
    lineWidth: opts.lineWidth ?? 256,
    noRefs: true,
    quotingType: "'",
  });
  return opts.explicitStart ? `---\n${text}` : text;
}

/** Plain JSON-like value: FloatValue boxes unwrapped (a deep copy). */
export function plain(value: unknown): unknown {
  if (value instanceof FloatValue) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}

export function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof FloatValue);
}

/** A number, unboxed (undefined when not a number). */
export function numberOf(v: unknown): number | undefined {
  if (v instanceof FloatValue) return v.value;
  return typeof v === 'number' ? v : undefined;
}

// ---------------------------------------------------------------------------------------------
// Line numbers
// ---------------------------------------------------------------------------------------------

interface Line {
  indent: number;
  /** Column of the first key on the line (after `- ` markers). */
  keyCol: number;
  /** Leading `- ` markers. */
  dashes: number;
  /** The line after the markers. */
  rest: string;
  blank: boolean;
}

function scan(text: string): Line[] {
  return text.split(/\r?\n/).map((raw) => {
    const indent = raw.length - raw.trimStart().length;
    let i = indent;
    let dashes = 0;
    while (raw[i] === '-' && (raw[i + 1] === ' ' || raw[i + 1] === undefined)) {
      dashes++;
      i += 2;
      while (raw[i] === ' ') i++;
    }
    const rest = raw.slice(i);
    const t = rest.trim();
    return { indent, keyCol: i, dashes, rest, blank: t === '' || (t.startsWith('#') && dashes === 0) };
  });
}

function keyOfLine(rest: string): string | undefined {
  const m = /^(?:'((?:[^']|'')*)'|"((?:[^"\\]|\\.)*)"|([^\s'"#][^:#]*?))\s*:(?:\s|$)/.exec(rest);
  if (!m) return undefined;
  if (m[1] !== undefined) return m[1].replace(/''/g, "'");
  if (m[2] !== undefined) return m[2];
  return m[3];
}

/**
 * 1-based line of `path` (map keys and list indexes) in block-style YAML, or of the deepest part of it
 * that could be found; undefined when not even the first key is found.
 */
export function lineOf(text: string, path: readonly (string | number)[]): number | undefined {
  const lines = scan(text);
  let from = 0;
  let to = lines.length;
  let col = -1;
  let found: number | undefined;
  for (const seg of path) {
    let hit = -1;
    if (typeof seg === 'string') {
      let childCol = -1;
      for (let i = from; i < to; i++) {
        const l = lines[i];
        if (l.blank) continue;
        if (l.keyCol <= col) break;
        if (childCol < 0) childCol = l.keyCol;
        if (l.keyCol !== childCol) continue;
        if (keyOfLine(l.rest) === seg) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return found;
      col = lines[hit].keyCol;
    } else {
      let n = -1;
      let dashCol = -1;
      for (let i = from; i < to; i++) {
        const l = lines[i];
        if (l.blank) continue;
        if (l.indent <= col && l.dashes === 0) break;
        if (l.dashes === 0) continue;
        if (dashCol < 0) dashCol = l.indent;
        if (l.indent !== dashCol) continue;
        n++;
        if (n === seg) {
          hit = i;
          break;
        }
      }
      if (hit < 0) return found;
      col = lines[hit].indent;
    }
    found = hit + 1;
    from = typeof seg === 'string' ? hit + 1 : hit;
    // The value of a list item may start on the marker's line: keep it in range.
    let end = hit + 1;
    while (end < lines.length && (lines[end].blank || lines[end].indent > col)) end++;
    to = end;
    if (typeof seg === 'number') {
      // Keys of the item start on the marker line: search from it with the item's key column.
      col = lines[hit].keyCol - 1;
    }
  }
  return found;
}
