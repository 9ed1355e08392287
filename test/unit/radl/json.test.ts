import { describe, expect, it } from 'vitest';
import { checkRadl, parseRadl, parseRadlAny, parseRadlJson, radlToJson, radlToJsonString, radlToText } from '#radl/index';
import { canon, radlErrorOf } from './helpers.ts';

const jerr = (input: unknown): string => radlErrorOf(() => parseRadlJson(input)).message;

describe('RADL-JSON emit', () => {
  it('emits both _min and _max when both bounds exist, a single key for equalities', () => {
    const j = radlToJson(parseRadl('system s ( cpu.count >= 2 and cpu.count < 8 and price = 3 and memory.size >= 1G and memory.size <= 2G )'));
    expect(j[0]).toEqual({
      class: 'system',
      id: 's',
      'cpu.count_min': 2,
      'cpu.count_max': 8,
      price: 3,
      'memory.size_min': 1e9,
      'memory.size_max': 2e9,
    });
  });

  it('an equality inside bounds emits only the equality (same meaning)', () => {
    expect(radlToJson(parseRadl('system s ( cpu.count >= 1 and cpu.count = 2 )'))[0]).toEqual({ class: 'system', id: 's', 'cpu.count': 2 });
  });

  it('description emits its id', () => {
    expect(radlToJson(parseRadl("description infra1 ( name = 'x' )"))).toEqual([{ class: 'description', id: 'infra1', name: 'x' }]);
  });

  it('order: ansible, networks, systems, configures, deploys, contextualize, description', () => {
    const r = parseRadl(`description d ()
ansible a ( host = 'h' )
network n ()
system s ()
configure c ()
contextualize ( system s configure c )
deploy s 1`);
    expect(radlToJson(r).map((x) => x.class)).toEqual(['ansible', 'network', 'system', 'configure', 'deploy', 'contextualize', 'description']);
  });

  it('references, softs, contains, lists, versions, contextualize', () => {
    const r = parseRadl(`network pub
system wn
system s ( l = ['a', 'b'] and disk.0.os.version >= '18.04' and
  disk.0.applications contains (name = 'x' and version = '1') and soft 5 ( gpu.count >= 1 ) )
configure ref
contextualize 60 ( option ansible_version = '2.9' option v >= 2 system s configure ref step 1 with cloud_init )`);
    expect(radlToJson(r)).toEqual([
      { class: 'network', id: 'pub', reference: true },
      { class: 'system', id: 'wn', reference: true },
      {
        class: 'system',
        id: 's',
        l: ['a', 'b'],
        'disk.0.os.version': '18.04',
        'disk.0.applications': [{ name: 'x', version: '1' }],
        softs: [{ weight: 5, items: { 'gpu.count_min': 1 } }],
      },
      { class: 'configure', id: 'ref', recipes: null, reference: true },
      {
        class: 'contextualize',
        max_time: 60,
        items: [{ system: 's', configure: 'ref', step: 1, ctxt_tool: 'cloud_init' }],
        options: { ansible_version: '2.9', v_min: 2 },
      },
    ]);
    // A string >= has no RADL-JSON form in IM: it reads back as an equality (it survives only the text form).
    const back = parseRadlJson(radlToJsonString(r));
    expect(back.systems[1].getFeature('disk.0.os.version')).toMatchObject({ operator: '=', value: '18.04' });
  });

  it('a string bound is written as IM writes it: the plain key, which IM reads as an equality', () => {
    const r = parseRadl("system s ( disk.0.os.version >= '6' and disk.0.os.name = 'linux' and cpu.count >= 2 )");
    expect(radlToJson(r)[0]).toEqual({ class: 'system', id: 's', 'disk.0.os.version': '6', 'disk.0.os.name': 'linux', 'cpu.count_min': 2 });
    const upper = parseRadl("system s ( disk.0.os.version <= '8' )");
    expect(radlToJson(upper)[0]).toEqual({ class: 'system', id: 's', 'disk.0.os.version': '8' });
  });

  it('cpu.performance keeps its unit as a string and reads back', () => {
    const r = parseRadl('system s ( cpu.performance >= 2ECU and cpu.performance <= 4.5ECU )');
    const j = radlToJson(r);
    expect(j[0]).toMatchObject({ 'cpu.performance_min': '2ECU', 'cpu.performance_max': '4.5ECU' });
    const back = parseRadlJson(j);
    checkRadl(back);
    expect(back.systems[0].getFeature('cpu.performance')!.unit).toBe('ECU');
  });

  it('refuses features whose names collide with reserved keys', () => {
    expect(radlErrorOf(() => radlToJson(parseRadl("system s ( id = 'x' )"))).message).toBe(
      "Feature 'id' cannot be written in RADL-JSON: 'id' is a reserved key",
    );
  });

  it('keys such as __proto__ are ordinary features and options', () => {
    const r = parseRadl("system s ( __proto__ = 'x' and constructor = 1 ) contextualize ( option __proto__ = 'y' )");
    const json = radlToJsonString(r);
    expect(JSON.parse(json)[0]).toEqual(JSON.parse('{"class":"system","id":"s","__proto__":"x","constructor":1}'));
    const back = parseRadlJson(json);
    expect(back.systems[0].getValue('__proto__')).toBe('x');
    expect(back.contextualize!.options['__proto__']).toEqual({ operator: '=', value: 'y' });
    expect(canon(back)).toEqual(canon(r));
  });

  it('emits plain, JSON-stringifiable objects', () => {
    const r = parseRadl("system s ( a = 1 ) contextualize ( option x = 'y' )");
    const j = radlToJson(r);
    expect(JSON.parse(JSON.stringify(j))).toEqual(j);
    expect(radlToJsonString(r)).toContain('\n  {');
  });
});

describe('RADL-JSON parse', () => {
  it('accepts a string, a parsed array or a single object', () => {
    const j = '[{"class":"system","id":"s","cpu.count_min":2}]';
    expect(parseRadlJson(j).systems[0].getValue('cpu.count')).toBe(2);
    expect(parseRadlJson(JSON.parse(j)).systems[0].name).toBe('s');
    expect(parseRadlJson({ class: 'network', id: 'n', outbound: 'yes' }).networks[0].isPublic()).toBe(true);
  });

  it('maps _min/_max to bounds only for numbers (and version strings)', () => {
    const r = parseRadlJson([{ class: 'system', id: 's', 'x_min': 1, 'name_min': 'abc', 'disk.0.os.version_max': '20.04' }]);
    const s = r.systems[0];
    expect(s.getFeatures('x').map(String)).toEqual(['x >= 1']);
    expect(s.getValue('name_min')).toBe('abc');
    expect(s.getFeatures('disk.0.os.version').map(String)).toEqual(["disk.0.os.version <= '20.04'"]);
  });

  it('lists of strings, lists of objects (contains) and single objects', () => {
    const s = parseRadlJson([
      { class: 'system', id: 's', urls: ['a', 'b'], empty: [], 'disk.0.applications': [{ name: 'a' }, { name: 'b', version: '2' }], one: { name: 'z' } },
    ]).systems[0];
    expect(s.getValue('urls')).toEqual(['a', 'b']);
    expect(s.getValue('empty')).toEqual([]);
    expect(s.getApplications().map((a) => a.getValue('name'))).toEqual(['a', 'b']);
    expect(s.getContains('one')[0].getValue('name')).toBe('z');
  });

  it('softs, references, configure, deploy, contextualize', () => {
    const r = parseRadlJson([
      { class: 'system', id: 's', softs: [{ weight: 3, items: { 'gpu.count_min': 1 } }] },
      { class: 'system', id: 'r', reference: true },
      { class: 'configure', id: 'c', recipes: '- a: 1\n' },
      { class: 'configure', id: 'e', recipes: null },
      { class: 'deploy', system: 's', vm_number: 2, cloud: 'one' },
      { class: 'contextualize', max_time: 5, items: [{ system: 's', configure: 'c', step: 1, ctxt_tool: 'Ansible' }], options: { ansible_version: '2.9' } },
      { class: 'contextualize', max_time: 9, items: [] },
    ]);
    expect(r.systems[0].softs[0].weight).toBe(3);
    expect(r.systems[1].reference).toBe(true);
    expect(r.configures.map((c) => c.recipes)).toEqual(['- a: 1\n', null]);
    expect(r.deploys[0]).toMatchObject({ systemId: 's', vmNumber: 2, cloudId: 'one' });
    expect(r.contextualize!.maxTime).toBe(9);
    expect(r.contextualize!.items[0]).toEqual({ systemId: 's', configureId: 'c', step: 1, ctxtTool: 'Ansible' });
    checkRadl(r);
    expect(radlToText(r)).toContain("configure c (\n@begin- a: 1\n@end\n)");
  });

  it('accepts the reference emitter\'s numeric description id', () => {
    expect(parseRadlJson([{ class: 'description', id: 140234234, name: 'x' }]).description!.id).toBe('desc');
  });

  it.each([
    ['not json', /^invalid JSON: /],
    ['[1, 2', /invalid JSON/],
    ['3', /^RADL-JSON must be an array of objects with a "class"$/],
  ])('invalid documents: %s', (input, re) => {
    expect(jerr(input)).toMatch(re);
  });

  it('reports structural errors naming the item', () => {
    expect(jerr([{ id: 's' }])).toBe(
      'RADL-JSON item 0: missing "class" (network, system, ansible, configure, deploy, contextualize or description)',
    );
    expect(jerr([{ class: 'vm', id: 's' }])).toBe(
      "RADL-JSON item 0 (vm): unknown class 'vm' (expected network, system, ansible, configure, deploy, contextualize or description)",
    );
    expect(jerr([{ class: 'system', id: '1bad' }])).toBe(
      'RADL-JSON item 0 (system): invalid system id "1bad" (expected an identifier such as \'front\' or \'net_1\')',
    );
    expect(jerr([{ class: 'system', id: 's', flag: true }])).toBe(
      "RADL-JSON system 's': feature 'flag' has an unsupported value true (use a string, a number or a list)",
    );
    expect(jerr([{ class: 'system', id: 's', 'cpu.count': -1 }])).toBe(
      "RADL-JSON system 's': feature 'cpu.count' must not be negative (RADL numbers have no sign)",
    );
    expect(jerr([{ class: 'system', id: 's', 'bad name': 1 }])).toBe(
      'RADL-JSON system \'s\': invalid feature name "bad name" (feature names are identifiers such as \'cpu.count\')',
    );
    expect(jerr([{ class: 'system', id: 's', x: ['a', 1] }])).toBe(
      "RADL-JSON system 's': feature 'x' must be a list of strings or a list of feature objects",
    );
    expect(jerr([{ class: 'system', id: 's', 'cpu.count': 1, 'cpu.count_min': 2 }])).toBe(
      "RADL-JSON system 's': Disjoint intervals!. Involved features: [cpu.count = 1, cpu.count >= 2]",
    );
    expect(jerr([{ class: 'deploy', system: 's', vm_number: -1 }])).toBe(
      "RADL-JSON deploy of 's': Invalid number of virtual machines to deploy.",
    );
    expect(jerr([{ class: 'system', id: 's' }, { class: 'system', id: 's' }])).toBe(
      "RADL-JSON system 's': Aspect with the same id was found. (system 's' is defined twice)",
    );
    expect(jerr([{ class: 'system', id: 's', reference: true, x: 1 }])).toBe("RADL-JSON system 's': a reference cannot have features ('x')");
    expect(jerr([{ class: 'configure', id: 'c', recipes: 'a\n@end\n' }])).toBe(
      "RADL-JSON configure 'c': the recipe has a line starting with '@end', which RADL text cannot represent",
    );
    expect(jerr([{ class: 'system', id: 's', x: 'a\\' }])).toBe(
      'RADL-JSON system \'s\': the string "a\\\\" cannot be written in RADL text (it ends with an odd number of backslashes, or has one before a quote)',
    );
  });

  it('strings with quotes and backslashes survive JSON → text → model', () => {
    const r = parseRadlJson([{ class: 'system', id: 's', a: "it's", b: 'C:\\dir\\\\', c: "x\\\\'y", d: 'multi\nline' }]);
    const back = parseRadl(radlToText(r));
    expect(canon(back)).toEqual(canon(r));
    expect(back.systems[0].getValue('c')).toBe("x\\\\'y");
  });

  it('parseRadlAny picks the form from the first non-space character', () => {
    expect(parseRadlAny(' \n [{"class":"network","id":"n"}]').networks[0].id).toBe('n');
    expect(parseRadlAny('{"class":"network","id":"n"}').networks[0].id).toBe('n');
    expect(parseRadlAny('network n ()').networks[0].id).toBe('n');
    expect(parseRadlAny('\ufeff[{"class":"network","id":"n"}]').networks[0].id).toBe('n');
  });
});
