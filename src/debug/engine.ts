import type { Machine, RunOutcome } from '../machine/machine';
import { EXIT_LIMIT } from '../machine/machine';
import type { SourceLocation } from './symbols/types';
import { GuestMemory, hexAddr } from './memory';
import { analyzeAt, isReturnAt, linearPc } from './instructions';
import type { Watch } from '../cpu/cpu';
import { readRip, u64 } from './registers';
import type { CpuException, StopInfo } from './stops';
import type { ExecutionHistory } from './history';

/**
 * The execution engine: runs the machine in bounded slices (about 10 ms of instructions, adapted
 * to the measured speed) with a macrotask between slices, so the session answers pause, breakpoint
 * changes and reads within milliseconds while the guest runs. It owns breakpoints as the CPU sees
 * them, stepping plans and the decision whether an event stops the guest; it knows nothing about
 * DAP and reports through EngineHost.
 *
 * Two ways of running:
 *   fast    Machine.run with an instruction budget; the CPU's own breakpoint set (checked per block,
 *           free when empty) stops it at breakpoints and at the temporary breakpoint of step-over.
 *   single  one instruction per Machine.run call, with checks between instructions: step-in,
 *           step-out and line stepping.
 * Data breakpoints are CPU watches (Cpu.addWatch): only accesses to watched pages pay for them.
 */

export type CodeBreakpointKind = 'source' | 'function' | 'instruction';

export interface CodeBreakpoint {
  id: number;
  kind: CodeBreakpointKind;
  address: bigint;
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
  hits: number;
}

/** A data breakpoint on guest-linear memory, carried out by a CPU watch. */
export interface DataBreakpoint {
  id: number;
  address: bigint;
  size: number;
  access: 'read' | 'write' | 'readWrite';
  condition?: string;
  hitCondition?: string;
  hits: number;
}

export interface EngineHost {
  stopped(stop: StopInfo): void;
  ended(outcome: RunOutcome): void;
  output(text: string, category: 'console' | 'stdout' | 'stderr' | 'important'): void;
  /** Evaluates a condition; throws on a bad expression. `extra` adds names (vector, error...). */
  evaluate(expression: string, extra?: Record<string, bigint>): bigint;
  /** A logpoint message with {expression} parts replaced. */
  interpolate(message: string): string;
  lineForAddress(address: bigint): SourceLocation | undefined;
  hasLineInfo(): boolean;
  /** Should this exception stop the guest (exception filters)? */
  stopOnException(vector: number, errorCode: number): boolean;
  /** Is the filter of this terminal kind on ('halt', 'triple fault')? */
  stopOnEnd(kind: 'halt' | 'triple fault'): boolean;
  /**
   * After every run of the machine (a slice or one instruction): did something happen that stops
   * the guest (a VM exit a filter wants)? The VMX layer answers; null goes on.
   */
  afterRun?(): StopInfo | null;
  /** The stop to report when reverse execution arrives right after a VM exit. */
  describeCurrentExit?(): StopInfo | null;
  /** State was restored from the history: forget cached views. */
  afterReverse?(): void;
  /** The guest is about to run (continue or step). */
  beforeRun?(): void;
  /** Can input still arrive from outside (a serial terminal)? Then a guest idle in HLT waits for it instead of ending. */
  inputPossible?(): boolean;
}

export type EngineState = 'stopped' | 'running' | 'ended';
export type StepKind = 'in' | 'over' | 'out';
export type Granularity = 'instruction' | 'line';

interface TempBreakpoint {
  address: bigint;
  /** Counts only when the stack pointer is at least this (the frame that set it, not a deeper one). */
  minSp: bigint;
}

interface Plan {
  /** Per-instruction mode needed right now. */
  single: boolean;
  temp?: TempBreakpoint;
  /** Reached `temp` at the right depth: true stops. */
  onTemp?(): boolean;
  /** Before each instruction in single mode. */
  before?(): void;
  /** After each instruction in single mode: true stops with reason step. */
  after?(): boolean;
}

const SLICE_MS = 10;
const MIN_BUDGET = 1_000;
const MAX_BUDGET = 50_000_000;

const schedule: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (fn) => { setImmediate(fn); }
    : (fn) => { setTimeout(fn, 0); };

const now: () => number = typeof performance !== 'undefined' ? () => performance.now() : () => Date.now();

/** "N" (at least N), ">= N", "> N", "== N", "< N", "<= N", "% N" (every Nth). */
export function parseHitCondition(text: string): ((hits: number) => boolean) | string {
  const m = /^\s*(>=|<=|==|=|>|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) return `hit condition '${text}' is not understood: write a count such as 5, or >= 5, == 5, > 5, < 5, % 5`;
  const n = Number(m[2]);
  switch (m[1]) {
    case '>': return (h) => h > n;
    case '==': case '=': return (h) => h === n;
    case '<': return (h) => h < n;
    case '<=': return (h) => h <= n;
    case '%': return n === 0 ? 'hit condition % 0: the divisor must be at least 1' : (h) => h % n === 0;
    default: return (h) => h >= n;
  }
}

export class Engine {
  readonly memory: GuestMemory;
  state: EngineState = 'stopped';
  private code: CodeBreakpoint[] = [];
  private data: DataBreakpoint[] = [];
  private plan: Plan | null = null;
  private pauseRequested = false;
  /** Running, but the guest waits in HLT for input (serial terminal): no slices until wake(). */
  private waitingForInput = false;
  private budget = 200_000;
  private sliceScheduled = false;
  /** The next exception the guest raises is delivered (we already stopped on it). */
  private passException = false;
  private pendingException: CpuException | null = null;
  /** A terminal event we already stopped on: the next one ends the session. */
  private reportedEnd: 'halt' | 'triple fault' | null = null;
  private lastStop: StopInfo | null = null;
  /** Data breakpoints hit by the instruction being stepped. */
  /** CPU watches standing for the data breakpoints. */
  private readonly watches = new Map<Watch, DataBreakpoint>();

  /** A stop decided by an event inside the run (VMX observer), taken at the next instruction. */
  private pendingEvent: StopInfo | null = null;
  private eventAddr: number | null = null;
  /** Addresses where the CPU must return to the engine without a user breakpoint (HOST_RIP while in VMX). */
  private readonly sentinels = new Set<number>();
  /** Execution history for stepBack / reverseContinue (null when the launch did not ask for it). */
  history: ExecutionHistory | null = null;

  constructor(readonly machine: Machine, private readonly host: EngineHost, readonly maxInstructions = Infinity) {
    this.memory = new GuestMemory(machine);
    machine.cpu.onException = (vec, err, why) => this.onCpuException(vec, err, why);
  }

  get cpu() {
    return this.machine.cpu;
  }

  // ---- breakpoints ------------------------------------------------------------------------------

  /** Replaces the code breakpoints of one kind; takes effect immediately, also while running. */
  setCodeBreakpoints(kind: CodeBreakpointKind, list: CodeBreakpoint[]): void {
    this.code = this.code.filter((b) => b.kind !== kind).concat(list);
    this.syncCpuBreakpoints();
  }

  /**
   * Replaces the data breakpoints. Each becomes a CPU watch: pages holding a watched range skip the
   * TLB and are checked per access, so the guest keeps running at full speed elsewhere.
   */
  setDataBreakpoints(list: DataBreakpoint[]): void {
    for (const w of this.watches.keys()) this.cpu.removeWatch(w);
    this.watches.clear();
    this.data = list;
    for (const b of list) {
      const w = this.cpu.addWatch(Number(BigInt.asIntN(64, b.address)), b.size, b.access !== 'write', b.access !== 'read');
      this.watches.set(w, b);
    }
  }

  codeBreakpoints(): readonly CodeBreakpoint[] {
    return this.code;
  }

  private static key(a: bigint): number {
    return Number(BigInt.asIntN(64, a));
  }

  /**
   * Called while the guest runs (from a VMX observer): stop before the instruction at linear
   * address `nextLinear` with `stop`. The first event of a run wins.
   */
  requestEventStop(stop: StopInfo, nextLinear: number): void {
    if (this.pendingEvent) return;
    this.pendingEvent = stop;
    this.eventAddr = nextLinear;
    if (!this.cpu.breakpoints.has(nextLinear)) {
      this.cpu.breakpoints.add(nextLinear);
      this.cpu.flushCode();
    }
  }

  /** Makes the CPU return at `address` (no stop by itself); changing the set flushes decoded code. */
  setSentinel(address: number | null): void {
    if (address === null ? this.sentinels.size === 0 : this.sentinels.size === 1 && this.sentinels.has(address)) return;
    this.sentinels.clear();
    if (address !== null) this.sentinels.add(address);
    if (address !== null && this.cpu.breakpoints.has(address)) return;
    this.syncCpuBreakpoints();
  }

  private syncCpuBreakpoints(): void {
    const want = new Set<number>(this.code.map((b) => Engine.key(b.address)));
    for (const a of this.sentinels) want.add(a);
    if (this.eventAddr !== null) want.add(this.eventAddr);
    if (this.plan?.temp) want.add(Engine.key(this.plan.temp.address));
    const have = this.cpu.breakpoints;
    if (want.size === have.size && [...want].every((k) => have.has(k))) return;
    have.clear();
    for (const k of want) have.add(k);
    this.cpu.flushCode();
  }

  // ---- control ------------------------------------------------------------------------------------

  private sp(): bigint {
    const cpu = this.cpu;
    const v = (BigInt(cpu.rh[4] >>> 0) << 32n) | BigInt(cpu.r[4] >>> 0);
    return cpu.mode64 ? v : v & 0xFFFFFFFFn;
  }

  continue(): void {
    this.start({ single: false });
  }

  pause(): void {
    if (this.state !== 'running') return;
    this.pauseRequested = true;
    if (this.waitingForInput) {
      this.waitingForInput = false;
      this.stop({ kind: 'pause' });
    }
  }

  /** Input arrived (serial terminal): a guest waiting for it runs again. */
  wake(): void {
    if (this.state === 'running' && this.waitingForInput) {
      this.waitingForInput = false;
      this.scheduleSlice();
    }
  }

  step(kind: StepKind, granularity: Granularity): void {
    const lineMode = granularity === 'line' && this.host.hasLineInfo() && this.host.lineForAddress(linearPc(this.cpu)) !== undefined;
    if (kind === 'out') {
      this.start(this.stepOutPlan());
      return;
    }
    if (!lineMode) {
      this.start(kind === 'over' ? this.overInstructionPlan() : { single: true, after: () => true });
      return;
    }
    this.start(this.linePlan(kind === 'over'));
  }

  /**
   * Reverse execution over the recorded history: one instruction back (stepBack), or back until
   * a code breakpoint, the point right after a VM exit, or the start of the history
   * (reverseContinue). Synchronous: reports a stop before returning.
   */
  reverse(kind: 'step' | 'continue'): void {
    const h = this.history;
    if (!h) throw new Error('reverse execution is off: set the launch attribute "history": { "instructions": N }');
    if (this.state === 'ended') return;
    h.finish();
    if (!h.length) {
      this.stop({ kind: 'history start', detail: 'no earlier instruction is recorded' });
      return;
    }
    const bps = new Set<number>(this.code.map((b) => Engine.key(b.address)));
    let n = 0;
    for (;;) {
      const rec = h.popAndRestore();
      if (!rec) {
        this.afterReverse();
        this.stop({ kind: 'history start', detail: `reached the start of the recorded history (${n} instruction${n === 1 ? '' : 's'} back)` });
        return;
      }
      n++;
      if (kind === 'step') break;
      if (rec.afterVmExit) {
        this.afterReverse();
        const s = this.host.describeCurrentExit?.();
        this.stop(s ?? { kind: 'step' });
        return;
      }
      if (bps.has(this.cpu.linearRip())) {
        this.afterReverse();
        const pc = linearPc(this.cpu);
        const ids = this.code.filter((b) => b.address === pc).map((b) => b.id);
        this.stop({ kind: 'breakpoint', breakpointKind: this.code.find((b) => b.address === pc)?.kind, hitBreakpointIds: ids });
        return;
      }
    }
    this.afterReverse();
    this.stop({ kind: 'step' });
  }

  private afterReverse(): void {
    this.reportedEnd = null;
    this.passException = false;
    this.pendingException = null;
    this.host.afterReverse?.();
  }

  /** Moves RIP to a linear address in the current code segment; the session reports a 'goto' stop. */
  goto(address: bigint): void {
    const cpu = this.cpu;
    const base = cpu.mode64 ? BigInt.asUintN(64, BigInt(cpu.effBase[1])) : BigInt(cpu.segBase[1] >>> 0);
    let rip = BigInt.asUintN(64, address - base);
    if (!cpu.mode64) rip &= 0xFFFFFFFFn;
    if (!cpu.mode64 && rip > BigInt(cpu.segLimit[1] >>> 0)) {
      throw new Error(`${hexAddr(address)} is outside the current code segment (base ${hexAddr(base)}, limit 0x${(cpu.segLimit[1] >>> 0).toString(16)})`);
    }
    cpu.rip = cpu.mode64 ? Number(BigInt.asIntN(64, rip)) : Number(rip);
    cpu.halted = false;
    this.reportedEnd = null;
  }

  private overInstructionPlan(): Plan {
    const cpu = this.cpu;
    const pc = linearPc(cpu);
    const f = analyzeAt(this.memory, cpu, pc);
    if (f && (f.isCall || f.isInterrupt || f.isRepString)) {
      return { single: false, temp: { address: pc + BigInt(f.length), minSp: this.sp() }, onTemp: () => true };
    }
    return { single: true, after: () => true };
  }

  private stepOutPlan(): Plan {
    const startSp = this.sp();
    let returning = false;
    return {
      single: true,
      before: () => {
        returning = this.sp() >= startSp && isReturnAt(this.memory, this.cpu, linearPc(this.cpu));
      },
      after: () => returning,
    };
  }

  private linePlan(over: boolean): Plan {
    const start = this.host.lineForAddress(linearPc(this.cpu))!;
    const same = (l: SourceLocation | undefined) => l !== undefined && l.line === start.line && l.file === start.file;
    const startPc = linearPc(this.cpu);
    const plan: Plan = {
      single: true,
      before: () => {
        if (!over || plan.temp) return;
        const pc = linearPc(this.cpu);
        const f = analyzeAt(this.memory, this.cpu, pc);
        if (f && (f.isCall || f.isInterrupt || f.isRepString)) {
          plan.temp = { address: pc + BigInt(f.length), minSp: this.sp() };
          plan.single = false;
          this.syncCpuBreakpoints();
        }
      },
      after: () => {
        const pc = linearPc(this.cpu);
        const here = this.host.lineForAddress(pc);
        if (!same(here)) return true;
        // back at the start of the same line: a loop iteration counts as a new line
        return pc === startPc;
      },
      onTemp: () => {
        plan.temp = undefined;
        plan.single = true;
        this.syncCpuBreakpoints();
        return plan.after!();
      },
    };
    return plan;
  }

  private start(plan: Plan): void {
    if (this.state === 'ended') return;
    if (this.lastStop?.kind === 'exception') this.passException = true;
    this.plan = plan;
    this.host.beforeRun?.();
    this.syncCpuBreakpoints();
    this.pauseRequested = false;
    this.state = 'running';
    this.resumeFromBreakpoint = true;
    this.lastStop = null;
    this.scheduleSlice();
  }

  private resumeFromBreakpoint = false;

  private scheduleSlice(): void {
    if (this.sliceScheduled) return;
    this.sliceScheduled = true;
    schedule(() => {
      this.sliceScheduled = false;
      this.slice();
    });
  }

  /** Reports a stop (entry, goto) decided by the session rather than by running. */
  reportStop(stop: StopInfo): void {
    this.stop(stop);
  }

  private stop(stop: StopInfo): void {
    this.state = 'stopped';
    this.waitingForInput = false;
    this.plan = null;
    this.pendingEvent = null;
    this.eventAddr = null;
    this.syncCpuBreakpoints();
    this.pauseRequested = false;
    this.lastStop = stop;
    this.host.stopped(stop);
  }

  end(outcome: RunOutcome): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    this.waitingForInput = false;
    this.plan = null;
    this.host.ended(outcome);
  }

  // ---- running ----------------------------------------------------------------------------------

  private slice(): void {
    if (this.state !== 'running') return;
    const t0 = now();
    try {
      this.runFor(t0 + SLICE_MS);
    } catch (e) {
      this.host.output(`vmx-debug: internal error while running the guest: ${(e as Error).stack ?? e}\n`, 'stderr');
      this.stop({ kind: 'pause', detail: `internal error: ${(e as Error).message}` });
      return;
    }
    if (this.state === 'running') this.scheduleSlice();
  }

  private runFor(deadline: number): void {
    const cpu = this.cpu;
    const machine = this.machine;
    let n = 0;
    while (this.state === 'running') {
      if (this.pauseRequested) {
        this.stop({ kind: 'pause' });
        return;
      }
      const plan = this.plan!;
      const single = plan.single;
      if (this.resumeFromBreakpoint) {
        cpu.skipBreakpoint = cpu.breakpoints.has(cpu.linearRip());
        this.resumeFromBreakpoint = false;
      }
      let outcome: RunOutcome;
      if (single) {
        if (cpu.icount >= this.maxInstructions) { this.endLimit(); return; }
        plan.before?.();
        if (!plan.single) continue; // the plan switched to fast mode (step over a call)
        outcome = machine.run(cpu.icount + 1);
      } else {
        const t = now();
        const target = Math.min(this.maxInstructions, cpu.icount + this.budget);
        outcome = machine.run(target);
        const ms = now() - t;
        if (outcome.kind === 'limit' && ms > 0.05) {
          this.budget = Math.max(MIN_BUDGET, Math.min(MAX_BUDGET, Math.round(this.budget * Math.min(4, SLICE_MS / ms))));
        } else if (outcome.kind === 'limit') {
          this.budget = Math.min(MAX_BUDGET, this.budget * 4);
        }
      }
      cpu.skipBreakpoint = false;
      this.passException = false;
      if (!this.handle(outcome, single)) return;
      if (single) {
        if ((++n & 255) === 0 && now() >= deadline) return;
      } else if (now() >= deadline) {
        return;
      }
    }
  }

  /** Returns false when the run stopped or ended. */
  private handle(outcome: RunOutcome, single: boolean): boolean {
    const cpu = this.cpu;
    if (this.pendingEvent) {
      this.stop(this.pendingEvent);
      return false;
    }
    const vm = this.host.afterRun?.();
    if (vm) {
      this.stop(vm);
      return false;
    }
    switch (outcome.kind) {
      case 'limit':
        if (cpu.icount >= this.maxInstructions) { this.endLimit(); return false; }
        if (single) {
          if (this.plan?.after?.()) { this.stop({ kind: 'step' }); return false; }
        }
        return true;
      case 'watchpoint':
        // the watching instruction completed; a data breakpoint stops, a step plan may also end here
        if (this.watchHit()) return false;
        if (single && this.plan?.after?.()) { this.stop({ kind: 'step' }); return false; }
        return true;
      case 'breakpoint':
        return this.atBreakpoint();
      case 'exception': {
        const x = this.pendingException;
        this.pendingException = null;
        this.stop({ kind: 'exception', exception: x ?? undefined, detail: outcome.detail });
        return false;
      }
      case 'halt':
      case 'idle':
        if (outcome.kind === 'idle' && this.host.inputPossible?.()) {
          // nothing but input can wake the guest: wait for it, still running (pause works)
          this.waitingForInput = true;
          return false;
        }
        if (this.host.stopOnEnd('halt') && this.reportedEnd !== 'halt') {
          this.reportedEnd = 'halt';
          this.stop({ kind: 'halt', detail: outcome.detail });
          return false;
        }
        this.end(outcome);
        return false;
      case 'shutdown':
        if (this.host.stopOnEnd('triple fault') && this.reportedEnd !== 'triple fault') {
          this.reportedEnd = 'triple fault';
          this.stop({ kind: 'triple fault', detail: outcome.detail });
          return false;
        }
        this.end(outcome);
        return false;
      case 'exit':
      case 'reset':
        this.end(outcome);
        return false;
      default:
        this.stop({ kind: 'pause', detail: outcome.detail });
        return false;
    }
  }

  private endLimit(): void {
    this.end({ kind: 'limit', code: EXIT_LIMIT, detail: `instruction limit of ${this.maxInstructions} reached (maxInstructions)` });
  }

  /** The CPU stopped at a breakpoint address: temporary, conditional, hit-counted, logpoint. */
  private atBreakpoint(): boolean {
    const pc = linearPc(this.cpu);
    const plan = this.plan;
    if (plan?.temp && plan.temp.address === pc && this.sp() >= plan.temp.minSp) {
      const temp = plan.temp;
      if (plan.onTemp?.()) {
        this.stop({ kind: 'step' });
        return false;
      }
      if (plan.temp === temp) plan.temp = undefined;
      this.syncCpuBreakpoints();
    }
    const hit: CodeBreakpoint[] = [];
    let detail: string | undefined;
    for (const b of this.code) {
      if (b.address !== pc) continue;
      if (b.condition) {
        let v: bigint;
        try {
          v = this.host.evaluate(b.condition);
        } catch (e) {
          hit.push(b);
          detail = `condition '${b.condition}' could not be evaluated: ${(e as Error).message}`;
          continue;
        }
        if (v === 0n) continue;
      }
      b.hits++;
      if (b.hitCondition) {
        const test = parseHitCondition(b.hitCondition);
        if (typeof test === 'function' && !test(b.hits)) continue;
      }
      if (b.logMessage !== undefined) {
        this.host.output(this.host.interpolate(b.logMessage) + '\n', 'console');
        continue;
      }
      hit.push(b);
    }
    if (hit.length) {
      this.stop({ kind: 'breakpoint', breakpointKind: hit[0].kind, hitBreakpointIds: hit.map((b) => b.id), detail });
      return false;
    }
    // not stopping here: run the instruction at the breakpoint and go on
    this.resumeFromBreakpoint = true;
    return true;
  }

  private onCpuException(vec: number, err: number, why: string): boolean {
    if (this.passException) {
      this.passException = false;
      return false;
    }
    if (!this.host.stopOnException(vec, err)) return false;
    const cpu = this.cpu;
    const pc = linearPc(cpu);
    this.pendingException = {
      vector: vec,
      errorCode: err,
      why,
      pc,
      cr2: u64(cpu.cr2),
      instruction: analyzeAt(this.memory, cpu, pc, readRip(cpu))?.text,
    };
    return true;
  }

  // ---- data breakpoints -------------------------------------------------------------------------

  /** A CPU watch fired: apply the breakpoint's condition and hit count; true when it stopped. */
  private watchHit(): boolean {
    const hit = this.cpu.watchHit;
    this.cpu.watchHit = null;
    const owner = hit ? this.watches.get(hit.watch) : undefined;
    if (!owner) return false;
    const hits: DataBreakpoint[] = [];
    for (const b of [owner]) {
      if (b.condition) {
        try {
          if (this.host.evaluate(b.condition) === 0n) continue;
        } catch {
          // a broken condition stops, so the user sees it
        }
      }
      b.hits++;
      if (b.hitCondition) {
        const test = parseHitCondition(b.hitCondition);
        if (typeof test === 'function' && !test(b.hits)) continue;
      }
      hits.push(b);
    }
    if (!hits.length) return false;
    const b = hits[0];
    this.stop({
      kind: 'data breakpoint',
      hitBreakpointIds: hits.map((h) => h.id),
      detail: `${b.access === 'read' ? 'read of' : b.access === 'write' ? 'write to' : 'access to'} ${b.size} byte${b.size > 1 ? 's' : ''} at ${hexAddr(b.address)}`,
    });
    return true;
  }
}
