import { spawn } from 'child_process';
import * as path from 'path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';

/**
 * Adapter benchmark (npm run bench:adapter): through DebugClient against dist/debugAdapter.js,
 *   - median time from a `next` request to its `stopped` event,
 *   - median time of stackTrace + scopes + variables of the VMCS scope (all six areas),
 *   - the guest's MIPS with 1000 breakpoints set versus none (target: within 5%),
 *   - the guest's MIPS on the bare-metal I/O-exit workload under the debugger (every exit is
 *     observed: decoded for the VM-exit list and the stop filters),
 *   - the same for a guest of the built-in monitor (launch attribute `monitor`),
 *   - the guest's MIPS with reverse execution recording (history on): the ALU loop (no VMX
 *     instruction at all) and the bare-metal I/O-exit workload (a VM exit and VMRESUME every ~15
 *     instructions), 500k instructions each.
 */

void spawn;
const root = path.resolve(__dirname, '../..');
const adapter = path.join(root, 'dist/debugAdapter.js');
const VMM = { program: 'test/fixtures/debug/vmm.bin', format: 'flat', mode: 'long', loadAddress: '0x10000' };
const LOOP = { program: 'bench/workloads/alu64.bin', format: 'flat', mode: 'long' };
const HISTORY = { history: { instructions: 100000 }, maxInstructions: 500000 };
const VMX_IO_PLAIN = { program: 'bench/workloads/vmxio64-bare.bin', format: 'flat', mode: 'long' };
const VMX_IO = { ...VMX_IO_PLAIN, ...HISTORY };
/** The post-loop guest (an OUT to port 0x80 every 3 instructions) under the built-in monitor. */
const MONITOR_IO = { program: 'bench/workloads/vmxio64-guest.bin', format: 'flat', mode: 'long', monitor: { io: { exiting: 'unconditional' } } };

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function client(args: Record<string, unknown>, filters: DebugProtocol.ExceptionFilterOptions[] = []): Promise<DebugClient> {
  const dc = new DebugClient('node', adapter, 'vmx', { cwd: root }, true);
  dc.defaultTimeout = 60000;
  await dc.start();
  await dc.initializeRequest({ adapterID: 'vmx', pathFormat: 'path' });
  (dc as unknown as { _supportsConfigurationDoneRequest: boolean })._supportsConfigurationDoneRequest = true;
  const stopped = dc.waitForEvent('stopped');
  await Promise.all([
    (async () => { await dc.waitForEvent('initialized'); await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: filters }); await dc.configurationDoneRequest(); })(),
    dc.launchRequest({ ...args } as DebugProtocol.LaunchRequestArguments),
  ]);
  await stopped;
  return dc;
}

async function stepLatency(): Promise<number> {
  const dc = await client({ ...VMM, stopOnEntry: true });
  const t: number[] = [];
  for (let k = 0; k < 200; k++) {
    const ev = dc.waitForEvent('stopped');
    const t0 = performance.now();
    await dc.nextRequest({ threadId: 1, granularity: 'instruction' });
    await ev;
    t.push(performance.now() - t0);
  }
  await dc.stop();
  return median(t);
}

async function vmcsView(): Promise<number> {
  const dc = await client(VMM, [{ filterId: 'vmexit:io' }]);
  const t: number[] = [];
  for (let k = 0; k < 50; k++) {
    const t0 = performance.now();
    const st = await dc.stackTraceRequest({ threadId: 1 });
    const sc = await dc.scopesRequest({ frameId: st.body.stackFrames[0].id });
    const vmcs = sc.body.scopes.find((s) => s.name === 'VMCS')!;
    const top = await dc.variablesRequest({ variablesReference: vmcs.variablesReference });
    await Promise.all(top.body.variables.filter((v) => v.variablesReference).map((v) => dc.variablesRequest({ variablesReference: v.variablesReference })));
    t.push(performance.now() - t0);
  }
  await dc.stop();
  return median(t);
}

/** Runs the workload to its end and returns MIPS from the instruction count the adapter reports. */
async function mips(breakpoints: number, args: Record<string, unknown> = LOOP): Promise<number> {
  const dc = await client({ ...args, stopOnEntry: true });
  if (breakpoints) {
    // addresses away from the workload: they cost only through the CPU's breakpoint set
    const bps = Array.from({ length: breakpoints }, (_, k) => ({ instructionReference: `0x${(0x800000 + k * 16).toString(16)}` }));
    await dc.customRequest('setInstructionBreakpoints', { breakpoints: bps });
  }
  let icount = 0;
  const done = new Promise<void>((resolve) => {
    dc.on('output', (e: DebugProtocol.OutputEvent) => {
      const m = /after (\d+) instructions/.exec(e.body.output);
      if (m) icount = Number(m[1]);
    });
    dc.on('terminated', () => resolve());
  });
  const t0 = performance.now();
  await dc.continueRequest({ threadId: 1 });
  await done;
  const dt = (performance.now() - t0) / 1000;
  await dc.stop();
  return icount / dt / 1e6;
}

async function main(): Promise<void> {
  const next = await stepLatency();
  console.log(`adapter: next -> stopped                      median ${next.toFixed(2)} ms`);
  const view = await vmcsView();
  console.log(`adapter: stackTrace+scopes+VMCS variables     median ${view.toFixed(2)} ms`);
  const runs = (n: number, args = LOOP) => Promise.resolve().then(async () => { const r: number[] = []; for (let k = 0; k < 3; k++) r.push(await mips(n, args)); return median(r); });
  const none = await runs(0);
  const many = await runs(1000);
  console.log(`adapter: guest MIPS, no breakpoints            ${none.toFixed(1)}`);
  console.log(`adapter: guest MIPS, 1000 breakpoints          ${many.toFixed(1)} (${(((many - none) / none) * 100).toFixed(1)}%, target within 5%)`);
  const vmxPlain = await runs(0, VMX_IO_PLAIN);
  console.log(`adapter: guest MIPS, VM exits (no history)    ${vmxPlain.toFixed(2)}`);
  const monitor = await runs(0, MONITOR_IO);
  console.log(`adapter: guest MIPS, monitor guest's exits     ${monitor.toFixed(2)}`);
  const hist = await runs(0, { ...LOOP, ...HISTORY });
  console.log(`adapter: guest MIPS, history on (ALU loop)     ${hist.toFixed(3)}`);
  const histVmx = await runs(0, VMX_IO);
  console.log(`adapter: guest MIPS, history on (VM exits)     ${histVmx.toFixed(3)}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
