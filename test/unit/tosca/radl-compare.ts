/**
 * Compares two RADL-JSON documents by meaning, as the fixtures' README asks: aspects by class and id,
 * feature values as numbers or strings (order of aspects and features free), `disk.N.applications` as a
 * set, recipes as parsed YAML (layout free), contextualize items as a set; deploys in order.
 * Returns the list of differences (empty when equal).
 */
import yaml from 'js-yaml';
import { YAML11_SCHEMA } from '#tosca/yaml';

type Item = Record<string, unknown>;

function canon(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canon((v as Item)[k]);
    return out;
  }
  if (typeof v === 'object' && v !== null && 'value' in (v as object)) return (v as { value: unknown }).value;
  return v;
}

function recipe(text: unknown): unknown {
  if (typeof text !== 'string') return text;
  try {
    return canon(JSON.parse(JSON.stringify(yaml.load(text, { schema: YAML11_SCHEMA }))));
  } catch {
    return text;
  }
}

function features(item: Item): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) {
    if (k === 'class' || k === 'id') continue;
    if (/^disk\.\d+\.applications$/.test(k) && Array.isArray(v)) {
      out[k] = v.map((a) => JSON.stringify(canon(a))).sort();
    } else out[k] = canon(v);
  }
  return out;
}

const key = (i: Item) => `${String(i.class)}:${String(i.id ?? '')}`;

function diffValue(path: string, a: unknown, b: unknown, out: string[]): void {
  const sa = JSON.stringify(a);
  const sb = JSON.stringify(b);
  if (sa !== sb) out.push(`${path}: got ${sa?.slice(0, 300)} expected ${sb?.slice(0, 300)}`);
}

export function compareRadlJson(got: Item[], expected: Item[]): string[] {
  const out: string[] = [];
  const byKey = (list: Item[], cls: string) => new Map(list.filter((i) => i.class === cls).map((i) => [key(i), i]));
  for (const cls of ['network', 'system', 'ansible', 'description']) {
    const g = byKey(got, cls);
    const e = byKey(expected, cls);
    for (const k of new Set([...g.keys(), ...e.keys()])) {
      const gi = g.get(k);
      const ei = e.get(k);
      if (!gi || !ei) {
        out.push(`${k}: ${gi ? 'unexpected' : 'missing'}`);
        continue;
      }
      const gf = features(gi);
      const ef = features(ei);
      for (const f of new Set([...Object.keys(gf), ...Object.keys(ef)])) diffValue(`${k} ${f}`, gf[f], ef[f], out);
    }
  }
  const gc = byKey(got, 'configure');
  const ec = byKey(expected, 'configure');
  for (const k of new Set([...gc.keys(), ...ec.keys()])) {
    const gi = gc.get(k);
    const ei = ec.get(k);
    if (!gi || !ei) {
      out.push(`${k}: ${gi ? 'unexpected' : 'missing'}`);
      continue;
    }
    diffValue(`${k} recipes`, recipe(gi.recipes), recipe(ei.recipes), out);
  }
  const deploys = (l: Item[]) => l.filter((i) => i.class === 'deploy').map((d) => `${String(d.system)} ${String(d.vm_number)} ${String(d.cloud ?? '')}`);
  diffValue('deploys', deploys(got), deploys(expected), out);
  const ctxt = (l: Item[]) => {
    const c = l.find((i) => i.class === 'contextualize');
    if (!c) return null;
    const items = Array.isArray(c.items) ? (c.items as Item[]).map((x) => JSON.stringify(canon(x))).sort() : [];
    return { items, max_time: c.max_time ?? null, options: canon(c.options ?? null) };
  };
  diffValue('contextualize', ctxt(got), ctxt(expected), out);
  return out;
}
