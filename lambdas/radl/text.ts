/**
 * RADL text serializer. Output always re-parses to an equivalent model (string quotes are escaped, an item with
 * both step and tool prints `step N with tool`, which the parser accepts). Values that no RADL text can express
 * (negative numbers, strings ending in an odd number of backslashes, recipes containing a line starting with
 * `@end`) throw RadlError instead of producing text that would not parse.
 */
import { RadlError } from './errors.ts';
import { formatNumber, isIdentifier, quoteString } from './format.ts';
import type { Configure, Contextualize, Features, Radl, System } from './model.ts';

function ident(s: string, what: string): string {
  if (!isIdentifier(s)) throw new RadlError(`Invalid ${what} ${JSON.stringify(s)}: it cannot be written as a RADL identifier`);
  return s;
}

function checkNames(f: Features): void {
  for (const p of f.props()) ident(p, 'feature name');
}

function body(f: Features, extra: string[] = []): string {
  checkNames(f);
  const parts = f.features().map((x) => x.toText(true));
  parts.push(...extra);
  if (parts.length === 0) return '()';
  return `(\n${parts.join(' and\n')}\n)`;
}

function systemToText(s: System): string {
  const head = `system ${ident(s.name, 'system id')}`;
  if (s.reference) return head;
  const softs = s.softs.map((b) => {
    checkNames(b);
    const inner = b.features().map((x) => x.toText(true));
    return `soft ${formatNumber(b.weight)} (${inner.length ? `\n${inner.join(' and\n')}\n` : ''})`;
  });
  return `${head} ${body(s, softs)}`;
}

function configureToText(c: Configure): string {
  const head = `configure ${ident(c.name, 'configure id')}`;
  if (c.reference) return head;
  if (c.recipes === null) return `${head} ()`;
  const r = c.recipes;
  if (r.includes('\n@end')) {
    throw new RadlError(`The recipe of configure '${c.name}' has a line starting with '@end': it cannot be written in RADL text`);
  }
  return `${head} (\n@begin${r}${r.endsWith('\n') ? '' : '\n'}@end\n)`;
}

function contextualizeToText(c: Contextualize): string {
  const lines: string[] = [];
  for (const name of Object.keys(c.options)) {
    const o = c.options[name];
    const v = typeof o.value === 'number' ? formatNumber(o.value) : quoteString(o.value);
    lines.push(`option ${ident(name, 'option name')} ${o.operator} ${v}`);
  }
  for (const it of c.items) {
    let s = `system ${ident(it.systemId, 'system id')} configure ${ident(it.configureId, 'configure id')}`;
    if (it.step !== undefined) s += ` step ${formatNumber(it.step)}`;
    if (it.ctxtTool !== undefined) s += ` with ${ident(it.ctxtTool, 'contextualization tool')}`;
    lines.push(s);
  }
  const head = c.maxTime !== undefined ? `contextualize ${formatNumber(c.maxTime)}` : 'contextualize';
  return lines.length === 0 ? `${head} ()` : `${head} (\n${lines.join('\n')}\n)`;
}

/**
 * Serialize to RADL text. Order: description, ansible, networks, systems, configures, contextualize, deploys.
 */
export function radlToText(radl: Radl): string {
  const out: string[] = [];
  if (radl.description) out.push(`description ${ident(radl.description.id, 'description id')} ${body(radl.description)}`);
  for (const a of radl.ansibleHosts) out.push(`ansible ${ident(a.id, 'ansible id')} ${body(a)}`);
  for (const n of radl.networks) {
    const head = `network ${ident(n.id, 'network id')}`;
    out.push(n.reference ? head : `${head} ${body(n)}`);
  }
  for (const s of radl.systems) out.push(systemToText(s));
  for (const c of radl.configures) out.push(configureToText(c));
  if (radl.contextualize) out.push(contextualizeToText(radl.contextualize));
  for (const d of radl.deploys) {
    let s = `deploy ${ident(d.systemId, 'system id')} ${formatNumber(d.vmNumber)}`;
    if (d.cloudId !== undefined) s += ` ${ident(d.cloudId, 'cloud id')}`;
    out.push(s);
  }
  return out.length === 0 ? '' : out.join('\n\n') + '\n';
}
