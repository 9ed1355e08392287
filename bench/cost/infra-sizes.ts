/**
 * The sizes the CDK code gives the functions and the contextualization task, read from infra/ (the
 * literals of infra/lib/constructs/functions.ts, contextualization.ts and the default of
 * runnerArchitecture in infra/lib/config.ts). Fails when the code no longer has them in that form,
 * so that the cost model never runs on stale sizes.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Architecture } from './prices.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface InfraSizes {
  /** Memory (MB) of the REST, XML-RPC and tasks functions. */
  lambdaMemoryMb: { rest: number; xmlrpc: number; tasks: number };
  lambdaArchitecture: Architecture;
  /** Fargate task: CPU units (1024 = 1 vCPU) and memory (MiB). */
  fargate: { cpuUnits: number; memoryMiB: number; architecture: Architecture };
}

function match(text: string, re: RegExp, what: string): RegExpExecArray {
  const m = re.exec(text);
  if (!m) throw new Error(`infra/: cannot find ${what} (${re})`);
  return m;
}

/** Parses the three sources (exported for the unit test). */
export function parseInfraSizes(functionsTs: string, contextualizationTs: string, configTs: string): InfraSizes {
  const memory = (id: string) => Number(match(functionsTs, new RegExp(`new HandlerFunction\\(this, '${id}', \\{[^}]*?memorySize: (\\d+)`), `the memorySize of ${id}`)[1]);
  const arch = match(functionsTs, /architecture: lambda\.Architecture\.(ARM_64|X86_64)/, 'the Lambda architecture')[1];
  const task = match(contextualizationTs, /new ecs\.FargateTaskDefinition\([^{]*\{\s*cpu: (\d+),\s*memoryLimitMiB: (\d+)/, 'the Fargate task size');
  const runnerArch = match(configTs, /runnerArchitecture: z\.enum\(\[[^\]]*\]\)\.default\('(x86_64|arm64)'\)/, 'the runnerArchitecture default')[1];
  return {
    lambdaMemoryMb: { rest: memory('Rest'), xmlrpc: memory('XmlRpc'), tasks: memory('Tasks') },
    lambdaArchitecture: arch === 'ARM_64' ? 'arm64' : 'x86_64',
    fargate: { cpuUnits: Number(task[1]), memoryMiB: Number(task[2]), architecture: runnerArch as Architecture },
  };
}

export function readInfraSizes(): InfraSizes {
  const read = (p: string) => readFileSync(`${ROOT}${p}`, 'utf8');
  return parseInfraSizes(read('infra/lib/constructs/functions.ts'), read('infra/lib/constructs/contextualization.ts'), read('infra/lib/config.ts'));
}
