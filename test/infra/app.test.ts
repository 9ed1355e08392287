import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/lib/bundling.ts';

describe('the CDK app (cdk.json, infra/bin/app.ts)', () => {
  it('is run by the CDK CLI 2 with tsx', () => {
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { app: string };
    expect(cdkJson.app).toBe('npx tsx infra/bin/app.ts');
    const cli = JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', 'aws-cdk', 'package.json'), 'utf8')) as { version: string };
    expect(cli.version).toMatch(/^2\./);
  });

  it('makes `cdk synth` stop on an invalid context, naming every problem', () => {
    const r = spawnSync(
      'npx',
      ['cdk', 'synth', '-q', '--no-notices', '-o', mkdtempSync(join(tmpdir(), 'im-cli-')), '-c', 'MAX_VM_FAIL=3', '-c', 'throttlingRateLimit=fast'],
      { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('Invalid CDK context');
    expect(r.stderr).toContain('MAX_VM_FAIL: unknown IM option (did you mean MAX_VM_FAILS?)');
    expect(r.stderr).toContain('throttlingRateLimit:');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
