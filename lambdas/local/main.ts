/**
 * `npm start`: local mode (see lambdas/local/server.ts): REST on REST_ADDRESS:REST_PORT and
 * XML-RPC on XMLRCP_ADDRESS:XMLRCP_PORT.
 *
 *   npm start -- [--port N] [--address A] [--data-dir DIR] [--in-memory]
 *
 * Options come from the environment (IM option names, e.g. REST_PORT, IM_DATA_DIR, LOG_LEVEL);
 * the flags override REST_PORT, REST_ADDRESS and IM_DATA_DIR. With LOCAL_WORKERS other than 1 (the
 * default is one per CPU) this process is the primary of several worker processes that serve the
 * same ports (lambdas/local/cluster.ts). Ctrl-C / SIGTERM stop everything (servers, running
 * workflows, workers, DynamoDB Local) and exit.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '#core/config';
import { isLocalWorker, runWorker, startPrimary, workerCount } from '#local/cluster';
import { startLocal } from '#local/server';
import { xmlrpcFrontEnd } from '#local/xmlrpc-server';

const USAGE = 'Usage: npm start -- [--port N] [--address A] [--data-dir DIR] [--in-memory]';

async function main(): Promise<void> {
  if (isLocalWorker()) return runWorker({ frontEnds: [xmlrpcFrontEnd()] });
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
  let restPort: number | undefined;
  if (values.port !== undefined) {
    restPort = Number(values.port);
    if (!Number.isInteger(restPort) || restPort < 0 || restPort > 65535) throw new ConfigError(`--port: invalid port '${values.port}'`);
  }
  const env: Record<string, string | undefined> = { ...process.env };
  if (restPort !== undefined) env.REST_PORT = String(restPort);
  if (values.address !== undefined) env.REST_ADDRESS = values.address;
  if (values['data-dir'] !== undefined) env.IM_DATA_DIR = values['data-dir'];
  const config = loadConfig(env);
  const inMemory = values['in-memory'] ?? false;
  const workers = workerCount(config);
  const instance =
    workers > 1
      ? await startPrimary({ config, env, inMemory, workers })
      : await startLocal({
          env,
          inMemory,
          // XML-RPC on XMLRCP_ADDRESS:XMLRCP_PORT (8899), same services.
          frontEnds: [xmlrpcFrontEnd()],
        });
  const where = inMemory ? 'in memory' : `in ${config.IM_DATA_DIR}`;
  console.log(`IM REST API listening on ${instance.urls.rest}`);
  for (const [name, url] of Object.entries(instance.urls)) if (name !== 'rest') console.log(`IM ${name} listening on ${url}`);
  console.log(`${workers > 1 ? `${workers} worker processes. ` : ''}Data kept ${where}. Press Ctrl-C to stop.`);

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
