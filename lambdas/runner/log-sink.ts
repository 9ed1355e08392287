/**
 * Streams text into the contextualization logs (contmsg) in small batches: text for a log is buffered and
 * appended with `store.appendLog` at most every `intervalMs` (or sooner when the buffer passes `maxBytes`),
 * one append at a time per log so that the order is kept. `flush()` writes what is left.
 */
import type { InfrastructureStore, LogScope, Logger } from '#core/types';

export interface LogSinkOptions {
  intervalMs?: number;
  maxBytes?: number;
}

interface Buffer {
  text: string;
  chain: Promise<void>;
  timer?: NodeJS.Timeout;
}

export class LogSink {
  private readonly buffers = new Map<LogScope, Buffer>();
  private readonly intervalMs: number;
  private readonly maxBytes: number;
  /** Number of appendLog calls made (for tests and the bench). */
  appends = 0;

  constructor(
    private readonly store: Pick<InfrastructureStore, 'appendLog'>,
    private readonly infId: string,
    private readonly logger: Logger,
    opts: LogSinkOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.maxBytes = opts.maxBytes ?? 16_000;
  }

  private buffer(scope: LogScope): Buffer {
    let b = this.buffers.get(scope);
    if (!b) {
      b = { text: '', chain: Promise.resolve() };
      this.buffers.set(scope, b);
    }
    return b;
  }

  /** Queues text for a log (the infrastructure's, 'inf', or a VM's). */
  write(scope: LogScope, text: string): void {
    if (!text) return;
    const b = this.buffer(scope);
    b.text += text;
    if (b.text.length >= this.maxBytes) this.send(scope);
    else b.timer ??= setTimeout(() => this.send(scope), this.intervalMs);
  }

  private send(scope: LogScope): Promise<void> {
    const b = this.buffer(scope);
    if (b.timer) {
      clearTimeout(b.timer);
      b.timer = undefined;
    }
    const text = b.text;
    b.text = '';
    if (!text) return b.chain;
    b.chain = b.chain.then(async () => {
      try {
        this.appends++;
        await this.store.appendLog(this.infId, scope, text);
      } catch (err) {
        this.logger.warn('Error appending to a contextualization log', { infId: this.infId, scope, error: err });
      }
    });
    return b.chain;
  }

  /** Writes everything buffered and waits for the pending appends. */
  async flush(): Promise<void> {
    await Promise.all([...this.buffers.keys()].map((s) => this.send(s)));
  }
}
