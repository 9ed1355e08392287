/**
 * `npm start`: local mode (lambdas/local/local-mode.ts) in one process: REST on
 * REST_ADDRESS:REST_PORT, XML-RPC on XMLRCP_ADDRESS:XMLRCP_PORT, DynamoDB Local under IM_DATA_DIR.
 *
 *   npm start -- [--port N] [--address A] [--data-dir DIR] [--in-memory]
 *
 * Options come from the environment (IM option names, e.g. REST_PORT, IM_DATA_DIR, LOG_LEVEL); the
 * flags override REST_PORT, REST_ADDRESS and IM_DATA_DIR. Ctrl-C / SIGTERM stop everything (servers,
 * running workflows, DynamoDB Local) and exit. After a crash, the next start resumes the workflows
 * that were running.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '#core/config';
import { startLocal } from '#local/local-mode';

const USAGE = 'Usage: npm start -- [--port N] [--address A] [--data-dir DIR] [--in-memory]';

async function main(): Promise<void> {
  // Local mode runs on the machine's Node (20 here); the Lambda runtime is nodejs22.x: the SDK's notice is noise.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      address: { type: 'string' },
      'data-dir': { type: 'string' },
      'in-memory': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const env: Record<string, string | undefined> = { ...process.env };
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: invalid port '${values.port}'`);
    env.REST_PORT = String(port);
  }
  if (values.address !== undefined) env.REST_ADDRESS = values.address;
  if (values['data-dir'] !== undefined) env.IM_DATA_DIR = values['data-dir'];
  const config = loadConfig(env);
  const inMemory = values['in-memory'] ?? false;
  const instance = await startLocal({
    env,
    inMemory,
    onFatal: (message) => {
      console.error(message);
      process.exit(1);
    },
  });
  const db = instance.dynamo();
  console.log(`IM REST API listening on ${instance.restUrl}`);
  console.log(`IM XML-RPC API listening on ${instance.xmlrpcUrl}`);
  const resumed = instance.resumed.resumed.length + instance.resumed.closed.length;
  if (resumed > 0) console.log(`Resumed ${instance.resumed.resumed.length} and closed ${instance.resumed.closed.length} interrupted workflow(s).`);
  console.log(
    `Data kept ${inMemory ? 'in memory' : `in ${config.IM_DATA_DIR}`}; the database is ${db.isolated ? 'private to this process' : 'NOT isolated (no network namespace here)'}. Press Ctrl-C to stop.`,
  );

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal} received: stopping…`);
    instance.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`Error while stopping: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  console.error(err instanceof ConfigError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS') ? `${msg}\n${USAGE}` : `Cannot start local mode: ${msg}`);
  process.exit(1);
});
