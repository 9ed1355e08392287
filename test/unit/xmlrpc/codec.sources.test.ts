/**
 * A lint over the codec's sources: saxes is used through its public API only. It fails if the codec reads a
 * non-public member of a saxes parser (its state number, `_init()`, internal fields), casts a parser to reach
 * one, or matches one of saxes's error messages (the strings are taken from the installed saxes itself).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const CODEC_DIR = join(ROOT, 'lambdas/api/xmlrpc/codec');
const SOURCES = [join(ROOT, 'lambdas/api/xmlrpc/codec.ts'), ...readdirSync(CODEC_DIR).map((f) => join(CODEC_DIR, f))]
  .filter((f) => f.endsWith('.ts'))
  .map((path) => ({ path: path.slice(ROOT.length + 1), text: withoutComments(readFileSync(path, 'utf8')) }));

/** Code only: block comments and whole-line `//` comments removed (prose may name what code must not use). */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^[ \t]*\/\/.*$/gm, '');
}

const SAXES_DIR = dirname(createRequire(import.meta.url).resolve('saxes'));
const SAXES_JS = readFileSync(join(SAXES_DIR, 'saxes.js'), 'utf8');
const SAXES_DTS = readFileSync(join(SAXES_DIR, 'saxes.d.ts'), 'utf8');

/** SaxesParser members documented as public (README "Methods" and "Properties"; public in saxes.d.ts). */
const PUBLIC = new Set([
  'on', 'off', 'write', 'close', 'fail', 'makeError', 'resolve',
  'position', 'line', 'column', 'columnIndex', 'closed', 'opt', 'xmlDecl', 'ENTITIES',
]);

/** Names that hold a saxes parser in a source: `x = new SaxesParser(…)` or `x = createParser()`. */
function parserNames(text: string): string[] {
  const names = new Set<string>();
  for (const m of text.matchAll(/\b(\w+)[ \t]*(?::[^=;\n]+)?=[ \t]*(?:new\s+SaxesParser\b|createParser\s*\()/g)) names.add(m[1]);
  return [...names];
}

/** Every string literal of a source (quotes, apostrophes, template text). */
function stringLiterals(text: string): string[] {
  return [...text.matchAll(/'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|`((?:[^`\\]|\\.)*)`/g)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
}

/** saxes's error messages, as passed to fail(): the exact strings (a template keeps its fixed start). */
const SAXES_MESSAGES = [...SAXES_JS.matchAll(/\bfail\(\s*(?:"([^"]+)"|`([^`$]+))/g)].map((m) =>
  (m[1] ?? m[2]).replace(/\.$/, ''),
);

describe('the XML-RPC codec uses saxes through its public API only', () => {
  it('finds the sources, the parser variables and saxes messages it checks', () => {
    expect(SOURCES.map((s) => s.path)).toEqual(
      expect.arrayContaining(['lambdas/api/xmlrpc/codec.ts', 'lambdas/api/xmlrpc/codec/parse-xml.ts']),
    );
    expect(SAXES_MESSAGES).toEqual(
      expect.arrayContaining(['disallowed character in tag name', 'processing instruction without a target']),
    );
    expect(SAXES_DTS).toMatch(/private state;/); // the private member this lint is mostly about still exists
  });

  it('only parse-xml.ts imports saxes', () => {
    const importing = SOURCES.filter((s) => /from\s+['"]saxes['"]/.test(s.text)).map((s) => s.path);
    expect(importing).toEqual(['lambdas/api/xmlrpc/codec/parse-xml.ts']);
    expect(parserNames(SOURCES.find((s) => s.path.endsWith('parse-xml.ts'))!.text).sort()).toEqual(['p', 'parser']);
  });

  it.each(SOURCES.map((s) => [s.path, s] as const))('%s reads only public members of a parser', (_p, s) => {
    const bad: string[] = [];
    for (const name of parserNames(s.text)) {
      for (const m of s.text.matchAll(new RegExp(`\\b${name}\\s*(?:\\?\\.|\\.)\\s*(\\w+)`, 'g'))) {
        if (!PUBLIC.has(m[1])) bad.push(`${name}.${m[1]}`);
      }
      if (new RegExp(`\\b${name}\\s*(?:\\[|\\bas\\b)`).test(s.text)) bad.push(`${name}[…] or ${name} as …`);
    }
    if (/\b_init\b/.test(s.text)) bad.push('_init');
    if (/\.state\b|\bS_[A-Z_]{3,}\b/.test(s.text)) bad.push('saxes state');
    expect(bad).toEqual([]);
  });

  it.each(SOURCES.map((s) => [s.path, s] as const))('%s matches none of saxes error messages', (_p, s) => {
    const literals = stringLiterals(s.text).map((l) => l.replace(/\.$/, ''));
    const matched = literals.filter((l) =>
      SAXES_MESSAGES.some((msg) => l === msg || (msg.length >= 20 && l.includes(msg))),
    );
    expect(matched).toEqual([]);
  });
});
