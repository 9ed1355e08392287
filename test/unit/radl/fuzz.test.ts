/**
 * Property-based robustness: on ≥ 10,000 random and mutated inputs, the only exception the RADL package ever
 * throws is RadlError. Whatever parses must also serialize: text output re-parses to the same text (fixed point)
 * and JSON output re-parses.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkRadl,
  parseRadl,
  parseRadlAny,
  parseRadlJson,
  RadlError,
  radlToJsonString,
  radlToText,
  type Radl,
} from '#radl/index';
import { ALL_FIXTURES } from './helpers.ts';

const SEED = Number(process.env.RADL_FUZZ_SEED ?? 20240611);
let inputs = 0;

function expectRadlError(e: unknown, input: unknown): void {
  if (!(e instanceof RadlError)) {
    throw new Error(`non-RadlError thrown for input ${JSON.stringify(input)?.slice(0, 500)}: ${(e as Error)?.stack ?? String(e)}`);
  }
  expect(typeof e.message).toBe('string');
}

/** Parse, check and serialize; every failure must be a RadlError. */
function exercise(input: unknown, fromText: boolean): void {
  inputs++;
  let radl: Radl;
  try {
    radl = typeof input === 'string' ? parseRadlAny(input) : parseRadlJson(input);
  } catch (e) {
    expectRadlError(e, input);
    return;
  }
  try {
    checkRadl(radl, { yamlCache: false });
  } catch (e) {
    expectRadlError(e, input);
  }
  // Anything that parsed can be written as text, and that text is a fixed point.
  let text: string;
  try {
    text = radlToText(radl);
  } catch (e) {
    throw new Error(`radlToText failed for ${fromText ? 'text' : 'JSON'} input ${JSON.stringify(input)?.slice(0, 500)}: ${String(e)}`);
  }
  let again: string;
  try {
    again = radlToText(parseRadl(text));
  } catch (e) {
    throw new Error(`serialized text does not re-parse: ${JSON.stringify(text)}: ${String(e)}`);
  }
  expect(again).toBe(text);
  // JSON output: either a RadlError (e.g. a feature named 'id') or JSON that re-parses (or fails with RadlError).
  try {
    parseRadlJson(radlToJsonString(radl));
  } catch (e) {
    expectRadlError(e, input);
  }
}

// ------------------------------------------------------------------------------------------------ arbitraries

const TEXTS = ALL_FIXTURES.map((f) => f.text);
const JSONS = ALL_FIXTURES.flatMap((f) => {
  try {
    return [radlToJsonString(parseRadl(f.text))];
  } catch {
    return [];
  }
});

const SPECIAL_CHARS = [
  '(', ')', '[', ']', ',', '=', '<', '>', "'", '"', '#', '@', '-', '!', '.', ';', '{', '}', '\\', '\n', '\r', '\t', ' ',
  'ñ', '€', '\u0000', '\u00a0', '\ud800', '0', '9', 'a', 'Z', '_',
];
const TOKENS = [
  'network', 'system', 'ansible', 'configure', 'contextualize', 'deploy', 'description', 'soft', 'and', 'contains',
  'step', 'with', 'option', 'front', 'wn', 'pub', 'cpu.count', 'memory.size', 'disk.0.image.url', 'disk.1.size',
  'disk.x.size', 'net_interface.0.connection', 'net_interface.1.dns_name', 'disk.0.applications', 'outbound',
  'outports', 'ansible_host', 'id', 'x_min', '12', '0', '1.5', '1.', '512M', '2Gi', '3ECU', 'PB', "'yes'", "'x'",
  "'it\\'s'", "'random(3)'", "'random(99)'", "'22,80-8080'", "'pub'", "''", '(', ')', '[', ']', ',', '=', '<', '>',
  '<=', '>=', '@begin\n- a: 1\n@end\n', '@begin\n- [\n@end\n', '@begin x', '# comment\n', '\n', "'unterminated",
  '"dq"', '-1', '!=', '@input.x@', 'Ansible', 'cloud_init', '{', '[{"class":"system"}]',
];

const edit = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), text: fc.oneof(fc.constantFrom(...SPECIAL_CHARS), fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 })) }),
  fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 30 }) }),
  fc.record({ kind: fc.constant('replace' as const), pos: fc.nat(), text: fc.constantFrom(...SPECIAL_CHARS) }),
  fc.record({ kind: fc.constant('dup' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 80 }) }),
);
type Edit =
  | { kind: 'insert'; pos: number; text: string }
  | { kind: 'replace'; pos: number; text: string }
  | { kind: 'delete'; pos: number; len: number }
  | { kind: 'dup'; pos: number; len: number };

function applyEdits(src: string, edits: Edit[]): string {
  let s = src;
  for (const e of edits) {
    const p = e.pos % (s.length + 1);
    if (e.kind === 'insert') s = s.slice(0, p) + e.text + s.slice(p);
    else if (e.kind === 'replace') s = s.slice(0, p) + e.text + s.slice(p + 1);
    else if (e.kind === 'delete') s = s.slice(0, p) + s.slice(p + e.len);
    else s = s.slice(0, p) + s.slice(p, p + e.len) + s.slice(p);
  }
  return s;
}

const mutatedText = fc
  .record({ i: fc.nat({ max: TEXTS.length - 1 }), edits: fc.array(edit, { minLength: 1, maxLength: 6 }) })
  .map(({ i, edits }) => applyEdits(TEXTS[i], edits));

const mutatedJson = fc
  .record({ i: fc.nat({ max: JSONS.length - 1 }), edits: fc.array(edit, { minLength: 1, maxLength: 4 }) })
  .map(({ i, edits }) => applyEdits(JSONS[i], edits));

const tokenSoup = fc
  .array(fc.tuple(fc.constantFrom(...TOKENS), fc.constantFrom(' ', '\n', '', '  ', '\t')), { maxLength: 50 })
  .map((parts) => parts.map(([t, ws]) => t + ws).join(''));

const FEATURE_KEYS = [
  'cpu.count', 'cpu.count_min', 'cpu.count_max', 'memory.size_min', 'cpu.performance', 'cpu.performance_min',
  'disk.0.image.url', 'disk.0.os.version_min', 'disk.0.applications', 'disk.1.size', 'net_interface.0.connection',
  'outbound', 'outports', 'name', 'host', 'credentials.username', 'x_min', '_min', 'softs', 'reference', 'bad key',
  '__proto__', 'constructor', '1x',
];
const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('yes', 'no', '2ECU', '1.5GCEU', 'random(4)', 'a\\', "it's", 'pub', 's', 'c'),
  fc.integer({ min: -5, max: 1e6 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
);
const { value: jsonValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    leaf,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...FEATURE_KEYS, 'weight', 'items'), tie('value'), { maxKeys: 3 }),
  ),
}));
const radlItem = fc
  .record(
    {
      class: fc.constantFrom('network', 'system', 'ansible', 'configure', 'deploy', 'contextualize', 'description', 'vm'),
      id: fc.oneof(fc.constantFrom('s', 'pub', 'c', 'x y', '1', 'system'), fc.integer(), fc.constant(undefined)),
      reference: fc.oneof(fc.boolean(), fc.constant(undefined), fc.constant('yes')),
      recipes: fc.oneof(fc.constantFrom('- a: 1\n', '- [', 'x\n@end\n', '@end', ''), fc.constant(null), fc.integer()),
      system: fc.constantFrom('s', 'zz', '', 3),
      vm_number: fc.oneof(fc.integer({ min: -2, max: 5 }), fc.double(), fc.string({ maxLength: 2 })),
      cloud: fc.oneof(fc.constantFrom('one', 'bad cloud'), fc.constant(null)),
      max_time: fc.oneof(fc.integer({ min: -1, max: 100 }), fc.double(), fc.constant('x')),
      items: fc.oneof(
        fc.array(
          fc.record(
            { system: fc.constantFrom('s', 'zz', 3), configure: fc.constantFrom('c', 'zz'), step: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double()), ctxt_tool: fc.constantFrom('Ansible', 'cloud_init', 'x y') },
            { requiredKeys: [] },
          ),
          { maxLength: 3 },
        ),
        jsonValue,
      ),
      options: fc.oneof(fc.dictionary(fc.constantFrom('ansible_version', 'x_min', 'bad key'), leaf, { maxKeys: 2 }), jsonValue),
      softs: fc.oneof(fc.array(fc.record({ weight: leaf, items: jsonValue }, { requiredKeys: [] }), { maxLength: 2 }), jsonValue),
      features: fc.dictionary(fc.constantFrom(...FEATURE_KEYS), jsonValue, { maxKeys: 5 }),
    },
    { requiredKeys: ['class'] },
  )
  .map(({ features, ...rest }) => ({ ...features, ...rest }));
const radlJsonDoc = fc.array(radlItem, { maxLength: 6 });

/** Random well-formed-ish documents built from grammar pieces (exercises the serializer on valid input). */
const IDS = ['a', 'b', 'front', 'wn', 'pub'];
const featureText = fc.oneof(
  fc.tuple(
    fc.constantFrom('cpu.count', 'memory.size', 'disk.0.size', 'x', 'gpu.count', 'price', 'disk.1.free_size'),
    fc.constantFrom('=', '<', '>', '<=', '>='),
    fc.integer({ min: 0, max: 100000 }),
    fc.constantFrom('', 'M', 'Gi', 'kb', 'ECU', 'foo'),
  ).map(([n, op, v, u]) => `${n} ${op} ${v}${u}`),
  fc.tuple(
    fc.constantFrom('name', 'disk.0.os.name', 'disk.0.os.version', 'net_interface.0.connection', 'a.b', 'outbound'),
    fc.constantFrom('=', '>=', '<'),
    fc.string({ maxLength: 6 }).map((s) => `'${s.replace(/\\/g, '').replace(/'/g, "\\'")}'`),
  ).map(([n, op, v]) => `${n} ${op} ${v}`),
  fc.array(fc.string({ maxLength: 4 }).map((s) => `'${s.replace(/[\\']/g, '')}'`), { maxLength: 3 }).map((l) => `urls = [${l.join(', ')}]`),
  fc.constantFrom("disk.0.applications contains (name = 'app' and version = '1')", "disk.0.applications contains (name = 'b')"),
);
const sectionText = fc.oneof(
  fc.tuple(fc.constantFrom(...IDS), fc.array(featureText, { maxLength: 4 })).map(([id, fs]) => `network ${id} (${fs.join(' and ')})`),
  fc
    .tuple(fc.constantFrom(...IDS), fc.array(featureText, { maxLength: 6 }), fc.option(fc.array(featureText, { maxLength: 2 })))
    .map(([id, fs, soft]) => `system ${id} (${[...fs, ...(soft ? [`soft 5 (${soft.join(' and ')})`] : [])].join(' and ')})`),
  fc.constantFrom(...IDS).map((id) => `system ${id}`),
  fc.tuple(fc.constantFrom(...IDS), fc.constantFrom('', '\n- a: 1\n', ' x\n  @end\n')).map(([id, r]) => (r ? `configure ${id} (@begin${r}@end\n)` : `configure ${id} ()`)),
  fc.tuple(fc.constantFrom(...IDS), fc.nat(5), fc.constantFrom('', ' one')).map(([id, n, c]) => `deploy ${id} ${n}${c}`),
  fc
    .tuple(fc.option(fc.nat(900)), fc.constantFrom(...IDS), fc.constantFrom(...IDS), fc.constantFrom('', ' step 1', ' with cloud_init', ' step 2 with Ansible'))
    .map(([t, s, c, x]) => `contextualize ${t ?? ''} ( option ansible_version = '2.9' system ${s} configure ${c}${x} )`),
);
const wellFormed = fc.array(sectionText, { maxLength: 6 }).map((ss) => ss.join('\n'));

// ------------------------------------------------------------------------------------------------ properties

describe('fuzz: only RadlError is ever thrown', () => {
  const opts = (numRuns: number, offset: number) => ({ numRuns, seed: SEED + offset, endOnFailure: true });

  it('mutated fixture texts (4,000)', () => {
    fc.assert(fc.property(mutatedText, (t) => exercise(t, true)), opts(4000, 1));
  });

  it('random token soup (3,000)', () => {
    fc.assert(fc.property(tokenSoup, (t) => exercise(t, true)), opts(3000, 2));
  });

  it('random grammar-shaped documents (1,500)', () => {
    fc.assert(fc.property(wellFormed, (t) => exercise(t, true)), opts(1500, 3));
  });

  it('random RADL-JSON values (1,500) and arbitrary JSON (500)', () => {
    fc.assert(fc.property(radlJsonDoc, (d) => exercise(d, false)), opts(1500, 4));
    fc.assert(fc.property(radlJsonDoc, (d) => exercise(JSON.stringify(d), false)), opts(500, 5));
    fc.assert(fc.property(fc.json(), (j) => exercise(j, false)), opts(500, 6));
  });

  it('mutated RADL-JSON texts (1,500)', () => {
    fc.assert(fc.property(mutatedJson, (t) => exercise(t, false)), opts(1500, 7));
  });

  it('fed at least 10,000 inputs', () => {
    expect(inputs).toBeGreaterThanOrEqual(10_000);
  });
});
