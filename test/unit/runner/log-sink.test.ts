import { describe, expect, it } from 'vitest';
import { createLogger } from '#core/logger';
import type { LogScope } from '#core/types';
import { LogSink } from '#runner/log-sink';

function fakeStore(delayMs = 0) {
  const calls: { scope: LogScope; text: string }[] = [];
  return {
    calls,
    appendLog: async (_inf: string, scope: LogScope, text: string) => {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      calls.push({ scope, text });
    },
  };
}

describe('LogSink', () => {
  it('batches writes per log and keeps their order', async () => {
    const store = fakeStore(5);
    const sink = new LogSink(store, 'inf', createLogger({ level: 'SILENT' }), { intervalMs: 30, maxBytes: 10 });
    sink.write(1, 'a');
    sink.write(1, 'b');
    sink.write('inf', 'x');
    expect(store.calls).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(store.calls).toEqual([
      { scope: 1, text: 'ab' },
      { scope: 'inf', text: 'x' },
    ]);
    sink.write(1, '0123456789ABC'); // over maxBytes: sent at once
    sink.write(1, 'd');
    await sink.flush();
    expect(store.calls.filter((c) => c.scope === 1).map((c) => c.text)).toEqual(['ab', '0123456789ABC', 'd']);
    expect(sink.appends).toBe(4);
  });

  it('never throws when the store fails', async () => {
    const sink = new LogSink({ appendLog: async () => Promise.reject(new Error('down')) }, 'inf', createLogger({ level: 'SILENT' }), { intervalMs: 1 });
    sink.write(0, 'x');
    await expect(sink.flush()).resolves.toBeUndefined();
  });
});
