import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/**
 * serial: "integratedTerminal": the adapter asks the client to run dist/serialTerminal.js with a
 * runInTerminal reverse request; the test plays the client's part (spawns the command with pipes
 * for a terminal). The guest is test/fixtures/machine/uart16.bin, a COM1 echo with the receive
 * interrupt: it prints "> ", echoes what it receives and says "bye" after a carriage return.
 */

const root = path.resolve(__dirname, '../../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
const UART = { program: 'test/fixtures/machine/uart16.bin', format: 'flat', mode: 'real', loadAddress: '0x7c00' };

interface Raw {
  dispatch(body: string): void;
  outputStream: NodeJS.WritableStream;
  _supportsConfigurationDoneRequest: boolean;
}

/** Lets the test answer reverse requests (DebugClient drops them). */
function onReverseRequest(dc: DebugClient, handler: (req: DebugProtocol.Request) => Record<string, unknown> | undefined): void {
  const raw = dc as unknown as Raw;
  const orig = raw.dispatch.bind(dc);
  raw.dispatch = (body: string) => {
    const msg = JSON.parse(body) as DebugProtocol.ProtocolMessage;
    if (msg.type !== 'request') return orig(body);
    const req = msg as DebugProtocol.Request;
    const resp = { type: 'response', seq: 0, request_seq: req.seq, command: req.command, success: true, body: handler(req) ?? {} };
    const json = JSON.stringify(resp);
    raw.outputStream.write(`Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`, 'utf8');
  };
}

async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('debug adapter: serial "integratedTerminal"', function () {
  this.timeout(30000);
  let dc: DebugClient;
  let child: ChildProcess | null = null;
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
    child?.kill();
    child = null;
  });

  it('runs the terminal script via runInTerminal: COM1 output arrives there, typed input reaches the guest', async () => {
    dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
    dc.defaultTimeout = 15000;
    let terminalOut = '';
    let request = null as DebugProtocol.RunInTerminalRequestArguments | null;
    let closed = false;
    onReverseRequest(dc, (req) => {
      assert.equal(req.command, 'runInTerminal');
      request = req.arguments as DebugProtocol.RunInTerminalRequestArguments;
      const [cmd, ...rest] = request.args;
      child = spawn(cmd, rest, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => { terminalOut += d.toString('latin1'); });
      child.on('exit', () => { closed = true; });
      return { processId: child.pid };
    });
    const consoleOut: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => consoleOut.push(e.body.output));
    await dc.start();
    await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true, supportsRunInTerminalRequest: true });
    (dc as unknown as Raw)._supportsConfigurationDoneRequest = true;
    const exited = dc.waitForEvent('exited', 20000) as Promise<DebugProtocol.ExitedEvent>;
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ ...UART, serial: 'integratedTerminal' } as DebugProtocol.LaunchRequestArguments)]);
    assert.ok(request, 'a runInTerminal request');
    assert.equal(request!.kind, 'integrated');
    assert.match(request!.args[1], /serialTerminal\.js$/);
    await until(() => terminalOut.includes('> '), 'the prompt in the terminal');
    // the guest waits for input (HLT with the receive interrupt armed): the session stays alive; pause works
    const paused = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.pauseRequest({ threadId: 1 });
    assert.equal((await paused).body.reason, 'pause');
    await dc.continueRequest({ threadId: 1 });
    child!.stdin!.write('hi');
    await until(() => terminalOut.includes('> hi'), 'the echo of typed input');
    child!.stdin!.write('!\r');
    const code = (await exited).body.exitCode;
    await until(() => terminalOut.includes('bye\r\n'), 'bye');
    assert.equal(terminalOut, '> hi!\r\nbye\r\n');
    assert.equal(code, 9, 'exit status: 2 * 4 bytes received + 1');
    assert.ok(!consoleOut.join('').includes('> '), 'serial output did not go to the Debug Console');
    await until(() => closed, 'the terminal script to end with the session');
  });

  it('falls back to the Debug Console with a message when the client has no runInTerminal', async () => {
    dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
    dc.defaultTimeout = 15000;
    const consoleOut: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => consoleOut.push(e.body.output));
    await dc.start();
    await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path' });
    (dc as unknown as Raw)._supportsConfigurationDoneRequest = true;
    const terminated = dc.waitForEvent('terminated', 20000);
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ ...UART, serial: 'integratedTerminal' } as DebugProtocol.LaunchRequestArguments)]);
    await terminated; // idle without input: the run ends as before
    const all = consoleOut.join('');
    assert.match(all, /does not support the runInTerminal request; COM1 output goes to the Debug Console/);
    assert.ok(all.includes('> '), all);
  });
});
