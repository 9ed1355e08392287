/**
 * PyYAML's (YAML 1.1) implicit scalars, shared by the two YAML dialects of the project: TOSCA templates
 * (lambdas/tosca/yaml.ts) and Ansible inventories and recipes (lambdas/runner/yaml.ts). Each builds its
 * js-yaml types from these rules; they differ only in how they dump and box numbers.
 */
import yaml from 'js-yaml';

/** `yes`/`no`/`on`/`off`/`true`/`false` in PyYAML's three spellings (one-letter `y`/`n` stay strings). */
export const BOOL_11 = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
/** Binary, octal (`0644`), decimal, hex and sexagesimal (`1:30`) integers, `_` allowed. */
export const INT_11 = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
/** Floats need a dot (`1e3` is a string); sexagesimal, `.inf` and `.nan` too. */
export const FLOAT_11 =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

/** PyYAML's booleans as a js-yaml type (the same in both dialects). */
export const bool11 = new yaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: unknown) => typeof data === 'string' && BOOL_11.test(data),
  construct: (data: string) => ['yes', 'true', 'on'].includes(data.toLowerCase()),
  predicate: (o: unknown) => typeof o === 'boolean',
  represent: (o: object) => (o ? 'true' : 'false'),
});

function sexagesimal(digits: string): number {
  let value = 0;
  for (const part of digits.split(':')) value = value * 60 + Number(part);
  return value;
}

/** The sign and the digits of a number scalar, `_` removed. */
function signed(data: string): [number, string] {
  const s = data.replace(/_/g, '');
  if (s[0] === '-') return [-1, s.slice(1)];
  if (s[0] === '+') return [1, s.slice(1)];
  return [1, s];
}

/** The integer of a scalar that INT_11 matched. */
export function int11Value(data: string): number {
  const [sign, s] = signed(data);
  if (s === '0') return 0;
  if (s.startsWith('0b')) return sign * parseInt(s.slice(2), 2);
  if (s.startsWith('0x')) return sign * parseInt(s.slice(2), 16);
  if (s.startsWith('0')) return sign * parseInt(s, 8);
  if (s.includes(':')) return sign * sexagesimal(s);
  return sign * Number(s);
}

/** The number of a scalar that FLOAT_11 matched. */
export function float11Value(data: string): number {
  const [sign, raw] = signed(data);
  const s = raw.toLowerCase();
  if (s === '.inf') return sign * Infinity;
  if (s === '.nan') return NaN;
  if (s.includes(':')) return sign * sexagesimal(s);
  return sign * parseFloat(s);
}

/** PyYAML's text of a float: `.nan`, `.inf`, a dot and a signed exponent always (1e+21 → 1.0e+21). */
export function float11Text(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (n === Infinity) return '.inf';
  if (n === -Infinity) return '-.inf';
  const s = String(n);
  if (s.includes('.')) return s.replace(/e(\d)/, 'e+$1');
  return s.includes('e') ? s.replace('e', '.0e') : `${s}.0`;
}
