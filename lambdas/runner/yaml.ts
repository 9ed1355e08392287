/**
 * YAML for Ansible: the inventory and the playbooks are built as data and dumped with js-yaml, and user
 * recipes are loaded and dumped again (to merge IM's play header into them).
 *
 * Ansible reads YAML 1.1 (PyYAML), js-yaml 4 speaks YAML 1.2. The schema here resolves plain scalars
 * with PyYAML's rules so that a recipe means the same thing after the round trip: `yes`/`no`/`on`/`off`
 * are booleans, `0644` is octal (420), `1e3` is a string, `1_000` is 1000; and when dumping, strings that
 * PyYAML would read as something else are quoted.
 *
 * Two Ansible tags survive the round trip, and the generator uses the first:
 *  - `!unsafe 'text'`: a string Ansible never templates (values that come from users or providers, so
 *    that a `{{` in a password, a host name or the RADL is never evaluated);
 *  - `!vault | $ANSIBLE_VAULT…`: an inline vault-encrypted value, kept as is.
 */
import yaml from 'js-yaml';

/** A string value written with an Ansible tag. */
export class Tagged {
  constructor(
    readonly tag: '!unsafe' | '!vault',
    readonly value: string,
  ) {}
}

/** Shorthand: a string Ansible must not template. */
export function unsafe(value: string): Tagged {
  return new Tagged('!unsafe', value);
}

const tagType = (tag: '!unsafe' | '!vault') =>
  new yaml.Type(tag, {
    kind: 'scalar',
    resolve: (data: unknown) => typeof data === 'string' || data === null,
    construct: (data: unknown) => new Tagged(tag, typeof data === 'string' ? data : ''),
    instanceOf: Tagged,
    predicate: (obj: unknown) => obj instanceof Tagged && obj.tag === tag,
    represent: (obj: object) => (obj as Tagged).value,
  });

// ---- YAML 1.1 (PyYAML) implicit scalars ---------------------------------------------------------

const BOOL_11 = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const INT_11 = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const FLOAT_11 =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

const isNumber = (o: unknown): o is number => typeof o === 'number';

function sexagesimal(digits: string): number {
  let value = 0;
  for (const part of digits.split(':')) value = value * 60 + Number(part);
  return value;
}

const bool11 = new yaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && BOOL_11.test(data),
  construct: (data: string) => ['yes', 'true', 'on'].includes(data.toLowerCase()),
  predicate: (o: unknown) => typeof o === 'boolean',
  represent: (o: object) => (o ? 'true' : 'false'),
});

const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && INT_11.test(data),
  construct: (data: string) => {
    let s = data.replace(/_/g, '');
    let sign = 1;
    if (s[0] === '-' || s[0] === '+') {
      if (s[0] === '-') sign = -1;
      s = s.slice(1);
    }
    if (s === '0') return 0;
    if (s.startsWith('0b')) return sign * parseInt(s.slice(2), 2);
    if (s.startsWith('0x')) return sign * parseInt(s.slice(2), 16);
    if (s.startsWith('0')) return sign * parseInt(s, 8);
    if (s.includes(':')) return sign * sexagesimal(s);
    return sign * Number(s);
  },
  predicate: (o: unknown) => isNumber(o) && Number.isInteger(o) && !Object.is(o, -0),
  represent: (o: object) => {
    const n = o as unknown as number;
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  },
});

const float11 = new yaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && FLOAT_11.test(data),
  construct: (data: string) => {
    let s = data.replace(/_/g, '').toLowerCase();
    let sign = 1;
    if (s[0] === '-' || s[0] === '+') {
      if (s[0] === '-') sign = -1;
      s = s.slice(1);
    }
    if (s === '.inf') return sign * Infinity;
    if (s === '.nan') return NaN;
    if (s.includes(':')) return sign * sexagesimal(s);
    return sign * parseFloat(s);
  },
  predicate: (o: unknown) => isNumber(o) && (!Number.isInteger(o) || Object.is(o, -0)),
  represent: (o: object) => {
    const n = o as unknown as number;
    if (Number.isNaN(n)) return '.nan';
    if (n === Infinity) return '.inf';
    if (n === -Infinity) return '-.inf';
    if (Object.is(n, -0)) return '-0.0';
    const s = String(n);
    if (s.includes('.')) return s.replace(/e(\d)/, 'e+$1');
    // PyYAML needs a dot (and a signed exponent) to read a float: 1e+21 → 1.0e+21.
    return s.includes('e') ? s.replace('e', '.0e') : `${s}.0`;
  },
});

/** js-yaml's built-in types (exported at run time, missing from @types/js-yaml). */
const T = (yaml as unknown as { types: Record<'null' | 'timestamp' | 'merge' | 'binary' | 'omap' | 'pairs' | 'set', yaml.Type> }).types;

/** YAML 1.1 implicit scalars (as Ansible reads them) plus Ansible's `!unsafe` and `!vault`. */
export const ANSIBLE_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [T.null, bool11, int11, float11, T.timestamp, T.merge],
  explicit: [T.binary, T.omap, T.pairs, T.set, tagType('!unsafe'), tagType('!vault')],
});

export function loadYaml(text: string): unknown {
  return yaml.load(text, { schema: ANSIBLE_SCHEMA });
}

export function dumpYaml(value: unknown): string {
  return yaml.dump(value, { schema: ANSIBLE_SCHEMA, lineWidth: -1, noRefs: true, quotingType: "'", sortKeys: false });
}
