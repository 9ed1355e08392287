import { describe, expect, it } from 'vitest';
import {
  checkRadl,
  parseAndCheck,
  parseRadl,
  parseRadlAny,
  parseRadlJson,
  RadlError,
  radlToJson,
  radlToJsonString,
  radlToText,
} from '#radl/index';
import { ALL_FIXTURES, canon, INVALID_FIXTURES, radlErrorOf, SPEC_EXAMPLES, VALID_FIXTURES } from './helpers.ts';

describe('fixtures', () => {
  it('finds the fixtures (TOSCA .yml/.yaml skipped)', () => {
    expect(ALL_FIXTURES.length).toBeGreaterThanOrEqual(19);
    expect(ALL_FIXTURES.every((f) => f.name.endsWith('.radl'))).toBe(true);
  });

  it.each(VALID_FIXTURES.map((f) => [f.name, f] as const))('%s parses and validates', (_n, f) => {
    const radl = parseRadl(f.text);
    expect(() => checkRadl(radl)).not.toThrow();
    expect(radl.systems.length + radl.networks.length).toBeGreaterThan(0);
  });

  it('glusterfs.radl fails: net_interface.0.dns_name is defined twice', () => {
    const f = ALL_FIXTURES.find((x) => x.name === 'im-examples/glusterfs.radl')!;
    const e = radlErrorOf(() => parseAndCheck(f.text));
    expect(e.message).toBe(
      "line 11, column 1: Conflict adding feature net_interface.0.dns_name = 'glusterfe': " +
        "it is already defined as net_interface.0.dns_name = 'wn-#N#' (line 9)",
    );
    expect(e.line).toBe(11);
    expect(e.column).toBe(1);
  });

  it('oscar.radl fails: deploys the undefined system test', () => {
    const f = ALL_FIXTURES.find((x) => x.name === 'im-examples/oscar.radl')!;
    const radl = parseRadl(f.text); // syntactically fine
    const e = radlErrorOf(() => checkRadl(radl));
    expect(e.message).toBe("Line 23: Invalid system id in the deploy. (deploy test: there is no 'system test' section)");
    expect(e.line).toBe(23);
  });

  it('exactly the two known fixtures are invalid', () => {
    const bad = ALL_FIXTURES.filter((f) => {
      try {
        parseAndCheck(f.text);
        return false;
      } catch (e) {
        expect(e).toBeInstanceOf(RadlError);
        return true;
      }
    }).map((f) => f.name);
    expect(new Set(bad)).toEqual(INVALID_FIXTURES);
  });
});

const ROUND_TRIP_CASES: [string, string][] = [
  ...VALID_FIXTURES.map((f) => [f.name, f.text] as [string, string]),
  ...Object.entries(SPEC_EXAMPLES),
];

describe('round trips', () => {
  it.each(ROUND_TRIP_CASES)('%s: text → model → text → model', (_n, text) => {
    const a = parseRadl(text);
    const t1 = radlToText(a);
    const b = parseRadl(t1);
    expect(canon(b)).toEqual(canon(a));
    expect(radlToText(b)).toBe(t1); // the text form is a fixed point
    expect(b.configures.map((c) => c.recipes)).toEqual(a.configures.map((c) => c.recipes));
    checkRadl(b);
  });

  it.each(ROUND_TRIP_CASES)('%s: text → model → JSON → model', (_n, text) => {
    const a = parseRadl(text);
    const json = radlToJsonString(a);
    const b = parseRadlJson(json);
    expect(canon(b)).toEqual(canon(a));
    expect(JSON.parse(JSON.stringify(radlToJson(b)))).toEqual(JSON.parse(json));
    checkRadl(b);
    // and JSON → text → model keeps the meaning as well
    expect(canon(parseRadl(radlToText(b)))).toEqual(canon(a));
  });

  it.each(ROUND_TRIP_CASES)('%s: parseRadlAny accepts both forms', (_n, text) => {
    const a = parseRadlAny(text);
    expect(canon(parseRadlAny(radlToJsonString(a)))).toEqual(canon(a));
    expect(canon(parseRadlAny(`  \n${radlToJsonString(a, 0)}`))).toEqual(canon(a));
  });
});

describe('spec §10 examples', () => {
  it.each(Object.entries(SPEC_EXAMPLES))('%s is valid', (_n, text) => {
    expect(() => parseAndCheck(text)).not.toThrow();
  });

  it('10.8: double quotes are a parse error', () => {
    expect(radlErrorOf(() => parseRadl('system a ( disk.0.os.name = "linux" )')).message).toBe(
      "line 1, column 29: unexpected character '\"' (strings use single quotes, e.g. 'value')",
    );
  });

  it('10.8: disjoint intervals', () => {
    expect(radlErrorOf(() => parseRadl('system a ( cpu.count >= 4 and cpu.count <= 2 )')).message).toBe(
      'line 1, column 31: Disjoint intervals!. Involved features: [cpu.count >= 4, cpu.count <= 2]',
    );
  });

  it('10.8: index gap', () => {
    expect(radlErrorOf(() => parseAndCheck('system a ( disk.1.size = 1G )')).message).toBe(
      "Line 1: Invalid indices values in properties 'disk' (system 'a': indices must be consecutive from 0, " +
        "'disk.1' is used but 'disk.0' is not)",
    );
  });

  it('10.8: deploy of an unknown system is a check error', () => {
    const radl = parseRadl('deploy ghost 1');
    expect(radlErrorOf(() => checkRadl(radl)).message).toBe(
      "Line 1: Invalid system id in the deploy. (deploy ghost: there is no 'system ghost' section)",
    );
  });

  it('§8: the JSON example is reproduced exactly', () => {
    const radl = parseRadl(SPEC_EXAMPLES['8 JSON example']);
    expect(radlToJson(radl)).toEqual([
      { class: 'network', id: 'pub', outbound: 'yes', outports: '22,80' },
      {
        class: 'system',
        id: 'web',
        'cpu.count_min': 2,
        'memory.size_min': 2147483648,
        'net_interface.0.connection': 'pub',
        'disk.0.image.url': 'aws://us-east-1/ami-123',
        'disk.0.applications': [{ name: 'nginx' }],
      },
      { class: 'configure', id: 'web', recipes: '\n- tasks: [ { debug: { msg: hi } } ]\n' },
      { class: 'deploy', system: 'web', vm_number: 2, cloud: 'ec2' },
    ]);
  });
});
