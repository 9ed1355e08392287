import { describe, expect, it } from 'vitest';
import { parseRadl } from '#radl/index';
import { planContextualization, type PlanVm } from '#runner/plan';

const VMS: PlanVm[] = [
  { vmId: 0, systemName: 'front' },
  { vmId: 1, systemName: 'wn' },
  { vmId: 2, systemName: 'wn' },
];

const SYSTEMS = 'system front ( cpu.count = 1 )\nsystem wn ( cpu.count = 1 )\n';
const conf = (name: string, body = '- tasks: [ { debug: { msg: hi } } ]') => `configure ${name} (\n@begin\n${body}\n@end\n)\n`;

describe('planContextualization', () => {
  it('defaults to the configure named like each system, at step 1', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('front') + conf('wn')), VMS);
    expect(p.disabled).toBe(false);
    expect(p.ctxtVms).toEqual([0, 1, 2]);
    expect(p.steps).toEqual([
      {
        step: 1,
        tasks: [
          { name: 'front_front', configure: 'front', system: 'front', step: 1, vmIds: [0] },
          { name: 'wn_wn', configure: 'wn', system: 'wn', step: 1, vmIds: [1, 2] },
        ],
      },
    ]);
  });

  it('a system without a configure of its name only runs the basic play', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('wn')), VMS);
    expect(p.ctxtVms).toEqual([0, 1, 2]);
    expect(p.steps.flatMap((s) => s.tasks.map((t) => t.name))).toEqual(['wn_wn']);
  });

  it('follows contextualize items: steps ascending, item order within a step, default step 0', () => {
    const radl = parseRadl(
      SYSTEMS +
        conf('a') +
        conf('b') +
        conf('c') +
        'contextualize ( system wn configure b step 2 system front configure a step 2 system front configure c step 1 system wn configure a )',
    );
    const p = planContextualization(radl, VMS);
    expect(p.steps.map((s) => [s.step, s.tasks.map((t) => t.name)])).toEqual([
      [0, ['a_wn']],
      [1, ['c_front']],
      [2, ['b_wn', 'a_front']],
    ]);
  });

  it('vmIds limit the user configure tasks, not the basic play', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('front') + conf('wn')), VMS, [2]);
    expect(p.ctxtVms).toEqual([0, 1, 2]);
    expect(p.steps).toEqual([{ step: 1, tasks: [{ name: 'wn_wn', configure: 'wn', system: 'wn', step: 1, vmIds: [2] }] }]);
  });

  it('an empty vm_list runs no user configure task', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('front') + conf('wn')), VMS, []);
    expect(p.ctxtVms).toEqual([0, 1, 2]);
    expect(p.steps).toEqual([]);
  });

  it('contextualize () disables everything', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('front') + 'contextualize ()'), VMS);
    expect(p).toMatchObject({ disabled: true, disabledVms: [0, 1, 2], ctxtVms: [], steps: [] });
  });

  it('items none of which uses Ansible disable everything', () => {
    const p = planContextualization(parseRadl(SYSTEMS + conf('front') + 'contextualize ( system front configure front with cloud_init )'), VMS);
    expect(p.disabled).toBe(true);
  });

  it('an empty configure <system> () disables that system; all empty disables everything', () => {
    const some = planContextualization(parseRadl(SYSTEMS + 'configure front ()\n' + conf('wn')), VMS);
    expect(some.disabled).toBe(false);
    expect(some.disabledVms).toEqual([0]);
    expect(some.ctxtVms).toEqual([1, 2]);
    const all = planContextualization(parseRadl(SYSTEMS + 'configure front ()\nconfigure wn ()\n'), VMS);
    expect(all.disabled).toBe(true);
  });

  it('skips cloud_init items, empty recipes and systems without VMs; warns on unknown configures', () => {
    const radl = parseRadl(
      SYSTEMS +
        'system other ( cpu.count = 1 )\n' +
        conf('a') +
        'configure empty ()\n' +
        'contextualize ( system front configure a with cloud_init system wn configure empty step 1 system other configure a step 1 system wn configure a step 3 system front configure ghost step 1 )',
    );
    const p = planContextualization(radl, VMS);
    expect(p.steps.map((s) => [s.step, s.tasks.map((t) => t.name)])).toEqual([[3, ['a_wn']]]);
    expect(p.warnings).toEqual(["WARNING: configure 'ghost' of system 'front' not found. Ignoring it."]);
  });
});
