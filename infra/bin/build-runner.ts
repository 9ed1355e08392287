/**
 * `npm run build:runner`: bundles the contextualization runner (lambdas/runner/main.ts) with esbuild
 * into dist/runner/index.mjs, which the Dockerfile copies into the Fargate image. Same options as the
 * Lambda bundles (infra/lib/bundling.ts), except that the AWS SDK is bundled: the image has none.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { REPO_ROOT, RUNNER_BUNDLE, RUNNER_ENTRY, esbuildOptionsFor } from '../lib/bundling.ts';

const entry = join(REPO_ROOT, RUNNER_ENTRY);
const outfile = join(REPO_ROOT, RUNNER_BUNDLE);
if (!existsSync(entry)) {
  console.error(`${RUNNER_ENTRY} does not exist: nothing to build`);
  process.exit(1);
}
await build(esbuildOptionsFor(entry, outfile, { externalSdk: false }));
console.log(`${RUNNER_BUNDLE}: ${(statSync(outfile).size / 1024).toFixed(1)} KB`);
