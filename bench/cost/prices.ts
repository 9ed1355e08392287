/**
 * Published on-demand list prices, us-east-1, as used by bench/cost.ts. Prices as of 2026-12 (the
 * figures AWS has published since the DynamoDB on-demand reduction of 2024-11-01; no free tier, no
 * volume tiers beyond the first one). Update the date with the figures.
 */
export const PRICES_AS_OF = '2026-12';

export type Architecture = 'x86_64' | 'arm64';

export const PRICES = {
  /** DynamoDB on-demand: $0.625 per million write request units (halved on 2024-11-01 from $1.25). */
  dynamoWru: 0.625 / 1e6,
  /** DynamoDB on-demand: $0.125 per million read request units (halved on 2024-11-01 from $0.25). */
  dynamoRru: 0.125 / 1e6,
  /** Step Functions Standard: $0.025 per 1,000 state transitions. */
  sfnTransition: 0.025 / 1000,
  /** Step Functions Express: $1.00 per million requests (executions). */
  expressRequest: 1.0 / 1e6,
  /** Step Functions Express: $0.00001667 per GB-second (first 1,000 h tier), billed in 64 MB / 100 ms steps. */
  expressGbSecond: 0.00001667,
  /** Lambda: $0.20 per million requests. */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda per GB-second (first tier), billed per ms. */
  lambdaGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 } as Record<Architecture, number>,
  /** Fargate Linux per vCPU-hour, billed per second with a 1-minute minimum. */
  fargateVcpuHour: { x86_64: 0.04048, arm64: 0.03238 } as Record<Architecture, number>,
  /** Fargate Linux per GB-hour. */
  fargateGbHour: { x86_64: 0.004445, arm64: 0.00356 } as Record<Architecture, number>,
  /** API Gateway REST API: $3.50 per million requests (first 333 million). */
  apiGatewayRestRequest: 3.5 / 1e6,
  /** CloudWatch Logs ingestion (standard class): $0.50 per GB. */
  logsIngestGb: 0.5,
} as const;
