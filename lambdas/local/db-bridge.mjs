// @ts-check
/* global process, console, setTimeout */
/**
 * Local mode's DynamoDB Local launcher and socket bridge (see lambdas/local/dynamodb-local.ts).
 *
 *   node db-bridge.mjs <socket path> <port> <isolated: 0|1> -- java <args…>
 *
 * Usually runs inside a private network namespace (`unshare --net`) that holds nothing but its
 * loopback interface: DynamoDB Local (which always listens on every interface) is then reachable by
 * no other process of the machine. The service talks to it through the Unix socket this bridge
 * serves (mode 0600, in the 0700 data folder): each connection is piped to 127.0.0.1:<port>
 * inside the namespace.
 *
 * It brings the namespace's loopback up, starts Java with umask 077 (database files 0600) and
 * PR_SET_PDEATHSIG through setpriv (Java dies with this process), waits for the port, opens the
 * socket, prints `READY <java pid>` and then lives as long as Java does (exit code: Java's).
 * SIGTERM / SIGINT stop Java first.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

const [socketPath, portText, isolated, sep, ...javaCommand] = process.argv.slice(2);
if (!socketPath || !portText || sep !== '--' || javaCommand.length === 0) {
  console.error('usage: db-bridge.mjs <socket> <port> <isolated> -- java <args…>');
  process.exit(2);
}
const port = Number(portText);

if (isolated === '1') {
  const lo = spawnSync('ip', ['link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  if (lo.status !== 0) {
    console.error(`cannot bring the namespace's loopback up: ${lo.stderr || lo.error?.message}`);
    process.exit(3);
  }
}

process.umask(0o077);
const [cmd, ...args] = javaCommand;
const java = spawn('setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
java.on('error', (err) => {
  console.error(`cannot start Java: ${err.message}`);
  process.exit(4);
});
java.on('exit', (code, signal) => {
  rmSync(socketPath, { force: true });
  process.exit(code ?? (signal ? 128 : 1));
});
for (const sig of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.on(sig, () => java.kill('SIGTERM'));
}

/** Resolves once something accepts connections on the port. */
function waitForPort() {
  return new Promise((resolve) => {
    const attempt = () => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.once('error', () => setTimeout(attempt, 50));
    };
    attempt();
  });
}

await waitForPort();
rmSync(socketPath, { force: true });
const server = createServer((client) => {
  const upstream = createConnection({ host: '127.0.0.1', port });
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(socketPath, () => {
  chmodSync(socketPath, 0o600);
  process.stdout.write(`READY ${java.pid}\n`);
});
