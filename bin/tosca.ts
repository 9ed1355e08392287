/**
 * TOSCA command-line tool.
 *
 *   npm run --silent tosca -- check        FILE   validate; prints "ok"
 *   npm run --silent tosca -- to-radl      FILE   prints the RADL text
 *   npm run --silent tosca -- to-radl-json FILE   prints the RADL-JSON a create would deploy (default inputs)
 *
 * FILE may be `-` for standard input. Documents (imports, playbooks) are read from TOSCA_URL_DIR
 * (`<dir>/<host>/<path>`) first, else fetched over HTTPS as the service does (TOSCA_* options,
 * docs/CONFIGURATION.md). Exit status: 0 ok, 1 invalid template (message on stderr), 2 usage or I/O error.
 */
import { readFileSync } from 'node:fs';
import { loadConfig } from '#core/config';
import { checkRadl, radlToJsonString, radlToText } from '#radl/index';
import { ToscaError, translateTosca } from '#tosca/index';
import { toscaFetcher } from '#tosca/url-fetcher';

const USAGE = `usage: tosca <check|to-radl|to-radl-json> FILE
  check         validate the TOSCA template and print "ok"
  to-radl       print the RADL text it translates to
  to-radl-json  print the RADL-JSON that a create with it would deploy (default inputs)
FILE may be "-" to read standard input.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, file, ...rest] = argv;
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!cmd || !['check', 'to-radl', 'to-radl-json'].includes(cmd) || file === undefined || rest.length > 0) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    const code = (e as { code?: string }).code;
    process.stderr.write(`tosca: cannot read ${file === '-' ? 'standard input' : file}${code ? ` (${code})` : ''}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    process.stderr.write(`tosca: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const { radl } = await translateTosca(text, {
      fetcher: toscaFetcher(config),
      ...(config.OAIPMH_REPO_BASE_IDENTIFIER_URL ? { repoBase: config.OAIPMH_REPO_BASE_IDENTIFIER_URL } : {}),
    });
    checkRadl(radl);
    if (cmd === 'check') process.stdout.write('ok\n');
    else if (cmd === 'to-radl-json') process.stdout.write(radlToJsonString(radl) + '\n');
    else process.stdout.write(radlToText(radl));
    return 0;
  } catch (e) {
    if (e instanceof ToscaError || (e instanceof Error && e.name === 'RadlError')) {
      process.stderr.write((e as Error).message + '\n');
      return 1;
    }
    process.stderr.write(`tosca: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

process.exitCode = await main(process.argv.slice(2));
