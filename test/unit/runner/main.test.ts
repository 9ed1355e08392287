import { describe, expect, it } from 'vitest';
import { main, parseArgs, UsageError } from '#runner/main';

describe('runner CLI arguments', () => {
  it('takes positional arguments, options or the environment', () => {
    expect(parseArgs(['inf-1'], {})).toEqual({ infId: 'inf-1' });
    expect(parseArgs(['inf-1', '1,2'], {})).toEqual({ infId: 'inf-1', vmIds: [1, 2] });
    expect(parseArgs(['--inf-id', 'x', '--vm-ids=[3, 4]'], {})).toEqual({ infId: 'x', vmIds: [3, 4] });
    expect(parseArgs([], { INF_ID: 'e', VM_IDS: '5' })).toEqual({ infId: 'e', vmIds: [5] });
    expect(parseArgs([], { INF_ID: 'e', VM_IDS: '' })).toEqual({ infId: 'e' });
    expect(parseArgs(['x', '--reconfigure'], {})).toEqual({ infId: 'x', reconfigure: true });
    expect(parseArgs([], { INF_ID: 'e', RECONFIGURE: 'true', VM_IDS: '1' })).toEqual({ infId: 'e', vmIds: [1], reconfigure: true });
    expect(parseArgs([], { CTXT_INPUT: '{"infId":"j","vmIds":[2,3],"reconfigure":true,"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID":"x"}' })).toEqual({
      infId: 'j',
      vmIds: [2, 3],
      reconfigure: true,
    });
    expect(parseArgs([], { INF_ID: 'k', CTXT_INPUT: '{"infId":"k"}' })).toEqual({ infId: 'k' });
    expect(parseArgs([], { CTXT_INPUT: '{"infId":"k","vmIds":[],"reconfigure":true}' })).toEqual({ infId: 'k', vmIds: [], reconfigure: true });
  });

  it('rejects bad input with exit code 2', async () => {
    expect(() => parseArgs([], {})).toThrow(UsageError);
    expect(() => parseArgs(['x', '1,a'], {})).toThrow(/Invalid VM ids/);
    expect(() => parseArgs(['--bogus'], {})).toThrow(/Unknown option/);
    expect(() => parseArgs([], { CTXT_INPUT: '{' })).toThrow(/not valid JSON/);
    const err = console.error;
    console.error = () => undefined;
    try {
      expect(await main([], {})).toBe(2);
      expect(await main(['x'], { PLAYBOOK_RETRIES: 'lots' })).toBe(2);
    } finally {
      console.error = err;
    }
  });
});
