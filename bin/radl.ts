/**
 * RADL command-line tool.
 *
 *   npm run --silent radl -- check   FILE   validate; prints "ok"
 *   npm run --silent radl -- to-json FILE   prints RADL-JSON (pretty)
 *   npm run --silent radl -- to-radl FILE   prints RADL text
 *
 * FILE is RADL text or RADL-JSON; `-` reads stdin. Every command validates (checkRadl).
 * Exit status: 0 ok, 1 invalid RADL (message on stderr), 2 usage or I/O error.
 */
import { readFileSync } from 'node:fs';
import { checkRadl, parseRadlAny, RadlError, radlToJsonString, radlToText } from '#radl/index';

const USAGE = `usage: radl <check|to-json|to-radl> FILE
  check    validate the RADL (text or RADL-JSON) and print "ok"
  to-json  validate and print the RADL-JSON form
  to-radl  validate and print the RADL text form
FILE may be "-" to read standard input.`;

function readInput(file: string): string {
  return readFileSync(file === '-' ? 0 : file, 'utf8');
}

function main(argv: string[]): number {
  const [cmd, file, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!cmd || !['check', 'to-json', 'to-radl'].includes(cmd) || file === undefined || rest.length > 0) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  let text: string;
  try {
    text = readInput(file);
  } catch (e) {
    const code = (e as { code?: string }).code;
    process.stderr.write(`radl: cannot read ${file === '-' ? 'standard input' : file}${code ? ` (${code})` : ''}\n`);
    return 2;
  }
  try {
    const radl = parseRadlAny(text);
    checkRadl(radl);
    if (cmd === 'check') process.stdout.write('ok\n');
    else if (cmd === 'to-json') process.stdout.write(radlToJsonString(radl) + '\n');
    else process.stdout.write(radlToText(radl));
    return 0;
  } catch (e) {
    if (e instanceof RadlError) {
      process.stderr.write(e.message + '\n');
      return 1;
    }
    process.stderr.write(`radl: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

process.exitCode = main(process.argv.slice(2));
