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
import { FLOAT_11, INT_11, bool11, float11Text, float11Value, int11Value } from '#core/yaml11';

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

const isNumber = (o: unknown): o is number => typeof o === 'number';

const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && INT_11.test(data),
  construct: int11Value,
  predicate: (o: unknown) => isNumber(o) && Number.isInteger(o) && !Object.is(o, -0),
  represent: (o: object) => {
    const n = o as unknown as number;
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  },
});

const float11 = new yaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && FLOAT_11.test(data),
  construct: float11Value,
  predicate: (o: unknown) => isNumber(o) && (!Number.isInteger(o) || Object.is(o, -0)),
  // PyYAML needs a dot (and a signed exponent) to read a float: 1e+21 → 1.0e+21.
  represent: (o: object) => (Object.is(o as unknown as number, -0) ? '-0.0' : float11Text(o as unknown as number)),
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
