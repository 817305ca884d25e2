import * as net from 'net';

/**
 * The guest's COM1 in a terminal (`serial: "integratedTerminal"`): `node dist/serialTerminal.js PORT`
 * runs in the terminal the client opened for the adapter's runInTerminal request. It connects to the
 * adapter's loopback port and pipes the terminal both ways: what the guest sends to COM1 appears
 * here, keystrokes go to the UART's receiver. Raw mode on a TTY, so every key is sent as typed
 * (Ctrl-C included: the guest gets it; close the terminal or end the debug session to quit).
 */

function main(argv: string[]): void {
  const port = Number(argv[0]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write('usage: node serialTerminal.js PORT (the debug adapter starts this)\n');
    process.exit(2);
  }
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('connect', () => {
    if (process.stdin.isTTY) process.stdin.setRawMode(true);
    process.stdin.on('data', (d) => socket.write(d));
    process.stdin.on('end', () => socket.end());
    process.stdin.resume();
  });
  socket.on('data', (d) => process.stdout.write(d));
  const done = (why?: string) => {
    if (why) process.stderr.write(`\r\nvmx-debug serial terminal: ${why}\r\n`);
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.exit(0);
  };
  socket.on('close', () => done('the debug session ended'));
  socket.on('error', (e) => done(`cannot reach the debug adapter on 127.0.0.1:${port}: ${e.message}`));
}

main(process.argv.slice(2));
