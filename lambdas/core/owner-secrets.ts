/**
 * Owner secrets: the salted scrypt hashes stored as infrastructure owners, and their verification.
 *
 * scrypt is slow on purpose (~30-90 ms of a core), which makes it the cost an attacker can make
 * the service pay: 200 IM items with wrong passwords used to cost 200 scrypt runs per request. So:
 *  - results are cached per (stored hash, keyed password digest), successes and failures alike:
 *    a password checked once against a hash costs nothing the next time (never a plain sha256 of
 *    a password is kept: the digest is an HMAC with a per-instance random key);
 *  - identical checks in flight are made once;
 *  - one request (a {@link VerificationLane}) may have at most `triesPerUsername` distinct unknown
 *    passwords of one username checked, and at most `failuresPerRequest` checks that failed or may
 *    still fail: past that a check answers "no match" without running scrypt (an owner username
 *    matches one password);
 *  - at most `concurrency` scrypt runs at once (the rest of libuv's pool stays free for I/O), served
 *    round-robin across requests in three classes: requests with a successful check first (a
 *    good password, e.g. a listing of many infrastructures), then requests without failures whose
 *    usernames did not fail recently, then the others — a flood of bad passwords waits behind good
 *    requests instead of in front of them;
 *  - a failed check of a username that failed repeatedly answers after `failureDelayMs` (without
 *    holding a scrypt slot), which slows down whoever keeps guessing.
 *
 * One instance per entry point (the composition roots build it with the other auth services); no
 * module-level state.
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import type { Identity, OwnerRecord } from '#core/types';

const SCRYPT_KEYLEN = 32;
const SCRYPT_OPTS = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

function scrypt(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, SCRYPT_KEYLEN, SCRYPT_OPTS, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export interface OwnerSecretsOptions {
  /** scrypt runs at once (default 2). */
  concurrency?: number;
  /** Distinct not-yet-verified passwords of one username that one request may have checked (default 2). */
  triesPerUsername?: number;
  /** Failed checks one request may cost (default 8). */
  failuresPerRequest?: number;
  /** A username with this many failed checks within {@link failureWindowMs} is "under attack" (default 3). */
  suspectFailures?: number;
  /** Delay of a failed check of a username under attack (default 250 ms). */
  failureDelayMs?: number;
  failureWindowMs?: number;
  /** Entries of each cache (default 10,000). */
  cacheMax?: number;
  now?: () => number;
}

/** The verification state of one request. */
export class VerificationLane {
  /** username → digests of the passwords this request had checked with scrypt. */
  readonly tried = new Map<string, Set<string>>();
  failures = 0;
  /** Checks running now (they count against the failure budget until they succeed). */
  running = 0;
  successes = 0;
  /** scrypt runs this request made (figures and tests). */
  runs = 0;
  /** @internal jobs waiting in the gate */
  readonly pending: Job[] = [];
  /** @internal usernames of the pending jobs (for the priority) */
  readonly usernames = new Set<string>();
  /** @internal checks waiting for a running one to end (failure budget) */
  readonly waiters: (() => void)[] = [];
}

interface Job {
  run: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/** Runs at most `concurrency` jobs, round-robin across lanes within each class (0 served first). */
class FairGate {
  private running = 0;
  private readonly rings: VerificationLane[][] = [[], [], []];

  constructor(
    private readonly concurrency: number,
    private readonly classOf: (lane: VerificationLane) => number,
  ) {}

  run<T>(lane: VerificationLane, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const wasIdle = lane.pending.length === 0;
      lane.pending.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (wasIdle) this.rings[this.classOf(lane)].push(lane);
      this.pump();
    });
  }

  private next(): Job | undefined {
    for (let c = 0; c < this.rings.length; c++) {
      const ring = this.rings[c];
      while (ring.length > 0) {
        const lane = ring.shift() as VerificationLane;
        const now = this.classOf(lane);
        if (now !== c) {
          // The lane changed class since it queued (a success promotes it, a failure demotes it).
          this.rings[now].push(lane);
          if (now < c) return this.next();
          continue;
        }
        const job = lane.pending.shift();
        if (!job) continue;
        if (lane.pending.length > 0) ring.push(lane);
        return job;
      }
    }
    return undefined;
  }

  private pump(): void {
    while (this.running < this.concurrency) {
      const job = this.next();
      if (!job) return;
      this.running++;
      job
        .run()
        .then(job.resolve, job.reject)
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }
}

export class OwnerSecrets {
  private readonly digestKey = randomBytes(32);
  /** (username, password) digest → the hash made for it here (reused: scrypt is slow). */
  private readonly hashes = new Map<string, string>();
  /** stored hash → password digest → result. */
  private readonly results = new Map<string, Map<string, boolean>>();
  private readonly inflight = new Map<string, Promise<boolean>>();
  /** username → times of its recent failed checks. */
  private readonly failures = new Map<string, number[]>();
  private readonly gate: FairGate;
  private readonly opts: Required<Omit<OwnerSecretsOptions, 'now'>>;
  private readonly now: () => number;

  constructor(opts: OwnerSecretsOptions = {}) {
    this.opts = {
      concurrency: opts.concurrency ?? 2,
      triesPerUsername: opts.triesPerUsername ?? 2,
      failuresPerRequest: opts.failuresPerRequest ?? 8,
      suspectFailures: opts.suspectFailures ?? 3,
      failureDelayMs: opts.failureDelayMs ?? 250,
      failureWindowMs: opts.failureWindowMs ?? 60_000,
      cacheMax: opts.cacheMax ?? 10_000,
    };
    this.now = opts.now ?? Date.now;
    this.gate = new FairGate(this.opts.concurrency, (lane) => {
      if (lane.successes > 0) return 0;
      return lane.failures > 0 || [...lane.usernames].some((u) => this.underAttack(u)) ? 2 : 1;
    });
  }

  newLane(): VerificationLane {
    return new VerificationLane();
  }

  /** The keyed digest a password is cached by. */
  digest(password: string): string {
    return createHmac('sha256', this.digestKey).update(password).digest('hex');
  }

  /** A new salted hash `scrypt$<salt b64>$<hash b64>`. */
  async hash(password: string, lane: VerificationLane = this.newLane()): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.gate.run(lane, () => scrypt(password, salt));
    const hash = `scrypt$${salt.toString('base64')}$${key.toString('base64')}`;
    this.remember(hash, this.digest(password), true);
    return hash;
  }

  /** The owner record of an identity (the hash is reused for the same pair). */
  async ownerRecord(identity: Identity, lane?: VerificationLane): Promise<OwnerRecord> {
    const key = this.digest(`${identity.username}\u0000${identity.password}`);
    let passwordHash = this.hashes.get(key);
    if (!passwordHash) {
      passwordHash = await this.hash(identity.password, lane);
      bounded(this.hashes, this.opts.cacheMax);
      this.hashes.set(key, passwordHash);
    }
    return { username: identity.username, passwordHash, usedToken: identity.usedToken };
  }

  /** The cached result of checking a password (by digest) against a stored hash. */
  cached(stored: string, digest: string): boolean | undefined {
    return this.results.get(stored)?.get(digest);
  }

  /**
   * Whether `password` (of `username`, digest `digest`) matches the stored hash. Uncached checks
   * run scrypt through the gate within the lane's budget; past the budget the answer is false
   * (and is not cached).
   */
  async matches(stored: string, username: string, password: string, digest: string, lane: VerificationLane): Promise<boolean> {
    const key = `${stored}\u0000${digest}`;
    for (;;) {
      const known = this.cached(stored, digest);
      if (known !== undefined) return known;
      const running = this.inflight.get(key);
      if (running) return running;
      if (lane.failures >= this.opts.failuresPerRequest) return false;
      // Running checks may still fail: wait for one to end rather than exceed the budget.
      if (lane.failures + lane.running < this.opts.failuresPerRequest) break;
      await new Promise<void>((r) => lane.waiters.push(r));
    }
    let tried = lane.tried.get(username);
    if (!tried) lane.tried.set(username, (tried = new Set()));
    if (!tried.has(digest)) {
      if (tried.size >= this.opts.triesPerUsername) return false;
      tried.add(digest);
    }
    const check = this.check(stored, username, password, digest, lane);
    this.inflight.set(key, check);
    lane.running++;
    let ok = false;
    try {
      ok = await check;
      return ok;
    } finally {
      lane.running--;
      this.inflight.delete(key);
      for (const wake of lane.waiters.splice(0)) wake();
      if (!ok && this.underAttack(username)) await new Promise((r) => setTimeout(r, this.opts.failureDelayMs));
    }
  }

  private async check(stored: string, username: string, password: string, digest: string, lane: VerificationLane): Promise<boolean> {
    const [scheme, saltB64, hashB64] = stored.split('$');
    let ok = false;
    if (scheme === 'scrypt' && saltB64 && hashB64) {
      lane.usernames.add(username);
      lane.runs++;
      const expected = Buffer.from(hashB64, 'base64');
      const actual = await this.gate.run(lane, () => scrypt(password, Buffer.from(saltB64, 'base64')));
      ok = expected.length === actual.length && timingSafeEqual(expected, actual);
    }
    this.remember(stored, digest, ok);
    if (ok) lane.successes++;
    else {
      lane.failures++;
      this.failed(username);
    }
    return ok;
  }

  private remember(stored: string, digest: string, ok: boolean): void {
    let byDigest = this.results.get(stored);
    if (!byDigest) {
      bounded(this.results, this.opts.cacheMax);
      this.results.set(stored, (byDigest = new Map()));
    }
    bounded(byDigest, 16);
    byDigest.set(digest, ok);
  }

  private failed(username: string): void {
    const now = this.now();
    const list = (this.failures.get(username) ?? []).filter((t) => now - t < this.opts.failureWindowMs);
    list.push(now);
    if (list.length > 64) list.splice(0, list.length - 64);
    bounded(this.failures, this.opts.cacheMax);
    this.failures.set(username, list);
  }

  /** A username with recent failed checks (its requests are served after the others). */
  underAttack(username: string): boolean {
    const list = this.failures.get(username);
    if (!list) return false;
    const now = this.now();
    return list.filter((t) => now - t < this.opts.failureWindowMs).length >= this.opts.suspectFailures;
  }
}

/** Makes room for one more entry (oldest first). */
function bounded<K, V>(map: Map<K, V>, max: number): void {
  while (map.size >= max) map.delete(map.keys().next().value as K);
}
