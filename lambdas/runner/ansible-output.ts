/**
 * Turns the JSON lines of the `im_jsonl` callback (callback-plugin.ts) into per-host text in Ansible's
 * usual layout (pure):
 *
 *   <ts>: Launch task: conf_system
 *
 *   PLAY [conf_system] *************************************************************
 *
 *   TASK [Install the package] *****************************************************
 *   changed: [10.0.0.1_0]
 *
 *   PLAY RECAP *********************************************************************
 *   10.0.0.1_0 : ok=3 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=0
 *
 * Every host only sees the plays and tasks it took part in. Lines that are not JSON (Ansible errors
 * before any play starts) are returned for every host of the run (host '*').
 */

export interface HostStats {
  ok: number;
  changed: number;
  unreachable: number;
  failures: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

export interface HostChunk {
  /** Inventory host name, or '*' for every host of the run. */
  host: string;
  text: string;
}

interface Event {
  event?: string;
  name?: string;
  task?: string | null;
  uuid?: string;
  index?: number | null;
  status?: string;
  host?: string;
  ignored?: boolean;
  detail?: string;
  item?: string;
  attempt?: number;
  retries?: number;
  msg?: string;
  hosts?: Record<string, Partial<HostStats>>;
  handler?: boolean;
}

/** `TASK [name] ` padded with `*` to 80 columns (at least 3), as Ansible prints it. */
export function banner(text: string): string {
  return `${text} ${'*'.repeat(Math.max(3, 79 - text.length))}`;
}

interface HostState {
  play: number;
  /** The task whose banner the host saw last. */
  task?: string;
  announced: Set<string>;
  last?: string;
}

/**
 * With `strategy: free` the hosts of a play are each at their own task, so every event names its task
 * (`uuid`); a banner is written when a host's task differs from the last one it saw. Play boundaries are
 * the same for every host (Ansible starts a play once the previous one ended everywhere).
 */
export class AnsibleOutputParser {
  private play = 0;
  private playName = '';
  private playTask: string | undefined;
  private taskSeq = 0;
  /** The last task announced (for events without a uuid). */
  private currentTask = '';
  private taskName = '';
  private readonly banners = new Map<string, { banner: string; name: string }>();
  private readonly state = new Map<string, HostState>();
  private readonly failedByResult = new Set<string>();
  /** The `im_ctxt_play` indexes of the plays that started, in order. */
  readonly playIndexes: number[] = [];
  /** The final stats, once the run printed them. */
  stats: Record<string, HostStats> | undefined;

  constructor(private readonly timestamp: () => string) {}

  private hostState(host: string): HostState {
    let s = this.state.get(host);
    if (!s) {
      s = { play: -1, announced: new Set() };
      this.state.set(host, s);
    }
    return s;
  }

  private taskKey(ev: Event): string {
    if (ev.uuid && !this.banners.has(ev.uuid)) this.banners.set(ev.uuid, { banner: `TASK [${ev.task ?? ''}]`, name: ev.task ?? '' });
    return ev.uuid ?? this.currentTask;
  }

  private nameOf(key: string): string {
    return this.banners.get(key)?.name ?? this.taskName;
  }

  /** The headers a host has not seen yet for the current play / its task `key`. */
  private headers(host: string, key: string): string {
    const s = this.hostState(host);
    let out = '';
    if (s.play !== this.play) {
      s.play = this.play;
      s.task = undefined;
      if (this.playTask && !s.announced.has(this.playTask)) {
        s.announced.add(this.playTask);
        out += `${this.timestamp()}: Launch task: ${this.playTask}\n`;
      }
      if (this.playTask) s.last = this.playTask;
      out += `\n${banner(`PLAY [${this.playName}]`)}\n`;
    }
    if (s.task !== key) {
      s.task = key;
      out += `\n${banner(this.banners.get(key)?.banner ?? 'TASK []')}\n`;
    }
    return out;
  }

  /** Parses one line of ansible-playbook's stdout. */
  line(raw: string): HostChunk[] {
    const text = raw.replace(/\r$/, '');
    if (text.trim() === '') return [];
    let ev: Event;
    try {
      ev = JSON.parse(text) as Event;
      if (!ev || typeof ev !== 'object' || typeof ev.event !== 'string') throw new Error('not an event');
    } catch {
      return [{ host: '*', text: `${text}\n` }];
    }
    switch (ev.event) {
      case 'play':
        this.play++;
        this.playName = ev.name ?? '';
        this.playTask = typeof ev.task === 'string' && ev.task ? ev.task : undefined;
        if (typeof ev.index === 'number') this.playIndexes.push(ev.index);
        return [];
      case 'task': {
        this.taskSeq++;
        this.taskName = ev.name ?? '';
        this.currentTask = ev.uuid ?? `#${this.taskSeq}`;
        this.banners.set(this.currentTask, { banner: `${ev.handler ? 'RUNNING HANDLER' : 'TASK'} [${this.taskName}]`, name: this.taskName });
        return [];
      }
      case 'start': {
        // The banners (and `Launch task`) as soon as a host starts a task, before its result.
        const host = ev.host ?? '?';
        const text = this.headers(host, this.taskKey(ev));
        return text ? [{ host, text }] : [];
      }
      case 'result':
        return this.result(ev);
      case 'item':
        return this.item(ev);
      case 'retry': {
        const host = ev.host ?? '?';
        const key = this.taskKey(ev);
        const left = typeof ev.retries === 'number' && typeof ev.attempt === 'number' ? ev.retries - ev.attempt : '?';
        return [{ host, text: `${this.headers(host, key)}FAILED - RETRYING: [${host}]: ${this.nameOf(key)} (${left} retries left).\n` }];
      }
      case 'stats':
        return this.statsEvent(ev);
      case 'warning':
        return ev.msg ? [{ host: '*', text: `[WARNING]: ${ev.msg}\n` }] : [];
      default:
        return [];
    }
  }

  private result(ev: Event): HostChunk[] {
    const host = ev.host ?? '?';
    const detail = ev.detail ? ` => ${ev.detail}` : '';
    let line: string;
    switch (ev.status) {
      case 'ok':
        line = `ok: [${host}]${detail}`;
        break;
      case 'changed':
        line = `changed: [${host}]${detail}`;
        break;
      case 'skipped':
        line = `skipping: [${host}]`;
        break;
      case 'unreachable':
        line = `fatal: [${host}]: UNREACHABLE!${detail}`;
        this.failedByResult.add(host);
        break;
      case 'failed':
        line = `fatal: [${host}]: FAILED!${detail}`;
        if (ev.ignored) line += '\n...ignoring';
        else this.failedByResult.add(host);
        break;
      default:
        line = `${ev.status ?? 'result'}: [${host}]${detail}`;
    }
    return [{ host, text: `${this.headers(host, this.taskKey(ev))}${line}\n` }];
  }

  private item(ev: Event): HostChunk[] {
    const host = ev.host ?? '?';
    const item = ev.item ?? '';
    const detail = ev.detail ? ` => ${ev.detail}` : '';
    let line: string;
    switch (ev.status) {
      case 'failed':
        line = `failed: [${host}] (item=${item})${detail}`;
        break;
      case 'skipped':
        line = `skipping: [${host}] => (item=${item})`;
        break;
      default:
        line = `${ev.status === 'changed' ? 'changed' : 'ok'}: [${host}] => (item=${item})${ev.detail ? ` ${ev.detail}` : ''}`;
    }
    return [{ host, text: `${this.headers(host, this.taskKey(ev))}${line}\n` }];
  }

  private statsEvent(ev: Event): HostChunk[] {
    const out: HostChunk[] = [];
    this.stats = {};
    for (const [host, s] of Object.entries(ev.hosts ?? {})) {
      const st: HostStats = {
        ok: s.ok ?? 0,
        changed: s.changed ?? 0,
        unreachable: s.unreachable ?? 0,
        failures: s.failures ?? 0,
        skipped: s.skipped ?? 0,
        rescued: s.rescued ?? 0,
        ignored: s.ignored ?? 0,
      };
      this.stats[host] = st;
      out.push({
        host,
        text:
          `\n${banner('PLAY RECAP')}\n${host} : ok=${st.ok} changed=${st.changed} unreachable=${st.unreachable} ` +
          `failed=${st.failures} skipped=${st.skipped} rescued=${st.rescued} ignored=${st.ignored}\n\n`,
      });
    }
    return out;
  }

  /** The last task (`conf_system`) the host started in this run. */
  lastTask(host: string): string | undefined {
    return this.state.get(host)?.last;
  }

  /** Whether a play with this `im_ctxt_play` index started. */
  reached(index: number): boolean {
    return this.playIndexes.includes(index);
  }

  /** Whether the host failed or was unreachable in a task (before the final stats). */
  failedHost(host: string): boolean {
    const st = this.stats?.[host];
    return st ? st.failures > 0 || st.unreachable > 0 : this.failedByResult.has(host);
  }

  /** Whether a `Launch task` line was written for the host in this run. */
  announced(host: string): boolean {
    return (this.state.get(host)?.announced.size ?? 0) > 0;
  }

  /**
   * Whether the host succeeded: per the final stats when the run printed them (no failures, not
   * unreachable); without stats (run killed, or Ansible failed before running) never.
   */
  succeeded(host: string): boolean {
    if (!this.stats) return false;
    const s = this.stats[host];
    if (!s) return !this.failedByResult.has(host); // in the run but no play matched it: nothing failed
    return s.failures === 0 && s.unreachable === 0;
  }
}
