import * as net from 'net';
import * as path from 'path';

/**
 * The adapter's side of `serial: "integratedTerminal"` (Node only; injected into the session): a
 * loopback TCP listener on a random port that accepts one connection, from the terminal script
 * (dist/serialTerminal.js) the client starts for the runInTerminal request.
 */

export interface SerialTerminal {
  /** The command line for runInTerminal. */
  readonly args: string[];
  /** Guest output; held until the terminal connects. */
  write(bytes: Uint8Array): void;
  close(): void;
}

export interface SerialTerminalHost {
  open(onInput: (bytes: Uint8Array) => void): Promise<SerialTerminal>;
}

export function nodeSerialTerminalHost(script = path.join(__dirname, 'serialTerminal.js')): SerialTerminalHost {
  return {
    open(onInput) {
      return new Promise((resolve, reject) => {
        let socket: net.Socket | null = null;
        let closed = false;
        const pending: Uint8Array[] = [];
        const server = net.createServer((s) => {
          if (socket || closed) { s.destroy(); return; }
          socket = s;
          server.close(); // one connection
          s.on('data', (d) => onInput(new Uint8Array(d)));
          s.on('error', () => s.destroy());
          s.on('close', () => { socket = null; });
          for (const b of pending) s.write(b);
          pending.length = 0;
        });
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
          const addr = server.address();
          const port = typeof addr === 'object' && addr ? addr.port : 0;
          resolve({
            args: [process.execPath, script, String(port)],
            write(bytes) {
              if (closed) return;
              if (socket) socket.write(bytes);
              else pending.push(bytes.slice());
            },
            close() {
              if (closed) return;
              closed = true;
              server.close();
              socket?.end();
              socket = null;
            },
          });
        });
      });
    },
  };
}
