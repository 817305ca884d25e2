import { strict as assert } from 'assert';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/**
 * The VMX parts of the adapter through DebugClient against dist/debugAdapter.js, on a bare-metal
 * VMM fixture (test/fixtures/debug/vmm.asm): VM-exit filters with conditions, decoded exceptionInfo,
 * failed VMLAUNCH naming the check, the VMCS scope and edits, custom requests, VMCS data
 * breakpoints and reverse execution back to the previous VM exit.
 */

const root = path.resolve(__dirname, '../../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
const VMM = 'test/fixtures/debug/vmm.bin';
const VMM_BAD = 'test/fixtures/debug/vmm-bad.bin';
const BASE = { format: 'flat', mode: 'long', loadAddress: '0x10000' };

function newClient(): DebugClient {
  const dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
  dc.defaultTimeout = 15000;
  return dc;
}

async function start(dc: DebugClient, args: Record<string, unknown>, filters: DebugProtocol.ExceptionFilterOptions[], plain: string[] = ['vm entry failure', 'vmfail']): Promise<DebugProtocol.StoppedEvent> {
  await dc.start();
  const init = await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path', linesStartAt1: true, columnsStartAt1: true });
  assert.ok(init.body?.supportsStepBack);
  assert.ok(init.body?.exceptionBreakpointFilters?.some((f) => f.filter === 'vmexit:io' && f.supportsCondition));
  (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
  const stopped = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
  await Promise.all([
    (async () => {
      await dc.waitForEvent('initialized');
      await dc.setExceptionBreakpointsRequest({ filters: plain, filterOptions: filters });
      await dc.configurationDoneRequest();
    })(),
    dc.launchRequest({ program: VMM, ...BASE, ...args } as DebugProtocol.LaunchRequestArguments),
  ]);
  return stopped;
}

async function scope(dc: DebugClient, name: string): Promise<DebugProtocol.Scope> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  const scopes = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
  const s = scopes.body.scopes.find((x) => x.name === name);
  assert.ok(s, `scope ${name} in ${scopes.body.scopes.map((x) => x.name)}`);
  return s;
}

async function vars(dc: DebugClient, ref: number): Promise<Map<string, DebugProtocol.Variable>> {
  const v = await dc.variablesRequest({ variablesReference: ref });
  return new Map(v.body.variables.map((x) => [x.name, x]));
}

async function evaluate(dc: DebugClient, expression: string): Promise<string> {
  const r = await dc.evaluateRequest({ expression, context: 'watch', frameId: 1000 });
  return r.body.result;
}

describe('debug adapter: VMX', function () {
  this.timeout(30000);
  let dc: DebugClient;
  afterEach(async () => {
    await dc.stop().catch(() => undefined);
  });

  it('stops on a VM exit for out 0x80, al with the decoded exit', async () => {
    dc = newClient();
    const ev = await start(dc, {}, [{ filterId: 'vmexit:io', condition: 'port == 0x80' }]);
    assert.equal(ev.body.reason, 'exception');
    assert.match(ev.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'EXIT_REASON_IO_INSTRUCTION');
    const d = (info.body.details as unknown as { vmx: { reason: number; fields: Record<string, number>; instruction: string; guestRip: string } }).vmx;
    assert.equal(d.reason, 30);
    assert.equal(d.fields.port, 0x80);
    assert.equal(d.fields.size, 0);
    assert.equal(d.fields.direction, 0);
    assert.equal(d.fields.string, 0);
    assert.equal(d.fields.rep, 0);
    assert.equal(d.instruction, 'out 0x80, al');
    assert.match(d.guestRip, /^0x1[0-9a-f]{4}$/);
    // thread name and expressions
    const th = await dc.threadsRequest();
    assert.match(th.body.threads[0].name, /VMX root/);
    assert.equal(await evaluate(dc, 'exit.reason'), '0x000000000000001e');
    assert.equal(BigInt(await evaluate(dc, 'exit.port')), 0x80n);
    assert.equal(BigInt(await evaluate(dc, 'vmcs.VM_EXIT_REASON')), 30n);
    // the Last VM exit scope
    const last = await vars(dc, (await scope(dc, 'Last VM exit')).variablesReference);
    assert.match(last.get('reason')!.value, /^30: I\/O instruction/);
    assert.equal(last.get('instruction')!.value, 'out 0x80, al');
    // stats and history
    const stats = await dc.customRequest('vmx/exitStats');
    assert.equal(stats.body.total, 1);
    assert.deepEqual(stats.body.byPort, [{ port: '0x80', in: 0, out: 1 }]);
    const hist = await dc.customRequest('vmx/exitHistory');
    assert.equal(hist.body.exits[0].reason, 30);
    assert.ok(hist.body.exits[0].icount > 0);
  });

  it('filter conditions: leaf == 1 stops on CPUID, a false condition lets exits pass', async () => {
    dc = newClient();
    const ev = await start(dc, {}, [{ filterId: 'vmexit:io', condition: 'port == 0x81' }, { filterId: 'vmexit:cpuid', condition: 'leaf == 1' }]);
    assert.match(ev.body.description ?? '', /^VM exit: CPUID \(10\)/);
    const stats = await dc.customRequest('vmx/exitStats');
    assert.equal(stats.body.total, 2, 'the OUT exit passed');
  });

  it('the last exit keeps its facts while the VMM changes RAX, RCX and GUEST_RIP after it', async () => {
    dc = newClient();
    const ev = await start(dc, {}, [{ filterId: 'vmexit:cpuid' }]);
    assert.match(ev.body.description ?? '', /^VM exit: CPUID \(10\)/);
    const rip = BigInt(await evaluate(dc, 'exit.rip'));
    // the handler: mov eax, 0x4402 ; vmread rbx, rax ; cmp ; je ; mov eax, 0x681E ; vmread rcx, rax ;
    // mov eax, 0x440C ; vmread rdx, rax ; add rcx, rdx ; mov eax, 0x681E ; vmwrite rax, rcx
    for (let k = 0; k < 11; k++) {
      const stopped = dc.waitForEvent('stopped');
      await dc.nextRequest({ threadId: 1 });
      await stopped;
    }
    assert.equal(BigInt(await evaluate(dc, 'rax')), 0x681En, 'the VMM changed RAX');
    assert.equal(BigInt(await evaluate(dc, 'vmcs.GUEST_RIP')), rip + 2n, 'and GUEST_RIP');
    assert.equal(BigInt(await evaluate(dc, 'exit.leaf')), 1n);
    assert.equal(BigInt(await evaluate(dc, 'exit.subleaf')), 0n);
    assert.equal(BigInt(await evaluate(dc, 'exit.rip')), rip);
    const last = await vars(dc, (await scope(dc, 'Last VM exit')).variablesReference);
    assert.match(last.get('instruction')!.value, /^cpuid/);
    const hist = await dc.customRequest('vmx/exitHistory');
    assert.deepEqual(hist.body.exits.map((e: { reason: number; summary: string }) => [e.reason, e.summary]),
      [[30, 'out 0x80, al (port 0x0080, 1 byte)'], [10, 'CPUID leaf 0x1 subleaf 0x0']]);
  });

  it('a failed VMLAUNCH stops naming the check, its section and the field', async () => {
    dc = newClient();
    const ev = await start(dc, { program: VMM_BAD }, []).catch((e) => { throw e; });
    assert.equal(ev.body.reason, 'exception');
    assert.match(ev.body.description ?? '', /VM-entry failure \(VMLAUNCH\): check C19 \(SDM 27\.2\.3.*HOST_TR_SELECTOR/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.match(info.body.description ?? '', /VMfailValid\(8\)/);
    assert.match(info.body.description ?? '', /VM entry with invalid host-state field/);
  });

  it('the VMCS scope shows the fields, edits are checked and take effect', async () => {
    dc = newClient();
    await start(dc, {}, [{ filterId: 'vmexit:io' }]);
    const top = await vars(dc, (await scope(dc, 'VMCS')).variablesReference);
    assert.match(top.get('current VMCS')!.value, /^0x21000$/);
    const guest = await vars(dc, top.get('Guest-state area')!.variablesReference);
    const rip = guest.get('GUEST_RIP')!;
    assert.match(rip.type ?? '', /^0x681E, natural-width/);
    assert.equal(rip.evaluateName, 'vmcs.GUEST_RIP');
    const exec = await vars(dc, top.get('VM-execution control fields')!.variablesReference);
    const proc = exec.get('CPU_BASED_VM_EXEC_CONTROL')!;
    const bits = await vars(dc, proc.variablesReference);
    assert.equal(bits.get('CPU_BASED_HLT_EXITING')!.value, '1');
    assert.equal(bits.get('CPU_BASED_UNCOND_IO_EXITING')!.value, '1');
    const io = exec.get('IO_BITMAP_A');
    if (io) assert.equal(io.memoryReference, undefined, 'a null pointer has no memory reference');
    // a control value the capability MSRs do not allow is refused with the reason
    await assert.rejects(dc.setVariableRequest({ variablesReference: exec.get('PIN_BASED_VM_EXEC_CONTROL')!.variablesReference ? top.get('VM-execution control fields')!.variablesReference : 0, name: 'PIN_BASED_VM_EXEC_CONTROL', value: '0' }), /must be 1/);
    // a valid edit takes effect: clear unconditional I/O exiting, then the next exit is CPUID
    const cleared = BigInt(proc.value.split(' ')[0]) & ~(1n << 24n);
    const r = await dc.setVariableRequest({ variablesReference: top.get('VM-execution control fields')!.variablesReference, name: 'CPU_BASED_VM_EXEC_CONTROL', value: `0x${cleared.toString(16)}` });
    assert.equal(BigInt(r.body.value.split(' ')[0]), cleared);
    const w = await dc.customRequest('vmx/writeVmcs', { field: 'EXCEPTION_BITMAP', value: 0 });
    assert.equal(w.body.value, '0x0');
    const read = await dc.customRequest('vmx/readVmcs');
    const f = (read.body.vmcs[0].fields as { name: string; value: string; encoding: string; area: string }[]).find((x) => x.name === 'CPU_BASED_VM_EXEC_CONTROL')!;
    assert.equal(BigInt(f.value), cleared);
    assert.equal(f.encoding, '0x4002');
    assert.equal(read.body.vmcs[0].fields.length > 100, true);
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'vmexit:io' }, { filterId: 'vmexit:cpuid' }] });
    const next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.match((await next).body.description ?? '', /^VM exit: CPUID/);
  });

  it('a data breakpoint on a VMCS field stops at the VMWRITE', async () => {
    dc = newClient();
    await start(dc, {}, [{ filterId: 'vmexit:io' }]);
    const info = await dc.dataBreakpointInfoRequest({ name: 'vmcs.GUEST_RIP' });
    assert.equal(info.body.dataId, 'vmcs:GUEST_RIP');
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId! }] });
    assert.ok(set.body.breakpoints[0].verified);
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    const next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    const ev = await next;
    assert.equal(ev.body.reason, 'data breakpoint');
    assert.match(ev.body.description ?? '', /VMWRITE to GUEST_RIP/);
  });

  it('reverse-continue goes back to the previous VM exit, restoring registers and memory', async () => {
    dc = newClient();
    await start(dc, { history: { instructions: 100000 } }, [{ filterId: 'vmexit:io' }, { filterId: 'vmexit:cpuid' }]);
    const firstRip = await evaluate(dc, 'rip');
    // `exits` (vmm.lst: offset 0x3c8) counts the exits the VMM handled: memory the history must restore
    const EXITS = 'qword [0x103c8]';
    assert.equal(BigInt(await evaluate(dc, EXITS)), 0n);
    let next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.match((await next).body.description ?? '', /^VM exit: CPUID/);
    assert.equal(BigInt(await evaluate(dc, 'exit.reason')), 10n);
    assert.equal(BigInt(await evaluate(dc, EXITS)), 1n);
    next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.reverseContinueRequest({ threadId: 1 });
    const back = await next;
    assert.match(back.body.description ?? '', /^VM exit: I\/O instruction \(30\)/);
    assert.equal(await evaluate(dc, 'rip'), firstRip);
    assert.equal(BigInt(await evaluate(dc, 'exit.reason')), 30n);
    assert.equal(BigInt(await evaluate(dc, EXITS)), 0n, 'memory restored');
    // one step back, then forward again to the same exit
    next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.stepBackRequest({ threadId: 1 });
    assert.equal((await next).body.reason, 'step');
    const th = await dc.threadsRequest();
    assert.match(th.body.threads[0].name, /VMX non-root/);
    next = dc.waitForEvent('stopped') as Promise<DebugProtocol.StoppedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.match((await next).body.description ?? '', /^VM exit: I\/O instruction/);
    assert.equal(await evaluate(dc, 'rip'), firstRip);
  });

  it('rejects a bad cpuModel and history attribute naming them', async () => {
    dc = newClient();
    await dc.start();
    await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path' });
    await assert.rejects(dc.launchRequest({ program: VMM, cpuModel: 'pentium' } as DebugProtocol.LaunchRequestArguments), /cpuModel/);
    await assert.rejects(dc.launchRequest({ program: VMM, history: 5 } as DebugProtocol.LaunchRequestArguments), /history/);
    await assert.rejects(dc.launchRequest({ program: VMM, stopOnVmExit: ['io', 'nope'] } as DebugProtocol.LaunchRequestArguments), /stopOnVmExit\[1\]/);
  });
});
