/**
 * CDK app entry point (cdk.json: "app": "npx tsx infra/bin/app.ts"). Configuration: cdk.json
 * "context" and `-c key=value`, validated by infra/lib/config.ts (docs/DEPLOY.md#configuration).
 */
import { InfraConfigError } from '../lib/config.ts';
import { createImApp } from '../lib/stack.ts';

try {
  createImApp();
} catch (e) {
  if (!(e instanceof InfraConfigError)) throw e;
  console.error(e.message);
  process.exit(1);
}
