/**
 * The cost model (issue 15, "A cost model" and "Limits"): what one VM lifecycle of N Dummy VMs
 * (create with `contextualize ()`, one GET /infrastructures/<id>/state, destroy) would cost in AWS,
 * counted in local mode (bench/cost/session.ts: the same handlers and ASL, DynamoDB Local, the record
 * cache off as in AWS), at the list prices of bench/cost/prices.ts (dated).
 *
 *  - DynamoDB RRU/WRU exactly (ConsumedCapacity of every request, GSIs and transactions included);
 *  - Step Functions Standard state transitions from the local executions' events, and what the same
 *    executions would cost as Express (requests + GB-s at 64 MB, duration as measured locally);
 *  - Lambda: one invocation per API request and per Lambda Task, GB-s at the memory sizes of infra/
 *    (bench/cost/infra-sizes.ts), durations ESTIMATED from the local wall times (API request as the
 *    client saw it, Task from its StateEntered to StateExited);
 *  - Fargate: Dummy VMs need no contextualization; the model adds ONE contextualization run per
 *    create of BENCH_COST_CTXT_SECONDS (default 300 s) at the task size of infra/;
 *  - CloudWatch Logs of the state machines (LogLevel.ALL with execution data): modeled bytes.
 *
 * Limits: the largest state input/output, the largest DynamoDB item and the history events per
 * execution for 100 and 500 VMs, against 256 KB, 400 KB and 25,000.
 *
 *   npm run bench -- cost          (BENCH_COST_SIZES=1,10,50,100 BENCH_COST_LIMIT_SIZES=100,500)
 */
import { pathToFileURL } from 'node:url';
import { readInfraSizes, type InfraSizes } from './cost/infra-sizes.ts';
import { PRICES, PRICES_AS_OF } from './cost/prices.ts';
import { addUsage, dollars, emptyUsage, expressDollars, fargateSeconds, lambdaGbSeconds, type Usage } from './cost/model.ts';
import { startCostSession, type FlowMeasures, type LifecycleMeasure, type OpMeasure } from './cost/session.ts';

const sizesFrom = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number).filter((x) => x > 0) : d);

/** AWS usage of one measured operation (Fargate: the modeled contextualization run, creates only). */
export function usageOf(op: OpMeasure, infra: InfraSizes, ctxtRuns: number, ctxtSeconds: number): Usage {
  const f = fargateSeconds(ctxtSeconds, infra.fargate.cpuUnits, infra.fargate.memoryMiB);
  return {
    rru: op.dynamo.rru,
    wru: op.dynamo.wru,
    transitions: op.workflows.transitions,
    lambdaInvocations: op.workflows.lambdaInvocations + op.apiDurationsMs.length,
    lambdaGbSeconds:
      op.workflows.lambdaDurationsMs.reduce((a, ms) => a + lambdaGbSeconds(ms, infra.lambdaMemoryMb.tasks), 0) +
      op.apiDurationsMs.reduce((a, ms) => a + lambdaGbSeconds(ms, infra.lambdaMemoryMb.rest), 0),
    apiRequests: op.apiDurationsMs.length,
    fargateVcpuSeconds: ctxtRuns * f.vcpuSeconds,
    fargateGbSeconds: ctxtRuns * f.gbSeconds,
    logBytes: op.workflows.logBytes,
  };
}

const usd = (x: number) => (x === 0 ? '0' : x < 0.0001 ? x.toExponential(2) : x.toFixed(x < 0.01 ? 6 : 4));
const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;

export async function run(): Promise<{ name: string; lines: string[] }> {
  const sizes = sizesFrom(process.env.BENCH_COST_SIZES, [1, 10, 50, 100]);
  const limitSizes = sizesFrom(process.env.BENCH_COST_LIMIT_SIZES, [100, 500]);
  const flowSizes = sizesFrom(process.env.BENCH_COST_FLOW_SIZES, [10, 100]);
  const ctxtSeconds = Number(process.env.BENCH_COST_CTXT_SECONDS ?? 300);
  const infra = readInfraSizes();
  const arch = { lambda: infra.lambdaArchitecture, fargate: infra.fargate.architecture };
  const session = await startCostSession();
  const measured = new Map<number, LifecycleMeasure>();
  const flows = new Map<number, FlowMeasures>();
  try {
    for (let i = 0; i < 5; i++) await session.lifecycle(2); // warm-up (JIT of Node and DynamoDB Local)
    for (const n of [...new Set([...sizes, ...limitSizes])]) measured.set(n, await session.lifecycle(n));
    for (const n of flowSizes) flows.set(n, await session.otherFlows(n));
  } finally {
    await session.stop();
  }

  const lines: string[] = [];
  lines.push(
    `prices: us-east-1 list prices as of ${PRICES_AS_OF} (bench/cost/prices.ts): DynamoDB on-demand $${PRICES.dynamoWru * 1e6}/M WRU, $${PRICES.dynamoRru * 1e6}/M RRU; ` +
      `Step Functions Standard $${PRICES.sfnTransition * 1000}/1k transitions, Express $${PRICES.expressRequest * 1e6}/M + $${PRICES.expressGbSecond}/GB-s; ` +
      `Lambda (${arch.lambda}) $${PRICES.lambdaRequest * 1e6}/M + $${PRICES.lambdaGbSecond[arch.lambda]}/GB-s; Fargate (${arch.fargate}) $${PRICES.fargateVcpuHour[arch.fargate]}/vCPU-h + $${PRICES.fargateGbHour[arch.fargate]}/GB-h; ` +
      `API Gateway REST $${PRICES.apiGatewayRestRequest * 1e6}/M; CloudWatch Logs $${PRICES.logsIngestGb}/GB. No free tier.`,
  );
  lines.push(
    `sizes from infra/: Lambda rest/xmlrpc/tasks ${infra.lambdaMemoryMb.rest}/${infra.lambdaMemoryMb.xmlrpc}/${infra.lambdaMemoryMb.tasks} MB ${arch.lambda}; ` +
      `Fargate ${infra.fargate.cpuUnits / 1024} vCPU / ${infra.fargate.memoryMiB / 1024} GB ${arch.fargate}. ` +
      `Contextualization MODELED: one Fargate run of ${ctxtSeconds} s per create (Dummy VMs have none).`,
  );
  lines.push('');
  lines.push(row(['VMs', 'operation', 'RRU', 'WRU', 'DDB requests', 'SFN transitions', 'Lambda invocations', 'Lambda GB-s (est.)', 'API requests', 'Fargate vCPU-s', 'Fargate GB-s', 'local wall s', '$']));
  lines.push(row(Array(13).fill('---')));
  const lifecycles: { n: number; usage: Usage; m: LifecycleMeasure }[] = [];
  for (const n of sizes) {
    const m = measured.get(n)!;
    let total = emptyUsage();
    for (const op of ['create', 'poll', 'destroy'] as const) {
      const u = usageOf(m[op], infra, op === 'create' ? 1 : 0, ctxtSeconds);
      total = addUsage(total, u);
      lines.push(
        row([n, op, u.rru, u.wru, m[op].dynamo.requests, u.transitions, u.lambdaInvocations, u.lambdaGbSeconds.toFixed(3), u.apiRequests, u.fargateVcpuSeconds, u.fargateGbSeconds, (m[op].wallMs / 1000).toFixed(3), usd(dollars(u, arch).total)]),
      );
    }
    lifecycles.push({ n, usage: total, m });
  }
  lines.push('');
  lines.push('Per VM lifecycle (create + poll + destroy), dollars:');
  lines.push(row(['VMs', 'DynamoDB', 'Step Functions', 'Lambda', 'API Gateway', 'Fargate (modeled)', 'SFN logs', 'total', 'total per VM', 'per VM without Fargate', 'per VM, Lambda time ×10']));
  lines.push(row(Array(11).fill('---')));
  for (const { n, usage } of lifecycles) {
    const d = dollars(usage, arch);
    const d10 = dollars({ ...usage, lambdaGbSeconds: usage.lambdaGbSeconds * 10 }, arch);
    lines.push(row([n, usd(d.dynamodb), usd(d.stepFunctions), usd(d.lambda), usd(d.apiGateway), usd(d.fargate), usd(d.logs), usd(d.total), usd(d.total / n), usd((d.total - d.fargate) / n), usd(d10.total / n)]));
  }
  lines.push('');
  lines.push('Step Functions per flow: Standard (transitions) against the same executions as Express (64 MB, local duration rounded up to 100 ms; and at 5 min, the Express limit):');
  lines.push(row(['VMs', 'flow', 'executions', 'transitions', 'Standard $', 'Express $ (local duration)', 'Express $ (5 min each)', 'local duration s']));
  lines.push(row(Array(8).fill('---')));
  const flowRow = (n: number, flow: string, op: OpMeasure) => {
    const ex = op.workflows.executions;
    const durations = ex.map((e) => (e.endMs ?? e.startMs) - e.startMs);
    const top = ex.filter((e) => e.kind === 'execution');
    const children = ex.length - top.length;
    lines.push(
      row([
        n, flow, `${top.length}${children ? ` + ${children} map children` : ''}`, op.workflows.transitions, usd(op.workflows.transitions * PRICES.sfnTransition),
        usd(expressDollars(durations)), usd(expressDollars(durations.map(() => 300_000))), (Math.max(0, ...top.map((e) => (e.endMs ?? e.startMs) - e.startMs)) / 1000).toFixed(3),
      ]),
    );
  };
  for (const { n, m } of lifecycles) {
    flowRow(n, 'launch', m.create);
    flowRow(n, 'destroy', m.destroy);
  }
  for (const [n, f] of flows) {
    flowRow(n, 'stop', f.stop);
    flowRow(n, 'start', f.start);
    flowRow(n, 'contextualize (reconfigure, no agent)', f.contextualize);
    flowRow(n, 'remove 1 VM (+ nested contextualize)', f.remove);
  }
  lines.push('');
  lines.push('Limits (through the real ASL, local mode):');
  lines.push(row(['VMs', 'largest state input/output', 'of 256 KB', 'largest DynamoDB item', 'of 400 KB', 'most history events in one execution', 'of 25,000', 'transitions per VM (create + destroy)']));
  lines.push(row(Array(8).fill('---')));
  for (const n of [...new Set([...sizes, ...limitSizes])].sort((a, b) => a - b)) {
    const m = measured.get(n)!;
    const ops = [m.create, m.poll, m.destroy];
    const state = ops.reduce((a, o) => (o.workflows.largestStateBytes > a.bytes ? { bytes: o.workflows.largestStateBytes, where: o.workflows.largestStateWhere } : a), { bytes: 0, where: '' });
    const hist = ops.flatMap((o) => o.workflows.executions).reduce((a, e) => (e.history > a.events ? { events: e.history, where: `${e.workflow}${e.kind === 'map child' ? ' map child' : ''}` } : a), { events: 0, where: '' });
    lines.push(
      row([
        n, `${kb(state.bytes)} (${state.where})`, `${((state.bytes / (256 * 1024)) * 100).toFixed(2)} %`, `${kb(m.largestItemBytes)} (${m.largestItemKind})`, `${((m.largestItemBytes / (400 * 1024)) * 100).toFixed(2)} %`,
        `${hist.events} (${hist.where})`, `${((hist.events / 25_000) * 100).toFixed(1)} %`, ((m.create.workflows.transitions + m.destroy.workflows.transitions) / n).toFixed(2),
      ]),
    );
  }
  lines.push('');
  lines.push('RRU/WRU: DynamoDB ConsumedCapacity of every request (DynamoDB Local, on-demand rules), the local journal of executions left out.');
  lines.push('Lambda GB-s are estimates from local wall times (DynamoDB Local round trips ~1-2 ms; in AWS ~3-10 ms, cold starts not counted): see the ×10 column.');
  lines.push('History events are modeled from the local events (AWS event types per state kind, bench/cost/meter.ts HISTORY); SFN logs ≈ one record per history event with its data.');
  return { name: 'cost', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await run();
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
