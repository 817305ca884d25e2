import { Cpu, EV_NMI } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { PhysicalMemory } from './physicalMemory';
import { PortBus } from './portBus';
import { DeviceScheduler, type Clock } from './clock';
import { InterruptRouter } from './interrupts';
import { Uart16550 } from './devices/uart16550';
import { PostPort, type PostRecord } from './devices/postPort';
import { DebugCon } from './devices/debugCon';
import { ExitPort } from './devices/exitPort';
import { DualPic } from './devices/pic8259';
import { Pit8254 } from './devices/pit8254';
import { SystemControlPortB } from './devices/systemControlPortB';
import { CmosRtc } from './devices/cmosRtc';
import { A20Gate } from './devices/a20Gate';
import { SystemControlPortA } from './devices/systemControlPortA';
import { Kbc8042 } from './devices/kbc8042';
import { PciConfigSpace } from './devices/pciConfig';
import { LocalApic } from './devices/localApic';
import { IoApic } from './devices/ioApic';
import type { LoadPlan } from './loaders/loadPlan';
import { applyInitialState } from './initialState';
import { attachVmx, resetVmx } from '../cpu/vmx/attach';
import type { Vmx } from '../cpu/vmx/state';

/**
 * A PC: RAM and ROM, the legacy devices, the interrupt fabric and one CPU, run deterministically
 * with time measured in retired instructions. The CLI and the debug adapter both drive this class.
 */

export interface MachineOptions {
  /** RAM size in MiB (default 256). */
  ramMiB?: number;
  /** COM1 output, as the guest writes it. */
  onSerial?: (bytes: Uint8Array) => void;
  /** Port 0xE9 output. */
  onDebugcon?: (bytes: Uint8Array) => void;
  /** Each POST code written to port 0x80. */
  onPost?: (record: PostRecord) => void;
  /** Wall clock for POST timestamps (tests inject a fixed one). */
  now?: () => number;
  /**
   * VMX capability model of the CPU (src/cpu/vmx/capabilities.ts), default 'default'; false for a
   * CPU without VMX (CPUID.1:ECX.VMX = 0).
   */
  vmxModel?: string | false;
  /**
   * What the machine's "BIOS" leaves in IA32_FEATURE_CONTROL: 'locked' (default) = lock bit and
   * "VMX outside SMX" set, as real firmware does before a hypervisor runs, so a bare-metal VMM's
   * VMXON works; 'unlocked' = 0, so the guest must write and lock it itself (and VMXON #GPs until it does).
   */
  featureControl?: 'locked' | 'unlocked';
}

/** Why a run ended; `code` is the process exit status the CLI uses (see README "Exit codes"). */
export type RunOutcome =
  | { kind: 'exit'; status: number; code: number; detail: string }
  | { kind: 'halt' | 'idle' | 'shutdown' | 'limit' | 'reset' | 'breakpoint' | 'watchpoint' | 'exception' | 'stop'; code: number; detail: string };

export const EXIT_HALT = 0;
export const EXIT_USAGE = 2;
export const EXIT_SHUTDOWN = 4;
export const EXIT_LIMIT = 6;
export const EXIT_RESET = 8;
export const EXIT_IDLE = 10;
export const EXIT_INTERNAL = 12;

/**
 * How many device deadlines a halted CPU (IF=1) may sleep through without any interrupt reaching it
 * before the run ends as 'idle': a periodic timer whose interrupt is masked would otherwise keep
 * the run loop skipping time forever without retiring an instruction.
 */
const MAX_IDLE_SKIPS = 100_000;

/**
 * What Machine.run asks the built-in monitor (src/machine/monitor/monitor.ts implements it).
 * beforeSlice: null = run the CPU; 'wait' = the guest is halted in the monitor until an interrupt
 * (time skips to the next device deadline); an outcome = the run ends (triple fault, failed entry).
 * afterStop: cpu.run returned 'stop'; true when that stop was a VM exit the monitor consumed.
 */
export interface VmmHook {
  beforeSlice(): RunOutcome | 'wait' | null;
  afterStop(): boolean;
}

export class Machine implements Clock {
  readonly memory: PhysicalMemory;
  readonly ports = new PortBus();
  readonly cpu: Cpu;
  readonly scheduler: DeviceScheduler;
  readonly router: InterruptRouter;
  readonly uart: Uart16550;
  readonly post: PostPort;
  readonly pit: Pit8254;
  readonly cmos: CmosRtc;
  readonly pic: DualPic;
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  readonly a20: A20Gate;
  /** Instructions of time that passed while the CPU was halted (the clock runs on). */
  private idle = 0;
  /** True while cpu.run executes guest code (device callbacks then come from guest accesses). */
  private inCpu = false;
  private exitStatus: number | null = null;
  private resetRequested = false;
  readonly ramBytes: number;
  /** Entry state of the last load, for restart. */
  plan: LoadPlan | null = null;
  /** The CPU's VMX state (null without VMX). */
  readonly vmx: Vmx | null;
  private readonly lockFeatureControl: boolean;
  /**
   * The built-in monitor when the machine runs its image as a VMX guest (src/machine/monitor):
   * consulted when cpu.run stops, so a VM exit goes to the monitor instead of ending the run.
   */
  vmm: VmmHook | null = null;

  constructor(opts: MachineOptions = {}) {
    const ramMiB = opts.ramMiB ?? 256;
    this.ramBytes = ramMiB * 1024 * 1024;
    this.memory = new PhysicalMemory({ ramSize: this.ramBytes });
    this.cpu = new Cpu(this.memory, this.ports);
    this.lockFeatureControl = (opts.featureControl ?? 'locked') === 'locked';
    this.vmx = opts.vmxModel === false ? null : attachVmx(this.cpu, opts.vmxModel ?? 'default', { lockFeatureControl: this.lockFeatureControl });
    this.scheduler = new DeviceScheduler(this);
    // time moves on when the guest reprograms a timer mid-slice: end the slice so the deadline holds
    this.scheduler.onReschedule = () => {
      // only a guest write mid-slice matters; rescheduling between slices needs nothing
      if (!this.inCpu) return;
      this.cpu.endBlockAfterCurrent();
      this.cpu.requestStop();
    };
    this.pic = new DualPic();
    this.lapic = new LocalApic({ clock: this, scheduler: this.scheduler, memory: this.memory });
    this.ioapic = new IoApic();
    this.ioapic.attach(this.memory);
    this.router = new InterruptRouter({
      pic: this.pic,
      lapic: this.lapic,
      ioapic: this.ioapic,
      onChange: () => this.cpu.raiseIntrLine(),
      onNmi: () => this.cpu.raiseNmi(),
      nmiEnabled: () => this.cmos.nmiEnabled,
    });
    this.cpu.intc = this.router;
    this.cpu.platformMsrs = this.lapic;
    const irq = (n: number) => (level: boolean) => this.router.setIrq(n, level);
    this.uart = new Uart16550({ irq: irq(4), onOutput: opts.onSerial });
    this.uart.attach(this.ports);
    this.post = new PostPort({ clock: this, onPost: opts.onPost, now: opts.now ?? (() => this.wallClock()) });
    this.post.attach(this.ports);
    new DebugCon({ onOutput: opts.onDebugcon }).attach(this.ports);
    new ExitPort({ onExit: (status) => { this.exitStatus = status; this.cpu.requestStop('exit port'); } }).attach(this.ports);
    this.pic.attach(this.ports);
    this.pit = new Pit8254({ clock: this, irq: irq(0), scheduler: this.scheduler });
    this.pit.attach(this.ports);
    this.scheduler.add(this.pit);
    new SystemControlPortB({ clock: this, pit: this.pit }).attach(this.ports);
    this.cmos = new CmosRtc({ clock: this, ramSize: this.ramBytes, irq: irq(8), scheduler: this.scheduler });
    this.cmos.attach(this.ports);
    this.scheduler.add(this.cmos);
    this.scheduler.add(this.lapic);
    this.a20 = new A20Gate(true);
    this.a20.onChange = (on) => this.memory.setA20(on);
    const onReset = () => { this.resetRequested = true; this.cpu.requestStop('reset'); };
    new SystemControlPortA({ a20: this.a20, onReset }).attach(this.ports);
    new Kbc8042({ a20: this.a20, onReset, irq: irq(1) }).attach(this.ports);
    new PciConfigSpace({ onReset }).attach(this.ports);
    this.memory.addListener({
      layoutChanged: () => this.cpu.flushTlb(true),
      bytesWritten: (phys, length) => this.cpu.physicalBytesChanged(phys, length),
    });
  }

  private wallAt = -Infinity;
  private wallMs = 0;

  /**
   * Wall-clock time for POST timestamps, re-read at most every 100,000 instructions (about a
   * millisecond): reading the host clock on every port write would cost a third of an I/O loop.
   */
  wallClock(): number {
    const ic = this.cpu.icount;
    if (ic - this.wallAt >= 100_000 || ic < this.wallAt) {
      this.wallAt = ic;
      this.wallMs = Date.now();
    }
    return this.wallMs;
  }

  /** The machine clock: retired instructions plus time spent halted. */
  instructions(): number {
    return this.cpu.icountNow() + this.idle;
  }

  /** A halted CPU has something to wake up for now: a deliverable interrupt or NMI. */
  private canWake(): boolean {
    const cpu = this.cpu;
    if ((cpu.events & EV_NMI) !== 0 && !cpu.nmiBlocked) return true;
    return (cpu.flags & 0x200) !== 0 && this.router.hasInterrupt();
  }

  /** Places an image and sets the CPU's entry state. */
  load(plan: LoadPlan): void {
    this.plan = plan;
    if (plan.rom) this.memory.mapRom(plan.rom);
    for (const c of plan.chunks) this.memory.writeBytes(c.phys, c.data);
    this.cpu.reset();
    // cpu.reset() clears IA32_FEATURE_CONTROL: the "BIOS" sets it again (see MachineOptions.featureControl)
    if (this.vmx) {
      resetVmx(this.cpu);
      if (this.lockFeatureControl) this.cpu.msrs.featureControl = 5n;
    }
    applyInitialState(this, plan.entry);
  }

  /**
   * Runs until `maxInstructions` instructions have retired (cpu.icount) or the guest stops. Time the
   * CPU spends halted is skipped: the clock jumps to the next device deadline, so it does not count
   * against the limit. A halted CPU stays halted until something wakes it; calling run again after
   * a 'halt' or 'idle' outcome does not resume the code after the HLT by itself.
   */
  run(maxInstructions: number): RunOutcome {
    const cpu = this.cpu;
    let idleSkips = 0;
    for (;;) {
      if (this.exitStatus !== null) {
        const status = this.exitStatus;
        return { kind: 'exit', status, code: status & 0xFF, detail: `guest wrote ${(status >>> 1).toString()} to the exit port 0xF4` };
      }
      if (this.resetRequested) return { kind: 'reset', code: EXIT_RESET, detail: 'the guest requested a system reset' };
      if (cpu.shutdown) return { kind: 'shutdown', code: EXIT_SHUTDOWN, detail: cpu.stopDetail || 'shutdown' };
      if (this.vmm !== null) {
        // the monitor's guest may be waiting (HLT) or the monitor may have stopped the run
        const v = this.vmm.beforeSlice();
        if (v !== null) {
          if (v === 'wait') {
            const next = this.scheduler.next;
            if (!Number.isFinite(next)) return { kind: 'idle', code: EXIT_IDLE, detail: 'guest HLT waiting for an interrupt, but no timer or device is armed' };
            if (++idleSkips > MAX_IDLE_SKIPS) return { kind: 'idle', code: EXIT_IDLE, detail: `guest HLT waiting for an interrupt: timers expired ${MAX_IDLE_SKIPS} times, but every interrupt they raise is masked` };
            const now = this.instructions();
            if (next > now) { this.idle += next - now; cpu.idleTicks = this.idle; }
            this.scheduler.service();
            continue;
          }
          return v;
        }
      }
      if (cpu.halted && !this.canWake()) {
        // The CPU would only run the code after its HLT: wait for an interrupt instead.
        if ((cpu.flags & 0x200) === 0) return { kind: 'halt', code: EXIT_HALT, detail: 'HLT with interrupts disabled' };
        const next = this.scheduler.next;
        if (!Number.isFinite(next)) return { kind: 'idle', code: EXIT_IDLE, detail: 'HLT waiting for an interrupt, but no timer or device is armed' };
        if (++idleSkips > MAX_IDLE_SKIPS) {
          return {
            kind: 'idle',
            code: EXIT_IDLE,
            detail: `HLT waiting for an interrupt: timers expired ${MAX_IDLE_SKIPS} times, but every interrupt they raise is masked`,
          };
        }
        // skip the idle time: the clock jumps to the next device deadline
        const now = this.instructions();
        if (next > now) { this.idle += next - now; cpu.idleTicks = this.idle; }
        this.scheduler.service();
        continue;
      }
      if (cpu.icount >= maxInstructions) return { kind: 'limit', code: EXIT_LIMIT, detail: `instruction limit of ${maxInstructions} reached` };
      const due = this.scheduler.next - this.idle;
      if (due <= cpu.icount) {
        this.scheduler.service();
        continue;
      }
      idleSkips = 0;
      if (cpu.halted) cpu.raiseIntrLine(); // make the CPU look at its events before anything else
      this.inCpu = true;
      let reason;
      try {
        reason = cpu.run(Math.min(maxInstructions, due));
      } finally {
        this.inCpu = false;
      }
      if (this.scheduler.next - this.idle <= cpu.icount) this.scheduler.service();
      // a VM exit to the built-in monitor ends cpu.run with 'stop': the monitor handles it and resumes
      if (reason === 'stop' && this.vmm !== null && this.vmm.afterStop()) continue;
      switch (reason) {
        case 'limit':
        case 'stop':
        case 'halt': // handled at the top of the loop
          continue;
        case 'shutdown':
          return { kind: 'shutdown', code: EXIT_SHUTDOWN, detail: cpu.stopDetail || 'shutdown' };
        case 'breakpoint':
          return { kind: 'breakpoint', code: EXIT_INTERNAL, detail: 'breakpoint' };
        case 'watchpoint': {
          const h = cpu.watchHit;
          return { kind: 'watchpoint', code: EXIT_INTERNAL, detail: h ? `${h.write ? 'write' : 'read'} of ${h.size} bytes at 0x${h.lin.toString(16)}` : 'watchpoint' };
        }
        case 'exception':
          return { kind: 'exception', code: EXIT_INTERNAL, detail: `exception ${K.EXCEPTION_NAMES[cpu.faultVec] ?? cpu.faultVec}: ${cpu.faultWhy}` };
        default:
          return { kind: 'stop', code: EXIT_INTERNAL, detail: reason };
      }
    }
  }
}
