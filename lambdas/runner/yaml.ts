/**
 * YAML for Ansible: the inventory and the playbooks are built as data and dumped with js-yaml.
 *
 * Two Ansible tags survive a load/dump round trip of user recipes, and the generator uses the first:
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

/** DEFAULT_SCHEMA plus Ansible's `!unsafe` and `!vault`. */
export const ANSIBLE_SCHEMA = yaml.DEFAULT_SCHEMA.extend([tagType('!unsafe'), tagType('!vault')]);

export function loadYaml(text: string): unknown {
  return yaml.load(text, { schema: ANSIBLE_SCHEMA });
}

export function dumpYaml(value: unknown): string {
  return yaml.dump(value, { schema: ANSIBLE_SCHEMA, lineWidth: -1, noRefs: true, quotingType: "'", sortKeys: false });
}
