import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/**
 * The debug adapter as a DAP client sees it: dist/debugAdapter.js in a child process, driven by
 * @vscode/debugadapter-testsupport's DebugClient.
 */

const root = path.resolve(__dirname, '../../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
const rom = path.join(root, 'samples/longmode-rom/longmode.rom');
const cliFixtures = path.join(root, 'test/fixtures/cli');
const loaderFixtures = path.join(root, 'test/fixtures/loaders');

const PM32 = 0xFFFF808B;
const CALL_PUTC16 = 0xFFFF8084;
const CALL_PUTS16 = 0xFFFF803E;

function newClient(): DebugClient {
  const dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
  dc.defaultTimeout = 10000;
  return dc;
}

/** initialize, and tell the client the adapter wants configurationDone (DebugClient only notices in launch()). */
async function initialize(dc: DebugClient): Promise<void> {
  const r = await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
  assert.ok(r.body?.supportsConfigurationDoneRequest);
  (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
}

async function stoppedEvent(dc: DebugClient, reason?: string, timeout = 10000): Promise<DebugProtocol.StoppedEvent> {
  const ev = (await dc.waitForEvent('stopped', timeout)) as DebugProtocol.StoppedEvent;
  if (reason) assert.equal(ev.body.reason, reason, `stopped: ${JSON.stringify(ev.body)}`);
  return ev;
}

async function launchStopped(dc: DebugClient, args: Record<string, unknown>): Promise<DebugProtocol.StoppedEvent> {
  const stopped = stoppedEvent(dc, 'entry');
  await Promise.all([dc.configurationSequence(), dc.launchRequest({ stopOnEntry: true, ...args } as DebugProtocol.LaunchRequestArguments)]);
  return stopped;
}

async function topFrame(dc: DebugClient): Promise<DebugProtocol.StackFrame> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  assert.ok(st.body.stackFrames.length >= 1);
  return st.body.stackFrames[0];
}

async function registers(dc: DebugClient, frameId: number): Promise<Map<string, DebugProtocol.Variable>> {
  const scopes = await dc.scopesRequest({ frameId });
  const regs = scopes.body.scopes.find((s) => s.name === 'Registers');
  assert.ok(regs, 'a Registers scope');
  const vars = await dc.variablesRequest({ variablesReference: regs.variablesReference });
  return new Map(vars.body.variables.map((v) => [v.name, v]));
}

async function evaluate(dc: DebugClient, expression: string): Promise<string> {
  return (await dc.evaluateRequest({ expression, context: 'watch' })).body.result;
}

async function expectError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.fail(`expected an error matching ${pattern}`);
}

describe('debug adapter (DAP over stdio)', function () {
  this.timeout(30000);
  let dc: DebugClient;

  before(() => assert.ok(fs.existsSync(adapter), 'dist/debugAdapter.js is built by `node scripts/build.mjs`'));
  beforeEach(async () => {
    dc = newClient();
    await dc.start();
    await initialize(dc);
  });
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('stops on entry at the reset vector with a disassembly source and registers', async () => {
    const ev = await launchStopped(dc, { program: rom, format: 'rom' });
    assert.equal(ev.body.description, 'Paused on entry');
    const f = await topFrame(dc);
    assert.equal(f.instructionPointerReference, '0xfffffff0');
    assert.ok(f.source?.sourceReference, 'a generated disassembly source');
    assert.ok(f.line > 0);
    const src = await dc.sourceRequest({ source: f.source, sourceReference: f.source.sourceReference! });
    const line = src.body.content.split('\n')[f.line - 1];
    assert.match(line, /0xfffffff0.*e9 0d 80.*jmp/);
    const regs = await registers(dc, f.id);
    assert.equal(regs.get('eip')?.value, '0x0000fff0');
    assert.equal(regs.get('cs')?.value, '0xf000');
    assert.ok(regs.get('cs')!.variablesReference > 0, 'segment registers expand into hidden parts');
    const cs = await dc.variablesRequest({ variablesReference: regs.get('cs')!.variablesReference });
    assert.equal(cs.body.variables.find((v) => v.name === 'base')?.value, '0x00000000ffff0000');
    const flags = await dc.variablesRequest({ variablesReference: regs.get('eflags')!.variablesReference });
    assert.ok(flags.body.variables.some((v) => v.name === 'ZF'));
    const dec = await dc.variablesRequest({ variablesReference: regs.get('cs')!.variablesReference, format: { hex: false } });
    assert.equal(dec.body.variables.find((v) => v.name === 'base')?.value, String(0xFFFF0000));
    const threads = await dc.threadsRequest();
    assert.equal(threads.body.threads[0].name, 'vCPU 0 no VMX');
  });

  it('hits an instruction breakpoint, steps, reads memory and evaluates expressions', async () => {
    await launchStopped(dc, { program: rom, format: 'rom' });
    const set = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x' + PM32.toString(16) }] });
    assert.ok(set.body.breakpoints[0].verified);
    const hit = stoppedEvent(dc, 'instruction breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    let f = await topFrame(dc);
    assert.equal(f.instructionPointerReference, '0xffff808b');
    assert.equal(await evaluate(dc, 'eip'), '0xffff808b');
    assert.equal(await evaluate(dc, 'cr0 & 1'), '0x1');
    assert.equal(await evaluate(dc, '(1 + 2) * 3 << 4'), '0x90');
    assert.equal(await evaluate(dc, '0b101 + 0o7 + 10 + 0ah'), '0x20');
    assert.equal(await evaluate(dc, 'byte [0xfffffff0]'), '0xe9');
    assert.equal(await evaluate(dc, 'word [0xfffffff1]'), '0x800d');
    assert.equal(await evaluate(dc, 'eip == 0xffff808b && !0'), '0x1');
    await expectError(dc.evaluateRequest({ expression: '1 +', context: 'watch' }), /column 4/);
    await expectError(dc.evaluateRequest({ expression: 'nosuchname', context: 'watch' }), /unknown name 'nosuchname'/);
    // one instruction: mov ax, 0x10 (4 bytes with the operand-size prefix)
    const stepped = stoppedEvent(dc, 'step');
    await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    await stepped;
    f = await topFrame(dc);
    assert.equal(f.instructionPointerReference, '0xffff808f');
    assert.equal(await evaluate(dc, 'ax'), '0x0010');
    const mem = await dc.customRequest('readMemory', { memoryReference: '0xfffffff0', count: 3 });
    assert.equal(Buffer.from(mem.body.data, 'base64').toString('hex'), 'e90d80');
    const phys = await dc.customRequest('readMemory', { memoryReference: 'phys:0xfffffff0', count: 3 });
    assert.equal(Buffer.from(phys.body.data, 'base64').toString('hex'), 'e90d80');
    const dis = await dc.disassembleRequest({ memoryReference: '0xffff808b', instructionCount: 3, instructionOffset: -1 });
    assert.equal(dis.body?.instructions.length, 3);
    assert.equal(dis.body?.instructions[1].address, '0xffff808b');
    assert.match(dis.body!.instructions[1].instruction, /mov ax, 0x10/);
  });

  it('steps over a call at instruction granularity and writes registers and memory', async () => {
    await launchStopped(dc, { program: rom, format: 'rom' });
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x' + CALL_PUTS16.toString(16) }] });
    const hit = stoppedEvent(dc, 'instruction breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    const stepped = stoppedEvent(dc, 'step');
    await dc.nextRequest({ threadId: 1, granularity: 'instruction' });
    await stepped;
    assert.equal((await topFrame(dc)).instructionPointerReference, '0xffff8041');
    const f = await topFrame(dc);
    const scopes = await dc.scopesRequest({ frameId: f.id });
    const ref = scopes.body.scopes[0].variablesReference;
    const set = await dc.setVariableRequest({ variablesReference: ref, name: 'ebx', value: '0x1234 + 1' });
    assert.equal(set.body.value, '0x00001235');
    await expectError(dc.setVariableRequest({ variablesReference: ref, name: 'ebx', value: 'bogus +' }), /column/);
    await dc.customRequest('setExpression', { expression: 'dword [0x500]', value: '0xcafef00d' });
    assert.equal(await evaluate(dc, 'dword [0x500]'), '0xcafef00d');
    const w = await dc.customRequest('writeMemory', { memoryReference: 'phys:0x600', data: Buffer.from([1, 2, 3]).toString('base64') });
    assert.equal(w.body.bytesWritten, 3);
    assert.equal(await evaluate(dc, 'byte [0x602]'), '0x03');
  });

  it('stops at a conditional breakpoint only when the condition holds, and logpoints print', async () => {
    await launchStopped(dc, { program: rom, format: 'rom' });
    // putc16 is called once per character; stop on the 'A' of "A20 enabled"
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x' + CALL_PUTC16.toString(16), condition: "al == 'A'" }] });
    const hit = stoppedEvent(dc, 'instruction breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    assert.equal(await evaluate(dc, 'al'), '0x41');
    const bad = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0xffff8084', condition: 'al ==' }] });
    assert.equal(bad.body.breakpoints[0].verified, false);
    assert.match(bad.body.breakpoints[0].message ?? '', /condition/);
  });

  it('pauses a spinning guest within a short time, and runs to the end with the exit status', async () => {
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ program: path.join(cliFixtures, 'spin.bin'), format: 'flat' } as DebugProtocol.LaunchRequestArguments)]);
    await new Promise((r) => setTimeout(r, 300));
    await expectError(dc.continueRequest({ threadId: 1 }), /needs the guest to be paused/);
    assert.equal(await evaluate(dc, 'byte [0x7c00]'), '0xeb', 'memory reads are answered while the guest runs');
    const bp = await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x7c00', hitCondition: '>= 1000000' }] });
    assert.ok(bp.body.breakpoints[0].verified);
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    const t0 = Date.now();
    const paused = stoppedEvent(dc, 'pause');
    await dc.pauseRequest({ threadId: 1 });
    await paused;
    const ms = Date.now() - t0;
    assert.ok(ms < 500, `pause took ${ms} ms`);
    assert.equal((await topFrame(dc)).instructionPointerReference, '0x7c00');
    // a second session in the same process is not possible over stdio; run the ROM in a new client
  });

  it('a variables request for an earlier stop\'s reference while the guest runs answers nothing, not an error', async () => {
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ program: path.join(cliFixtures, 'spin.bin'), format: 'flat' } as DebugProtocol.LaunchRequestArguments)]);
    const paused = stoppedEvent(dc, 'pause');
    await dc.pauseRequest({ threadId: 1 });
    await paused;
    const frame = await topFrame(dc);
    const scopes = (await dc.scopesRequest({ frameId: frame.id })).body.scopes;
    const ref = scopes[0].variablesReference;
    assert.ok((await dc.variablesRequest({ variablesReference: ref })).body.variables.length > 0);
    await dc.continueRequest({ threadId: 1 });
    // VS Code can still be asking for the last stop's variables (the race the e2e test met)
    assert.deepEqual((await dc.variablesRequest({ variablesReference: ref })).body.variables, []);
    await expectError(dc.variablesRequest({ variablesReference: 99999 }), /no variables with reference 99999/);
  });

  it('runs the sample ROM to its end: serial output, exited with status 0, terminated', async () => {
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stdout') output.push(e.body.output); });
    const exited = dc.waitForEvent('exited', 20000);
    const terminated = dc.waitForEvent('terminated', 20000);
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ program: rom, format: 'rom' } as DebugProtocol.LaunchRequestArguments)]);
    const ex = (await exited) as DebugProtocol.ExitedEvent;
    await terminated;
    assert.equal(ex.body.exitCode, 0);
    assert.match(output.join(''), /vmx-debug sample: real mode\r\n[\s\S]*long mode[\s\S]*done\r\n/);
  });

  it('reports the guest exit port status', async () => {
    const exited = dc.waitForEvent('exited', 20000);
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ program: path.join(cliFixtures, 'exit21.bin') } as DebugProtocol.LaunchRequestArguments)]);
    assert.equal(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, (21 << 1) | 1);
  });

  it('stops on an unexpected exception with decoded exceptionInfo, then on the triple fault', async () => {
    const stopped = stoppedEvent(dc, 'exception');
    await Promise.all([dc.configurationSequence(), dc.launchRequest({ program: path.join(cliFixtures, 'triple.bin') } as DebugProtocol.LaunchRequestArguments)]);
    const ev = await stopped;
    assert.match(ev.body.description ?? '', /#GP/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, '#GP');
    assert.match(info.body.description ?? '', /interrupt 16 beyond the IVT limit[\s\S]*error code 0x0/);
    assert.match(info.body.description ?? '', /int 0x10/);
    const triple = stoppedEvent(dc, 'exception');
    await dc.continueRequest({ threadId: 1 });
    const t = await triple;
    assert.match(t.body.description ?? '', /triple fault/);
    const exited = dc.waitForEvent('exited');
    await dc.continueRequest({ threadId: 1 });
    assert.equal(((await exited) as DebugProtocol.ExitedEvent).body.exitCode, 4);
  });

  it('stops on a data breakpoint when the guest writes the watched memory', async () => {
    await launchStopped(dc, { program: rom, format: 'rom' });
    const info = await dc.dataBreakpointInfoRequest({ name: 'qword [0x2000]' });
    assert.equal(info.body.dataId, '0x2000/8');
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    assert.ok(set.body.breakpoints[0].verified);
    const hit = stoppedEvent(dc, 'data breakpoint');
    await dc.continueRequest({ threadId: 1 });
    const ev = await hit;
    assert.match(ev.body.description ?? '', /write to 8 bytes at 0x2000/);
  });

  it('answers bad launch configurations, malformed images and nonsense requests with errors, then debugs normally', async () => {
    await expectError(dc.stackTraceRequest({ threadId: 1 }), /no program is running/);
    await expectError(dc.launchRequest({} as DebugProtocol.LaunchRequestArguments), /'program': missing/);
    await expectError(dc.launchRequest({ program: rom, ram: 'lots' } as DebugProtocol.LaunchRequestArguments), /'ram': 'lots' is not a number/);
    await expectError(dc.launchRequest({ program: rom, ram: 99999 } as DebugProtocol.LaunchRequestArguments), /'ram': 99999 is outside 1..4080/);
    await expectError(dc.launchRequest({ program: rom, format: 'exe' } as DebugProtocol.LaunchRequestArguments), /'format': expected one of/);
    await expectError(dc.launchRequest({ program: rom, cpuModel: 'skylake' } as DebugProtocol.LaunchRequestArguments), /'cpuModel'/);
    await expectError(dc.launchRequest({ program: rom, stopOnEntry: 'yes' } as DebugProtocol.LaunchRequestArguments), /'stopOnEntry'/);
    await expectError(dc.launchRequest({ program: 42 } as unknown as DebugProtocol.LaunchRequestArguments), /'program': expected a file path/);
    await expectError(dc.launchRequest({ program: path.join(root, 'no-such-file.bin') } as DebugProtocol.LaunchRequestArguments), /cannot read .*no such file/);
    const tmp = path.join(os.tmpdir(), `vmx-debug-bad-${process.pid}.elf`);
    fs.writeFileSync(tmp, Buffer.concat([Buffer.from([0x7F, 0x45, 0x4C, 0x46, 9, 9]), Buffer.alloc(40, 0xEE)]));
    try {
      await expectError(dc.launchRequest({ program: tmp, format: 'elf' } as DebugProtocol.LaunchRequestArguments), /cannot load program/);
    } finally {
      fs.unlinkSync(tmp);
    }
    await expectError(dc.customRequest('bogus'), /unrecognized request 'bogus'/);
    await expectError(dc.variablesRequest({ variablesReference: 12345 }), /no program is running/);
    // and now a real session in the same adapter process
    await launchStopped(dc, { program: rom, format: 'rom', ram: '0x40' });
    await expectError(dc.variablesRequest({ variablesReference: 12345 }), /no variables with reference/);
    await expectError(dc.customRequest('readMemory', { memoryReference: 'xyz', count: 4 }), /not a memory reference/);
    await expectError(dc.evaluateRequest({ expression: 'dword [', context: 'repl' }), /ended/);
    await expectError(dc.scopesRequest({ frameId: 99 }), /no frame/);
    await expectError(dc.stackTraceRequest({ threadId: 7 }), /no thread 7/);
    await expectError(dc.customRequest('goto', { threadId: 1, targetId: 77 }), /unknown target/);
    assert.equal((await topFrame(dc)).instructionPointerReference, '0xfffffff0');
    const stepped = stoppedEvent(dc, 'step');
    await dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    await stepped;
    assert.equal((await topFrame(dc)).instructionPointerReference, '0xffff8000');
    // restart: the same configuration from the reset vector again
    const again = stoppedEvent(dc, 'entry');
    await dc.restartRequest({ arguments: { program: rom, format: 'rom', stopOnEntry: true } } as DebugProtocol.RestartArguments);
    await again;
    assert.equal((await topFrame(dc)).instructionPointerReference, '0xfffffff0');
    const terminated = dc.waitForEvent('terminated');
    await dc.terminateRequest();
    await terminated;
  });

  it('binds function breakpoints to ELF symbols and steps out of a function', async () => {
    await launchStopped(dc, { program: path.join(loaderFixtures, 'elf64.elf') });
    const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'checksum' }, { name: 'nope' }] });
    assert.ok(set.body.breakpoints[0].verified);
    assert.equal(set.body.breakpoints[1].verified, false);
    assert.match(set.body.breakpoints[1].message ?? '', /no symbol named 'nope'/);
    const hit = stoppedEvent(dc, 'function breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    const f = await topFrame(dc);
    assert.equal(f.name, 'checksum');
    assert.equal(await evaluate(dc, 'rip == checksum'), '0x1');
    const out = stoppedEvent(dc, 'step');
    await dc.stepOutRequest({ threadId: 1, granularity: 'instruction' });
    await out;
    const after = await topFrame(dc);
    assert.match(after.name, /^_start\+0x/);
    const completions = await dc.completionsRequest({ text: 'chec', column: 5 });
    assert.ok(completions.body.targets.some((t) => t.label === 'checksum'));
  });
});

describe('debug adapter: source-level debugging', function () {
  this.timeout(30000);
  let dc: DebugClient;
  const asm = path.join(root, 'samples/longmode-rom/longmode.asm');
  const lst = path.join(root, 'samples/longmode-rom/longmode.lst');
  const nasm32 = path.join(root, 'test/fixtures/symbols/nasm32.asm');

  beforeEach(async () => {
    dc = newClient();
    await dc.start();
    await initialize(dc);
  });
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('binds source breakpoints through a NASM listing, hits them and steps by line', async () => {
    await launchStopped(dc, { program: rom, format: 'rom', symbols: [lst] });
    const set = await dc.setBreakpointsRequest({ source: { path: asm }, breakpoints: [{ line: 198 }, { line: 3 }] });
    const [moved, none] = set.body.breakpoints;
    assert.ok(moved.verified, JSON.stringify(moved));
    assert.equal(moved.line, 199, 'the label line moves to the next line with code');
    assert.match(moved.message ?? '', /moved to line 199/);
    assert.ok(none.verified, 'line 3 is a comment: moves to the first line with code after it');
    await dc.setBreakpointsRequest({ source: { path: asm }, breakpoints: [{ line: 198 }] });
    const locs = await dc.customRequest('breakpointLocations', { source: { path: asm }, line: 195, endLine: 201 });
    assert.deepEqual(locs.body.breakpoints.map((b: { line: number }) => b.line), [199, 200, 201]);
    const hit = stoppedEvent(dc, 'breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    let f = await topFrame(dc);
    assert.equal(f.source?.path, asm);
    assert.equal(f.line, 199);
    assert.equal(f.instructionPointerReference, '0xffff808b');
    const step = stoppedEvent(dc, 'step');
    await dc.nextRequest({ threadId: 1 });
    await step;
    f = await topFrame(dc);
    assert.equal(f.line, 200);
    const targets = await dc.gotoTargetsRequest({ source: { path: asm }, line: 199 });
    assert.equal(targets.body.targets[0].instructionPointerReference, '0xffff808b');
    const back = stoppedEvent(dc, 'goto');
    await dc.gotoRequest({ threadId: 1, targetId: targets.body.targets[0].id });
    await back;
    assert.equal((await topFrame(dc)).line, 199);
    const dis = await dc.disassembleRequest({ memoryReference: '0xffff808b', instructionCount: 1 });
    assert.equal(dis.body?.instructions[0].line, 199);
  });

  it('debugs a NASM ELF with DWARF: line breakpoints, step over a call, logpoints', async () => {
    await launchStopped(dc, { program: path.join(root, 'test/fixtures/symbols/nasm32.elf') });
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(e.body.output));
    const set = await dc.setBreakpointsRequest({ source: { path: nasm32 }, breakpoints: [{ line: 9, logMessage: 'esp={esp}' }, { line: 11 }] });
    assert.ok(set.body.breakpoints.every((b) => b.verified), JSON.stringify(set.body.breakpoints));
    const hit = stoppedEvent(dc, 'breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    assert.ok(output.some((o) => /^esp=0x/.test(o)), `logpoint output in ${JSON.stringify(output)}`);
    let f = await topFrame(dc);
    assert.equal(f.line, 11);
    assert.match(f.source?.path ?? '', /nasm32\.asm$/);
    const step = stoppedEvent(dc, 'step');
    await dc.nextRequest({ threadId: 1 });
    await step;
    f = await topFrame(dc);
    assert.equal(f.line, 12, 'next steps over the call to the following line');
    assert.equal(await evaluate(dc, 'eax'), '0x00000013', 'POST 0x11 left al = 0x11, add_two added 2');
    const into = stoppedEvent(dc, 'step');
    await dc.stepInRequest({ threadId: 1 });
    await into;
    f = await topFrame(dc);
    assert.notEqual(f.line, 12);
  });
});

describe('debug adapter (--server on loopback)', function () {
  this.timeout(30000);
  let proc: ChildProcess;
  let port = 0;

  before(async () => {
    proc = spawn(process.execPath, [adapter, '--server=0'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    port = await new Promise<number>((resolve, reject) => {
      let text = '';
      proc.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      proc.on('exit', (code) => reject(new Error(`adapter exited with ${code}: ${text}`)));
    });
  });
  after(() => { proc.kill(); });

  it('serves sessions over TCP, one after another in the same process', async () => {
    for (let k = 0; k < 2; k++) {
      const dc = new DebugClient('node', adapter, 'vmx');
      await dc.start(port);
      await initialize(dc);
      await launchStopped(dc, { program: rom, format: 'rom' });
      assert.equal((await topFrame(dc)).instructionPointerReference, '0xfffffff0');
      await dc.stop();
    }
  });
});

describe('debug adapter: a freestanding C program (test/fixtures/debug/cprog.c)', function () {
  this.timeout(30000);
  let dc: DebugClient;
  const csrc = path.join(root, 'test/fixtures/debug/cprog.c');
  const elf = path.join(root, 'test/fixtures/debug/cprog.elf');

  beforeEach(async () => {
    dc = newClient();
    await dc.start();
    await initialize(dc);
  });
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('binds and hits a breakpoint on a .c line, shows the C frame, steps over a call and reads locals', async () => {
    const output: string[] = [];
    dc.on('output', (e: DebugProtocol.OutputEvent) => output.push(e.body.output));
    await launchStopped(dc, { program: elf });
    assert.equal((await topFrame(dc)).instructionPointerReference, '0x100000', 'the ELF entry, flat protected mode');
    const set = await dc.setBreakpointsRequest({ source: { path: csrc }, breakpoints: [{ line: 15 }] });
    assert.ok(set.body.breakpoints[0].verified, JSON.stringify(set.body.breakpoints));
    assert.equal(set.body.breakpoints[0].line, 15);
    const hit = stoppedEvent(dc, 'breakpoint');
    await dc.continueRequest({ threadId: 1 });
    await hit;
    let f = await topFrame(dc);
    assert.equal(f.source?.path, csrc);
    assert.equal(f.line, 15);
    assert.equal(BigInt(await evaluate(dc, 'dword [ebp - 4]')), 7n, 'x = 7 (at ebp-4 at -O0)');
    const step = stoppedEvent(dc, 'step');
    await dc.nextRequest({ threadId: 1 });
    await step;
    f = await topFrame(dc);
    assert.equal(f.source?.path, csrc);
    assert.equal(f.line, 16, 'next steps over the call to add');
    assert.equal(BigInt(await evaluate(dc, 'dword [ebp - 8]')), 10n, 'y = add(7, 3)');
    assert.equal(BigInt(await evaluate(dc, 'dword [counter]')), 55n, 'the global, by its symbol');
    assert.equal(BigInt(await evaluate(dc, 'dword [ebp - 4] + dword [ebp - 8] == 17')), 1n);
    const exited = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: 1 });
    await exited;
    assert.ok(output.join('').includes('A'), `main's result 65 on port 0xE9: ${JSON.stringify(output)}`);
  });
});
