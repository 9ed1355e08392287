/**
 * Fuzz: 10,000 mutated templates (values replaced by arbitrary ones, keys deleted or added, types and
 * function calls scrambled, the YAML text cut or garbled), built from the fixtures and IM's examples.
 * Each either translates to RADL or fails with a ToscaError that is not an unexpected-error wrapper.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import yaml from 'js-yaml';
import { loadTosca, toRadl, ToscaError } from '#tosca/index';
import { FIXTURES, fetcherWith } from './helpers.ts';

const RUNS = 10_000;
const fetcher = fetcherWith();
const texts = [
  ...readdirSync(`${FIXTURES}templates`).map((f) => readFileSync(`${FIXTURES}templates/${f}`, 'utf8')),
  readFileSync(`${FIXTURES}../im-examples/faas.yml`, 'utf8'),
  readFileSync(`${FIXTURES}../im-examples/tosca_radiomics.yaml`, 'utf8'),
];
const docs = texts.map((t) => yaml.load(t) as Record<string, unknown>);

type Path = (string | number)[];
function paths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...prefix, k], out);
  return out;
}
const allPaths = docs.map((d) => paths(d));

const FUNCS = ['get_input', 'get_property', 'get_attribute', 'concat', 'join', 'token', 'get_artifact', 'get_operation_output'];
const value = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(null, '', 0, -1, 1.5, true, 'PUBLIC', '10 GB', '4 XB', 'tosca.nodes.Compute', 'SELF', 'HOST', 'random(3)', 'access_token()'),
  fc.record({ f: fc.constantFrom(...FUNCS), args: fc.oneof(fc.anything({ maxDepth: 1 }), fc.array(fc.oneof(fc.string(), fc.integer(), fc.constantFrom('SELF', 'HOST', 'front', 'lrms_server')), { maxLength: 4 })) }).map(({ f, args }) => ({ [f]: args })),
);
const op = fc.record({
  kind: fc.constantFrom('set', 'delete', 'add', 'rename'),
  seed: fc.nat(),
  key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('type', 'properties', 'requirements', 'capabilities', 'interfaces', 'imports', 'inputs', 'default')),
  value,
});

function apply(doc: Record<string, unknown>, ps: Path[], o: { kind: string; seed: number; key: string; value: unknown }): void {
  const path = ps[o.seed % ps.length];
  if (path.length === 0) return;
  let parent: unknown = doc;
  for (const k of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return;
    parent = (parent as Record<string | number, unknown>)[k];
  }
  if (parent === null || typeof parent !== 'object') return;
  const last = path[path.length - 1];
  const obj = parent as Record<string | number, unknown>;
  if (o.kind === 'set') obj[last] = o.value;
  else if (o.kind === 'delete') {
    if (Array.isArray(obj)) obj.splice(Number(last), 1);
    else delete obj[last];
  } else if (o.kind === 'add') {
    const target = obj[last];
    if (target && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[o.key] = o.value;
    else if (Array.isArray(target)) target.push(o.value);
  } else if (!Array.isArray(obj)) {
    obj[o.key] = obj[last];
    delete obj[last];
  }
}

const textOps = fc.record({ cut: fc.nat(), insert: fc.string({ maxLength: 5 }), mode: fc.constantFrom('none', 'cut', 'insert', 'tab') });

async function check(text: string): Promise<void> {
  try {
    const t = await loadTosca(text, { fetcher, random: (n) => 'a'.repeat(Math.min(n, 64)) });
    toRadl(t, { containerId: '00000000' });
  } catch (e) {
    if (!(e instanceof ToscaError)) throw new Error(`not a ToscaError: ${(e as Error).stack ?? String(e)}\n--- template ---\n${text.slice(0, 3000)}`);
    if (e.message.includes('Unexpected error')) throw new Error(`${e.message}\n--- template ---\n${text.slice(0, 3000)}`);
    expect(e.message.startsWith('Error parsing TOSCA template: ')).toBe(true);
  }
}

describe('TOSCA fuzz', () => {
  it(`${RUNS} mutated templates yield RADL or a TOSCA error`, { timeout: 120_000 }, async () => {
    const started = Date.now();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(docs.length - 1), fc.array(op, { minLength: 1, maxLength: 4 }), textOps, async (i, ops, t) => {
        const doc = structuredClone(docs[i]);
        for (const o of ops) apply(doc, allPaths[i], o);
        let text: string;
        try {
          text = yaml.dump(doc, { noRefs: true });
        } catch {
          text = texts[i];
        }
        if (t.mode === 'cut') text = text.slice(0, t.cut % (text.length + 1));
        else if (t.mode === 'insert') {
          const at = t.cut % (text.length + 1);
          text = text.slice(0, at) + t.insert + text.slice(at);
        } else if (t.mode === 'tab') text = text.replace('  ', '\t');
        n++;
        await check(text);
      }),
      { numRuns: RUNS },
    );
    expect(n).toBe(RUNS);
    console.log(`fuzz: ${n} templates in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
