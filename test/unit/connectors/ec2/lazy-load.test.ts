/**
 * The connector registry answers EC2's concreteSystem without the EC2 SDK: the SDK is reachable from the
 * registry only through the dynamic import of the connector, so a Lambda that never touches EC2 never
 * loads it. Checked on the real module graph, as esbuild (the bundler of the Lambdas) sees it.
 */
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

async function graph(entry: string): Promise<Metafile> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'esm',
    splitting: true,
    outdir: 'out',
    metafile: true,
    logLevel: 'silent',
    external: ['@aws-sdk/*', '@smithy/*', 'ssh2'],
  });
  return out.metafile;
}

/** Every module path reachable from `output` through static imports only (chunks followed). */
function staticImports(meta: Metafile, output: string, seen = new Set<string>()): Set<string> {
  for (const imp of meta.outputs[output]?.imports ?? []) {
    if (imp.kind !== 'import-statement' || seen.has(imp.path)) continue;
    seen.add(imp.path);
    if (meta.outputs[imp.path]) staticImports(meta, imp.path, seen);
  }
  return seen;
}

describe('EC2 lazy loading', () => {
  it('keeps @aws-sdk/client-ec2 out of the registry static graph and loads it with the connector', async () => {
    const meta = await graph('lambdas/connectors/registry.ts');
    const entry = Object.keys(meta.outputs).find((o) => meta.outputs[o].entryPoint === 'lambdas/connectors/registry.ts') as string;
    const eager = staticImports(meta, entry);
    expect([...eager].filter((p) => p.startsWith('@aws-sdk/'))).toEqual([]);
    // The eager part holds concreteSystem (and the instance-type table); the connector's modules are not in it.
    const eagerInputs = Object.keys(meta.outputs[entry].inputs).concat(
      [...eager].filter((p) => meta.outputs[p]).flatMap((p) => Object.keys(meta.outputs[p].inputs)),
    );
    expect(eagerInputs).toContain('lambdas/connectors/ec2/concrete-system.ts');
    expect(eagerInputs).not.toContain('lambdas/connectors/ec2/connector.ts');
    expect(eagerInputs).not.toContain('lambdas/connectors/ec2/launch.ts');
    // The dynamic chunk brings the SDK.
    const lazy = (meta.outputs[entry].imports ?? []).filter((i) => i.kind === 'dynamic-import').map((i) => i.path);
    expect(lazy.length).toBeGreaterThan(0);
    const lazyImports = lazy.flatMap((p) => [...staticImports(meta, p)]);
    expect(lazyImports).toContain('@aws-sdk/client-ec2');
  });
});
