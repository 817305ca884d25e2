import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/**
 * Monitor mode (launch attribute `monitor`): samples/post-loop/post-loop.bin as a guest of the
 * built-in monitor, with the two KVM configurations of samples/post-loop. The VM-exit filters stop
 * on exits the monitor handles, with the same decoded exceptionInfo as bare metal, in non-root
 * operation at the guest instruction after the exit.
 */

const root = path.resolve(__dirname, '../../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
const POST_LOOP = 'samples/post-loop/post-loop.bin';
const BASE = { program: POST_LOOP, format: 'flat', mode: 'long', loadAddress: '0x100000' };
const config = (name: string): Record<string, unknown> => JSON.parse(fs.readFileSync(path.join(root, 'samples/post-loop', name), 'utf8'));

function newClient(): DebugClient {
  const dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
  dc.defaultTimeout = 20000;
  return dc;
}

async function launch(dc: DebugClient, args: Record<string, unknown>, filters: DebugProtocol.ExceptionFilterOptions[]): Promise<void> {
  await dc.start();
  await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
  (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
  await Promise.all([
    (async () => {
      await dc.waitForEvent('initialized');
      await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: filters });
      await dc.configurationDoneRequest();
    })(),
    dc.launchRequest({ ...BASE, ...args } as DebugProtocol.LaunchRequestArguments),
  ]);
}

describe('debug adapter: monitor mode (post-loop under the built-in monitor)', function () {
  this.timeout(60000);
  let dc: DebugClient;
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('kvm-cve-2017 (unconditional I/O exiting): stops on out 0x80, al with the decoded exit, in VMX non-root', async () => {
    dc = newClient();
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(e.body.output));
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await launch(dc, { monitor: config('kvm-cve-2017.json') }, [{ filterId: 'vmexit:io', condition: 'port == 0x80' }]);
    const ev = await stopped;
    assert.equal(ev.body.reason, 'exception');
    assert.match(ev.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'EXIT_REASON_IO_INSTRUCTION');
    const d = (info.body.details as unknown as { vmx: { reason: number; fields: Record<string, number>; instruction: string; guestRip: string; instructionLength: number } }).vmx;
    assert.equal(d.reason, 30);
    assert.equal(d.fields.port, 0x80);
    assert.equal(d.fields.direction, 0);
    assert.equal(d.instruction, 'out 0x80, al');
    assert.equal(d.instructionLength, 2);
    // the guest, in non-root operation, right after the exiting instruction (the monitor emulated it)
    const th = await dc.threadsRequest();
    assert.match(th.body.threads[0].name, /VMX non-root/);
    const st = await dc.stackTraceRequest({ threadId: 1 });
    assert.equal(BigInt(st.body.stackFrames[0].instructionPointerReference!), BigInt(d.guestRip) + 2n);
    assert.equal(BigInt((await dc.evaluateRequest({ expression: 'exit.port', context: 'watch' })).body.result), 0x80n);
    assert.equal(BigInt((await dc.evaluateRequest({ expression: 'exit.rip', context: 'watch' })).body.result), BigInt(d.guestRip));
    const stats = await dc.customRequest('vmx/exitStats');
    assert.ok(stats.body.byPort.some((p: { port: string; out: number }) => p.port === '0x80' && p.out === 1), JSON.stringify(stats.body.byPort));
    assert.ok(output.join('').includes('post-loop: writing POST codes to port 0x80'), 'serial output before the loop');
    // continue: the next POST code exits again
    const again = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.match((await again).body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    const stats2 = await dc.customRequest('vmx/exitStats');
    assert.ok(stats2.body.byPort.some((p: { port: string; out: number }) => p.port === '0x80' && p.out === 2));
  });

  it('kvm-2016 (port 0x80 passed through): the same filter never stops, the guest runs to its end', async () => {
    dc = newClient();
    let stops = 0;
    dc.on('stopped', () => { stops++; });
    const exited = dc.waitForEvent('exited', 50000) as Promise<DebugProtocol.ExitedEvent>;
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(e.body.output));
    await launch(dc, { monitor: config('kvm-2016.json') }, [{ filterId: 'vmexit:io', condition: 'port == 0x80' }]);
    await exited;
    assert.equal(stops, 0);
    assert.ok(output.join('').includes('post-loop: done'), output.join(''));
  });

  it('monitor: true works, and a bad monitor configuration names the attribute path', async () => {
    dc = newClient();
    await dc.start();
    await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path' });
    await assert.rejects(dc.launchRequest({ ...BASE, monitor: { io: { exiting: 'bitmap', exitPorts: [1, '0x3f8-0x3ff', 'x'] } } } as DebugProtocol.LaunchRequestArguments), /monitor\.io\.exitPorts\[2\]/);
    await assert.rejects(dc.launchRequest({ ...BASE, monitor: { ioo: {} } } as DebugProtocol.LaunchRequestArguments), /monitor\.ioo/);
    await assert.rejects(dc.launchRequest({ ...BASE, monitor: 3 } as DebugProtocol.LaunchRequestArguments), /'monitor'/);
    await assert.rejects(dc.launchRequest({ ...BASE, monitor: true, cpuModel: 'none' } as DebugProtocol.LaunchRequestArguments), /'monitor'/);
    // the same process still debugs: monitor: true (defaults: unconditional I/O exiting), stop on entry in non-root
    (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
    const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ ...BASE, monitor: true, stopOnEntry: true } as DebugProtocol.LaunchRequestArguments)]);
    assert.equal((await stopped).body.reason, 'entry');
    const th = await dc.threadsRequest();
    assert.match(th.body.threads[0].name, /VMX non-root/);
    const st = await dc.stackTraceRequest({ threadId: 1 });
    assert.equal(st.body.stackFrames[0].instructionPointerReference, '0x100000');
  });
});
