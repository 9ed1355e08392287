import { describe, expect, it } from 'vitest';
import { checkRadl, Deploy, parseAndCheck, parseRadl, Radl, System } from '#radl/index';
import { radlErrorOf } from './helpers.ts';

const check = (text: string): string => radlErrorOf(() => parseAndCheck(text)).message;

describe('checkRadl: system features', () => {
  it.each([
    ["system s ( cpu.count = 'two' )", "Line 1: Invalid type; expected (<class 'int'>, <class 'float'>) (system 's': cpu.count = 'two')"],
    ["system s ( cpu.arch = 'i686' )", "Line 1: Invalid value; expected one of ['I386', 'X86_64'] (system 's': cpu.arch = 'i686')"],
    ['system s ( cpu.performance >= 2 )', "Line 1: Invalid unit; expected one of ['ECU', 'GCEU', 'HRZ'] (system 's': cpu.performance >= 2)"],
    ['system s ( cpu.count >= 2 M )', "Line 1: Invalid unit; expected none (system 's': cpu.count >= 2M)"],
    ['system s ( price <= 1 GB )', "Line 1: Invalid unit; expected none (system 's': price <= 1GB)"],
    ['system s ( memory.size = 1.5 )', "Line 1: Invalid type; expected <class 'int'> (a whole number of bytes) (system 's': memory.size = 1.5)"],
    ["system s ( spot = 'maybe' )", "Line 1: Invalid value; expected one of ['YES', 'NO'] (system 's': spot = 'maybe')"],
    ["system s ( image_type = 'iso' )", "Line 1: Invalid value; expected one of ['VMDK', 'QCOW', 'QCOW2', 'RAW'] (system 's': image_type = 'iso')"],
    ["system s ( disk.0.os.name = 'solaris' )", "Line 1: Invalid value; expected one of ['LINUX', 'WINDOWS', 'MAC OS X'] (system 's': disk.0.os.name = 'solaris')"],
    [
      "system s ( disk.0.os.version = 'bionic' )",
      "Line 1: Invalid value in property 'disk.0.os.version': a version has only digits and dots (system 's': disk.0.os.version = 'bionic')",
    ],
    ['system s ( disk.0.os.version = 18.04 )', "Line 1: Invalid type; expected <class 'str'> (system 's': disk.0.os.version = 18.04)"],
    ["system s ( disk.0.image.url = 1 )", "Line 1: Invalid type; expected (<class 'str'>, <class 'list'>) (system 's': disk.0.image.url = 1)"],
    [
      "system s ( disk.0.applications = 'x' )",
      "Line 1: Invalid type; expected <class 'Features'> (use 'contains') (system 's': disk.0.applications = 'x')",
    ],
    [
      "system s ( disk.0.applications contains (version = '1') )",
      "Line 1: Invalid value in property 'disk.0.applications': every application needs name = '…' (system 's': disk.0.applications contains (version = '1'))",
    ],
    [
      "system s ( disk.0.applications contains (name = 'a' and preinstalled = 'maybe') )",
      "Line 1: Invalid value; expected one of ['YES', 'NO'] (system 's', application 'a': preinstalled = 'maybe')",
    ],
    ["system s ( virtual_system_type = 1 )", "Line 1: Invalid type; expected <class 'str'> (system 's': virtual_system_type = 1)"],
  ])('%s', (text, message) => {
    expect(check(text)).toBe(message);
  });

  it('accepts case-insensitive enumerations and the documented units', () => {
    expect(() =>
      parseAndCheck(
        "system s ( cpu.arch = 'X86_64' and spot = 'Yes' and disk.0.os.name = 'Linux' and memory.size >= 2GiB and disk.0.size = 10gb and cpu.performance >= 2.5gceu )",
      ),
    ).not.toThrow();
  });

  it('new password strength', () => {
    expect(check("system s ( disk.0.os.credentials.new.password = 'Simple1' )")).toBe(
      "Line 1: Invalid value in property 'disk.0.os.credentials.new.password': the new password must be longer than 6 " +
        "characters and contain an upper-case letter, a digit and a non-alphanumeric character (system 's': " +
        "disk.0.os.credentials.new.password = 'Simple1')",
    );
    expect(() => parseAndCheck("system s ( disk.0.os.credentials.new.password = 'N0tan+mala' )")).not.toThrow();
  });

  it('uses the line of the offending feature', () => {
    expect(check("system s (\n cpu.count >= 1 and\n cpu.arch = 'arm'\n)")).toMatch(/^Line 3: Invalid value; expected one of/);
  });
});

describe('checkRadl: indexed families and references', () => {
  it('indices must be integers', () => {
    expect(check('system s ( disk.x.size = 1G )')).toBe("Line 1: Invalid property name; expected an index. (system 's': disk.x.size = 1G)");
  });

  it('indices of validated properties must be 0..n-1', () => {
    expect(check("network n () system s ( net_interface.1.connection = 'n' )")).toBe(
      "Line 1: Invalid indices values in properties 'net_interface' (system 's': indices must be consecutive from 0, 'net_interface.1' is used but 'net_interface.0' is not)",
    );
    // unvalidated suffixes do not count
    expect(() => parseAndCheck("system s ( disk.0.image.url = 'x' and disk.3.custom = 'y' )")).not.toThrow();
  });

  it('every net_interface needs a connection', () => {
    expect(check("network n () system s ( net_interface.0.connection = 'n' and net_interface.1.dns_name = 'x' )")).toBe(
      "Line 1: Some net_interface does not have a connection (system 's': 'net_interface.1.connection' is missing)",
    );
  });

  it('connections must name networks, ansible_host an ansible section', () => {
    expect(check("system s ( net_interface.0.connection = 'nope' )")).toBe(
      "Line 1: Invalid value in property 'net_interface.0.connection': there is no 'network nope' section (system 's': net_interface.0.connection = 'nope')",
    );
    expect(check("system s ( ansible_host = 'm' )")).toBe(
      "Line 1: Invalid value in property 'ansible_host': there is no 'ansible m' section (system 's': ansible_host = 'm')",
    );
    expect(() => parseAndCheck("network pub\nsystem s ( net_interface.0.connection = 'pub' )")).not.toThrow();
  });

  it('soft blocks are checked like systems (values only)', () => {
    expect(check("system s ( soft 10 ( cpu.arch = 'arm' ) )")).toBe(
      "Line 1: Invalid value; expected one of ['I386', 'X86_64'] (system 's', soft 10: cpu.arch = 'arm')",
    );
    expect(() => parseAndCheck("network n () system s ( soft 10 ( net_interface.1.connection = 'n' ) )")).not.toThrow();
  });
});

describe('checkRadl: networks and ansible hosts', () => {
  it.each([
    ["network n ( outbound = 'maybe' )", "Line 1: Invalid value; expected one of ['YES', 'NO'] (network 'n': outbound = 'maybe')"],
    [
      "network n ( outports = '22-80-90' )",
      "Line 1: Invalid value in property 'outports': '22-80-90' has too many '-' (network 'n': outports = '22-80-90')",
    ],
    [
      "network n ( outports = '8080/udp-80/tcp' )",
      "Line 1: Invalid value in property 'outports': different protocols in '8080/udp-80/tcp' (network 'n': outports = '8080/udp-80/tcp')",
    ],
    ['network n ( provider_id = 3 )', "Line 1: Invalid type; expected <class 'str'> (network 'n': provider_id = 3)"],
    ["ansible m ( credentials.username = 'u' )", "Line 1: Ansible host must have a host (ansible 'm')"],
    ["ansible m ( host = 'h' )", "Line 1: Ansible host must have a credentials.username (ansible 'm')"],
    [
      "ansible m ( host = 'h' and credentials.username = 'u' )",
      "Line 1: Ansible host must have a credentials.password or credentials.private_key (ansible 'm')",
    ],
  ])('%s', (text, message) => {
    expect(check(text)).toBe(message);
  });
});

describe('checkRadl: deploys, configures, contextualize', () => {
  it('deploys', () => {
    expect(check('system s ()\ndeploy t 1')).toBe("Line 2: Invalid system id in the deploy. (deploy t: there is no 'system t' section)");
    expect(check('system s () deploy s 1.5')).toBe(
      'Line 1: Invalid number of virtual machines to deploy. (deploy s 1.5: expected an integer ≥ 0)',
    );
    const r = parseRadl('system s ()');
    r.deploys.push(new Deploy('s', -1));
    expect(radlErrorOf(() => checkRadl(r)).message).toBe(
      'Invalid number of virtual machines to deploy. (deploy s -1: expected an integer ≥ 0)',
    );
  });

  it('recipes must be YAML; the line is the absolute line of the problem', () => {
    expect(check('system s ()\nconfigure c (\n@begin\n- a: 1\n- b: [1\n@end\n)')).toBe(
      "Line 6: Invalid YAML code: unexpected end of the stream within a flow collection at line 4 of the recipe. (configure 'c')",
    );
    expect(check('configure c (\n@begin\na: b: c\n@end\n)')).toMatch(/^Line 3: Invalid YAML code: /);
    expect(() => parseAndCheck('configure c ()\nconfigure d (\n@begin\n@end\n)')).not.toThrow();
  });

  it('the YAML memo does not hide errors', () => {
    const bad = 'configure c (\n@begin\n- [\n@end\n)';
    expect(() => parseAndCheck(bad)).toThrow('Invalid YAML code');
    expect(() => parseAndCheck(bad)).toThrow('Invalid YAML code');
    expect(() => checkRadl(parseRadl(bad), { yamlCache: false })).toThrow('Invalid YAML code');
  });

  it('contextualize', () => {
    expect(check('contextualize 1.5 ()')).toBe(
      "Line 1: Invalid 'max time' in 'contextualize' (1.5: expected an integer number of seconds ≥ 0)",
    );
    expect(check('system a () contextualize ( system b configure c )')).toBe(
      "Line 1: Invalid system id 'b' in 'contextualize' (system b configure c: there is no 'system b' section)",
    );
    expect(check('system a () contextualize (\n system a configure c )')).toBe(
      "Line 2: Invalid configure id 'c' in 'contextualize' (system a configure c: there is no 'configure c' section)",
    );
    expect(check('system a () configure c () contextualize ( system a configure c step 1.5 )')).toBe(
      "Line 1: Invalid step 1.5 in 'contextualize' (system a configure c: expected an integer ≥ 0)",
    );
  });

  it('global duplicate checks (models built by code)', () => {
    const r = new Radl();
    r.systems.push(new System('a'), new System('a'));
    expect(radlErrorOf(() => checkRadl(r)).message).toBe('Some System name duplicated.');
    const r2 = parseRadl('network n () network m ()');
    r2.networks[1].id = 'n';
    expect(radlErrorOf(() => checkRadl(r2)).message).toBe('Some Network name duplicated.');
  });

  it('validation errors have kind check and a line', () => {
    const e = radlErrorOf(() => parseAndCheck('\n\ndeploy x 1'));
    expect([e.kind, e.line, e.column]).toEqual(['check', 3, undefined]);
  });
});
