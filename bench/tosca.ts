/**
 * TOSCA translator benchmark: µs per translation (YAML text → checked template → RADL) of each fixture of
 * shared/fixtures/tosca/templates, with the documents served from TOSCA_URL_DIR (urls/), as in production
 * after the first request (imports and playbooks cached in process).
 *
 *   npx tsx bench/tosca.ts
 *
 * IM's Python translator (tosca-parser + IM.tosca.Tosca) takes milliseconds to seconds per template; the
 * goal is ≥ 20× faster. Columns:
 *   first      the first translation in this process (files read, type files parsed, code not yet optimised)
 *   translate  loadTosca + toRadl, warm: the mean of many runs after a warm-up (best of 3 rounds)
 *   add        toRadl alone with current VMs (add-resources: the RADL is built again)
 * The Python translator cannot run here (no PyPI); its figures are taken side by side elsewhere.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTosca, toRadl } from '#tosca/index';
import { UrlFetcher } from '#tosca/url-fetcher';

const FIXTURES = process.env.IM_FIXTURES_DIR ?? resolve(fileURLToPath(new URL('../', import.meta.url)), '..', 'shared', 'fixtures');

async function meanUs(fn: () => Promise<unknown> | unknown, ms: number): Promise<number> {
  const warm = performance.now() + ms / 4;
  while (performance.now() < warm) await fn();
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = performance.now();
    const end = t0 + ms / 3;
    while (performance.now() < end) {
      await fn();
      n++;
    }
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  return best;
}

export async function run(): Promise<{ name: string; lines: string[] }> {
  const dir = `${FIXTURES}/tosca`;
  const fetcher = new UrlFetcher({ dir: `${dir}/urls` });
  const lines = ['| template | KB | first (ms) | translate (µs) | add (µs) |', '|---|---:|---:|---:|---:|'];
  const opts = { fetcher, random: (n: number) => 'a'.repeat(n) };
  const files = readdirSync(`${dir}/templates`).sort();
  let sum = 0;
  for (const f of files) {
    const text = readFileSync(`${dir}/templates/${f}`, 'utf8');
    const t0 = performance.now();
    const first = await loadTosca(text, opts);
    toRadl(first, { containerId: '00000000' });
    const firstMs = performance.now() - t0;
    const us = await meanUs(async () => toRadl(await loadTosca(text, opts), { containerId: '00000000' }), 1500);
    const radlUs = await meanUs(() => toRadl(first, { containerId: '00000000', current: new Map() }), 600);
    sum += us;
    lines.push(`| ${f} | ${(text.length / 1024).toFixed(1)} | ${firstMs.toFixed(1)} | ${us.toFixed(0)} | ${radlUs.toFixed(0)} |`);
  }
  lines.push('', `mean translate: ${(sum / files.length).toFixed(0)} µs per template (${files.length} fixtures)`);
  return { name: 'tosca: µs per translation (fixtures)', lines };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const r = await run();
  console.log(`## ${r.name}`);
  for (const l of r.lines) console.log(l);
}
