/**
 * `npm run bench`: runs every benchmark module of bench/ in turn and prints its figures. A module
 * takes part by exporting `run()` (or, for bench/radl-parse.ts, `runRadlBench()`) that resolves to
 * `{name, lines}`; each prints its own same-run baseline and ratios. A failing module is reported
 * and the others still run (exit code 1 at the end).
 *
 *   npm run bench [-- name …]     e.g. npm run bench -- rest create
 *   npm run bench -- cost         the cost model and the limits (bench/cost.ts, bench/cost/)
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type BenchResult = { name: string; lines: string[] };
type BenchFn = () => Promise<BenchResult>;

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);

const modules = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.endsWith('.d.ts'))
  .sort();

let failed = false;
console.log(`# benchmarks (node ${process.version}, ${new Date().toISOString()})`);
for (const file of modules) {
  const name = basename(file, '.ts');
  if (only.length > 0 && !only.includes(name)) continue;
  const mod = (await import(pathToFileURL(join(here, file)).href)) as Record<string, unknown>;
  const fn = (typeof mod.run === 'function' ? mod.run : mod.runRadlBench) as BenchFn | undefined;
  if (typeof fn !== 'function') continue;
  const t0 = performance.now();
  try {
    const r = await fn();
    console.log(`\n## ${r.name} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    for (const l of r.lines) console.log(l);
  } catch (err) {
    failed = true;
    console.log(`\n## ${name}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  }
}
process.exit(failed ? 1 : 0);
