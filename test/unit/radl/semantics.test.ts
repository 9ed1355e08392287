import { describe, expect, it } from 'vitest';
import {
  Contextualize,
  Deploy,
  Feature,
  Features,
  Network,
  parseOutports,
  parseRadl,
  Radl,
  RadlError,
  radlToText,
  replaceNumTemplate,
  System,
  systemRadl,
  toBaseUnits,
} from '#radl/index';
import { radlErrorOf } from './helpers.ts';

const sys = (body: string): System => parseRadl(`system s ( ${body} )`).systems[0];
const err = (body: string): string => radlErrorOf(() => sys(body)).message;

describe('intervals', () => {
  it('repeated bounds intersect, keeping the tightest', () => {
    const s = sys('cpu.count >= 2 and cpu.count >= 4 and cpu.count <= 8 and cpu.count < 16');
    expect(s.getFeatures('cpu.count').map(String)).toEqual(['cpu.count >= 4', 'cpu.count <= 8']);
    expect(s.getValue('cpu.count')).toBe(4);
  });

  it('an equality inside the bounds is fine; outside is disjoint', () => {
    expect(sys('cpu.count >= 2 and cpu.count = 3 and cpu.count <= 4').getValue('cpu.count')).toBe(3);
    expect(err('cpu.count >= 2 and cpu.count = 1')).toBe(
      'line 1, column 31: Disjoint intervals!. Involved features: [cpu.count >= 2, cpu.count = 1]',
    );
  });

  it('strictness is not kept semantically: > 2 and < 2 on the same point is an equality interval', () => {
    expect(sys('cpu.count > 2 and cpu.count <= 2').getBounds('cpu.count').min!.value).toBe(2);
  });

  it('bounds compare after unit conversion', () => {
    expect(() => sys('memory.size >= 1G and memory.size <= 1000M')).not.toThrow();
    expect(err('memory.size >= 1Gi and memory.size <= 1G')).toBe(
      'line 1, column 35: Disjoint intervals!. Involved features: [memory.size >= 1Gi, memory.size <= 1G]',
    );
    expect(() => sys('memory.size = 1G and memory.size = 1000M')).not.toThrow();
  });

  it('two different equalities conflict', () => {
    expect(err('cpu.count = 1 and cpu.count = 2')).toBe(
      'line 1, column 30: Conflict adding feature cpu.count = 2: it is already defined as cpu.count = 1 (line 1)',
    );
  });

  it('version strings compare as versions', () => {
    const s = sys("disk.0.os.version >= '9.10' and disk.0.os.version <= '10.04'");
    expect(s.getBounds('disk.0.os.version').min!.value).toBe('9.10');
    expect(err("disk.0.os.version >= '20.04' and disk.0.os.version <= '18.04'")).toBe(
      "line 1, column 45: Disjoint intervals!. Involved features: [disk.0.os.version >= '20.04', disk.0.os.version <= '18.04']",
    );
  });
});

describe('string, list and type conflicts', () => {
  it('the same string twice is fine, a different one conflicts', () => {
    expect(sys("a = 'x' and a = 'x'").getFeatures('a')).toHaveLength(1);
    expect(err("a = 'x' and\n a = 'y'")).toBe("line 2, column 2: Conflict adding feature a = 'y': it is already defined as a = 'x' (line 1)");
  });

  it('lists must be equal', () => {
    expect(() => sys("a = ['x'] and a = ['x']")).not.toThrow();
    expect(err("a = ['x'] and a = ['y']")).toBe(
      "line 1, column 26: Conflict adding feature a = ['y']: it is already defined as a = ['x'] (line 1)",
    );
  });

  it('a number and a string on the same property conflict', () => {
    expect(err("a = 1 and a = '1'")).toBe("line 1, column 22: Conflict adding feature a = '1': it is already defined as a = 1 (line 1)");
  });
});

describe('units', () => {
  it('SI prefixes are decimal, binary prefixes are powers of two', () => {
    const s = sys('a = 512m and b = 512Mi and c = 1GB and d = 1gib and e = 2T and f = 3KiB and g = 7B and h = 1.5G');
    expect([s.getValue('a'), s.getValue('b'), s.getValue('c'), s.getValue('d')]).toEqual([512e6, 512 * 2 ** 20, 1e9, 2 ** 30]);
    expect([s.getValue('e'), s.getValue('f'), s.getValue('g'), s.getValue('h')]).toEqual([2e12, 3072, 7, 1.5e9]);
  });

  it('getValue converts to a requested unit', () => {
    const s = sys('memory.size >= 2G');
    expect(s.getValue('memory.size')).toBe(2e9);
    expect(s.getValue('memory.size', 'M')).toBe(2000);
    expect(s.getValue('memory.size', 'GB')).toBe(2);
    expect(s.getNumber('memory.size', 'Mi')).toBeCloseTo(1907.35, 2);
  });

  it('conversions avoid floating point noise', () => {
    expect(toBaseUnits(0.1, 'K')).toBe(100);
    expect(toBaseUnits(1.1, 'G')).toBe(1_100_000_000);
  });

  it('units without a base (ECU) keep the raw value', () => {
    expect(sys('cpu.performance >= 2ECU').getValue('cpu.performance')).toBe(2);
  });
});

describe('Features API', () => {
  it('setValue replaces all constraints with =, delValue removes', () => {
    const s = sys('cpu.count >= 2 and cpu.count <= 4 and a = 1 and b = 2');
    s.setValue('cpu.count', 3);
    expect(s.getFeatures('cpu.count').map(String)).toEqual(['cpu.count = 3']);
    s.setValue('memory.size', 2, 'G');
    expect(s.getValue('memory.size', 'M')).toBe(2000);
    s.delValue('a', 'b');
    expect(s.props()).toEqual(['cpu.count', 'memory.size']);
    expect(s.hasFeature('a')).toBe(false);
  });

  it('typed getters', () => {
    const s = sys("u = 'x' and l = ['a', 'b'] and n = 2K");
    expect(s.getString('u')).toBe('x');
    expect(s.getString('n')).toBeUndefined();
    expect(s.getList('u')).toEqual(['x']);
    expect(s.getList('l')).toEqual(['a', 'b']);
    expect(s.getNumber('n')).toBe(2000);
    expect(s.getValue('missing')).toBeUndefined();
  });

  it("conflict modes: 'me' keeps, 'other' replaces", () => {
    const s = sys("a = 'x' and memory.size >= 4G");
    s.addFeature(new Feature('a', '=', 'y'), 'me');
    expect(s.getValue('a')).toBe('x');
    s.addFeature(new Feature('a', '=', 'y'), 'other');
    expect(s.getValue('a')).toBe('y');
    s.addFeature(new Feature('memory.size', '=', 2, 'G'), 'other');
    expect(s.getFeatures('memory.size').map(String)).toEqual(['memory.size = 2G']);
    s.addFeature(new Feature('memory.size', '>=', 1, 'G'), 'other'); // compatible: intersects
    expect(s.getValue('memory.size')).toBe(2e9);
    expect(() => s.addFeature(new Feature('memory.size', '=', 3, 'G'))).toThrow(RadlError);
  });

  it('merge combines feature sets', () => {
    const a = sys('cpu.count >= 2 and soft 5 ( gpu.count >= 1 )');
    const b = sys("cpu.count <= 4 and x = 'y' and soft 1 ( a = 1 )");
    a.merge(b);
    expect(a.getFeatures('cpu.count').map(String)).toEqual(['cpu.count >= 2', 'cpu.count <= 4']);
    expect(a.getValue('x')).toBe('y');
    expect(a.softs.map((s) => s.weight)).toEqual([5, 1]);
  });

  it('counts network interfaces and disks', () => {
    const s = sys(
      "net_interface.0.connection = 'a' and net_interface.1.connection = 'b' and net_interface.3.connection = 'c' and disk.0.image.url = 'x' and disk.1.size = 1G",
    );
    expect(s.getNumNetInterfaces()).toBe(2);
    expect(s.getNumDisks()).toBe(2);
    expect(s.getNetworkIds()).toEqual(['a', 'b']);
  });

  it('rejects ill-formed features built by code', () => {
    expect(() => new Features().addFeature(new Feature('a', 'contains', 'x'))).toThrow("Feature 'a': 'contains' needs a feature set");
    expect(() => new Features().addFeature(new Feature('a', '=', Number.NaN))).toThrow("Invalid number in feature 'a'");
  });

  it('clone is deep', () => {
    const r = parseRadl(`network n ( outbound = 'yes' )
system s ( disk.0.applications contains (name = 'a') and soft 1 ( a = 1 ) and l = ['x'] )
contextualize 10 ( system s configure c step 1 )
configure c ()
deploy s 1`);
    const c = r.clone();
    c.systems[0].getApplications()[0].setValue('name', 'b');
    c.systems[0].softs[0].setValue('a', 2);
    (c.systems[0].getFeature('l')!.value as string[]).push('y');
    c.contextualize!.items[0].step = 9;
    c.networks[0].setValue('outbound', 'no');
    c.deploys[0].vmNumber = 5;
    expect(radlToText(r)).toBe(radlToText(parseRadl(radlToText(r))));
    expect(r.systems[0].getApplications()[0].getValue('name')).toBe('a');
    expect(r.systems[0].softs[0].getValue('a')).toBe(1);
    expect(r.systems[0].getValue('l')).toEqual(['x']);
    expect(r.contextualize!.items[0].step).toBe(1);
    expect(r.networks[0].isPublic()).toBe(true);
    expect(r.deploys[0].vmNumber).toBe(1);
  });
});

describe('sections and helpers', () => {
  it("isPublic only for lower-case 'yes'", () => {
    expect(parseRadl("network n ( outbound = 'yes' )").networks[0].isPublic()).toBe(true);
    expect(parseRadl("network n ( outbound = 'YES' )").networks[0].isPublic()).toBe(false);
    expect(parseRadl('network n ()').networks[0].isPublic()).toBe(false);
  });

  it('lookups by id', () => {
    const r = parseRadl(
      "ansible m ( host = 'h' and credentials.username = 'u' and credentials.password = 'p' ) network n () system s () configure s ()",
    );
    expect(r.getSystemByName('s')!.name).toBe('s');
    expect(r.getNetworkById('n')!.id).toBe('n');
    expect(r.getConfigureByName('s')!.name).toBe('s');
    expect(r.getAnsibleHostById('m')!.getValue('host')).toBe('h');
    expect(r.getSystemByName('x')).toBeUndefined();
  });

  it('Radl.add: duplicates, replace, ignore, contextualize merge', () => {
    const r = new Radl();
    r.add(new System('a'));
    expect(() => r.add(new System('a'))).toThrow('Aspect with the same id was found.');
    const b = new System('a', [new Feature('x', '=', 1)]);
    r.add(b, 'replace');
    expect(r.systems).toEqual([b]);
    r.add(new System('a'), 'ignore');
    expect(r.systems[0]).toBe(b);
    r.add(new Network('n'));
    r.add(new Deploy('a', 1));
    r.add(new Deploy('a', 2));
    r.add(new Contextualize([{ systemId: 'a', configureId: 'c' }], 5));
    r.add(new Contextualize([], 50));
    expect(r.deploys).toHaveLength(2);
    expect(r.contextualize!.maxTime).toBe(50);
  });

  it('systemRadl builds a one-VM RADL with the networks used', () => {
    const r = parseRadl(`network a () network b ( outbound = 'yes' ) network unused ()
ansible m ( host = 'h' and credentials.username = 'u' and credentials.password = 'p' )
system s ( net_interface.0.connection = 'b' and net_interface.1.connection = 'a' and ansible_host = 'm' )
system t ()`);
    const one = systemRadl(r, 's');
    expect(one.networks.map((n) => n.id)).toEqual(['a', 'b']);
    expect(one.systems.map((s) => s.name)).toEqual(['s']);
    expect(one.ansibleHosts.map((s) => s.id)).toEqual(['m']);
    one.systems[0].setValue('state', 'running');
    expect(r.systems[0].hasFeature('state')).toBe(false);
    expect(() => systemRadl(r, 'zz')).toThrow("Unknown system 'zz'");
  });

  it('replaceNumTemplate replaces every #N#', () => {
    expect(replaceNumTemplate('wn-#N#.#N#.example', 7)).toBe('wn-7.7.example');
    expect(replaceNumTemplate('front', 3)).toBe('front');
  });
});

describe('outports', () => {
  it('parses every documented form', () => {
    expect(parseOutports('22,8080-80, 8899/tcp-8899/tcp,0.0.0.0/0-443/tcp-443/tcp,9000:9100/udp,1/icmp')).toEqual([
      { remoteCidr: '', protocol: 'tcp', remotePort: 22, localPort: 22, isRange: false },
      { remoteCidr: '', protocol: 'tcp', remotePort: 8080, localPort: 80, isRange: false },
      { remoteCidr: '', protocol: 'tcp', remotePort: 8899, localPort: 8899, isRange: false },
      { remoteCidr: '0.0.0.0/0', protocol: 'tcp', remotePort: 443, localPort: 443, isRange: false },
      { remoteCidr: '', protocol: 'udp', remotePort: 9000, localPort: 9100, isRange: true },
      { remoteCidr: '', protocol: 'icmp', remotePort: 1, localPort: 1, isRange: false },
    ]);
    expect(parseRadl("network n ( outports = '10.0.0.0/8-22' )").networks[0].getOutPorts()![0].remoteCidr).toBe('10.0.0.0/8');
    expect(parseOutports('53/udp-53')[0].protocol).toBe('udp'); // one-sided protocol applies to both sides
  });

  it('rejects malformed entries', () => {
    expect(() => parseOutports('22-80-90')).toThrow("Invalid value in property 'outports'");
    expect(() => parseOutports('9000:9100-22')).toThrow("Invalid value in property 'outports'");
    expect(() => parseOutports('80/udp-80/tcp')).toThrow('different protocols');
    expect(() => parseOutports('70000')).toThrow('out of range');
    expect(() => parseOutports('20:10')).toThrow('empty range');
    expect(() => parseOutports('http')).toThrow("'http' is not a port");
  });
});
