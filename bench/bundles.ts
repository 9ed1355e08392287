/**
 * Lambda bundle benchmark: builds each handler bundle with esbuild exactly as the CDK app does
 * (NodejsFunction with LAMBDA_BUNDLING of infra/lib/bundling.ts: bundle, minify, source map,
 * platform node, target node22, CommonJS, @aws-sdk/* and the native add-ons external), then reports
 * each bundle's size and its cold load time in a fresh Node process, and checks that the bundle
 * exports `handler` and that the handler runs there for a trivial event.
 *
 *   npx tsx bench/bundles.ts
 *
 * Goals per deployed bundle: ≤ 1 MB and ≤ 150 ms cold import. Two variants are measured:
 *   - "deployed": @aws-sdk/* left to the nodejs22.x runtime, which provides the AWS SDK v3 (what
 *     NodejsFunction does by default on that runtime, and what is deployed);
 *   - "SDK bundled": the same build with the SDK inlined, for an honest comparison.
 * Load time = median of 5 fresh `node` processes of `require(bundle)` (the Lambda runtime loads a
 * CommonJS `index.js` with require), with NODE_OPTIONS=--enable-source-maps as deployed (and without,
 * for reference). The same-run baseline is the load time of an empty CommonJS module; the ratio is
 * bundle / baseline. Bundles go to .bench-tmp/bundles/ as `index.cjs` (this repository is
 * `"type": "module"`, so a `.js` file here would be taken for ESM; in Lambda `index.js` is CommonJS),
 * inside the repository so that the external @aws-sdk packages resolve from node_modules as they do
 * from the runtime in Lambda. An esbuild warning (e.g. `import.meta` in CommonJS output, which
 * esbuild empties) fails the run. This machine runs Node ${process.version}; Lambda runs Node 22 on
 * Graviton.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, formatMessagesSync } from 'esbuild';
import { HANDLER_ENTRIES, REPO_ROOT, entryExists, entryPath, esbuildOptionsFor, type HandlerName } from '../infra/lib/bundling.ts';

const OUT = join(REPO_ROOT, '.bench-tmp', 'bundles');
const RUNS = 5;
export const GOAL_KB = 1024;
export const GOAL_MS = 150;

export interface BundleResult {
  handler: HandlerName;
  variant: 'deployed' | 'SDK bundled';
  kb: number;
  mapKb: number;
  importMs: number;
  /** The fastest of the same loads: what the bundle costs when nothing else competes for the CPU. */
  importMinMs: number;
  /** CPU time (user + system) of the same loads: less sensitive to other load on the machine. */
  importCpuMs: number;
  importMsNoSourceMaps: number;
  /** The outcome of {@link checkBundle}: undefined when the handler ran as expected, else what went wrong. */
  problem?: string;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * What the functions get at cold start, enough for the composition root to build its services
 * without any AWS call (SECRET_KEY set, so no Secrets Manager read; SDK clients are only built).
 */
export const BUNDLE_CHECK_ENV: Readonly<Record<string, string>> = {
  AWS_REGION: 'eu-west-1',
  TABLE_NAME: 'im-bundle-check',
  SECRET_KEY: Buffer.alloc(32).toString('base64'),
  STATE_MACHINE_ARN_PREFIX: 'arn:aws:states:eu-west-1:123456789012:stateMachine:ImServerless-',
  LOG_LEVEL: 'ERROR',
  IM_VERSION: '0.0.0-bundle-check',
  // Only read by the purge handler: an invalid day makes it fail before it touches DynamoDB.
  PURGE_BEFORE: 'not-a-day',
};

const apiEvent = (httpMethod: string, path: string, body: string | null) => ({
  httpMethod,
  path,
  resource: '/{proxy+}',
  headers: { Host: 'bundle-check.example', ...(body ? { 'Content-Type': 'text/xml' } : {}) },
  multiValueHeaders: {},
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  pathParameters: null,
  stageVariables: null,
  requestContext: { path, domainName: 'bundle-check.example', httpMethod, stage: 'prod' },
  body,
  isBase64Encoded: false,
});

interface Outcome {
  resolved?: { statusCode?: number; body?: string };
  rejected?: { name: string; message: string };
}

/** A trivial event per handler and what its outcome must be (no AWS call is needed for any of them). */
const CHECKS: Record<HandlerName, { event: unknown; expect: (o: Outcome) => boolean }> = {
  rest: {
    event: apiEvent('GET', '/version', null),
    expect: (o) => o.resolved?.statusCode === 200 && o.resolved.body === BUNDLE_CHECK_ENV.IM_VERSION,
  },
  xmlrpc: {
    event: apiEvent('POST', '/xmlrpc', '<?xml version="1.0"?><methodCall><methodName>GetVersion</methodName><params/></methodCall>'),
    expect: (o) =>
      o.resolved?.statusCode === 200 &&
      /<methodResponse>/.test(o.resolved.body ?? '') &&
      !/<fault>/.test(o.resolved.body ?? '') &&
      (o.resolved.body ?? '').includes(BUNDLE_CHECK_ENV.IM_VERSION),
  },
  // The composition root is built, then runTask refuses the action.
  tasks: { event: { action: 'bundleCheck' }, expect: (o) => o.rejected?.name === 'ImError.BAD_REQUEST' },
  purge: { event: {}, expect: (o) => /^PURGE_BEFORE: incorrect date format/.test(o.rejected?.message ?? '') },
};

const MARK = '@@bundle-check ';

/**
 * Loads a CommonJS bundle in a fresh Node process (source maps on, as deployed), checks that it
 * exports `handler` and calls it with the trivial event of its handler.
 * @returns undefined when all is as expected, else a description of the problem.
 */
export function checkBundle(file: string, handler: HandlerName): string | undefined {
  const script =
    `const m = require(${JSON.stringify(file)});` +
    `const out = (o) => process.stdout.write('\\n${MARK}' + JSON.stringify(o) + '\\n');` +
    `if (typeof m.handler !== 'function') out({ noHandler: typeof m.handler });` +
    `else Promise.resolve(m.handler(${JSON.stringify(CHECKS[handler].event)}, { awsRequestId: 'bundle-check' })).then(` +
    `(r) => out({ resolved: { statusCode: r && r.statusCode, body: r && r.body } }),` +
    `(e) => out({ rejected: { name: String(e && e.name), message: String(e && e.message) } }));`;
  const r = spawnSync(process.execPath, ['-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, NODE_OPTIONS: '--enable-source-maps', ...BUNDLE_CHECK_ENV },
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith(MARK));
  if (r.status !== 0 || !line) return `exit ${r.status}: ${r.stderr.slice(0, 2000) || r.stdout.slice(0, 2000)}`;
  const outcome = JSON.parse(line.slice(MARK.length)) as Outcome & { noHandler?: string };
  if (outcome.noHandler) return `exports.handler is ${outcome.noHandler}`;
  if (!CHECKS[handler].expect(outcome)) return `unexpected outcome: ${JSON.stringify(outcome).slice(0, 2000)}`;
  // Nothing on stderr (no error log, no warning), except the SDK's notice on Node < 22 (Lambda runs 22).
  const stderr = r.stderr.replace(/\(node:\d+\) Warning: NodeVersionSupportWarning:[\s\S]*?--trace-warnings[^\n]*\n?/g, '');
  return stderr.trim() === '' ? undefined : `stderr: ${stderr.slice(0, 2000)}`;
}

/** Cold load time of a CommonJS module in fresh Node processes: the medians of RUNS (wall ms, CPU ms), the fastest. */
function importTime(file: string, sourceMaps: boolean): { wall: number; cpu: number; min: number } {
  const script =
    `const c = process.cpuUsage(); const t = performance.now(); require(${JSON.stringify(file)}); ` +
    `const u = process.cpuUsage(c); process.stdout.write(JSON.stringify([performance.now() - t, (u.user + u.system) / 1000]));`;
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(process.execPath, ['-e', script], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '', ...BUNDLE_CHECK_ENV },
    });
    if (r.status !== 0) throw new Error(`loading ${file} failed: ${r.stderr.slice(0, 2000)}`);
    const [wall, cpuMs] = JSON.parse(r.stdout) as [number, number];
    times.push(wall);
    cpu.push(cpuMs);
  }
  return { wall: median(times), cpu: median(cpu), min: Math.min(...times) };
}

/** Builds a handler bundle as deployed (or with the SDK inlined); throws on any esbuild warning. */
export async function buildBundle(handler: HandlerName, outfile: string, options: { externalSdk?: boolean } = {}): Promise<void> {
  const result = await build(esbuildOptionsFor(entryPath(handler), outfile, options));
  if (result.warnings.length > 0) {
    throw new Error(`esbuild warnings for ${handler}:\n${formatMessagesSync(result.warnings, { kind: 'warning' }).join('\n')}`);
  }
}

async function bundle(handler: HandlerName, variant: BundleResult['variant']): Promise<BundleResult> {
  const outfile = join(OUT, variant === 'deployed' ? 'deployed' : 'sdk-bundled', handler, 'index.cjs');
  await buildBundle(handler, outfile, { externalSdk: variant === 'deployed' });
  const withMaps = importTime(outfile, true);
  return {
    handler,
    variant,
    kb: statSync(outfile).size / 1024,
    mapKb: statSync(`${outfile}.map`).size / 1024,
    importMs: withMaps.wall,
    importMinMs: withMaps.min,
    importCpuMs: withMaps.cpu,
    importMsNoSourceMaps: importTime(outfile, false).wall,
    problem: checkBundle(outfile, handler),
  };
}

export async function run(): Promise<{ name: string; lines: string[]; results: BundleResult[]; baselineMs: number }> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const empty = join(OUT, 'empty.cjs');
  writeFileSync(empty, 'module.exports = {};\n');
  const baseline = importTime(empty, true);
  const baselineMs = baseline.wall;

  const handlers = (Object.keys(HANDLER_ENTRIES) as HandlerName[]).filter(entryExists);
  const results: BundleResult[] = [];
  for (const variant of ['deployed', 'SDK bundled'] as const) {
    for (const handler of handlers) results.push(await bundle(handler, variant));
  }

  const lines: string[] = [];
  lines.push(
    `node ${process.version}; CommonJS bundles; load time = median of ${RUNS} fresh processes of require() ` +
      `(NODE_OPTIONS=--enable-source-maps as deployed); baseline (empty module): ${baselineMs.toFixed(1)} ms wall, ${baseline.cpu.toFixed(1)} ms CPU`,
  );
  lines.push(`goals per deployed bundle: ≤ ${GOAL_KB} KB and ≤ ${GOAL_MS} ms cold import`);
  lines.push(
    `${'handler'.padEnd(8)} ${'variant'.padEnd(12)} ${'size KB'.padStart(8)} ${'map KB'.padStart(8)} ` +
      `${'import ms'.padStart(10)} ${'min ms'.padStart(7)} ${'CPU ms'.padStart(8)} ${'no maps'.padStart(8)} ${'× base'.padStart(7)}  ${'runs'.padEnd(4)}  goals`,
  );
  for (const r of results) {
    const goals =
      r.variant === 'deployed'
        ? [r.kb <= GOAL_KB ? 'size met' : 'size MISSED', r.importMs <= GOAL_MS ? 'import met' : 'import MISSED'].join(', ')
        : '-';
    lines.push(
      `${r.handler.padEnd(8)} ${r.variant.padEnd(12)} ${r.kb.toFixed(1).padStart(8)} ${r.mapKb.toFixed(1).padStart(8)} ` +
        `${r.importMs.toFixed(1).padStart(10)} ${r.importMinMs.toFixed(1).padStart(7)} ${r.importCpuMs.toFixed(1).padStart(8)} ${r.importMsNoSourceMaps.toFixed(1).padStart(8)} ` +
        `${(r.importMs / baselineMs).toFixed(1).padStart(6)}×  ${(r.problem ? 'FAIL' : 'ok').padEnd(4)}  ${goals}`,
    );
  }
  for (const r of results.filter((x) => x.problem)) lines.push(`${r.handler} (${r.variant}) did not run as expected: ${r.problem}`);
  const missing = (Object.keys(HANDLER_ENTRIES) as HandlerName[]).filter((h) => !entryExists(h));
  if (missing.length > 0) lines.push(`not measured (entry missing): ${missing.join(', ')}`);
  lines.push(
    'import ms: median wall time of require() with source maps (the goal); min ms: the fastest of them; CPU ms: CPU time of ' +
      'the same loads (min ms and CPU ms vary less with the load of the machine); no maps: wall time ' +
      'without --enable-source-maps; runs: exports handler and answers a trivial event (rest GET /version, xmlrpc GetVersion, ' +
      'tasks an unknown action, purge an invalid PURGE_BEFORE) in a fresh process, without AWS calls',
  );
  return { name: 'bundles', lines, results, baselineMs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(`# ${r.name}`);
  for (const l of r.lines) console.log(l);
  if (r.results.some((x) => x.problem)) process.exitCode = 1;
}
