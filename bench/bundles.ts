/**
 * Lambda bundle benchmark: builds each handler bundle with esbuild exactly as the CDK app does
 * (NodejsFunction with LAMBDA_BUNDLING of infra/lib/bundling.ts: bundle, minify, source map,
 * platform node, target node22, ESM with the createRequire banner, @aws-sdk/* external), then
 * reports each bundle's size and its cold import time in a fresh Node process.
 *
 *   npx tsx bench/bundles.ts
 *
 * Goals per deployed bundle: ≤ 1 MB and ≤ 150 ms cold import. Two variants are measured:
 *   - "deployed": @aws-sdk/* left to the nodejs22.x runtime, which provides the AWS SDK v3 (what
 *     NodejsFunction does by default on that runtime, and what is deployed);
 *   - "SDK bundled": the same build with the SDK inlined, for an honest comparison.
 * Import time = median of 5 fresh `node` processes of `await import(bundle)`, with
 * NODE_OPTIONS=--enable-source-maps as deployed (and without, for reference). The same-run baseline
 * is the import time of an empty module; the ratio is bundle / baseline. Bundles go to
 * .bench-tmp/bundles/ (inside the repository, so that the external @aws-sdk packages resolve from
 * node_modules as they do from the runtime in Lambda). This machine runs Node
 * ${process.version}; Lambda runs Node 22 on Graviton.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { HANDLER_ENTRIES, REPO_ROOT, entryExists, entryPath, esbuildOptionsFor, type HandlerName } from '../infra/lib/bundling.ts';

const OUT = join(REPO_ROOT, '.bench-tmp', 'bundles');
const RUNS = 5;
const GOAL_KB = 1024;
const GOAL_MS = 150;

export interface BundleResult {
  handler: HandlerName;
  variant: 'deployed' | 'SDK bundled';
  kb: number;
  mapKb: number;
  importMs: number;
  /** CPU time (user + system) of the same imports: less sensitive to other load on the machine. */
  importCpuMs: number;
  importMsNoSourceMaps: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Cold import time of a module in fresh Node processes: the medians of RUNS (wall ms, CPU ms). */
function importTime(file: string, sourceMaps: boolean): { wall: number; cpu: number } {
  const script =
    `const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    `const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]));`;
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '' },
    });
    if (r.status !== 0) throw new Error(`importing ${file} failed: ${r.stderr.slice(0, 2000)}`);
    const [wall, cpuMs] = JSON.parse(r.stdout) as [number, number];
    times.push(wall);
    cpu.push(cpuMs);
  }
  return { wall: median(times), cpu: median(cpu) };
}

async function bundle(handler: HandlerName, variant: BundleResult['variant']): Promise<BundleResult> {
  const outfile = join(OUT, variant === 'deployed' ? 'deployed' : 'sdk-bundled', handler, 'index.mjs');
  await build(esbuildOptionsFor(entryPath(handler), outfile, { externalSdk: variant === 'deployed' }));
  const withMaps = importTime(outfile, true);
  return {
    handler,
    variant,
    kb: statSync(outfile).size / 1024,
    mapKb: statSync(`${outfile}.map`).size / 1024,
    importMs: withMaps.wall,
    importCpuMs: withMaps.cpu,
    importMsNoSourceMaps: importTime(outfile, false).wall,
  };
}

export async function run(): Promise<{ name: string; lines: string[]; results: BundleResult[]; baselineMs: number }> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const empty = join(OUT, 'empty.mjs');
  writeFileSync(empty, 'export {};\n');
  const baseline = importTime(empty, true);
  const baselineMs = baseline.wall;

  const handlers = (Object.keys(HANDLER_ENTRIES) as HandlerName[]).filter(entryExists);
  const results: BundleResult[] = [];
  for (const variant of ['deployed', 'SDK bundled'] as const) {
    for (const handler of handlers) results.push(await bundle(handler, variant));
  }

  const lines: string[] = [];
  lines.push(
    `node ${process.version}; import time = median of ${RUNS} fresh processes (NODE_OPTIONS=--enable-source-maps as deployed); ` +
      `baseline (empty module): ${baselineMs.toFixed(1)} ms wall, ${baseline.cpu.toFixed(1)} ms CPU`,
  );
  lines.push(`goals per deployed bundle: ≤ ${GOAL_KB} KB and ≤ ${GOAL_MS} ms cold import`);
  lines.push(
    `${'handler'.padEnd(8)} ${'variant'.padEnd(12)} ${'size KB'.padStart(8)} ${'map KB'.padStart(8)} ` +
      `${'import ms'.padStart(10)} ${'CPU ms'.padStart(8)} ${'no maps'.padStart(8)} ${'× base'.padStart(7)}  goals`,
  );
  for (const r of results) {
    const goals = r.variant === 'deployed' ? (r.kb <= GOAL_KB && r.importMs <= GOAL_MS ? 'met' : 'MISSED') : '-';
    lines.push(
      `${r.handler.padEnd(8)} ${r.variant.padEnd(12)} ${r.kb.toFixed(1).padStart(8)} ${r.mapKb.toFixed(1).padStart(8)} ` +
        `${r.importMs.toFixed(1).padStart(10)} ${r.importCpuMs.toFixed(1).padStart(8)} ${r.importMsNoSourceMaps.toFixed(1).padStart(8)} ` +
        `${(r.importMs / baselineMs).toFixed(1).padStart(6)}×  ${goals}`,
    );
  }
  const missing = (Object.keys(HANDLER_ENTRIES) as HandlerName[]).filter((h) => !entryExists(h));
  if (missing.length > 0) lines.push(`not measured (entry missing): ${missing.join(', ')}`);
  lines.push('import ms: wall time with source maps (the goal); CPU ms: CPU time of the same imports; no maps: wall time without --enable-source-maps');
  return { name: 'bundles', lines, results, baselineMs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(`# ${r.name}`);
  for (const l of r.lines) console.log(l);
}
