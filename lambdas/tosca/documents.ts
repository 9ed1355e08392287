/**
 * Documents a template needs (imported type files, parent templates, playbooks): the fetcher port and
 * the resolution of `imports`. Pure: the fetcher is passed in (lambdas/tosca/url-fetcher.ts is the
 * adapter with TOSCA_URL_DIR, HTTPS, the allow-list and the cache).
 */
import { ToscaError, type Problem } from '#tosca/errors';
import { TYPE_SECTIONS, type TypeSection } from '#tosca/normative';
import { isMap, loadYaml } from '#tosca/yaml';

/** Reads a document by URL. Rejects with an Error whose message says why. */
export interface DocumentFetcher {
  fetch(url: string): Promise<string>;
}

/** A fetcher that has nothing (every URL fails). */
export const NO_DOCUMENTS: DocumentFetcher = {
  fetch: (url) => Promise.reject(new Error(`no document source is configured for ${url}`)),
};

export type TypeSections = Partial<Record<TypeSection, Record<string, unknown>>>;

/** Parsed type files by URL (their text is kept to notice a change). */
const parsedTypes = new Map<string, { text: string; doc: Record<string, unknown> }>();
const MAX_PARSED = 64;

function parseTypesFile(url: string, text: string): Record<string, unknown> {
  const hit = parsedTypes.get(url);
  if (hit && hit.text === text) return hit.doc;
  const doc = loadYaml(text);
  const out = isMap(doc) ? doc : {};
  if (parsedTypes.size >= MAX_PARSED) parsedTypes.delete(parsedTypes.keys().next().value as string);
  parsedTypes.set(url, { text, doc: out });
  return out;
}

export function isUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/** `file` relative to `base` (a URL), or undefined when it cannot be resolved. */
export function resolveRelative(file: string, base?: string): string | undefined {
  if (isUrl(file)) return file;
  if (!base) return undefined;
  try {
    return new URL(file, base).toString();
  } catch {
    return undefined;
  }
}

/** The URL or path of an `imports` item (string, `{name: url}` or `{name: {file, repository}}`). */
export function importFile(item: unknown, repositories: unknown): string | undefined {
  if (typeof item === 'string') return item;
  if (!isMap(item)) return undefined;
  const entries = Object.entries(item);
  if (entries.length === 1 && (typeof entries[0][1] === 'string' || isMap(entries[0][1])) && entries[0][0] !== 'file') {
    return importFile(entries[0][1], repositories);
  }
  const file = item.file;
  if (typeof file !== 'string') return undefined;
  if (typeof item.repository === 'string' && isMap(repositories)) {
    const repo = repositories[item.repository];
    const url = typeof repo === 'string' ? repo : isMap(repo) && typeof repo.url === 'string' ? repo.url : undefined;
    if (url) return `${url.trim().replace(/\/+$/, '')}/${file}`;
  }
  return file;
}

/**
 * The custom type sections of every import (recursively, each file once), in import order. Problems
 * (unreadable or invalid files) are pushed to `problems`.
 */
export async function loadImports(
  doc: Record<string, unknown>,
  fetcher: DocumentFetcher,
  problems: Problem[],
  base?: string,
  seen = new Set<string>(),
): Promise<TypeSections[]> {
  const imports = doc.imports;
  if (imports === undefined || imports === null) return [];
  if (!Array.isArray(imports)) {
    problems.push({ message: '"imports" must be a list.', path: ['imports'] });
    return [];
  }
  const out: TypeSections[] = [];
  const files: { url: string; index: number }[] = [];
  imports.forEach((item, index) => {
    const file = importFile(item, doc.repositories);
    if (file === undefined) {
      problems.push({ message: `Import "${JSON.stringify(item)}" is not valid.`, path: ['imports', index] });
      return;
    }
    const url = resolveRelative(file, base);
    if (url === undefined) {
      problems.push({ message: `Relative file name "${file}" cannot be used in a pre-parsed input template.`, path: ['imports', index] });
      return;
    }
    files.push({ url, index });
  });
  const texts = await Promise.all(
    files.map(({ url }) =>
      seen.has(url)
        ? Promise.resolve(undefined)
        : fetcher.fetch(url).then(
            (t) => t,
            (e: unknown) => e as Error,
          ),
    ),
  );
  for (let i = 0; i < files.length; i++) {
    const { url, index } = files[i];
    const text = texts[i];
    if (text === undefined) continue;
    seen.add(url);
    if (text instanceof Error) {
      problems.push({ message: `Import "${url}" could not be read: ${text.message}`, path: ['imports', index] });
      continue;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = parseTypesFile(url, text);
    } catch (e) {
      problems.push({ message: `Import "${url}" is not valid YAML: ${(e as Error).message.split('\n')[0]}`, path: ['imports', index] });
      continue;
    }
    out.push(...(await loadImports(parsed, fetcher, problems, url, seen)));
    out.push(typeSections(parsed));
  }
  return out;
}

const sectionsOf = new WeakMap<object, TypeSections>();

/** The type sections of a document (the same object for the same document). */
export function typeSections(doc: Record<string, unknown>): TypeSections {
  const hit = sectionsOf.get(doc);
  if (hit) return hit;
  const out: TypeSections = {};
  sectionsOf.set(doc, out);
  for (const s of TYPE_SECTIONS) if (isMap(doc[s])) out[s] = doc[s];
  return out;
}

/** `imports: [{template_file: url}]` (template inheritance): the parent's URL, else undefined. */
export function parentTemplateFile(doc: Record<string, unknown>): string | undefined {
  const imports = doc.imports;
  if (!Array.isArray(imports) || imports.length !== 1 || !isMap(imports[0])) return undefined;
  const keys = Object.keys(imports[0]);
  const f = imports[0].template_file;
  return keys.length === 1 && typeof f === 'string' ? f : undefined;
}

/**
 * Template inheritance: the parent template (by URL, or relative to `repoBase`) with the child's input
 * values overriding the parent's defaults, and the child's outputs and node templates added or
 * replacing the parent's. The parent's own imports are kept.
 */
export async function mergeParentTemplate(doc: Record<string, unknown>, fetcher: DocumentFetcher, repoBase?: string): Promise<Record<string, unknown>> {
  const file = parentTemplateFile(doc);
  if (file === undefined) return doc;
  const base = repoBase ? (repoBase.endsWith('/') ? repoBase : `${repoBase}/`) : undefined;
  if (base && isUrl(file) && !file.startsWith(base)) {
    throw new ToscaError([{ message: `The TOSCA template must be imported from the TOSCA repository: ${repoBase}`, path: ['imports', 0] }]);
  }
  const url = resolveRelative(file, base);
  if (url === undefined) throw new ToscaError([{ message: `Relative file name "${file}" cannot be used in a pre-parsed input template.`, path: ['imports', 0] }]);
  let parent: unknown;
  try {
    parent = loadYaml(await fetcher.fetch(url));
  } catch (e) {
    throw new ToscaError([{ message: `Error loading the parent template "${url}": ${(e as Error).message.split('\n')[0]}`, path: ['imports', 0] }]);
  }
  if (!isMap(parent)) throw new ToscaError([{ message: `The parent template "${url}" is not a TOSCA template.`, path: ['imports', 0] }]);
  const merged = structuredClone(parent);
  const topo = isMap(merged.topology_template) ? merged.topology_template : (merged.topology_template = {});
  const childTopo = isMap(doc.topology_template) ? doc.topology_template : {};
  const inputs = isMap(topo.inputs) ? topo.inputs : (topo.inputs = {});
  if (isMap(childTopo.inputs)) {
    for (const [k, v] of Object.entries(childTopo.inputs)) {
      const value = isMap(v) && 'default' in v ? v.default : v;
      if (isMap(inputs[k])) inputs[k].default = value;
      else inputs[k] = isMap(v) ? v : { type: 'string', default: value };
    }
  }
  for (const section of ['outputs', 'node_templates'] as const) {
    const c = childTopo[section];
    if (!isMap(c)) continue;
    const target = isMap(topo[section]) ? topo[section] : (topo[section] = {});
    for (const [k, v] of Object.entries(c)) target[k] = v;
  }
  for (const [k, v] of Object.entries(doc)) {
    if (k === 'imports' || k === 'topology_template') continue;
    if (!(k in merged)) merged[k] = v;
  }
  return merged;
}
