/**
 * Owner secrets (issue 12: expensive auth headers): cached results, the per-request budget, and
 * the scrypt queue that serves proven and clean requests before suspicious ones.
 */
import { describe, expect, it } from 'vitest';
import { OwnerSecrets } from '#core/owner-secrets';

const check = (s: OwnerSecrets, stored: string, password: string, lane = s.newLane(), username = 'u') =>
  s.matches(stored, username, password, s.digest(password), lane);

describe('OwnerSecrets', () => {
  it('a failed check is remembered: the same wrong password costs no scrypt the next time', async () => {
    const made = new OwnerSecrets();
    const hash = await made.hash('right');
    const s = new OwnerSecrets();
    const lane1 = s.newLane();
    expect(await check(s, hash, 'wrong', lane1)).toBe(false);
    expect(lane1.runs).toBe(1);
    const lane2 = s.newLane();
    expect(await check(s, hash, 'wrong', lane2)).toBe(false);
    expect(lane2.runs).toBe(0);
    expect(await check(s, hash, 'right', lane2)).toBe(true);
    expect(lane2.runs).toBe(1);
  });

  it('one request checks at most two unknown passwords of one username, and fails at most eight checks', async () => {
    const hash = await new OwnerSecrets().hash('right');
    const s = new OwnerSecrets();
    const lane = s.newLane();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => check(s, hash, `wrong${i}`, lane)));
    expect(answers.every((a) => a === false)).toBe(true);
    expect(lane.runs).toBe(2);
    // Many hashes (a listing), many usernames: at most 8 failed runs in all.
    const hashes = await Promise.all(Array.from({ length: 6 }, () => new OwnerSecrets().hash('right')));
    const lane2 = s.newLane();
    await Promise.all(hashes.flatMap((h, i) => [check(s, h, 'bad-a', lane2, `user${i}`), check(s, h, 'bad-b', lane2, `user${i}`)]));
    expect(lane2.runs).toBe(8);
  });

  it('the budget waits for running checks instead of refusing good ones (a listing of many cold hashes)', async () => {
    const hashes = await Promise.all(Array.from({ length: 12 }, () => new OwnerSecrets().hash('good')));
    const s = new OwnerSecrets();
    const lane = s.newLane();
    const answers = await Promise.all(hashes.map((h) => check(s, h, 'good', lane)));
    expect(answers).toEqual(hashes.map(() => true));
    expect(lane.runs).toBe(12);
  });

  it('identical checks in flight run scrypt once', async () => {
    const hash = await new OwnerSecrets().hash('p');
    const s = new OwnerSecrets();
    const lanes = [s.newLane(), s.newLane(), s.newLane()];
    expect(await Promise.all(lanes.map((l) => check(s, hash, 'p', l)))).toEqual([true, true, true]);
    expect(lanes.reduce((n, l) => n + l.runs, 0)).toBe(1);
  });

  it('a good request is served before a queue of failing ones (one scrypt at a time)', async () => {
    const maker = new OwnerSecrets();
    const victim = await maker.hash('right');
    const s = new OwnerSecrets({ concurrency: 1, failureDelayMs: 0 });
    // Make the username "under attack", then queue 6 bad requests of 2 checks each.
    for (let i = 0; i < 3; i++) await check(s, victim, `warm${i}`);
    expect(s.underAttack('u')).toBe(true);
    const order: string[] = [];
    const bad = Array.from({ length: 6 }, (_, k) => {
      const lane = s.newLane();
      return Promise.all([check(s, victim, `b${k}a`, lane), check(s, victim, `b${k}b`, lane)]).then(() => order.push(`bad${k}`));
    });
    // A good request of another user, queued last.
    const other = await maker.hash('pw2');
    const good = check(s, other, 'pw2', s.newLane(), 'someone').then((ok) => order.push(`good:${ok}`));
    await Promise.all([...bad, good]);
    expect(order.indexOf('good:true')).toBeLessThanOrEqual(1);
  });
});
