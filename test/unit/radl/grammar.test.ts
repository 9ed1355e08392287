import { describe, expect, it } from 'vitest';
import { Features, parseRadl, RadlError, radlToText, type System } from '#radl/index';
import { canon, radlErrorOf } from './helpers.ts';

const err = (text: string): string => radlErrorOf(() => parseRadl(text)).message;
const sys = (body: string): System => parseRadl(`system s ( ${body} )`).systems[0];

describe('lexer', () => {
  it('an empty or blank document is an empty RADL', () => {
    for (const t of ['', '   \n\t\r\n', '# only a comment\n# another']) {
      const r = parseRadl(t);
      expect(r.isEmpty()).toBe(true);
      expect(radlToText(r)).toBe('');
    }
  });

  it('skips comments anywhere outside strings and recipes', () => {
    const r = parseRadl(`# head
network n ( # after paren
  outbound = 'yes' # end of line
  # full line
) # trailing`);
    expect(r.networks[0].getValue('outbound')).toBe('yes');
  });

  it('keeps # inside strings', () => {
    expect(sys("net_interface.0.dns_name = 'wn-#N#'").getValue('net_interface.0.dns_name')).toBe('wn-#N#');
  });

  it("reads \\' as a quote and keeps other backslash sequences verbatim", () => {
    const s = sys("a = 'it\\'s' and b = 'x\\ny' and c = 'back\\\\slash'");
    expect(s.getValue('a')).toBe("it's");
    expect(s.getValue('b')).toBe('x\\ny');
    expect(s.getValue('c')).toBe('back\\\\slash');
  });

  it('strings may span lines and positions after them stay right', () => {
    const text = "system s ( script = '#!/bin/bash\n  echo \"hi\"\n' and x = \"bad\" )";
    expect(sys("script = 'l1\nl2'").getValue('script')).toBe('l1\nl2');
    expect(err(text)).toBe("line 3, column 11: unexpected character '\"' (strings use single quotes, e.g. 'value')");
  });

  it('an unterminated string is reported where it starts', () => {
    expect(err("system s ( a = 'abc\n\n")).toBe('line 1, column 16: unterminated string (missing closing quote)');
  });

  it('double-quoted strings are rejected with a hint', () => {
    expect(err('network n ( outbound = "yes" )')).toBe(
      "line 1, column 24: unexpected character '\"' (strings use single quotes, e.g. 'value')",
    );
  });

  it('rejects unknown characters instead of skipping them', () => {
    expect(err('system s ( cpu.count != 2 )')).toBe(
      "line 1, column 22: unexpected character '!' (there is no '!=' operator; comparators are =, <, >, <= and >=)",
    );
    expect(err('system s ( cpu.count = -2 )')).toBe(
      "line 1, column 24: unexpected character '-' (numbers have no sign; write text values as strings, e.g. 'a-b')",
    );
    expect(err('system s ( a = 1 ; b = 2 )')).toBe("line 1, column 18: unexpected character ';' (features are separated with 'and')");
    expect(err('system s ( a = 1 )\n\u0007')).toBe('line 2, column 1: unexpected character U+0007');
  });

  it('points at @input placeholders', () => {
    expect(err("system s ( disk.0.image.url = @input.image@ )")).toContain(
      "line 1, column 31: unexpected character '@' (recipes start with '@begin'",
    );
  });

  it('reads integers, floats, "1." and numbers with units (adjacent or spaced)', () => {
    const s = sys('a = 12 and b = 1.5 and c = 1. and memory.size >= 512 M and disk.0.size = 20GiB');
    expect(s.getValue('a')).toBe(12);
    expect(s.getValue('b')).toBe(1.5);
    expect(s.getValue('c')).toBe(1);
    expect(s.getFeature('memory.size')!.unit).toBe('M');
    expect(s.getValue('disk.0.size')).toBe(20 * 2 ** 30);
  });

  it('rejects numbers too large to be finite', () => {
    expect(err(`system s ( a = ${'9'.repeat(400)} )`)).toMatch(/^line 1, column 16: number too large: 9{20}…$/);
  });

  it('accepts identifiers with dots, dashes, underscores and Unicode letters', () => {
    const r = parseRadl('system nodo_ñ ( x = 1 )\ndeploy nodo_ñ 1 my-cloud.eu');
    expect(r.systems[0].name).toBe('nodo_ñ');
    expect(r.deploys[0].cloudId).toBe('my-cloud.eu');
    expect(parseRadl('system .hidden ( a = 1 )').systems[0].name).toBe('.hidden');
  });

  it('keywords are lower-case only and reserved', () => {
    expect(parseRadl('system System ( Network = 1 )').systems[0].getValue('Network')).toBe(1);
    expect(err('system soft ( a = 1 )')).toBe(
      "line 1, column 8: expected a system id after 'system', found keyword 'soft' (keywords are reserved)",
    );
    expect(err('system s ( step = 1 )')).toBe(
      "line 1, column 12: expected a feature name, found keyword 'step' (keywords are reserved)",
    );
  });

  it('accepts CRLF line endings', () => {
    const r = parseRadl("network n (outbound = 'yes')\r\nsystem s (\r\n  cpu.count >= 1\r\n)\r\n");
    expect(r.systems[0].getValue('cpu.count')).toBe(1);
  });
});

describe('recipes', () => {
  it("keep the rest of the @begin line and the newline before @end", () => {
    const r = parseRadl('configure c (@begin  \n- a: 1\n@end\n)');
    expect(r.configures[0].recipes).toBe('  \n- a: 1\n');
    expect(r.configures[0].recipeLine).toBe(1);
  });

  it('an indented @end is recipe text; only @end at column 0 closes', () => {
    const r = parseRadl('configure c (\n@begin\n  @end\nx: 1\n@end\n)\nsystem s ()');
    expect(r.configures[0].recipes).toBe('\n  @end\nx: 1\n');
    expect(r.systems[0].name).toBe('s');
  });

  it('line numbers continue correctly after a recipe', () => {
    expect(err('configure c (\n@begin\na\nb\n@end\n)\nsystem s ( a = "x" )')).toMatch(/^line 7, column 16:/);
  });

  it('an unterminated recipe is reported at @begin', () => {
    expect(err('configure c (\n@begin\n- a: 1\n  @end\n)')).toBe(
      "line 2, column 1: unterminated recipe: '@begin' without a matching '@end' at the start of a line",
    );
  });

  it("needs ')' after @end", () => {
    expect(err('configure c (\n@begin\n@end\nsystem s ()')).toBe(
      "line 4, column 1: expected ')' after '@end', found keyword 'system'",
    );
  });
});

describe('sections', () => {
  it('network: body, empty body and reference are distinct', () => {
    const r = parseRadl("network a ( outbound = 'yes' ) network b () network c");
    expect(r.networks.map((n) => [n.id, n.reference, n.size])).toEqual([
      ['a', false, 1],
      ['b', false, 0],
      ['c', true, 0],
    ]);
    expect(r.networks[0].isPublic()).toBe(true);
    expect(radlToText(r)).toBe("network a (\noutbound = 'yes'\n)\n\nnetwork b ()\n\nnetwork c\n");
  });

  it('system reference', () => {
    const r = parseRadl('system wn\ndeploy wn 3');
    expect(r.systems[0].reference).toBe(true);
    expect(r.deploys[0]).toMatchObject({ systemId: 'wn', vmNumber: 3 });
  });

  it('ansible needs a body', () => {
    expect(err('ansible m\nsystem s ()')).toBe(
      "line 2, column 1: expected '(' after 'ansible m' (ansible sections need a body), found keyword 'system'",
    );
  });

  it('configure: reference, empty and recipe', () => {
    const r = parseRadl('configure a\nconfigure b ()\nconfigure c (\n@begin\nx: 1\n@end\n)');
    expect(r.configures.map((c) => [c.name, c.reference, c.recipes])).toEqual([
      ['a', true, null],
      ['b', false, null],
      ['c', false, '\nx: 1\n'],
    ]);
  });

  it('configure body accepts only a recipe', () => {
    expect(err('configure c ( a = 1 )')).toBe("line 1, column 15: expected '@begin' or ')', found identifier 'a'");
  });

  it('deploy with and without cloud id', () => {
    const r = parseRadl('system s ()\ndeploy s 2 one\ndeploy s 1');
    expect(r.deploys.map((d) => [d.systemId, d.vmNumber, d.cloudId])).toEqual([
      ['s', 2, 'one'],
      ['s', 1, undefined],
    ]);
  });

  it('deploy needs a number', () => {
    expect(err('deploy s\nsystem s ()')).toBe(
      "line 2, column 1: expected the number of VMs after 'deploy s', found keyword 'system'",
    );
  });

  it('a description-only document is accepted (deliberate difference)', () => {
    const r = parseRadl("description d ( name = 'x' )");
    expect(r.description!.id).toBe('d');
    expect(r.description!.getValue('name')).toBe('x');
  });

  it('description must come first and only once', () => {
    expect(err('system s ()\ndescription d ()')).toBe(
      "line 2, column 1: the 'description' must be the first section of the document",
    );
    expect(err('description d ()\ndescription e ()')).toBe('line 2, column 1: Description can only be defined once.');
  });

  it('duplicate ids are errors within a class, fine across classes', () => {
    expect(err('system s ()\nnetwork s ()\nsystem s ( a = 1 )')).toBe(
      "line 3, column 8: Aspect with the same id was found. (system 's' is already defined at line 1)",
    );
    const r = parseRadl('system front ()\nconfigure front ()\nnetwork front ()');
    expect(r.getConfigureByName('front')).toBeDefined();
  });

  it('a top-level token that is not a section is an error', () => {
    expect(err('cpu.count = 1')).toBe(
      "line 1, column 1: expected a section ('network', 'system', 'ansible', 'configure', 'contextualize' or 'deploy'), found identifier 'cpu.count'",
    );
  });
});

describe('contextualize', () => {
  it('max time, options, items with step and with', () => {
    const r = parseRadl(`contextualize 600 (
  option ansible_version = '2.9.27'
  option retries = 3
  system a configure x step 1
  system b configure y with cloud_init
  system c configure z
)`);
    const c = r.contextualize!;
    expect(c.maxTime).toBe(600);
    expect(c.options.ansible_version).toEqual({ operator: '=', value: '2.9.27' });
    expect(c.options.retries).toEqual({ operator: '=', value: 3 });
    expect(c.items.map((i) => [i.systemId, i.configureId, i.step, i.ctxtTool])).toEqual([
      ['a', 'x', 1, undefined],
      ['b', 'y', undefined, 'cloud_init'],
      ['c', 'z', undefined, undefined],
    ]);
    expect(c.isEmpty()).toBe(false);
  });

  it('an item may carry both step and tool, in either order, and re-parses', () => {
    const r = parseRadl('contextualize ( system a configure x step 2 with Ansible system b configure y with cloud_init step 3 )');
    expect(r.contextualize!.items.map((i) => [i.step, i.ctxtTool])).toEqual([
      [2, 'Ansible'],
      [3, 'cloud_init'],
    ]);
    const text = radlToText(r);
    expect(text).toBe('contextualize (\nsystem a configure x step 2 with Ansible\nsystem b configure y step 3 with cloud_init\n)\n');
    expect(canon(parseRadl(text))).toEqual(canon(r));
  });

  it('step or with twice is an error', () => {
    expect(err('contextualize ( system a configure x step 1 step 2 )')).toBe(
      "line 1, column 45: 'step' given twice in a contextualize item",
    );
  });

  it('an item needs configure', () => {
    expect(err('contextualize ( system a x )')).toBe(
      "line 1, column 26: expected 'configure' after 'system a' in contextualize, found identifier 'x'",
    );
  });

  it('contextualize () is empty (disables contextualization)', () => {
    const r = parseRadl('contextualize ()');
    expect(r.contextualize!.isEmpty()).toBe(true);
    expect(radlToText(r)).toBe('contextualize ()\n');
    expect(parseRadl('system s ()').contextualize).toBeUndefined();
  });

  it('several blocks merge: items by (system, configure), options by name, max time = maximum', () => {
    const r = parseRadl(`contextualize 100 ( option v = '1' system a configure x step 1 system a configure y )
contextualize 50 ( option v = '2' option w = 'z' system a configure x step 5 system b configure x )`);
    const c = r.contextualize!;
    expect(c.maxTime).toBe(100);
    expect(c.options.v.value).toBe('2');
    expect(c.options.w.value).toBe('z');
    expect(c.items.map((i) => `${i.systemId}/${i.configureId}/${i.step ?? '-'}`)).toEqual(['a/x/5', 'a/y/-', 'b/x/-']);
  });

  it('rejects other content', () => {
    expect(err('contextualize ( deploy a 1 )')).toBe(
      "line 1, column 17: expected 'option', 'system' or ')' in contextualize, found keyword 'deploy'",
    );
  });
});

describe('features', () => {
  it('all comparators', () => {
    const s = sys('a = 1 and b < 2 and c > 3 and d <= 4 and e >= 5');
    expect(s.features().map((f) => f.operator)).toEqual(['=', '<', '>', '<=', '>=']);
  });

  it("'==' and '=<' are errors", () => {
    expect(err('system s ( a == 1 )')).toBe("line 1, column 15: expected a value (number, 'string' or list) after 'a =', found '='");
    expect(err('system s ( a =< 1 )')).toBe("line 1, column 15: expected a value (number, 'string' or list) after 'a =', found '<'");
  });

  it('a missing and is reported with a hint', () => {
    expect(err("system s ( a = 'x'\n b = 2 )")).toBe(
      "line 2, column 2: expected 'and' or ')' after a feature (missing 'and'?), found identifier 'b'",
    );
    // after a number the next identifier reads as a unit: the message still points at it
    expect(err('system s ( a = 1\n b = 2 )')).toBe(
      "line 2, column 2: expected 'and' or ')' after a feature, found identifier 'b' (missing 'and' before 'b'?)",
    );
  });

  it("a missing ')' is reported at end of input", () => {
    expect(err('system s ( a = 1 and b = 2')).toBe("line 1, column 27: expected 'and' or ')' after a feature, found end of input");
  });

  it('a feature needs a comparator and a value', () => {
    expect(err('system s ( a )')).toBe(
      "line 1, column 14: expected a comparator (=, <, >, <=, >=) or 'contains' after 'a', found ')'",
    );
    expect(err('system s ( a = )')).toBe("line 1, column 16: expected a value (number, 'string' or list) after 'a =', found ')'");
  });

  it('a trailing and is an error', () => {
    expect(err('system s ( a = 1 and )')).toBe("line 1, column 22: expected a feature name, found ')'");
  });

  it('lists of strings, possibly empty', () => {
    const s = sys("a = ['x', 'y'] and b = []");
    expect(s.getValue('a')).toEqual(['x', 'y']);
    expect(s.getValue('b')).toEqual([]);
    expect(err("system s ( a = ['x', 2] )")).toBe(
      "line 1, column 22: expected a string in the list (lists hold single-quoted strings), found number 2",
    );
    expect(err("system s ( a = ['x' 'y'] )")).toBe("line 1, column 21: expected ',' or ']' in the list, found string 'y'");
  });

  it('nested contains feature sets, merged by inner name', () => {
    const s = sys(`disk.0.applications contains (name = 'a' and version = '1') and
      disk.0.applications contains (name = 'b') and
      disk.0.applications contains (name = 'a' and path = '/opt')`);
    const apps = s.getApplications();
    expect(apps.map((a) => a.getValue('name'))).toEqual(['a', 'b']);
    expect(apps[0].getValue('path')).toBe('/opt');
    expect(apps[0].getValue('version')).toBe('1');
    expect(s.getContains('disk.0.applications')[1]).toBeInstanceOf(Features);
  });

  it('contains sets may nest (bounded depth)', () => {
    const s = sys("x contains (name = 'a' and y contains (name = 'b' and z = 1))");
    expect(s.getContains('x')[0].getContains('y')[0].getValue('z')).toBe(1);
    const deep = 'x contains ('.repeat(40) + "name = 'a'" + ')'.repeat(40);
    expect(err(`system s ( ${deep} )`)).toMatch(/'contains' blocks nested too deeply \(max 32\)$/);
  });

  it('soft blocks in systems', () => {
    const s = sys('cpu.count >= 1 and soft 50 ( memory.size >= 8G ) and soft 10 ( gpu.count >= 1 and cpu.count >= 4 )');
    expect(s.softs.map((b) => [b.weight, b.props()])).toEqual([
      [50, ['memory.size']],
      [10, ['gpu.count', 'cpu.count']],
    ]);
    expect(s.props()).toEqual(['cpu.count']);
  });

  it('soft blocks only directly inside systems', () => {
    expect(err('network n ( soft 1 ( a = 1 ) )')).toBe("line 1, column 13: 'soft' blocks are only allowed directly inside a system");
    expect(err('system s ( soft 1 ( soft 2 ( a = 1 ) ) )')).toBe(
      "line 1, column 21: 'soft' blocks are only allowed directly inside a system",
    );
  });

  it("'random(N)' is replaced by N alphanumerics, N may have several digits", () => {
    const s = sys("a = 'random(8)' and b = 'random(12)' and c = 'random(x)' and d = 'random(0)'");
    expect(s.getValue('a')).toMatch(/^[A-Za-z0-9]{8}$/);
    expect(s.getValue('b')).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(s.getValue('c')).toBe('random(x)');
    expect(s.getValue('d')).toBe('');
    expect(sys("a = 'random(8)'").getValue('a')).not.toBe(sys("a = 'random(8)'").getValue('a'));
    expect(err("system s ( a = 'random(5000)' )")).toBe("line 1, column 16: 'random(N)' supports at most 1024 characters");
  });

  it('string features accept only = except *version* features', () => {
    expect(err("system s ( name > 'x' )")).toBe(
      "line 1, column 12: Invalid operator '>' for the string feature name > 'x': strings only accept '=' (comparisons are only allowed on '*version*' features)",
    );
    expect(sys("disk.0.os.version >= '10.04'").getValue('disk.0.os.version')).toBe('10.04');
    expect(err("system s ( a >= ['x'] )")).toBe("line 1, column 12: Invalid operator '>=' for the list feature 'a': use '='");
  });

  it('feature positions are recorded', () => {
    const f = parseRadl('system s (\n  cpu.count >= 1\n)').systems[0].getFeature('cpu.count')!;
    expect([f.line, f.column]).toEqual([2, 3]);
  });

  it('errors carry line and column fields', () => {
    const e = radlErrorOf(() => parseRadl('system s (\n  a = 1 ]'));
    expect(e).toBeInstanceOf(RadlError);
    expect(e.name).toBe('RadlError');
    expect([e.line, e.column, e.kind]).toEqual([2, 9, 'parse']);
  });
});

describe('byte-order mark', () => {
  it('a leading BOM is ignored (text and JSON)', () => {
    expect(parseRadl('\ufeffnetwork n ()').networks[0].id).toBe('n');
    expect(err('\ufeffsystem s ( a = "x" )')).toMatch(/^line 1, column 16:/);
  });
});
