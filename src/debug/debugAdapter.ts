import * as net from 'net';
import { VmxDebugSession } from './session';
import { nodeFileAccessor } from './nodeFiles';
import { debugInfoLoaders } from './loaders';
import { nodeSerialTerminalHost } from './serialTerminalHost';

/**
 * The standalone debug adapter (`node dist/debugAdapter.js`): DAP over stdin/stdout, or with
 * `--server=PORT` a TCP server on 127.0.0.1 that runs one session per connection (for debugging
 * the adapter itself, or for clients that connect to a port).
 */

function newSession(): VmxDebugSession {
  return new VmxDebugSession(nodeFileAccessor, debugInfoLoaders, nodeSerialTerminalHost());
}

function main(argv: string[]): void {
  const server = argv.find((a) => a.startsWith('--server='));
  if (server) {
    const port = Number(server.slice('--server='.length));
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`vmx-debug adapter: --server=${server.slice(9)} is not a port number\n`);
      process.exit(2);
    }
    const srv = net.createServer((socket) => {
      const session = newSession();
      session.setRunAsServer(true);
      socket.on('error', () => socket.destroy());
      session.start(socket, socket);
    });
    srv.listen(port, '127.0.0.1', () => {
      const addr = srv.address();
      process.stderr.write(`vmx-debug adapter listening on 127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}\n`);
    });
    return;
  }
  const session = newSession();
  process.on('SIGTERM', () => session.shutdown());
  session.start(process.stdin, process.stdout);
}

// A bug in one request must not kill the adapter the user is debugging with: log it and go on.
process.on('uncaughtException', (e) => process.stderr.write(`vmx-debug adapter: uncaught ${e?.stack ?? e}\n`));
process.on('unhandledRejection', (e) => process.stderr.write(`vmx-debug adapter: unhandled rejection ${(e as Error)?.stack ?? e}\n`));

main(process.argv.slice(2));
