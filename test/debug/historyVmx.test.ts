import { strict as assert } from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Machine } from '../../src/machine/machine';
import { EV_VMX } from '../../src/cpu/vmx/exit';
import { controlMask } from '../../src/cpu/vmx/spec';
import { Vmx } from '../../src/cpu/vmx/state';
import { LAUNCH_CLEAR, LAUNCH_LAUNCHED } from '../../src/cpu/vmx/vmcs';
import { ExecutionHistory, type HistoryRecord } from '../../src/debug/history';
import { GuestMemory } from '../../src/debug/memory';
import { VmxSnapshot } from '../../src/debug/vmxSnapshot';
import { CODE_BASE } from '../support/snippet';
import { GUEST_CODE, HOST_EXIT, SCRATCH, VMCS_A, VmxHost, asm, type Fields } from '../cpu/vmx/harness';
import { EPT_POOL, Ept, PAGE_4K, ctl, g64, u64, withEpt } from '../cpu/vmx/eptHarness';

/**
 * Reverse execution across VMX transitions (src/debug/history.ts, vmxSnapshot.ts): after stepping
 * back over VMLAUNCH, a VM exit, VMFUNC, VMCLEAR/VMPTRLD/VMXOFF, an exit that loaded DR7 or one that
 * stopped a preemption timer, the CPU must be in the world, EPT, timer and interrupt-shadow state it
 * was in then, so running forward again repeats the same accesses and the same exits. In-process on
 * the VMX test host (test/cpu/vmx/harness.ts), plus the adapter on test/fixtures/debug/vmm-ept.asm.
 */

/** A guest-physical page that EPT maps elsewhere: what the guest reads there tells which EPT translated it. */
const ADDR = 0x1000010;
const HOST_A = 0x1800000, HOST_B = 0x1900000;
const MAGIC_A = 0x1122334455667788n;
const MAGIC_B = 0x99AABBCCDDEEFF00n;
/** What host-physical ADDR (no EPT) holds. */
const MAGIC_HOST = 0x0BADC0DE0BADC0DEn;
/** EPTP list and the second hierarchy's pool (VMFUNC). */
const LIST = 0x4C000;
const POOL_B = EPT_POOL + 0x200000;

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const VMFUNC_0_1 = [0xB8, ...le32(0), 0xB9, ...le32(1), 0x0F, 0x01, 0xD4];
const HLT = 0xF4;

/** The debugger's view of memory without a Machine: physical writes through the CPU (drops decoded code). */
function guestMemory(h: VmxHost): GuestMemory {
  const cpu = h.cpu;
  const writeBytes = (phys: number, b: Uint8Array) => { for (let k = 0; k < b.length; k++) cpu.physWrite(phys + k, 1, b[k]); };
  return new GuestMemory({ cpu, memory: { writeBytes } } as unknown as Machine);
}

interface Rig {
  h: VmxHost;
  a: Ept;
  b: Ept;
  mem: GuestMemory;
  hist: ExecutionHistory;
}

/** The VMX host with EPT A (identity below 16 MiB, ADDR's page at HOST_A), EPT B (same, at HOST_B) and history on. */
function rig(): Rig {
  const h = new VmxHost();
  const a = new Ept(h), b = new Ept(h, POOL_B);
  a.identity2M(0, 0x1000000);
  b.identity2M(0, 0x1000000);
  a.map(ADDR & ~0xFFF, HOST_A, PAGE_4K);
  b.map(ADDR & ~0xFFF, HOST_B, PAGE_4K);
  h.poke64(HOST_A + (ADDR & 0xFFF), MAGIC_A);
  h.poke64(HOST_B + (ADDR & 0xFFF), MAGIC_B);
  h.poke64(ADDR, MAGIC_HOST);
  for (let k = 0; k < 0x1000; k += 4) h.cpu.physWrite(LIST + k, 4, 0);
  h.poke64(LIST, a.eptp());
  h.poke64(LIST + 8, b.eptp());
  const mem = guestMemory(h);
  const hist = new ExecutionHistory(1 << 16, h.cpu, mem);
  h.cpu.observer = hist;
  h.cpu.singleStepChanged();
  return { h, a, b, mem, hist };
}

function eptFields(r: Rig): Fields {
  const f = r.h.validFields();
  withEpt(f, r.a.eptp());
  f.set('SECONDARY_VM_EXEC_CONTROL', f.get('SECONDARY_VM_EXEC_CONTROL')! | ctl('SECONDARY_EXEC_ENABLE_VMFUNC'));
  f.set('VM_FUNCTION_CONTROL', 1n);
  f.set('EPTP_LIST_ADDRESS', BigInt(LIST));
  return f;
}

/** Steps back until the instruction at `rip` is undone (the CPU is then before it); returns its record. */
function backTo(r: Rig, rip: number): HistoryRecord {
  r.hist.finish();
  for (;;) {
    const rec = r.hist.popAndRestore();
    assert.ok(rec, `0x${rip.toString(16)} is not in the history`);
    if (rec.rip === rip) return rec;
  }
}

/** Where the guest's ADDR goes now, as the debugger (and the CPU's page walker) translates it. */
function translated(r: Rig): number {
  return r.mem.translate(BigInt(ADDR));
}

/** The TLB arrays in use are those of the world the CPU is in (Cpu.switchTlbWorld's bookkeeping). */
function tlbWorld(r: Rig): boolean {
  const w = (r.h.cpu as unknown as { tlbNonRoot: unknown }).tlbNonRoot;
  assert.equal(typeof w, 'boolean', 'Cpu.tlbNonRoot (the world the current TLB arrays belong to)');
  return w as boolean;
}

interface ExitSeen { reason: number; qualification: bigint; guestRip: bigint; length: bigint; icount: number; exitCount: number }

/** The whole VMCS (exit information and the guest state the exit saved). */
function vmcsNow(h: VmxHost): number[] {
  return [...h.v.vmcs.lo, ...h.v.vmcs.hi];
}

function exitSeen(h: VmxHost): ExitSeen {
  return {
    reason: h.exitReason(), qualification: h.qualification(), guestRip: h.field('GUEST_RIP'),
    length: h.field('VM_EXIT_INSTRUCTION_LEN'), icount: h.v.lastExit.icount, exitCount: h.v.exitCount,
  };
}

describe('history: reverse execution across VMX transitions (in-process)', () => {
  it('stepping back over a VM exit returns to non-root operation under the guest\'s EPT; forward again repeats the exit', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    const guest = [...g64.loadR8(ADDR), ...g64.cpuid, HLT];
    h.guest(guest);
    h.launch(eptFields(r));
    assert.ok(h.atHostExit(), `expected the CPUID exit, CPU at 0x${cpu.rip.toString(16)}`);
    const first = exitSeen(h), firstVmcs = vmcsNow(h);
    assert.equal(first.reason, 10);
    assert.equal(first.guestRip, BigInt(GUEST_CODE + 8));
    assert.equal(u64(h, 8), MAGIC_A, 'the guest read ADDR through EPT A');

    const hlt = backTo(r, HOST_EXIT);
    assert.ok(hlt.afterVmExit, 'the host\'s first instruction after the exit is marked as such');
    assert.equal(cpu.nonRoot, false);
    backTo(r, GUEST_CODE + 8);
    assert.equal(cpu.nonRoot, true, 'back in the guest');
    assert.equal(cpu.eptActive, true, 'EPT in force again');
    assert.equal(h.v.eptRoot, EPT_POOL, 'the guest\'s EPT PML4');
    assert.equal(translated(r), HOST_A + (ADDR & 0xFFF), 'guest-physical ADDR translates through EPT A');
    assert.equal(tlbWorld(r), true, 'the TLB arrays in use are the guest world\'s');
    assert.equal(h.v.exitCount, 0);
    assert.equal(h.v.vmcs.launch, LAUNCH_LAUNCHED);

    backTo(r, GUEST_CODE);
    h.resume();
    assert.ok(h.atHostExit());
    assert.equal(u64(h, 8), MAGIC_A, 'the replayed load went through EPT A again');
    assert.deepEqual(exitSeen(h), first, 'the same exit at the same instruction count');
    assert.deepEqual(vmcsNow(h), firstVmcs, 'the same exit information and saved guest state, field for field');
  });

  it('stepping back from inside the guest to before VMLAUNCH leaves root operation without EPT; the host reads its own memory', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    h.guest([...g64.loadR8(ADDR), ...g64.cpuid, HLT]);
    const code = h.setupCode(eptFields(r), [...g64.loadR9(ADDR), ...asm.vmlaunch]);
    const launchAt = CODE_BASE + code.length - 3, hostLoadAt = launchAt - 8;
    // stop in the guest, so the reverse steps start in non-root operation with EPT on
    cpu.breakpoints.add(GUEST_CODE + 8);
    cpu.flushCode();
    assert.equal(h.run(code), 'breakpoint');
    assert.equal(cpu.nonRoot, true);
    assert.equal(u64(h, 9), MAGIC_HOST, 'the host read ADDR without EPT');
    assert.equal(u64(h, 8), MAGIC_A);

    backTo(r, launchAt);
    assert.equal(cpu.nonRoot, false, 'root operation');
    assert.equal(cpu.eptActive, false, 'no EPT in root operation');
    assert.equal(tlbWorld(r), false, 'the TLB arrays in use are the root world\'s');
    assert.equal(cpu.events & EV_VMX, 0, 'no boundary work for non-root operation');
    assert.equal(h.v.vmcs.launch, LAUNCH_CLEAR, 'the VMCS is clear again: VMLAUNCH, not VMRESUME, is valid');
    assert.equal(h.v.current, VMCS_A);
    assert.equal(translated(r), ADDR, 'the host\'s ADDR is host-physical ADDR');

    backTo(r, hostLoadAt);
    cpu.breakpoints.clear();
    cpu.flushCode();
    h.resume();
    assert.equal(h.exception, undefined, `host exception ${h.exception}`);
    assert.ok(h.atHostExit(), `expected the CPUID exit, CPU at 0x${cpu.rip.toString(16)} nonRoot=${cpu.nonRoot} failure=${JSON.stringify(h.v.lastEntryFailure)}`);
    assert.equal(u64(h, 9), MAGIC_HOST, 'the replayed host load did not go through the guest\'s EPT');
    assert.equal(u64(h, 8), MAGIC_A);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 8));
    assert.equal(h.v.exitCount, 1);
  });

  it('stepping back over VMFUNC (EPTP switching) puts the old EPTP back in force', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    const vmfuncAt = GUEST_CODE + 8 + 10, cpuidAt = vmfuncAt + 3 + 8;
    h.guest([...g64.loadR10(ADDR), ...VMFUNC_0_1, ...g64.loadR8(ADDR), ...g64.cpuid, HLT]);
    cpu.breakpoints.add(cpuidAt);
    cpu.flushCode();
    assert.equal(h.launch(eptFields(r)), 'breakpoint');
    assert.equal(u64(h, 10), MAGIC_A);
    assert.equal(u64(h, 8), MAGIC_B, 'after VMFUNC the guest reads through EPT B');
    assert.equal(h.v.eptRoot, POOL_B);

    backTo(r, vmfuncAt);
    assert.equal(cpu.nonRoot, true);
    assert.equal(cpu.eptActive, true);
    assert.equal(h.v.eptRoot, EPT_POOL, 'EPT A in force again');
    assert.equal(h.field('EPT_POINTER'), r.a.eptp());
    assert.equal(translated(r), HOST_A + (ADDR & 0xFFF));

    backTo(r, GUEST_CODE);
    cpu.breakpoints.clear();
    cpu.flushCode();
    h.resume();
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 10);
    assert.equal(u64(h, 10), MAGIC_A, 'the replayed load before VMFUNC went through EPT A');
    assert.equal(u64(h, 8), MAGIC_B, 'and the one after it through EPT B');
    assert.equal(h.field('EPT_POINTER'), r.b.eptp());
  });

  it('stepping back over an exit that loaded the host\'s DR7 re-arms the guest\'s breakpoints', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    const MOV_DR0_RAX = [0x0F, 0x23, 0xC0];
    // nop; nop; out 0x80, al (DR0 points at it); hlt
    h.guest([0x90, 0x90, 0xE6, 0x80, HLT]);
    const f = h.validFields();
    f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | BigInt(controlMask('CPU_BASED_UNCOND_IO_EXITING')));
    f.set('VM_ENTRY_CONTROLS', f.get('VM_ENTRY_CONTROLS')! | BigInt(controlMask('VM_ENTRY_LOAD_DEBUG_CONTROLS')));
    f.set('GUEST_DR7', 0x401n);
    f.set('EXCEPTION_BITMAP', 1n << 1n);
    h.run([...asm.movRaxImm(BigInt(GUEST_CODE + 2)), ...MOV_DR0_RAX, ...h.setupCode(f)]);
    assert.ok(h.atHostExit());
    const first = exitSeen(h);
    assert.equal(first.reason, 0, 'the guest\'s instruction breakpoint: #DB exit');
    assert.equal(Number(h.field('VM_EXIT_INTR_INFO')) & 0x7FF, (3 << 8) | 1);
    assert.equal(cpu.dr[7], 0x400, 'the exit loaded DR7 = 400H');

    // the exit came at the boundary after the second NOP
    backTo(r, GUEST_CODE + 1);
    assert.equal(cpu.dr[7], 0x401);
    assert.ok(cpu.drExec.has(GUEST_CODE + 2), 'DR0 armed from the guest\'s DR7');
    h.resume();
    assert.ok(h.atHostExit());
    assert.equal(h.exitReason(), 0, 'the breakpoint fires again, before the OUT could exit for I/O');
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(h.v.lastExit.icount, first.icount);
  });

  it('stepping back over a preemption-timer exit restores the timer of that entry, not of a later one', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    // mov ecx, 300; L: dec ecx; jnz L; cpuid; hlt
    h.guest([0xB9, ...le32(300), 0xFF, 0xC9, 0x75, 0xFC, ...g64.cpuid, HLT]);
    const f = h.validFields();
    f.set('PIN_BASED_VM_EXEC_CONTROL', f.get('PIN_BASED_VM_EXEC_CONTROL')! | ctl('PIN_BASED_VMX_PREEMPTION_TIMER'));
    f.set('VMX_PREEMPTION_TIMER_VALUE', 2n);
    h.launch(f);
    assert.ok(h.atHostExit());
    const first = exitSeen(h), firstVmcs = vmcsNow(h);
    assert.equal(first.reason, 52, 'the timer expired inside the loop');
    const rcx = cpu.r[1];
    assert.ok(rcx > 0, 'the loop had not finished');
    // the second entry runs with a timer far away: the loop ends and CPUID exits
    h.resumeWith([['VMX_PREEMPTION_TIMER_VALUE', 1000000n]]);
    assert.equal(h.exitReason(), 10);

    r.hist.finish();
    let rec: HistoryRecord | undefined;
    do rec = r.hist.popAndRestore(); while (rec && rec.icount > first.icount - 20);
    assert.ok(rec);
    assert.equal(cpu.nonRoot, true, 'in the first run of the guest');
    assert.equal(h.v.timerActive, true);
    assert.equal(h.v.timerValue, 2, 'the first entry\'s timer value');
    assert.notEqual(cpu.events & EV_VMX, 0, 'the run loop looks at the timer at each boundary');
    h.resume();
    assert.ok(h.atHostExit());
    assert.deepEqual(exitSeen(h), first, 'the timer expires at the same instruction again');
    assert.equal(cpu.r[1], rcx);
    // the VMRESUME's VMWRITE is undone too: the VMCS is the first exit's, field for field
    assert.deepEqual(vmcsNow(h), firstVmcs);
  });

  it('stepping back to the instruction after STI keeps blocking by STI: the interrupt-window exit comes after it', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    // sti; nop; cpuid; hlt (RFLAGS.IF = 0 at entry)
    h.guest([0xFB, 0x90, ...g64.cpuid, HLT]);
    const f = h.validFields();
    f.set('CPU_BASED_VM_EXEC_CONTROL', f.get('CPU_BASED_VM_EXEC_CONTROL')! | ctl('CPU_BASED_INTR_WINDOW_EXITING'));
    h.launch(f);
    assert.ok(h.atHostExit());
    const first = exitSeen(h);
    assert.equal(first.reason, 7, 'interrupt window');
    assert.equal(first.guestRip, BigInt(GUEST_CODE + 2), 'after the instruction STI blocked for');

    backTo(r, GUEST_CODE + 1);
    assert.equal(cpu.nonRoot, true);
    assert.equal(cpu.shadow, true, 'the NOP runs in the STI shadow');
    h.resume();
    assert.ok(h.atHostExit());
    assert.deepEqual(exitSeen(h), first);
  });

  it('stepping back over VMXOFF, VMPTRLD and VMCLEAR restores the current VMCS, its launch state and VMX operation', () => {
    const r = rig(), h = r.h, cpu = h.cpu;
    h.guest([...g64.cpuid, ...g64.cpuid, HLT]);
    h.launch();
    assert.equal(h.exitReason(), 10);
    const tail = [...asm.vmclear(SCRATCH + 8), ...asm.vmptrld(SCRATCH + 8), ...asm.vmxoff];
    h.run(tail);
    assert.equal(h.v.inVmx, false);
    assert.equal(h.v.current, -1);

    backTo(r, CODE_BASE);
    assert.equal(h.v.inVmx, true);
    assert.equal(h.v.current, VMCS_A);
    assert.equal(h.v.vmcs.launch, LAUNCH_LAUNCHED, 'launched: VMRESUME is valid');
    assert.equal(cpu.nonRoot, false);
    h.resumeWith([['GUEST_RIP', BigInt(GUEST_CODE + 2)]]);
    assert.equal(h.exitReason(), 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(h.v.exitCount, 2);
  });

  it('VmxSnapshot notices and undoes a change of every number and boolean field of Vmx', () => {
    const h = new VmxHost();
    const v = h.v, cpu = h.cpu;
    const o = v as unknown as Record<string, number | boolean>;
    const keys = Object.keys(new Vmx(v.caps)).filter((k) => typeof o[k] === 'number' || typeof o[k] === 'boolean');
    assert.ok(keys.includes('eptRoot') && keys.includes('timerStart') && keys.length > 25, keys.join(' '));
    for (const k of keys) {
      const s = new VmxSnapshot(cpu, v);
      const was = o[k];
      o[k] = typeof was === 'boolean' ? !was : (was as number) + 7;
      assert.equal(s.matches(cpu, v), false, `a change of Vmx.${k} goes unnoticed`);
      s.apply(cpu, v);
      assert.equal(o[k], was, `Vmx.${k} is not restored`);
      assert.equal(s.matches(cpu, v), true);
    }
    const s = new VmxSnapshot(cpu, v);
    for (const [what, change, check] of [
      ['nonRoot', () => { cpu.nonRoot = true; }, () => cpu.nonRoot === false],
      ['eptActive', () => { cpu.eptActive = true; }, () => cpu.eptActive === false],
      ['mtf', () => { cpu.mtf = true; }, () => cpu.mtf === false],
      ['EV_VMX', () => { cpu.events |= EV_VMX; }, () => (cpu.events & EV_VMX) === 0],
      ['launch state', () => { v.vmcs.launch = LAUNCH_LAUNCHED; }, () => v.vmcs.launch === LAUNCH_CLEAR],
      ['last exit', () => { v.lastExit.qualification = 5; }, () => v.lastExit.qualification === 0],
    ] as [string, () => void, () => boolean][]) {
      change();
      assert.equal(s.matches(cpu, v), false, what);
      s.apply(cpu, v);
      assert.ok(check(), what);
    }
  });
});

// ---- the adapter, on a bare-metal VMM whose guest runs with EPT ----

const root = path.resolve(__dirname, '../../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
/** test/fixtures/debug/vmm-ept.asm: the guest (at 0x10800) reads 'G' at 0x50000 through EPT; the host reads 'H' there. */
const VMM_EPT = { program: 'test/fixtures/debug/vmm-ept.bin', format: 'flat', mode: 'long', loadAddress: '0x10000', history: { instructions: 100000 } };
const GUEST = 0x10800;
const DATA = 'qword [0x50000]';

async function start(dc: DebugClient, filters: DebugProtocol.ExceptionFilterOptions[], bp?: number): Promise<DebugProtocol.StoppedEvent> {
  await dc.start();
  await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
  (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await Promise.all([
    (async () => {
      await dc.waitForEvent('initialized');
      await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: filters });
      if (bp !== undefined) await dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${bp.toString(16)}` }] });
      await dc.configurationDoneRequest();
    })(),
    dc.launchRequest(VMM_EPT as DebugProtocol.LaunchRequestArguments),
  ]);
  return stopped;
}

async function evaluate(dc: DebugClient, expression: string): Promise<bigint> {
  const r = await dc.evaluateRequest({ expression, context: 'watch', frameId: 1000 });
  return BigInt(r.body.result);
}

async function act(dc: DebugClient, request: (args: { threadId: number }) => Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await request.call(dc, { threadId: 1 });
  return next;
}

async function threadName(dc: DebugClient): Promise<string> {
  return (await dc.threadsRequest()).body.threads[0].name;
}

/** The guest's program output (port 0xE9), without the adapter's own lines. */
function collectOutput(dc: DebugClient): string[] {
  const out: string[] = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => { if (!e.body.output.startsWith('vmx-debug:')) out.push(e.body.output); });
  return out;
}

describe('history: reverse execution across VMX transitions (debug adapter, EPT guest)', function () {
  this.timeout(60000);
  let dc: DebugClient;
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('steps back over a VM exit into the guest, which then reads through its EPT again and repeats the exit', async () => {
    dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
    dc.defaultTimeout = 30000;
    const ev = await start(dc, [{ filterId: 'vmexit:io' }]);
    assert.match(ev.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    assert.equal(await evaluate(dc, 'rax'), 0x47n, 'the guest read \'G\'');
    const rip = await evaluate(dc, 'vmcs.GUEST_RIP');
    const qual = await evaluate(dc, 'exit.qualification');
    assert.equal(rip, BigInt(GUEST + 8));

    assert.equal((await act(dc, dc.stepBackRequest)).body.reason, 'step');
    assert.match(await threadName(dc), /VMX non-root/);
    assert.equal(await evaluate(dc, 'rip'), BigInt(GUEST + 8));
    assert.equal(await evaluate(dc, DATA), 0x47n, 'the debugger reads the guest\'s 0x50000 through EPT');
    assert.equal((await act(dc, dc.stepBackRequest)).body.reason, 'step');
    assert.equal(await evaluate(dc, 'rip'), BigInt(GUEST));

    const again = await act(dc, dc.continueRequest);
    assert.match(again.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    assert.equal(await evaluate(dc, 'rax'), 0x47n, 'the replayed guest load went through EPT');
    assert.equal(await evaluate(dc, 'vmcs.GUEST_RIP'), rip);
    assert.equal(await evaluate(dc, 'exit.qualification'), qual);
    assert.equal(await evaluate(dc, 'exit.reason'), 30n);
  });

  it('reverse-continues from inside the guest to the start, then runs to the same exits and output', async () => {
    dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
    dc.defaultTimeout = 30000;
    const out = collectOutput(dc);
    const ev = await start(dc, [{ filterId: 'vmexit:io' }], GUEST);
    assert.equal(ev.body.reason, 'instruction breakpoint');
    assert.match(await threadName(dc), /VMX non-root/);
    assert.equal(await evaluate(dc, DATA), 0x47n);

    const back = await act(dc, dc.reverseContinueRequest);
    assert.match(back.body.description ?? '', /start of the history/);
    assert.doesNotMatch(await threadName(dc), /non-root/);

    // with the breakpoint gone, the first stop is the first I/O exit
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    const exits: [bigint, bigint, bigint][] = [];
    for (let k = 0; k < 2; k++) {
      const e = await act(dc, dc.continueRequest);
      assert.match(e.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
      exits.push([await evaluate(dc, 'vmcs.GUEST_RIP'), await evaluate(dc, 'rax') & 0xFFn, await evaluate(dc, 'r15')]);
    }
    assert.deepEqual(exits, [[BigInt(GUEST + 8), 0x47n, 0x48n], [BigInt(GUEST + 18), 0x67n, 0x48n]],
      'the guest read \'G\' and \'g\' through EPT, the host \'H\' without it');
    const ended = dc.waitForEvent('terminated');
    await dc.continueRequest({ threadId: 1 });
    await ended;
    assert.equal(out.join(''), 'GgH\n');
  });
});
