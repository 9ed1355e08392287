import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createLogger } from '#core/logger';
import { logContext, withLogContext } from '#handlers/log-context';

const ctx = (id: string) => ({ awsRequestId: id, functionName: 'im-rest' }) as Context;

describe('log lines carry the request context', () => {
  it('request_id, function_name, cold_start (first invocation only), xray_trace_id; each concurrent request its own', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'INFO', write: (l) => lines.push(JSON.parse(l)), context: logContext });
    const handler = withLogContext(async (event: { n: number; wait: number }) => {
      logger.info('start', { n: event.n });
      await new Promise((r) => setTimeout(r, event.wait));
      logger.info('end', { n: event.n, password: 'hunter2' });
      return event.n;
    });
    process.env._X_AMZN_TRACE_ID = 'Root=1-abc-def;Parent=1;Sampled=1';
    try {
      await Promise.all([handler({ n: 1, wait: 30 }, ctx('r1')), handler({ n: 2, wait: 5 }, ctx('r2'))]);
    } finally {
      delete process.env._X_AMZN_TRACE_ID;
    }
    logger.info('outside');
    const of = (n: number) => lines.filter((l) => l.n === n);
    expect(of(1).every((l) => l.request_id === 'r1' && l.cold_start === true)).toBe(true);
    expect(of(2).every((l) => l.request_id === 'r2' && l.cold_start === false)).toBe(true);
    expect(lines.filter((l) => l.n !== undefined).every((l) => l.function_name === 'im-rest' && l.xray_trace_id === '1-abc-def')).toBe(true);
    expect(lines.find((l) => l.msg === 'outside')).not.toHaveProperty('request_id');
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });
});
