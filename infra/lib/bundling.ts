/**
 * Where the deployed code lives and how it is bundled. Shared by the functions construct
 * (NodejsFunction) and by bench/bundles.ts, so that the benchmark measures exactly what is deployed.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/** The repository root (infra/lib/ → ../..). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The Lambda entry points; each exports `handler`. */
export const HANDLER_ENTRIES = {
  rest: 'lambdas/handlers/rest.ts',
  xmlrpc: 'lambdas/handlers/xmlrpc.ts',
  tasks: 'lambdas/handlers/tasks.ts',
  purge: 'lambdas/handlers/purge.ts',
} as const;

export type HandlerName = keyof typeof HANDLER_ENTRIES;

/** The contextualization runner (bundled by `npm run build:runner` into RUNNER_BUNDLE). */
export const RUNNER_ENTRY = 'lambdas/runner/main.ts';
export const RUNNER_BUNDLE = 'dist/runner/index.mjs';

export const entryPath = (name: HandlerName): string => join(REPO_ROOT, HANDLER_ENTRIES[name]);
export const entryExists = (name: HandlerName): boolean => existsSync(entryPath(name));

/** Node.js version the bundles target (the nodejs22.x runtime). */
export const BUNDLE_TARGET = 'node22';

/**
 * The runner bundle (RUNNER_BUNDLE) is ESM, and ESM output lacks what CommonJS code expects:
 * `require` (for the CommonJS dependencies that esbuild inlines, e.g. ssh2, when they require Node
 * built-ins) and `__filename` / `__dirname` (ssh2 reads `__dirname` at load time). The aliases avoid
 * clashes with bundled imports of the same functions. The Lambda bundles are CommonJS and need none.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __imCreateRequire } from 'node:module';" +
  " import { fileURLToPath as __imFileURLToPath } from 'node:url';" +
  " import { dirname as __imDirname } from 'node:path';" +
  ' const require = __imCreateRequire(import.meta.url);' +
  ' const __filename = __imFileURLToPath(import.meta.url);' +
  ' const __dirname = __imDirname(__filename);';

/**
 * The nodejs22.x runtime provides the AWS SDK for JavaScript v3, so it stays out of the bundles (the
 * runner image has no SDK and bundles it: see the build:runner script).
 */
export const RUNTIME_PROVIDED_MODULES = ['@aws-sdk/*'];

/**
 * Optional native add-ons of ssh2 (its sshcrypto binding and cpu-features), which esbuild cannot
 * bundle. ssh2 loads them inside try/catch and falls back to pure JavaScript, which is what runs.
 */
export const NATIVE_ADDONS = ['*.node', 'cpu-features'];

/**
 * NodejsFunction bundling: one minified CommonJS bundle per handler (`index.js`), with a source map.
 *
 * CommonJS rather than ESM because of cold starts: in ESM output esbuild hoists every external import
 * (`@aws-sdk/*`, even those of modules the code loads lazily with `import()`) to the top of the file,
 * and Node then loads the runtime's CommonJS SDK packages through its ESM→CommonJS interop, which is
 * slow (format detection, cjs-module-lexer). In CommonJS output the `require()` of an external stays
 * inside the lazy init wrapper of the module that needs it. No code on a Lambda path may therefore
 * rely on `import.meta` or top-level await (esbuild warns, and the tests fail, when one does).
 */
export const LAMBDA_BUNDLING: BundlingOptions = {
  format: OutputFormat.CJS,
  target: BUNDLE_TARGET,
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [...RUNTIME_PROVIDED_MODULES, ...NATIVE_ADDONS],
};

/** The file NodejsFunction writes the bundle to, in each function's asset (CommonJS: `index.js`). */
export const LAMBDA_BUNDLE_FILE = 'index.js';

export interface EsbuildOptionsFor {
  /** Leave `@aws-sdk/*` to the runtime (default) or bundle it (the runner image has no SDK). */
  externalSdk?: boolean;
  /**
   * Output format. Default: `esm` (with ESM_REQUIRE_BANNER) for an `.mjs` outfile (the runner,
   * RUNNER_BUNDLE), else `cjs` as LAMBDA_BUNDLING (`.js` in the Lambda assets, `.cjs` in the bench).
   */
  format?: 'cjs' | 'esm';
}

/**
 * The esbuild build options equivalent to the NodejsFunction command line for LAMBDA_BUNDLING (and,
 * in ESM, for the runner bundle).
 */
export function esbuildOptionsFor(entry: string, outfile: string, options: EsbuildOptionsFor = {}) {
  const format = options.format ?? (outfile.endsWith('.mjs') ? 'esm' : 'cjs');
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node' as const,
    target: BUNDLE_TARGET,
    format,
    minify: LAMBDA_BUNDLING.minify,
    sourcemap: LAMBDA_BUNDLING.sourceMap,
    sourcesContent: LAMBDA_BUNDLING.sourcesContent,
    mainFields: LAMBDA_BUNDLING.mainFields,
    ...(format === 'esm' ? { banner: { js: ESM_REQUIRE_BANNER } } : {}),
    external: [...(options.externalSdk === false ? [] : RUNTIME_PROVIDED_MODULES), ...NATIVE_ADDONS],
    absWorkingDir: REPO_ROOT,
    logLevel: 'error' as const,
  };
}
