import { Block, Instr } from './block';
import * as K from './constants';
import * as F from './flags';
import type { InterruptController, MsrHandler, PhysicalBus, PortBus } from './interfaces';
import { GPA_FETCH, GPA_READ, GPA_WRITE, guestPhys, translate } from './paging';
import { decodeBlock } from './decoder';
import { deliverEvent, EVT_EXT, EVT_HW, EVT_NMI } from './interrupts';
import { MsrFile } from './msr';
import { CpuidTable } from './cpuid';
import { X87_INIT } from './xstate';

/** Thrown (a single shared object, so nothing is allocated) to abandon the current instruction. */
export const FAULT = { kind: 'fault' } as const;
/** Thrown to leave the current block after a state change the block could not have foreseen. */
export const BLOCK_EXIT = { kind: 'block-exit' } as const;

/**
 * VMX hooks (src/cpu/vmx installs them): `boundary` runs at instruction boundaries in
 * serviceEvents once VMX is attached and turns pending events, windows and the preemption timer
 * into VM exits in non-root operation (true = it did); `shutdown` turns a triple fault in non-root
 * operation into a VM exit (true = it did); `mtf` runs while `Cpu.mtf` is set, ahead of debug traps,
 * which monitor-trap-flag VM exits outrank (true = it exited).
 */
export interface NonRootHooks {
  boundary(c: Cpu): boolean;
  shutdown(c: Cpu, why: string): boolean;
  mtf(c: Cpu): boolean;
  /** An access whose physical address is on the APIC-access page (Cpu.apicPage): the address to use, or it exits. */
  apicAccess(c: Cpu, phys: number, lin: number, write: boolean, exec: boolean, size: number): number;
  /** Cpu.apicPending is set: APIC-write emulation or the post-entry TPR check (true = it exited). */
  apicPending(c: Cpu): boolean;
}
let nonRootHooks: NonRootHooks | null = null;
export function setNonRootHooks(h: NonRootHooks | null): void {
  nonRootHooks = h;
}

const TLB_BITS = 12;
const TLB_SIZE = 1 << TLB_BITS;
const TLB_MASK = TLB_SIZE - 1;
const CANON = 0x800000000000; // 2^47
const TWO32 = 0x100000000;
/** Most instructions a block may hold: bounds interrupt latency and decode cost. */
const MAX_BLOCK = 64;
/** Code-tracking granule within a page (bytes). */
const GRANULE_SHIFT = 5;

/** Pending-event bits, tested once per block so the common case costs one compare. */
export const EV_INTR = 1;
export const EV_NMI = 2;
export const EV_STOP = 4;
/** Something in the CPU state needs a look (halt, shutdown, interrupt shadow). */
export const EV_ATTN = 16;

/**
 * One VMX world's TLB arrays (see Cpu.switchTlbWorld) and the translation context they were filled
 * in: kept across VM entries and exits only while `valid` and the context still matches.
 */
interface TlbSet {
  rTag: Float64Array; rOff: Int32Array; wTag: Float64Array; wOff: Int32Array; xTag: Float64Array; xOff: Int32Array;
  cTag: Float64Array; cOff: Int32Array; global: Uint8Array; large: boolean;
  valid: boolean; vpid: number; eptpHi: number; eptpLo: number;
  cr3: number; cr0: number; cr4: number; efer: number; user: boolean; ac: boolean;
  /** The code epoch the world had when it was left (-1 none), with the CS it had then. */
  epoch: number; csBase: number; csLimit: number; bits: number;
}

function newTlbSet(): TlbSet {
  return {
    rTag: new Float64Array(TLB_SIZE).fill(-1), rOff: new Int32Array(TLB_SIZE),
    wTag: new Float64Array(TLB_SIZE).fill(-1), wOff: new Int32Array(TLB_SIZE),
    xTag: new Float64Array(TLB_SIZE).fill(-1), xOff: new Int32Array(TLB_SIZE),
    cTag: new Float64Array(TLB_SIZE).fill(-1), cOff: new Int32Array(TLB_SIZE),
    global: new Uint8Array(TLB_SIZE), large: false,
    valid: false, vpid: 0, eptpHi: 0, eptpLo: 0, cr3: 0, cr0: 0, cr4: 0, efer: 0, user: false, ac: false,
    epoch: -1, csBase: 0, csLimit: 0, bits: 0,
  };
}

/** A watched linear range: a debugger watchpoint (dr = -1) or a DR0-DR3 data breakpoint. */
export interface Watch {
  lin: number;
  len: number;
  read: boolean;
  write: boolean;
  dr: number;
}

/** Something that wants to see each instruction before it runs (trace, history). Off = null. */
export interface StepObserver {
  /** `ins` is the CPU's decoded form of the instruction: a new object whenever its bytes or decoding mode changed. */
  beforeInstruction(cpu: Cpu, lin: number, ins: Instr): void;
}

/**
 * The emulated x86-64 processor: architectural state, the memory pipeline (segmentation, TLB,
 * paging) and the execution loop over cached decoded blocks. Platform objects come in through the
 * interfaces; the CPU never knows which devices exist.
 */
export class Cpu {
  // ---- general registers: low and high 32 bits of RAX..R15 ----
  readonly r = new Int32Array(16);
  readonly rh = new Int32Array(16);
  /** RIP: unsigned 32-bit outside 64-bit mode, signed canonical number in 64-bit mode. */
  rip = 0;

  // ---- flags: stored bits plus the lazily evaluated arithmetic ones ----
  flags = F.FIXED1;
  /**
   * The last flag-setting ALU operation: (kind << 4) | size, or 0 when the arithmetic flags in
   * `flags` are exact. One field so an ALU instruction costs as few stores as possible.
   */
  lzOp = 0;
  lzA = 0;
  lzB = 0;
  lzR = 0;
  /** Carry-in of the last ADC/SBB. */
  lzC = 0;
  /** High halves of a 64-bit lazy record (size 8). */
  lzAh = 0;
  lzBh = 0;
  lzRh = 0;

  // ---- segment registers with hidden caches (0-5 ES..GS, 6 LDTR, 7 TR) ----
  readonly segSel = new Uint16Array(8);
  readonly segBase = new Float64Array(8);
  readonly segLimit = new Float64Array(8);
  /** VMX access-rights layout (constants AR_*). */
  readonly segAr = new Int32Array(8);
  /** Base used for address formation (0 for ES/CS/SS/DS in 64-bit mode). */
  readonly effBase = new Float64Array(6);
  /** Highest valid offset for reads / writes; -1 forces the slow checking path. */
  readonly rdLim = new Float64Array(6);
  readonly wrLim = new Float64Array(6);
  gdtrBase = 0;
  gdtrLimit = 0xFFFF;
  idtrBase = 0;
  idtrLimit = 0xFFFF;

  // ---- control, debug and model-specific registers ----
  cr0 = 0x60000010;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  cr8 = 0;
  efer = 0;
  /** XCR0 (XSETBV/XGETBV): only bit 0, x87, exists (xstate.ts), so it is 1 from reset on. */
  xcr0 = 1;
  /**
   * XSAVE state component 0 (x87) as an opaque image (xstate.ts: why a core without an FPU keeps
   * one). Replaced on XRSTOR, never modified in place, so snapshots may share it.
   */
  x87: Uint8Array = X87_INIT;
  /** XINUSE[0]: false while the x87 component is in its initial configuration (then x87 is X87_INIT). */
  x87InUse = false;
  readonly dr = new Float64Array(8);
  readonly msrs: MsrFile;
  readonly cpuid: CpuidTable;
  /** TSC = tscBase + retired instructions: deterministic, one tick per instruction. */
  tscBase = 0;
  /** PAE page-directory-pointer entries, loaded when CR3 is written in PAE mode (lo/hi halves). */
  readonly pdpte = new Int32Array(8);

  // ---- derived mode state ----
  cpl = 0;
  /** Default operand/address size of the current code segment: 16, 32 or 64. */
  bits = 16;
  mode64 = false;
  protectedMode = false;
  v86 = false;
  nmiBlocked = false;
  private _halted = false;
  shutdown = false;

  // ---- execution ----
  /** Instructions retired since reset. */
  icount = 0;
  events = 0;
  stopReason: K.StopReason | null = null;
  /** Why the run stopped, in words, for the user (triple fault cause etc.). */
  stopDetail = '';
  /** Exception vector and error code (-1 for none) of the fault being raised. */
  faultVec = 0;
  faultErr = -1;
  /** Exception being delivered, for double-fault classification (-1 none). */
  delivering = -1;
  /** Execute one instruction per block (trace, single step, TF). */
  singleStep = false;
  observer: StepObserver | null = null;
  /**
   * Linear addresses of the debugger's execution breakpoints; blocks are split so each starts a
   * block, and only block entry is checked. Call flushCode() after changing the set.
   */
  readonly breakpoints = new Set<number>();
  /** Execution breakpoints armed in DR0-DR3 (linear addresses), checked the same way. */
  readonly drExec = new Set<number>();
  /**
   * Data watches: the debugger's watchpoints and DR0-DR3 data breakpoints. Pages holding a watched
   * range never enter the data TLBs, so only accesses to them pay for the check.
   */
  watches: Watch[] = [];
  private readonly watchPages = new Set<number>();
  /** The debugger watch that fired (stop reason 'watchpoint'), with the access that hit it. */
  watchHit: { watch: Watch; lin: number; size: number; write: boolean } | null = null;
  /**
   * Debug traps recognised and not yet delivered, in the layout of the VMCS pending-debug-exceptions
   * field: B0-B3 (bits 3:0), an enabled data breakpoint (bit 12), single step (BS, bit 14). DR6
   * receives them when the #DB is delivered; a VM exit may carry them to the VMCS instead.
   */
  pendingDb = 0;
  /** Bits of the debug trap being delivered now, for the VMX layer (a #DB that exits leaves DR6 alone). */
  dbTrap = 0;
  /** The interrupt shadow comes from MOV SS / POP SS, which also holds debug traps back (SDM 6.8.3). */
  movSsShadow = false;
  /** VMX monitor trap flag: guest instructions run one per block, each boundary seen by the VMX layer. */
  mtf = false;
  /** The block being executed (so a watch hit can end it after the current instruction). */
  private curBlk: Block | null = null;
  /** Skip the breakpoint at the current RIP once (resuming from it). */
  skipBreakpoint = false;
  /** VMX non-root operation: intercept checks run only when true. */
  nonRoot = false;
  /**
   * Non-root operation with "enable EPT": physical addresses the guest forms are guest-physical and
   * go through EPT (paging.ts guestPhys). Tested only on TLB misses, so nothing is paid when off.
   */
  eptActive = false;
  /**
   * Non-root operation with "virtualize APIC accesses": physical address of the APIC-access page, else
   * -1. Tested only in xlate (TLB misses); translations to that page never enter a TLB.
   */
  apicPage = -1;
  /** The APIC-access hook virtualized the access just translated: use the address, do not cache it. */
  apicVirtualized = false;
  /** VMX work for the next boundary (src/cpu/vmx/apicAccess.ts), 0 none. */
  apicPending = 0;
  /**
   * VMX state (src/cpu/vmx owns its type and lifetime; the core only carries it). null until the
   * VMX layer attaches itself to this CPU.
   */
  vmx: unknown = null;

  // ---- memory pipeline ----
  readonly bus: PhysicalBus;
  readonly io: PortBus;
  readonly mem: Uint8Array;
  readonly dv: DataView;
  intc: InterruptController | null = null;
  platformMsrs: MsrHandler | null = null;
  tlbRTag: Float64Array = new Float64Array(TLB_SIZE).fill(-1);
  tlbROff: Int32Array = new Int32Array(TLB_SIZE);
  tlbWTag: Float64Array = new Float64Array(TLB_SIZE).fill(-1);
  tlbWOff: Int32Array = new Int32Array(TLB_SIZE);
  tlbXTag: Float64Array = new Float64Array(TLB_SIZE).fill(-1);
  tlbXOff: Int32Array = new Int32Array(TLB_SIZE);
  tlbGlobal: Uint8Array = new Uint8Array(TLB_SIZE);
  /**
   * Writable pages that hold decoded code: never in the write TLB (every write must be checked
   * against the code granules) but remembered here so the check skips the page walk.
   */
  tlbCTag: Float64Array = new Float64Array(TLB_SIZE).fill(-1);
  tlbCOff: Int32Array = new Int32Array(TLB_SIZE);
  /** Some TLB entry came from a large page: INVLPG then flushes everything. */
  tlbHasLarge = false;
  /** CPL class the TLB was filled for (user vs supervisor). */
  tlbUser = false;

  // ---- decoded-code cache ----
  private readonly blocks = new Map<number, Block>();
  private readonly jcache: (Block | null)[] = new Array(4096).fill(null);
  /** Per backing page: bitmap of 32-byte granules that hold decoded code (undefined = none). */
  private readonly codeMap = new Map<number, Uint32Array>();
  /** Per backing page: 1 when codeMap has an entry (fast test on the write slow path). */
  private readonly codePage: Uint8Array;
  private readonly pageBlocks = new Map<number, Block[]>();
  /** MONITOR armed an address range (MWAIT may then wait; this CPU returns at once). */
  monitorArmed = false;
  /** Scratch for 64-bit reads: the high half of the last rd64. */
  hi = 0;

  constructor(bus: PhysicalBus, io: PortBus) {
    this.bus = bus;
    this.io = io;
    this.mem = bus.backing;
    this.dv = new DataView(bus.backing.buffer, bus.backing.byteOffset, bus.backing.byteLength);
    this.codePage = new Uint8Array(Math.ceil(bus.backing.length / 4096) + 1);
    this.msrs = new MsrFile(this);
    this.cpuid = new CpuidTable();
    this.reset();
  }

  // =====================================================================================
  // Reset and mode
  // =====================================================================================

  /** Architectural power-on state (SDM 9.1.1): real mode at FFFF:FFF0 with CS base FFFF0000. */
  reset(): void {
    this.r.fill(0);
    this.rh.fill(0);
    this.r[2] = 0x000806C1 | 0; // EDX = family/model/stepping, as CPUID.1:EAX
    this.flags = F.FIXED1;
    this.lzOp = 0;
    this.rip = 0xFFF0;
    this.cr0 = 0x60000010;
    this.cr2 = this.cr3 = this.cr4 = this.cr8 = 0;
    this.efer = 0;
    this.xcr0 = 1;
    this.x87 = X87_INIT;
    this.x87InUse = false;
    this.dr.fill(0);
    this.dr[6] = 0xFFFF0FF0;
    this.dr[7] = 0x400;
    for (let s = 0; s < 6; s++) this.loadSegRaw(s, 0, 0, 0xFFFF, K.AR_P | K.AR_S | 3 | (s === K.SEG_CS ? 8 : 0));
    this.loadSegRaw(K.SEG_CS, 0xF000, 0xFFFF0000, 0xFFFF, K.AR_P | K.AR_S | 0xB);
    this.loadSegRaw(K.SEG_LDTR, 0, 0, 0xFFFF, K.AR_P | 2);
    this.loadSegRaw(K.SEG_TR, 0, 0, 0xFFFF, K.AR_P | 0xB);
    this.gdtrBase = this.idtrBase = 0;
    this.gdtrLimit = this.idtrLimit = 0xFFFF;
    this.halted = this.shutdown = this.shadow = this.nmiBlocked = false;
    this.pendingDb = 0;
    this.delivering = -1;
    this.msrs.reset();
    this.updateMode();
    this.flushTlb(true);
  }

  /**
   * Stores a segment cache without deriving the address-formation shortcuts: for VM entry and exit,
   * which store them all and then call updateMode (which derives them for every segment).
   */
  storeSegRaw(s: number, sel: number, base: number, limit: number, ar: number): void {
    this.sysGen++;
    this.segSel[s] = sel;
    this.segBase[s] = base;
    this.segLimit[s] = limit;
    this.segAr[s] = ar;
  }

  /** Loads a segment cache directly (reset, VM entry/exit, loaders). */
  loadSegRaw(s: number, sel: number, base: number, limit: number, ar: number): void {
    this.storeSegRaw(s, sel, base, limit, ar);
    if (s < 6) this.refreshSeg(s);
  }

  /** Recomputes the address-formation shortcuts of one segment register. */
  refreshSeg(s: number): void {
    this.sysGen++;
    if (s === K.SEG_CS) this.codeEpoch = ++this.epochSeq;
    const ar = this.segAr[s];
    if (s === K.SEG_SS) this.stackBytes = this.mode64 ? 8 : ar & K.AR_DB ? 4 : 2;
    if (this.mode64) {
      this.effBase[s] = s >= K.SEG_FS ? this.segBase[s] : 0;
      this.rdLim[s] = Infinity;
      this.wrLim[s] = Infinity;
      return;
    }
    this.effBase[s] = this.segBase[s];
    const limit = this.segLimit[s];
    if (!this.protectedMode || this.v86) {
      this.rdLim[s] = limit;
      this.wrLim[s] = limit;
      return;
    }
    if (ar & K.AR_UNUSABLE || !(ar & K.AR_P)) {
      this.rdLim[s] = -1;
      this.wrLim[s] = -1;
      return;
    }
    const type = ar & 0xF;
    if (type & 8) {
      // code: readable when bit 1 set, never writable
      this.rdLim[s] = type & 2 ? limit : -1;
      this.wrLim[s] = -1;
    } else if (type & 4) {
      // expand-down data: the valid range is above the limit; checked on the slow path
      this.rdLim[s] = -1;
      this.wrLim[s] = -1;
    } else {
      this.rdLim[s] = limit;
      this.wrLim[s] = type & 2 ? limit : -1;
    }
  }

  /** Re-derives CPL, code size and mode flags after CR0, EFER, CS or EFLAGS.VM changed. */
  updateMode(): void {
    this.sysGen++;
    this.codeEpoch = ++this.epochSeq;
    const pe = (this.cr0 & K.CR0_PE) !== 0;
    this.protectedMode = pe;
    this.v86 = pe && (this.flags & F.VM) !== 0;
    const lma = (this.efer & K.EFER_LMA) !== 0;
    const csAr = this.segAr[K.SEG_CS];
    this.mode64 = lma && pe && (csAr & K.AR_L) !== 0;
    if (this.mode64) this.bits = 64;
    else if (!pe) this.bits = csAr & K.AR_DB ? 32 : 16;
    else if (this.v86) this.bits = 16;
    else this.bits = csAr & K.AR_DB ? 32 : 16;
    if (!pe) this.cpl = 0;
    else if (this.v86) this.cpl = 3;
    else this.cpl = (csAr >> K.AR_DPL_SHIFT) & 3;
    // SS.DPL is the architectural CPL in protected mode; CS.DPL differs only for conforming code
    if (pe && !this.v86) this.cpl = (this.segAr[K.SEG_SS] >> K.AR_DPL_SHIFT) & 3;
    for (let s = 0; s < 6; s++) this.refreshSeg(s);
    const user = this.cpl === 3;
    if (user !== this.tlbUser) {
      this.tlbUser = user;
      this.flushTlb(true);
    }
    this.updateAlignCheck();
  }

  /**
   * Alignment checking (#AC) applies at CPL 3 with CR0.AM and EFLAGS.AC set. While it is on the data
   * TLBs stay empty, so every access takes the slow path, which checks alignment: nothing is paid
   * for it otherwise.
   */
  alignCheck = false;

  private updateAlignCheck(): void {
    const on = (this.cr0 & K.CR0_AM) !== 0 && (this.flags & F.AC) !== 0 && this.cpl === 3 && this.protectedMode;
    if (on !== this.alignCheck) {
      this.alignCheck = on;
      this.flushTlb(true);
    }
  }

  private misaligned(lin: number, size: number): never {
    return this.raise(K.EXC_AC, 0, `misaligned ${size}-byte access at 0x${lin.toString(16)} with alignment checking on`);
  }

  // =====================================================================================
  // Flags
  // =====================================================================================

  /** Records a lazily evaluated ALU result. op is an LZ_* kind; size in bytes (1, 2, 4). */
  setLazy(op: number, a: number, b: number, r: number, size: number): void {
    this.lzOp = (op << 4) | size;
    this.lzA = a;
    this.lzB = b;
    this.lzR = r;
  }

  /** As setLazy for INC/DEC: CF keeps its current value (op LZ_ADD or LZ_SUB with b = 1). */
  setLazyKeepCF(op: number, a: number, b: number, r: number, size: number): void {
    const cf = this.getCF();
    this.flags = (this.flags & ~F.CF) | cf;
    this.lzOp = ((op === F.LZ_ADD ? F.LZ_INC : F.LZ_DEC) << 4) | size;
    this.lzA = a;
    this.lzB = b;
    this.lzR = r;
  }

  /** Sets the arithmetic flags to exact values (shifts, multiplies, 64-bit ops). */
  setArith(bits: number): void {
    this.flags = (this.flags & ~F.ARITH) | (bits & F.ARITH);
    this.lzOp = 0;
  }

  getCF(): number {
    const op = this.lzOp;
    if (op === 0) return this.flags & F.CF;
    if ((op & 0xF) === 8) return this.cf64(op >> 4);
    const m = lzMask(op);
    const a = (this.lzA & m) >>> 0;
    switch (op >> 4) {
      case 1 /* LZ_ADD */: return ((this.lzR & m) >>> 0) < a ? 1 : 0;
      case 2 /* LZ_ADC */: return this.lzC ? (((this.lzR & m) >>> 0) <= a ? 1 : 0) : (((this.lzR & m) >>> 0) < a ? 1 : 0);
      case 3 /* LZ_SUB */: return a < ((this.lzB & m) >>> 0) ? 1 : 0;
      case 4 /* LZ_SBB */: return this.lzC ? (a <= ((this.lzB & m) >>> 0) ? 1 : 0) : (a < ((this.lzB & m) >>> 0) ? 1 : 0);
      case 6 /* LZ_INC */: case 7 /* LZ_DEC */: return this.flags & F.CF;
      default: return 0;
    }
  }

  /** CF of a 64-bit lazy record: unsigned 64-bit comparisons on (hi, lo) pairs. */
  private cf64(kind: number): number {
    const ah = this.lzAh >>> 0, al = this.lzA >>> 0;
    switch (kind) {
      case 1 /* LZ_ADD */: case 2 /* LZ_ADC */: {
        const rh = this.lzRh >>> 0, rl = this.lzR >>> 0;
        const less = rh < ah || (rh === ah && rl < al);
        const equal = rh === ah && rl === al;
        return less || (kind === 2 && this.lzC !== 0 && equal) ? 1 : 0;
      }
      case 3 /* LZ_SUB */: case 4 /* LZ_SBB */: {
        const bh = this.lzBh >>> 0, bl = this.lzB >>> 0;
        const less = ah < bh || (ah === bh && al < bl);
        const equal = ah === bh && al === bl;
        return less || (kind === 4 && this.lzC !== 0 && equal) ? 1 : 0;
      }
      case 6 /* LZ_INC */: case 7 /* LZ_DEC */: return this.flags & F.CF;
      default: return 0;
    }
  }

  /** True when the last result was zero (ZF), without materialising other flags. */
  zeroResult(): boolean {
    const op = this.lzOp;
    if (op === 0) return (this.flags & F.ZF) !== 0;
    if ((op & 0xF) === 8) return (this.lzR | this.lzRh) === 0;
    return (this.lzR & lzMask(op)) === 0;
  }

  getZF(): number {
    return this.zeroResult() ? F.ZF : 0;
  }

  getSF(): number {
    const op = this.lzOp;
    if (op === 0) return this.flags & F.SF;
    if ((op & 0xF) === 8) return this.lzRh < 0 ? F.SF : 0;
    return this.lzR & lzSign(op) ? F.SF : 0;
  }

  getPF(): number {
    if (this.lzOp === 0) return this.flags & F.PF;
    return F.PARITY[this.lzR & 0xFF];
  }

  getAF(): number {
    const op = this.lzOp;
    if (op === 0) return this.flags & F.AF;
    if (op >> 4 === 5 /* LZ_LOGIC */) return 0;
    return (this.lzA ^ this.lzB ^ this.lzR) & F.AF;
  }

  getOF(): number {
    const op = this.lzOp;
    if (op === 0) return this.flags & F.OF;
    const wide = (op & 0xF) === 8;
    const a = wide ? this.lzAh : this.lzA, b = wide ? this.lzBh : this.lzB, r = wide ? this.lzRh : this.lzR;
    const s = wide ? -0x80000000 : lzSign(op);
    switch (op >> 4) {
      case 1 /* LZ_ADD */: case 2 /* LZ_ADC */: case 6 /* LZ_INC */: return (a ^ r) & (b ^ r) & s ? F.OF : 0;
      case 3 /* LZ_SUB */: case 4 /* LZ_SBB */: case 7 /* LZ_DEC */: return (a ^ b) & (a ^ r) & s ? F.OF : 0;
      default: return 0;
    }
  }

  /** Records a 64-bit lazy result (a, b, r as lo/hi pairs). */
  setLazy64(op: number, al: number, ah: number, bl: number, bh: number, rl: number, rh: number): void {
    this.lzOp = (op << 4) | 8;
    this.lzA = al;
    this.lzAh = ah;
    this.lzB = bl;
    this.lzBh = bh;
    this.lzR = rl;
    this.lzRh = rh;
  }

  /** The full EFLAGS value. */
  getFlags(): number {
    const op = this.lzOp;
    if (op === 0) return this.flags;
    if ((op & 0xF) === 8) return (this.flags & ~F.ARITH) | this.getCF() | this.getPF() | this.getAF() | this.getZF() | this.getSF() | this.getOF();
    // a narrow record in one pass (VM exits save RFLAGS on every exit): PF, ZF and SF from the
    // result, AF from the operands; CF and OF as getCF and getOF have them
    const r = this.lzR, m = lzMask(op), s = lzSign(op);
    const f = (this.flags & ~F.ARITH) | F.PARITY[r & 0xFF] | ((r & m) === 0 ? F.ZF : 0) | (r & s ? F.SF : 0);
    if (op >> 4 === 5 /* LZ_LOGIC */) return f;
    return f | ((this.lzA ^ this.lzB ^ r) & F.AF) | this.getCF() | this.getOF();
  }

  /** Writes EFLAGS bits selected by `mask`, keeping bit 1 set and unimplemented bits clear. */
  setFlags(value: number, mask: number): void {
    const cur = this.getFlags();
    const before = cur;
    this.flags = ((cur & ~mask) | (value & mask)) & F.IMPLEMENTED | F.FIXED1;
    this.lzOp = 0;
    const changed = before ^ this.flags;
    if (changed & F.VM) this.updateMode();
    if (changed & F.IF && this.flags & F.IF) this.events |= EV_INTR;
    if (changed & F.TF) this.singleStepChanged();
    if (changed & F.AC) this.updateAlignCheck();
  }

  /** Evaluates condition code cc (0-15, the Jcc/SETcc/CMOVcc encoding). */
  cond(cc: number): boolean {
    let t: boolean;
    switch (cc >> 1) {
      case 0: t = this.getOF() !== 0; break;
      case 1: t = this.getCF() !== 0; break;
      case 2: t = this.getZF() !== 0; break;
      case 3: t = this.getCF() !== 0 || this.getZF() !== 0; break;
      case 4: t = this.getSF() !== 0; break;
      case 5: t = this.getPF() !== 0; break;
      case 6: t = (this.getSF() !== 0) !== (this.getOF() !== 0); break;
      default: t = this.getZF() !== 0 || (this.getSF() !== 0) !== (this.getOF() !== 0); break;
    }
    return (cc & 1) !== 0 ? !t : t;
  }

  /** Called when TF or a debugger forced stepping changes. */
  singleStepChanged(): void {
    this.singleStep = (this.flags & F.TF) !== 0 || this.observer !== null || this.forceSingleStep || this.oneShot || this.mtf;
  }
  forceSingleStep = false;

  // =====================================================================================
  // Registers
  // =====================================================================================

  /** Reads a general register of `size` bytes (8-bit indices 16-19 are AH..BH). Unsigned for 1/2. */
  getReg(size: number, i: number): number {
    switch (size) {
      case 1: return i < 16 ? this.r[i] & 0xFF : (this.r[i - 16] >> 8) & 0xFF;
      case 2: return this.r[i] & 0xFFFF;
      default: return this.r[i];
    }
  }

  setReg(size: number, i: number, v: number): void {
    switch (size) {
      case 1:
        if (i < 16) this.r[i] = (this.r[i] & ~0xFF) | (v & 0xFF);
        else this.r[i - 16] = (this.r[i - 16] & ~0xFF00) | ((v & 0xFF) << 8);
        return;
      case 2: this.r[i] = (this.r[i] & ~0xFFFF) | (v & 0xFFFF); return;
      case 4: this.r[i] = v; this.rh[i] = 0; return;
      default: this.r[i] = v; return; // size 8 callers set rh themselves
    }
  }

  /** A 64-bit register as a signed number (exact within ±2^53), for addresses. */
  reg64(i: number): number {
    return this.rh[i] * TWO32 + (this.r[i] >>> 0);
  }

  /** A register read for address formation at the given address size. */
  addrReg(i: number, asize: number): number {
    if (asize === 8) return this.rh[i] * TWO32 + (this.r[i] >>> 0);
    if (asize === 4) return this.r[i] >>> 0;
    return this.r[i] & 0xFFFF;
  }

  /** Writes a register as an address-sized value (string-instruction pointers and counts). */
  setAddrReg(i: number, asize: number, v: number): void {
    if (asize === 8) {
      // exact for |v| < 2^53: ToInt32 keeps the low 32 bits, floor division the two's-complement high half
      this.r[i] = v | 0;
      this.rh[i] = Math.floor(v / TWO32) | 0;
    } else if (asize === 4) {
      this.r[i] = v | 0;
      this.rh[i] = 0;
    } else {
      this.r[i] = (this.r[i] & ~0xFFFF) | (v & 0xFFFF);
    }
  }

  get rsp64(): number {
    return this.rh[4] * TWO32 + (this.r[4] >>> 0);
  }

  /** Stack-pointer width in bytes (8 in 64-bit mode, else from SS.B), kept by refreshSeg. */
  stackBytes = 2;

  stackSize(): number {
    return this.stackBytes;
  }

  // =====================================================================================
  // Effective and linear addresses
  // =====================================================================================

  /** Effective address (offset within the segment) of a memory operand. */
  ea(i: Instr): number {
    const as = i.asize;
    if (as === 4) {
      let a = i.disp;
      if (i.base >= 0) a += this.r[i.base];
      if (i.index >= 0) a += this.r[i.index] << i.scale;
      return a >>> 0;
    }
    if (as === 2) {
      let a = i.disp;
      if (i.base >= 0) a += this.r[i.base];
      if (i.index >= 0) a += this.r[i.index];
      return a & 0xFFFF;
    }
    return this.ea64(i);
  }

  private ea64(i: Instr): number {
    let a = i.disp;
    if (i.base >= 0) a += this.rh[i.base] * TWO32 + (this.r[i.base] >>> 0);
    if (i.index >= 0) a += (this.rh[i.index] * TWO32 + (this.r[i.index] >>> 0)) * (1 << i.scale);
    if (a >= -CANON && a < CANON) return a;
    return this.ea64Exact(i);
  }

  /** Exact 64-bit address arithmetic for operands far from the canonical range. */
  private ea64Exact(i: Instr): number {
    let v = BigInt(i.disp);
    if (i.base >= 0) v += (BigInt(this.rh[i.base]) << 32n) | BigInt(this.r[i.base] >>> 0);
    if (i.index >= 0) v += ((BigInt(this.rh[i.index]) << 32n) | BigInt(this.r[i.index] >>> 0)) << BigInt(i.scale);
    return Number(BigInt.asIntN(64, v));
  }

  /** Linear address for a read of `size` bytes at seg:off, after the segment checks. */
  linR(s: number, off: number, size: number): number {
    if (off + size - 1 > this.rdLim[s]) this.segCheckSlow(s, off, size, false);
    if (this.mode64) {
      const lin = this.effBase[s] + off;
      if (lin < -CANON || lin >= CANON) this.canonicalFault(s, lin);
      return lin;
    }
    return (this.effBase[s] + off) >>> 0;
  }

  linW(s: number, off: number, size: number): number {
    if (off + size - 1 > this.wrLim[s]) this.segCheckSlow(s, off, size, true);
    if (this.mode64) {
      const lin = this.effBase[s] + off;
      if (lin < -CANON || lin >= CANON) this.canonicalFault(s, lin);
      return lin;
    }
    return (this.effBase[s] + off) >>> 0;
  }

  /** A 64-bit linear address outside the canonical range: #SS for stack accesses, else #GP. */
  private canonicalFault(s: number, lin: number): never {
    return this.raise(s === K.SEG_SS ? K.EXC_SS : K.EXC_GP, 0, `non-canonical address 0x${lin.toString(16)}`);
  }

  /** The precise segment check behind the fast limit compare. Returns when the access is allowed. */
  segCheckSlow(s: number, off: number, size: number, write: boolean): void {
    const vec = s === K.SEG_SS ? K.EXC_SS : K.EXC_GP;
    if (this.mode64) return;
    const ar = this.segAr[s];
    const limit = this.segLimit[s];
    if (this.protectedMode && !this.v86) {
      if (ar & K.AR_UNUSABLE || !(ar & K.AR_P) || (this.segSel[s] & 0xFFFC) === 0 && s !== K.SEG_CS && s !== K.SEG_SS) {
        this.raise(vec, 0, `${K.SEG_NAMES[s]} is a null selector`);
      }
      const type = ar & 0xF;
      if (write && (type & 8 || !(type & 2))) this.raise(vec, 0, `write to a read-only ${K.SEG_NAMES[s]} segment`);
      if (!write && (type & 0xA) === 8) this.raise(vec, 0, `read from an execute-only ${K.SEG_NAMES[s]} segment`);
      if (!(type & 8) && type & 4) {
        const upper = ar & K.AR_DB ? 0xFFFFFFFF : 0xFFFF;
        if (off <= limit || off + size - 1 > upper) this.raise(vec, 0, `offset 0x${off.toString(16)} outside expand-down ${K.SEG_NAMES[s]}`);
        return;
      }
    }
    if (off + size - 1 > limit) this.raise(vec, 0, `offset 0x${off.toString(16)} beyond ${K.SEG_NAMES[s]} limit 0x${limit.toString(16)}`);
  }

  // =====================================================================================
  // Memory access by segment and offset
  // =====================================================================================

  rd8(s: number, off: number): number { return this.rdLin8(this.linR(s, off, 1)); }
  rd16(s: number, off: number): number { return this.rdLin16(this.linR(s, off, 2)); }
  rd32(s: number, off: number): number { return this.rdLin32(this.linR(s, off, 4)); }
  /** Reads 64 bits: returns the low half, the high half is left in `this.hi`. */
  rd64(s: number, off: number): number {
    const lin = this.linR(s, off, 8);
    const lo = this.rdLin32(lin);
    this.hi = this.rdLin32(this.linAdd(lin, 4));
    return lo;
  }
  wr8(s: number, off: number, v: number): void { this.wrLin8(this.linW(s, off, 1), v); }
  wr16(s: number, off: number, v: number): void { this.wrLin16(this.linW(s, off, 2), v); }
  wr32(s: number, off: number, v: number): void { this.wrLin32(this.linW(s, off, 4), v); }
  wr64(s: number, off: number, lo: number, hi: number): void {
    const lin = this.linW(s, off, 8);
    // probe both halves for write before changing memory, so a fault leaves nothing half-written
    this.probeW(lin);
    this.probeW(this.linAdd(lin, 4));
    this.wrLin32(lin, lo);
    this.wrLin32(this.linAdd(lin, 4), hi);
  }
  rd(size: number, s: number, off: number): number {
    switch (size) {
      case 1: return this.rd8(s, off);
      case 2: return this.rd16(s, off);
      default: return this.rd32(s, off);
    }
  }
  wr(size: number, s: number, off: number, v: number): void {
    switch (size) {
      case 1: this.wr8(s, off, v); return;
      case 2: this.wr16(s, off, v); return;
      default: this.wr32(s, off, v); return;
    }
  }

  /** lin + k in the current address space (wraps at 4 GiB outside 64-bit mode). */
  linAdd(lin: number, k: number): number {
    return this.mode64 ? lin + k : (lin + k) >>> 0;
  }

  // =====================================================================================
  // Linear memory: TLB fast path, paging slow path
  // =====================================================================================

  rdLin8(lin: number): number {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbRTag[idx] === lin - po) return this.mem[this.tlbROff[idx] + po];
    return this.rdLinSlow(lin, 1);
  }

  rdLin16(lin: number): number {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbRTag[idx] === lin - po && po < 0xFFF) return this.dv.getUint16(this.tlbROff[idx] + po, true);
    return this.rdLinSlow(lin, 2);
  }

  rdLin32(lin: number): number {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbRTag[idx] === lin - po && po < 0xFFD) return this.dv.getInt32(this.tlbROff[idx] + po, true);
    return this.rdLinSlow(lin, 4);
  }

  wrLin8(lin: number, v: number): void {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbWTag[idx] === lin - po) { this.mem[this.tlbWOff[idx] + po] = v; return; }
    this.wrLinSlow(lin, 1, v);
  }

  wrLin16(lin: number, v: number): void {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbWTag[idx] === lin - po && po < 0xFFF) { this.dv.setUint16(this.tlbWOff[idx] + po, v, true); return; }
    this.wrLinSlow(lin, 2, v);
  }

  wrLin32(lin: number, v: number): void {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbWTag[idx] === lin - po && po < 0xFFD) { this.dv.setInt32(this.tlbWOff[idx] + po, v, true); return; }
    this.wrLinSlow(lin, 4, v);
  }

  /** Supervisor-mode (implicit) accesses: descriptor tables, TSS, IDT. */
  rdSys32(lin: number): number {
    const phys = this.xlate(lin, false, false, true, 4);
    return this.physRead(phys, 4);
  }
  rdSys16(lin: number): number {
    const phys = this.xlate(lin, false, false, true, 2);
    return this.physRead(phys, 2);
  }
  rdSys8(lin: number): number {
    return this.physRead(this.xlate(lin, false, false, true), 1);
  }
  wrSys32(lin: number, v: number): void {
    this.physWrite(this.xlate(lin, true, false, true, 4), 4, v);
  }
  wrSys16(lin: number, v: number): void {
    this.physWrite(this.xlate(lin, true, false, true, 2), 2, v);
  }
  wrSys8(lin: number, v: number): void {
    this.physWrite(this.xlate(lin, true, false, true), 1, v);
  }

  /** Linear to physical with the current paging mode; raises #PF. */
  xlate(lin: number, write: boolean, exec: boolean, supervisor = false, size = 1): number {
    let p = !(this.cr0 & K.CR0_PG) ? (this.mode64 ? lin : lin >>> 0) : translate(this, lin, write, exec, supervisor ? false : this.cpl === 3);
    if (this.eptActive) p = guestPhys(this, p, write ? GPA_WRITE : exec ? GPA_FETCH : GPA_READ, lin);
    if (this.apicPage >= 0 && p - (p % 4096) === this.apicPage) return (nonRootHooks as NonRootHooks).apicAccess(this, p, lin, write, exec, size);
    return p;
  }

  /** Makes sure a write to `lin` would succeed (used before multi-part writes). */
  probeW(lin: number): void {
    const idx = (lin >>> 12) & TLB_MASK;
    if (this.tlbWTag[idx] === lin - (lin & 0xFFF)) return;
    this.xlate(lin, true, false);
  }

  private rdLinSlow(lin: number, size: number): number {
    const po = lin & 0xFFF;
    if (this.alignCheck) return this.rdAligned(lin, size);
    if (this.watchPages.size !== 0 && this.watchPages.has(lin - po) && po + size <= 0x1000) {
      const phys = this.xlate(lin, false, false, false, size);
      this.watchAccess(lin, size, false);
      return this.physRead(phys, size);
    }
    if (po + size > 0x1000) {
      // crosses a page: assemble from bytes, each translated on its own
      // crossing reads fault on the lower page first, as hardware does
      let v = 0;
      for (let k = 0; k < size; k++) v |= this.rdLin8(this.linAdd(lin, k)) << (8 * k);
      return size === 4 ? v | 0 : v >>> 0;
    }
    const phys = this.xlate(lin, false, false, false, size);
    if (this.apicVirtualized) { this.apicVirtualized = false; return this.physRead(phys, size); }
    const host = this.bus.hostOffset(phys);
    if (host >= 0) {
      const idx = (lin >>> 12) & TLB_MASK;
      this.tlbRTag[idx] = lin - po;
      this.tlbROff[idx] = host;
      this.tlbGlobal[idx] = this.lastWalkGlobal;
      return this.hostRead(host + po, size);
    }
    return this.physRead(phys, size);
  }

  private wrLinSlow(lin: number, size: number, v: number): void {
    const po = lin & 0xFFF;
    if (this.alignCheck) { this.wrAligned(lin, size, v); return; }
    if (this.watchPages.size !== 0 && this.watchPages.has(lin - po) && po + size <= 0x1000) {
      const phys = this.xlate(lin, true, false, false, size);
      this.watchAccess(lin, size, true);
      this.physWrite(phys, size, v);
      return;
    }
    const cidx = (lin >>> 12) & TLB_MASK;
    if (this.tlbCTag[cidx] === lin - po && po + size <= 0x1000) {
      // a code page already translated for writing: check the granules, then write
      const host = this.tlbCOff[cidx];
      if (this.codePage[host >>> 12]) {
        this.codeWritten(host + po, size);
        this.hostWrite(host + po, size, v);
        return;
      }
      this.tlbCTag[cidx] = -1;
    }
    if (po + size > 0x1000) {
      // crosses a page: check both pages first so a fault leaves memory untouched
      this.xlate(lin, true, false);
      this.xlate(this.linAdd(lin, size - 1), true, false);
      for (let k = 0; k < size; k++) this.wrLin8(this.linAdd(lin, k), (v >>> (8 * k)) & 0xFF);
      return;
    }
    const phys = this.xlate(lin, true, false, false, size);
    if (this.apicVirtualized) { this.apicVirtualized = false; this.physWrite(phys, size, v); return; }
    const host = this.bus.hostOffset(phys);
    if (host >= 0 && !this.bus.isReadOnly(phys)) {
      const page = host >>> 12;
      if (this.codePage[page]) {
        this.codeWritten(host + po, size);
        const cidx2 = (lin >>> 12) & TLB_MASK;
        this.tlbCTag[cidx2] = lin - po;
        this.tlbCOff[cidx2] = host;
        this.tlbGlobal[cidx2] = this.lastWalkGlobal;
      } else {
        const idx = (lin >>> 12) & TLB_MASK;
        this.tlbWTag[idx] = lin - po;
        this.tlbWOff[idx] = host;
        this.tlbGlobal[idx] = this.lastWalkGlobal;
      }
      this.hostWrite(host + po, size, v);
      return;
    }
    this.physWrite(phys, size, v);
  }

  /** Data accesses while alignment checking is on: checked, translated each time, never cached. */
  private rdAligned(lin: number, size: number): number {
    if (lin & (size - 1)) this.misaligned(lin, size);
    const phys = this.xlate(lin, false, false, false, size);
    return this.physRead(phys, size);
  }

  private wrAligned(lin: number, size: number, v: number): void {
    if (lin & (size - 1)) this.misaligned(lin, size);
    this.physWrite(this.xlate(lin, true, false, false, size), size, v);
  }

  /** Set by the page walker: the translation came from a global page. */
  lastWalkGlobal = 0;

  private hostRead(host: number, size: number): number {
    if (size === 1) return this.mem[host];
    if (size === 2) return this.dv.getUint16(host, true);
    return this.dv.getInt32(host, true);
  }

  private hostWrite(host: number, size: number, v: number): void {
    if (size === 1) this.mem[host] = v;
    else if (size === 2) this.dv.setUint16(host, v, true);
    else this.dv.setInt32(host, v, true);
  }

  /** Physical read (used by the page walker, VMX and slow paths). size 1, 2 or 4; 4 is signed. */
  physRead(phys: number, size: number): number {
    const host = this.bus.hostOffset(phys);
    const po = phys % 4096;
    if (host >= 0 && po + size <= 0x1000) return this.hostRead(host + po, size);
    if (host >= 0 || po + size > 4096) {
      let v = 0;
      for (let k = size - 1; k >= 0; k--) v = (v << 8) | this.physRead(phys + k, 1);
      return size === 4 ? v | 0 : v;
    }
    const v = this.bus.readSlow(phys, size);
    return size === 4 ? v | 0 : v;
  }

  physWrite(phys: number, size: number, v: number): void {
    const host = this.bus.hostOffset(phys);
    const po = phys % 4096;
    if (host >= 0 && po + size <= 0x1000) {
      if (this.bus.isReadOnly(phys)) return;
      if (this.codePage[host >>> 12]) this.codeWritten(host + po, size);
      this.hostWrite(host + po, size, v);
      return;
    }
    if (host >= 0 || po + size > 4096) {
      for (let k = 0; k < size; k++) this.physWrite(phys + k, 1, (v >>> (8 * k)) & 0xFF);
      return;
    }
    this.bus.writeSlow(phys, size, size === 4 ? v >>> 0 : v);
  }

  /**
   * The TLB of the VMX world the CPU is not in (root vs non-root), kept across VM entries and exits
   * when VPIDs tag the translations (SDM 28.3.3.1), and the current world's set (made on first use
   * from the arrays above). Plain numbers, no strings: this runs twice per VM exit.
   */
  private tlbOther: TlbSet | null = null;
  private tlbCur: TlbSet | null = null;
  /** Which world the current TLB arrays belong to. */
  private tlbNonRoot = false;

  /**
   * VM entry or exit: switch to the other world's TLB. `tagged` says the new world's translations
   * are tagged (a guest with a VPID, or the host while such a guest runs) with (vpid, EPTP); false
   * flushes, as hardware does without VPIDs. A kept TLB is used only when its context (tag and the
   * paging registers just loaded) matches the one it was filled in.
   */
  switchTlbWorld(nonRoot: boolean, tagged: boolean, vpid = 0, eptpHi = 0, eptpLo = 0): void {
    this.codeEpoch = ++this.epochSeq;
    let s = this.currentTlbSet();
    const worldChange = nonRoot !== this.tlbNonRoot;
    if (worldChange) {
      this.tlbNonRoot = nonRoot;
      s.large = this.tlbHasLarge;
      // without tags nothing of the world being left survives either
      if (!tagged) s.valid = false;
      const next = this.tlbOther ?? newTlbSet();
      this.tlbOther = s;
      this.tlbCur = s = next;
      this.tlbRTag = s.rTag; this.tlbROff = s.rOff; this.tlbWTag = s.wTag; this.tlbWOff = s.wOff;
      this.tlbXTag = s.xTag; this.tlbXOff = s.xOff; this.tlbCTag = s.cTag; this.tlbCOff = s.cOff;
      this.tlbGlobal = s.global;
      this.tlbHasLarge = s.large;
    }
    // (no world change, e.g. a failed entry returning to the host: kept only if nothing moved)
    const cr0 = this.cr0 & (K.CR0_PG | K.CR0_WP | K.CR0_PE), efer = this.efer & (K.EFER_NXE | K.EFER_LMA), user = this.cpl === 3;
    if (!tagged || !s.valid || s.vpid !== vpid || s.eptpHi !== eptpHi || s.eptpLo !== eptpLo || s.cr3 !== this.cr3 ||
      s.cr0 !== cr0 || s.cr4 !== this.cr4 || s.efer !== efer || s.user !== user || s.ac !== this.alignCheck) {
      this.flushWorldTlb();
      s.epoch = -1;
      s.valid = tagged; s.vpid = vpid; s.eptpHi = eptpHi; s.eptpLo = eptpLo;
      s.cr3 = this.cr3; s.cr0 = cr0; s.cr4 = this.cr4; s.efer = efer; s.user = user; s.ac = this.alignCheck;
    } else if (worldChange && s.epoch >= 0 && s.csBase === this.segBase[K.SEG_CS] && s.csLimit === this.segLimit[K.SEG_CS] && s.bits === this.bits) {
      // back in a world whose translations and code segment are as it left them: the successor
      // links its blocks made then are good again (epoch values are never reused, see epochSeq)
      this.codeEpoch = s.epoch;
    }
  }

  private currentTlbSet(): TlbSet {
    let s = this.tlbCur;
    if (s === null) {
      s = this.tlbCur = newTlbSet();
      s.rTag = this.tlbRTag; s.rOff = this.tlbROff; s.wTag = this.tlbWTag; s.wOff = this.tlbWOff;
      s.xTag = this.tlbXTag; s.xOff = this.tlbXOff; s.cTag = this.tlbCTag; s.cOff = this.tlbCOff; s.global = this.tlbGlobal;
    }
    return s;
  }

  /**
   * VM entry or exit is about to load the other world's state: remember this world's code epoch and
   * code segment, so switchTlbWorld can take them back when the world returns unchanged.
   */
  noteWorldLeaving(): void {
    const s = this.currentTlbSet();
    s.epoch = this.codeEpoch;
    s.csBase = this.segBase[K.SEG_CS];
    s.csLimit = this.segLimit[K.SEG_CS];
    s.bits = this.bits;
  }

  private flushWorldTlb(): void {
    this.tlbRTag.fill(-1);
    this.tlbWTag.fill(-1);
    this.tlbXTag.fill(-1);
    this.tlbCTag.fill(-1);
    this.tlbHasLarge = false;
  }

  /** Drops cached translations: all of them, or only non-global ones (MOV CR3 with PGE). */
  flushTlb(all: boolean): void {
    this.codeEpoch = ++this.epochSeq;
    // a full flush is a change the other world's kept TLB cannot have seen either (memory map, watches)
    if (all) {
      if (this.tlbOther !== null) this.tlbOther.valid = false;
      if (this.tlbCur !== null) this.tlbCur.valid = false;
    }
    if (all || !(this.cr4 & K.CR4_PGE)) {
      this.flushWorldTlb();
      return;
    }
    for (let k = 0; k < TLB_SIZE; k++) {
      if (!this.tlbGlobal[k]) {
        this.tlbRTag[k] = -1;
        this.tlbWTag[k] = -1;
        this.tlbXTag[k] = -1;
        this.tlbCTag[k] = -1;
      }
    }
  }

  /** INVLPG: drops the translation for one page (all of them if a large page may cover it). */
  invlpg(lin: number): void {
    this.codeEpoch = ++this.epochSeq;
    if (this.tlbHasLarge) { this.flushTlb(true); return; }
    const idx = (lin >>> 12) & TLB_MASK;
    this.tlbRTag[idx] = this.tlbWTag[idx] = this.tlbXTag[idx] = this.tlbCTag[idx] = -1;
  }

  // =====================================================================================
  // Decoded-code cache and self-modifying code
  // =====================================================================================

  /** A write hit a page holding decoded code: drop the blocks whose bytes it touches. */
  private codeWritten(host: number, size: number): void {
    const page = host >>> 12;
    const map = this.codeMap.get(page);
    if (!map) return;
    const first = (host & 0xFFF) >>> GRANULE_SHIFT;
    const last = ((host & 0xFFF) + size - 1) >>> GRANULE_SHIFT;
    let hit = false;
    for (let g = first; g <= last && g < 128; g++) if (map[g >>> 5] & (1 << (g & 31))) hit = true;
    if (!hit) return;
    this.invalidateCodePage(page);
  }

  /** Forgets every block decoded from one backing page. */
  invalidateCodePage(page: number): void {
    const list = this.pageBlocks.get(page);
    if (list) {
      for (const b of list) {
        b.valid = false;
        this.blocks.delete(b.hostOff);
        b.hostOff = -2; // never matches a lookup again (the jump cache may still hold it)
        // a block still running (the writer itself) must stop at its next instruction
        for (const ins of b.instrs) { ins.fn = smcExit; ins.kind = 0; }
      }
      this.pageBlocks.delete(page);
    }
    this.codeMap.delete(page);
    this.codePage[page] = 0;
  }

  /** Drops every decoded block (mode-wide changes, breakpoint edits). */
  flushCode(): void {
    for (const page of [...this.pageBlocks.keys()]) this.invalidateCodePage(page);
    this.jcache.fill(null);
  }

  private registerBlock(b: Block): void {
    const page = b.hostOff >>> 12;
    this.blocks.set(b.hostOff, b);
    let list = this.pageBlocks.get(page);
    if (!list) {
      list = [];
      this.pageBlocks.set(page, list);
    }
    list.push(b);
    let map = this.codeMap.get(page);
    if (!map) {
      map = new Uint32Array(4);
      this.codeMap.set(page, map);
      // writes to this page must now take the checking path
      if (!this.codePage[page]) {
        this.codePage[page] = 1;
        this.tlbWTag.fill(-1);
      }
    }
    const first = (b.hostOff & 0xFFF) >>> GRANULE_SHIFT;
    const last = ((b.hostEnd - 1) & 0xFFF) >>> GRANULE_SHIFT;
    for (let g = first; g <= last; g++) map[g >>> 5] |= 1 << (g & 31);
  }

  /** Reads one instruction byte at a linear address (decoder's fetch; checks execute rights). */
  fetchByte(lin: number): number {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbXTag[idx] === lin - po) return this.mem[this.tlbXOff[idx] + po];
    const phys = this.xlate(lin, false, true);
    const host = this.bus.hostOffset(phys);
    if (host < 0) return this.bus.readSlow(phys, 1) & 0xFF;
    this.tlbXTag[idx] = lin - po;
    this.tlbXOff[idx] = host;
    this.tlbGlobal[idx] = this.lastWalkGlobal;
    return this.mem[host + po];
  }

  /** Host offset of the code byte at `lin`, or -1 when it is not in RAM/ROM. */
  private codeHost(lin: number): number {
    const idx = (lin >>> 12) & TLB_MASK;
    const po = lin & 0xFFF;
    if (this.tlbXTag[idx] === lin - po) return this.tlbXOff[idx] + po;
    this.fetchByte(lin);
    if (this.tlbXTag[idx] === lin - po) return this.tlbXOff[idx] + po;
    return -1;
  }

  /** Finds or decodes the block starting at the current CS:RIP. */
  private lookupBlock(): Block {
    const rip = this.rip;
    const lin = this.mode64 ? this.effBase[K.SEG_CS] + rip : (this.segBase[K.SEG_CS] + rip) >>> 0;
    const host = this.codeHost(lin);
    if (host >= 0) {
      const slot = (host ^ (host >>> 12)) & 4095;
      const cached = this.jcache[slot];
      if (cached !== null && cached.hostOff === host && cached.rip === rip && cached.bits === this.bits) return cached;
      let b = this.blocks.get(host);
      if (b === undefined || b.rip !== rip || b.bits !== this.bits) {
        if (b !== undefined) this.invalidateCodePage(host >>> 12);
        b = this.buildBlock(lin, host);
      }
      this.jcache[slot] = b;
      return b;
    }
    return this.buildBlock(lin, -1);
  }

  /** A debugger or DR execution breakpoint sits at `lin`. */
  isBreakAddress(lin: number): boolean {
    return (this.breakpoints.size !== 0 && this.breakpoints.has(lin)) || (this.drExec.size !== 0 && this.drExec.has(lin));
  }

  private buildBlock(lin: number, host: number): Block {
    const b = new Block();
    b.rip = this.rip;
    b.bits = this.bits;
    b.hostOff = host;
    const max = this.singleStep || host < 0 ? 1 : MAX_BLOCK;
    decodeBlock(this, b, lin, max);
    if (this.isBreakAddress(lin)) b.bp = true;
    if (host >= 0 && b.hostEnd > 0) this.registerBlock(b);
    else b.hostOff = -1;
    return b;
  }

  /** Time the platform let pass while the CPU was halted, in instructions (counts for the TSC). */
  idleTicks = 0;

  readTsc(): number {
    return this.tscBase + this.icountNow() + this.idleTicks;
  }

  /**
   * Index of the executing instruction within its block, for handlers (devices, RDTSC) that need
   * the exact instruction count: icount advances once per block. Inline fast-path forms never
   * read the clock, so only the handler-called forms set it.
   */
  curK = 0;

  /** Instructions retired before the one executing now. */
  icountNow(): number {
    return this.icount + this.curK;
  }

  /**
   * Ends the current block after the executing instruction (a device changed something the rest of
   * the block must not run ahead of, e.g. a timer deadline); the next instruction is re-decoded.
   */
  endBlockAfterCurrent(): void {
    const b = this.curBlk;
    if (b !== null && b.valid && b.instrs.length > 1) {
      b.valid = false;
      if (b.hostOff >= 0) this.blocks.delete(b.hostOff);
      b.hostOff = -2;
      for (const ins of b.instrs) { ins.fn = smcExit; ins.kind = 0; }
    }
  }

  /**
   * Bytes of physical memory changed behind the CPU's back (loader, debugger): drop decoded code
   * for the pages they cover.
   */
  physicalBytesChanged(phys: number, length: number): void {
    for (let p = phys - (phys % 4096); p < phys + length; p += 4096) {
      const host = this.bus.hostOffset(p);
      if (host >= 0 && this.codePage[host >>> 12]) this.invalidateCodePage(host >>> 12);
    }
    this.jcache.fill(null);
  }

  /** Adds a data watch (debugger watchpoint when dr < 0). */
  addWatch(lin: number, len: number, read: boolean, write: boolean, dr = -1): Watch {
    const w: Watch = { lin, len, read, write, dr };
    this.watches.push(w);
    this.rebuildWatchPages();
    return w;
  }

  removeWatch(w: Watch): void {
    this.watches = this.watches.filter((x) => x !== w);
    this.rebuildWatchPages();
  }

  private rebuildWatchPages(): void {
    this.watchPages.clear();
    for (const w of this.watches) {
      for (let p = w.lin - (w.lin & 0xFFF); p < w.lin + w.len; p += 4096) this.watchPages.add(p);
    }
    this.flushTlb(true);
  }

  /** Re-arms DR0-DR3 from DR7 after a MOV to a debug register (SDM 17.2.4). */
  debugRegistersChanged(): void {
    this.sysGen++;
    this.watches = this.watches.filter((w) => w.dr < 0);
    this.drExec.clear();
    const dr7 = this.dr[7];
    for (let n = 0; n < 4; n++) {
      if (!((dr7 >>> (n * 2)) & 3)) continue;
      const rw = (dr7 >>> (16 + n * 4)) & 3;
      const len = [1, 2, 8, 4][(dr7 >>> (18 + n * 4)) & 3];
      const addr = this.dr[n] - (((this.dr[n] % len) + len) % len);
      if (rw === 0) this.drExec.add(this.dr[n]);
      else if (rw === 1) this.watches.push({ lin: addr, len, read: false, write: true, dr: n });
      else if (rw === 3) this.watches.push({ lin: addr, len, read: true, write: true, dr: n });
      // rw = 2 (I/O breakpoints with CR4.DE) is not emulated
    }
    this.rebuildWatchPages();
    this.flushCode();
  }

  /** An access to a watched page: record a hit and end the block after this instruction. */
  private watchAccess(lin: number, size: number, write: boolean): void {
    for (const w of this.watches) {
      if (lin < w.lin + w.len && lin + size > w.lin && (write ? w.write : w.read)) {
        if (w.dr >= 0) {
          // only breakpoints enabled in DR7 are armed, hence bit 12 (enabled breakpoint)
          this.pendingDb |= (1 << w.dr) | 0x1000;
        } else if (this.watchHit === null) {
          this.watchHit = { watch: w, lin, size, write };
        }
        this.events |= EV_ATTN;
        // the rest of this block must not run before the stop
        this.endBlockAfterCurrent();
      }
    }
  }

  /** Linear address of the current instruction. */
  linearRip(): number {
    return this.mode64 ? this.effBase[K.SEG_CS] + this.rip : (this.segBase[K.SEG_CS] + this.rip) >>> 0;
  }

  // =====================================================================================
  // Execution
  // =====================================================================================

  /**
   * Runs until `limit` instructions have retired in total (icount) or something stops the CPU.
   * Returns why it stopped; 'limit' when the budget ran out.
   */
  run(limit: number): K.StopReason {
    this.stopReason = null;
    let blk: Block | null = null;
    let k = 0;
    while (this.icount < limit) {
      k = 0;
      blk = null;
      try {
        if (this.events !== 0) {
          // inside the try: delivering an interrupt can itself fault (bad IDT entry, stack)
          this.serviceEvents();
          if (this.stopReason !== null) return this.stopReason;
          if (this.halted) return 'halt';
          if (this.events & EV_ATTN) continue;
        }
        blk = this.lookupBlock();
        // chained execution: stay in this loop from block to block until something needs attention
        for (;;) {
          if (blk.bp && this.breakpointHit()) return (this.stopReason = 'breakpoint');
          this.curBlk = blk;
          const instrs = blk.instrs;
          if (this.singleStep) {
            this.stepInstruction(instrs[0], instrs.length === 1 ? blk.nextRip : instrs[1].rip);
            this.icount += 1;
            break;
          }
          let n = instrs.length;
          const left = limit - this.icount;
          if (n > left) n = left;
          this.rip = n === instrs.length ? blk.nextRip : instrs[n].rip;
          const r = this.r, rh = this.rh;
          for (k = 0; k < n; k++) {
            const ins = instrs[k];
            // the hottest forms inline (fastpath.ts); everything else through its handler
            switch (ins.kind) {
              case 0: this.curK = k; ins.fn(this, ins); break;
              case 1 /* ADD32_RR */: { const a = r[ins.rm], b = r[ins.reg], v = (a + b) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x14; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 2 /* OR32_RR */: { const v = r[ins.rm] | r[ins.reg]; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 3 /* AND32_RR */: { const v = r[ins.rm] & r[ins.reg]; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 4 /* SUB32_RR */: { const a = r[ins.rm], b = r[ins.reg], v = (a - b) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x34; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 5 /* XOR32_RR */: { const v = r[ins.rm] ^ r[ins.reg]; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 6 /* CMP32_RR */: { const a = r[ins.rm], b = r[ins.reg]; this.lzOp = 0x34; this.lzA = a; this.lzB = b; this.lzR = (a - b) | 0; break; }
              case 7 /* ADD32_RI */: { const a = r[ins.rm], b = ins.imm, v = (a + b) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x14; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 8 /* OR32_RI */: { const v = r[ins.rm] | ins.imm; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 9 /* AND32_RI */: { const v = r[ins.rm] & ins.imm; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 10 /* SUB32_RI */: { const a = r[ins.rm], b = ins.imm, v = (a - b) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x34; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 11 /* XOR32_RI */: { const v = r[ins.rm] ^ ins.imm; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x54; this.lzR = v; break; }
              case 12 /* CMP32_RI */: { const a = r[ins.rm], b = ins.imm; this.lzOp = 0x34; this.lzA = a; this.lzB = b; this.lzR = (a - b) | 0; break; }
              case 13 /* INC32 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const a = r[ins.rm], v = (a + 1) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x64; this.lzA = a; this.lzB = 1; this.lzR = v; break; }
              case 14 /* DEC32 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const a = r[ins.rm], v = (a - 1) | 0; r[ins.rm] = v; rh[ins.rm] = 0; this.lzOp = 0x74; this.lzA = a; this.lzB = 1; this.lzR = v; break; }
              case 15 /* MOV32_RR */: r[ins.rm] = r[ins.reg]; rh[ins.rm] = 0; break;
              case 16 /* ADD16_RR */: { const a = r[ins.rm] & 0xFFFF, b = r[ins.reg] & 0xFFFF, v = (a + b) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x12; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 17 /* OR16_RR */: { const v = (r[ins.rm] | (r[ins.reg] & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 18 /* AND16_RR */: { const v = (r[ins.rm] & (r[ins.reg] & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 19 /* SUB16_RR */: { const a = r[ins.rm] & 0xFFFF, b = r[ins.reg] & 0xFFFF, v = (a - b) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x32; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 20 /* XOR16_RR */: { const v = (r[ins.rm] ^ (r[ins.reg] & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 21 /* CMP16_RR */: { const a = r[ins.rm] & 0xFFFF, b = r[ins.reg] & 0xFFFF; this.lzOp = 0x32; this.lzA = a; this.lzB = b; this.lzR = (a - b) & 0xFFFF; break; }
              case 22 /* ADD16_RI */: { const a = r[ins.rm] & 0xFFFF, b = ins.imm & 0xFFFF, v = (a + b) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x12; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 23 /* OR16_RI */: { const v = (r[ins.rm] | (ins.imm & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 24 /* AND16_RI */: { const v = (r[ins.rm] & (ins.imm & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 25 /* SUB16_RI */: { const a = r[ins.rm] & 0xFFFF, b = ins.imm & 0xFFFF, v = (a - b) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x32; this.lzA = a; this.lzB = b; this.lzR = v; break; }
              case 26 /* XOR16_RI */: { const v = (r[ins.rm] ^ (ins.imm & 0xFFFF)) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x52; this.lzR = v; break; }
              case 27 /* CMP16_RI */: { const a = r[ins.rm] & 0xFFFF, b = ins.imm & 0xFFFF; this.lzOp = 0x32; this.lzA = a; this.lzB = b; this.lzR = (a - b) & 0xFFFF; break; }
              case 28 /* INC16 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const a = r[ins.rm] & 0xFFFF, v = (a + 1) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x62; this.lzA = a; this.lzB = 1; this.lzR = v; break; }
              case 29 /* DEC16 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const a = r[ins.rm] & 0xFFFF, v = (a - 1) & 0xFFFF; r[ins.rm] = (r[ins.rm] & ~0xFFFF) | v; this.lzOp = 0x72; this.lzA = a; this.lzB = 1; this.lzR = v; break; }
              case 30 /* MOV16_RR */: r[ins.rm] = (r[ins.rm] & ~0xFFFF) | (r[ins.reg] & 0xFFFF); break;
              case 31 /* ADD64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const lo = (al >>> 0) + (bl >>> 0), vl = lo | 0, vh = (ah + bh + (lo > 0xFFFFFFFF ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x18; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 32 /* OR64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const vl = al | bl, vh = ah | bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 33 /* AND64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const vl = al & bl, vh = ah & bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 34 /* SUB64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const lo = (al >>> 0) - (bl >>> 0), vl = lo | 0, vh = (ah - bh - (lo < 0 ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x38; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 35 /* XOR64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const vl = al ^ bl, vh = ah ^ bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 36 /* CMP64_RR */: { const al = r[ins.rm], ah = rh[ins.rm], bl = r[ins.reg], bh = rh[ins.reg]; const lo = (al >>> 0) - (bl >>> 0), vl = lo | 0, vh = (ah - bh - (lo < 0 ? 1 : 0)) | 0; this.lzOp = 0x38; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 37 /* ADD64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const lo = (al >>> 0) + (bl >>> 0), vl = lo | 0, vh = (ah + bh + (lo > 0xFFFFFFFF ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x18; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 38 /* OR64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const vl = al | bl, vh = ah | bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 39 /* AND64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const vl = al & bl, vh = ah & bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 40 /* SUB64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const lo = (al >>> 0) - (bl >>> 0), vl = lo | 0, vh = (ah - bh - (lo < 0 ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x38; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 41 /* XOR64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const vl = al ^ bl, vh = ah ^ bh; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x58; this.lzR = vl; this.lzRh = vh; break; }
              case 42 /* CMP64_RI */: { const al = r[ins.rm], ah = rh[ins.rm], bl = ins.imm, bh = ins.imm >> 31; const lo = (al >>> 0) - (bl >>> 0), vl = lo | 0, vh = (ah - bh - (lo < 0 ? 1 : 0)) | 0; this.lzOp = 0x38; this.lzA = al; this.lzAh = ah; this.lzB = bl; this.lzBh = bh; this.lzR = vl; this.lzRh = vh; break; }
              case 43 /* INC64 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const al = r[ins.rm], ah = rh[ins.rm], lo = (al >>> 0) + 1, vl = lo | 0, vh = (ah + (lo > 0xFFFFFFFF ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x68; this.lzA = al; this.lzAh = ah; this.lzB = 1; this.lzBh = 0; this.lzR = vl; this.lzRh = vh; break; }
              case 44 /* DEC64 */: { if (this.lzOp !== 0) this.flags = (this.flags & ~1) | this.getCF(); const al = r[ins.rm], ah = rh[ins.rm], lo = (al >>> 0) - 1, vl = lo | 0, vh = (ah - (lo < 0 ? 1 : 0)) | 0; r[ins.rm] = vl; rh[ins.rm] = vh; this.lzOp = 0x78; this.lzA = al; this.lzAh = ah; this.lzB = 1; this.lzBh = 0; this.lzR = vl; this.lzRh = vh; break; }
              case 45 /* MOV64_RR */: r[ins.rm] = r[ins.reg]; rh[ins.rm] = rh[ins.reg]; break;
              case 46 /* MOV8_RR */: this.setReg(1, ins.rm, this.getReg(1, ins.reg)); break;
              case 47 /* JZ */: if (this.zeroResult()) this.branch(ins.target); break;
              case 48 /* JNZ */: if (!this.zeroResult()) this.branch(ins.target); break;
              case 49 /* JB */: if (this.getCF() !== 0) this.branch(ins.target); break;
              case 50 /* JAE */: if (this.getCF() === 0) this.branch(ins.target); break;
              case 51 /* PUSH_R */: this.push(ins.size, ins.size === 2 ? r[ins.reg] & 0xFFFF : r[ins.reg]); break;
              case 52 /* POP_R */: { const v = this.pop(ins.size); if (ins.size === 2) r[ins.reg] = (r[ins.reg] & ~0xFFFF) | v; else { r[ins.reg] = v; rh[ins.reg] = 0; } break; }
              case 53 /* CALL_REL */: {
                const t = ins.target;
                // the target is checked before the return address is pushed (the handler raises the fault)
                if (this.mode64 || t > this.segLimit[K.SEG_CS]) { this.curK = k; ins.fn(this, ins); break; }
                this.push(ins.size, ins.next);
                this.rip = t;
                break;
              }
              case 54 /* RET */: {
                if (this.mode64) { this.curK = k; ins.fn(this, ins); break; }
                const lo = r[4], hi = rh[4];
                const t = ins.size === 2 ? this.pop(2) : this.pop(4) >>> 0;
                // a bad target faults with the stack pointer as it was before the RET
                if (t > this.segLimit[K.SEG_CS]) { r[4] = lo; rh[4] = hi; this.curK = k; ins.fn(this, ins); break; }
                this.rip = t;
                break;
              }
              default: this.curK = k; ins.fn(this, ins);
            }
          }
          this.icount += n;
          k = 0;
          this.curK = 0;
          if (this.events !== 0 || this.icount >= limit) break;
          // a fault while finding the next block belongs to no instruction of the previous one
          const prev = blk;
          blk = null;
          blk = this.nextBlock(prev);
        }
      } catch (e) {
        this.icount += k;
        this.curK = 0;
        if (e === BLOCK_EXIT) continue;
        if (e !== FAULT) throw e;
        if (blk !== null && k < blk.instrs.length) this.rip = blk.instrs[k].rip;
        this.deliverFault();
      }
      if (this.stopReason !== null) return this.stopReason;
    }
    return 'limit';
  }

  /** A near branch: canonical (64-bit) or CS-limit (otherwise) check, then RIP. */
  branch(t: number): void {
    if (this.mode64 ? t < -CANON || t >= CANON : t > this.segLimit[K.SEG_CS]) {
      this.raise(K.EXC_GP, 0, `branch target 0x${t.toString(16)} ${this.mode64 ? 'not canonical' : 'beyond the CS limit'}`);
    }
    this.rip = t;
  }

  /**
   * At the start of a block that begins on a breakpoint address: true to stop for the debugger;
   * a DR0-DR3 execution breakpoint raises #DB (a fault) unless EFLAGS.RF suppresses it once.
   */
  private breakpointHit(): boolean {
    const lin = this.linearRip();
    if (this.breakpoints.has(lin)) {
      if (!this.skipBreakpoint) return true;
      this.skipBreakpoint = false;
    }
    if (this.drExec.has(lin)) {
      if (this.flags & F.RF) {
        this.flags &= ~F.RF;
      } else {
        let hits = 0;
        for (let n = 0; n < 4; n++) if ((this.dr[7] >>> (n * 2)) & 3 && ((this.dr[7] >>> (16 + n * 4)) & 3) === 0 && this.dr[n] === lin) hits |= 1 << n;
        this.dr[6] = ((this.dr[6] & ~0xF) | hits) >>> 0;
        this.raise(K.EXC_DB, -1, `instruction breakpoint (DR6 0x${(this.dr[6] >>> 0).toString(16)})`);
      }
    }
    return false;
  }

  /** The block at the current RIP, following the previous block's cached successors when valid. */
  private nextBlock(prev: Block): Block {
    const rip = this.rip;
    const a = prev.succ0;
    if (a !== null && a.rip === rip && a.valid && prev.epoch0 === this.codeEpoch) return a;
    const b = prev.succ1;
    if (b !== null && b.rip === rip && b.valid && prev.epoch1 === this.codeEpoch) return b;
    const nb = this.lookupBlock();
    if (nb.hostOff >= 0) {
      if (a === null || a.rip !== rip && (b !== null || prev.epoch0 !== this.codeEpoch)) {
        prev.succ0 = nb;
        prev.epoch0 = this.codeEpoch;
      } else {
        prev.succ1 = nb;
        prev.epoch1 = this.codeEpoch;
      }
    }
    return nb;
  }

  /**
   * Bumped whenever the meaning of (RIP → block) may change without the block itself being
   * invalidated: TLB flushes, CS reloads, mode changes. Cached block successors carry the epoch.
   */
  codeEpoch = 0;
  /**
   * Moves whenever a register a VM exit saves among the "stable" guest fields may have changed
   * (control and debug registers, DEBUGCTL and SYSENTER MSRs, EFER, segment and descriptor-table
   * registers): segment loads, mode changes, MOV CR/DR, LGDT/LIDT, CLTS, WRMSR, debugger writes.
   * A VM exit in place skips saving those fields when it has not moved since they were saved.
   */
  sysGen = 0;
  /** The last epoch handed out: epochs only ever come from here, so none is used twice. */
  private epochSeq = 0;

  /** The slow path for one instruction: observers, then the TF single-step trap (SDM 17.3.1.4). */
  private stepInstruction(ins: Instr, next: number): void {
    if (this.observer !== null) this.observer.beforeInstruction(this, this.linearRip(), ins);
    const tf = this.flags & F.TF;
    const nonRoot = this.nonRoot;
    this.rip = next;
    if (this.oneShot) {
      this.oneShot = false;
      this.singleStepChanged();
      this.events |= EV_ATTN;
    }
    ins.fn(this, ins);
    // an instruction that entered or left the guest (VM entry, VM exit) raises no trap in the new world
    if (tf && this.nonRoot === nonRoot) {
      // the single-step trap is taken after the instruction, before any interrupt (SDM 6.9)
      this.pendingDb |= 0x4000;
      this.events |= EV_ATTN;
    }
  }

  /** Executes exactly one instruction (debugger step); returns the stop reason or null. */
  step(): K.StopReason | null {
    const before = this.forceSingleStep;
    this.forceSingleStep = true;
    this.singleStepChanged();
    const skip = this.skipBreakpoint;
    this.skipBreakpoint = true;
    try {
      const r = this.run(this.icount + 1);
      return r === 'limit' ? null : r;
    } finally {
      this.forceSingleStep = before;
      this.singleStepChanged();
      if (!skip) this.skipBreakpoint = false;
    }
  }

  /** HLT and shutdown: the CPU waits; setting it makes the run loop look at the state. */
  get halted(): boolean {
    return this._halted;
  }
  set halted(v: boolean) {
    this._halted = v;
    if (v) this.events |= EV_ATTN;
  }

  /** Interrupt shadow after STI / MOV SS / POP SS: the next instruction runs before any interrupt. */
  get shadow(): boolean {
    return this._shadow;
  }
  set shadow(v: boolean) {
    this._shadow = v;
    // MOV SS / POP SS set movSsShadow right after this
    this.movSsShadow = false;
    if (v) this.events |= EV_ATTN;
  }
  private _shadow = false;
  /** Run exactly one instruction next (interrupt shadow), then look at events again. */
  private oneShot = false;

  /** Interrupts, NMIs and stop requests, checked between blocks. */
  private serviceEvents(): void {
    this.events &= ~EV_ATTN;
    if (this.watchHit !== null) {
      this.stopReason = 'watchpoint';
      return;
    }
    if (this.apicPending !== 0 && nonRootHooks !== null && nonRootHooks.apicPending(this)) return;
    if (this.mtf && nonRootHooks !== null && nonRootHooks.mtf(this)) return;
    // data breakpoints and single step are traps: taken after the instruction completed, all in one
    // #DB; blocking by MOV SS holds them until after the next instruction (SDM 6.8.3)
    if (this.pendingDb !== 0 && !(this._shadow && this.movSsShadow)) {
      const bits = this.pendingDb;
      this.pendingDb = 0;
      // an exception ends blocking by STI (SDM 27.7.1)
      this._shadow = false;
      // a debug exception ends HLT (SDM HLT) and writes DR6; in non-root operation the VMX layer does
      // both, unless the #DB causes a VM exit, which saves HLT and leaves DR6 alone (SDM 27.1)
      if (this.nonRoot) this.dbTrap = bits;
      else {
        this.dr[6] = (this.dr[6] | (bits & 0x400F)) >>> 0;
        this.halted = false;
      }
      this.deliverTrap(K.EXC_DB, bits & 0x4000 ? 'single-step trap (EFLAGS.TF)' : 'data breakpoint');
      this.dbTrap = 0;
      return;
    }
    if (this._shadow) {
      // the instruction after STI / MOV SS runs before any interrupt is recognised
      this._shadow = false;
      // one instruction runs through stepInstruction, which asks for another look afterwards
      this.oneShot = true;
      this.singleStepChanged();
      return;
    }
    if (this.events & EV_STOP) {
      this.events &= ~EV_STOP;
      this.stopReason = 'stop';
      return;
    }
    if (this.vmx !== null && nonRootHooks !== null && nonRootHooks.boundary(this)) return;
    if (this.events & EV_NMI && !this.nmiBlocked) {
      this.events &= ~EV_NMI;
      this.halted = false;
      this.nmiBlocked = true;
      this.deliver(2, -1, EVT_NMI);
      return;
    }
    if (this.events & EV_INTR) {
      if (!this.intc || !this.intc.hasInterrupt()) {
        this.events &= ~EV_INTR;
        return;
      }
      if (this.flags & F.IF) {
        this.halted = false;
        const vec = this.intc.acknowledge();
        this.deliver(vec, -1, EVT_EXT);
        // keep polling: another interrupt may be pending behind this one
        return;
      }
      // IF=0: forget the line until IF is set again (STI/POPF/IRET re-raise EV_INTR)
      this.events &= ~EV_INTR;
    }
  }

  /** The machine calls this when an interrupt controller's output may have changed. */
  raiseIntrLine(): void {
    this.events |= EV_INTR;
    this.intrSeq++;
  }

  /**
   * The controller's hasInterrupt(), asked again only after the machine reported a change of the
   * lines (raiseIntrLine): the same contract serviceEvents relies on. A stale `true` after an
   * acknowledge only makes the caller look once more.
   */
  interruptPending(): boolean {
    if (this.intc === null) return false;
    if (this.intrSeqSeen !== this.intrSeq) {
      this.intrSeqSeen = this.intrSeq;
      this.intrCached = this.intc.hasInterrupt();
    }
    return this.intrCached;
  }
  private intrSeq = 0;
  private intrSeqSeen = -1;
  private intrCached = false;

  raiseNmi(): void {
    this.events |= EV_NMI;
  }

  /** Asks the run loop to return 'stop' at the next block boundary. */
  requestStop(detail = ''): void {
    this.events |= EV_STOP;
    if (detail) this.stopDetail = detail;
  }

  /** Records an exception and abandons the instruction. */
  raise(vec: number, err = -1, why = ''): never {
    this.faultVec = vec;
    this.faultErr = err;
    this.faultWhy = why;
    throw FAULT;
  }
  faultWhy = '';

  /**
   * Consulted before an exception is delivered: returning true stops the run with reason
   * 'exception' and RIP at the faulting instruction (debugger "break on exception", test harness).
   */
  onException: ((vec: number, err: number, why: string) => boolean) | null = null;

  /** A trap raised between instructions: observers may stop on it like on a fault. */
  private deliverTrap(vec: number, why: string): void {
    if (this.onException !== null && this.onException(vec, -1, why)) {
      this.faultVec = vec;
      this.faultErr = -1;
      this.faultWhy = why;
      this.stopReason = 'exception';
      return;
    }
    this.deliver(vec, -1, EVT_HW);
    this.events |= EV_ATTN;
  }

  /** Delivers the fault recorded by raise(), applying the double- and triple-fault rules. */
  private deliverFault(): void {
    let vec = this.faultVec;
    let err = this.faultErr;
    // vectors >= 256 are VMX exits raised as faults (EPT violation / misconfiguration), not exceptions
    if (vec < 256 && this.onException !== null && this.onException(vec, err, this.faultWhy)) {
      this.stopReason = 'exception';
      return;
    }
    for (;;) {
      try {
        this.deliver(vec, err, EVT_HW);
        return;
      } catch (e) {
        if (e !== FAULT) throw e;
        const second = this.faultVec;
        const first = vec;
        if (first === K.EXC_DF) {
          this.enterShutdown(`triple fault: ${K.EXCEPTION_NAMES[second] ?? 'vector ' + second} while delivering #DF (${this.faultWhy})`);
          return;
        }
        const contributory = (v: number) => v === 0 || (v >= 10 && v <= 13);
        if ((contributory(first) && contributory(second)) || (first === K.EXC_PF && (contributory(second) || second === K.EXC_PF))) {
          vec = K.EXC_DF;
          err = 0;
        } else {
          vec = second;
          err = this.faultErr;
        }
      }
    }
  }

  /** Delivers an event now (exception, interrupt, software INT): see interrupts.ts. */
  deliver(vec: number, err: number, kind: number, nextRip = this.rip): void {
    this.delivering = vec;
    try {
      deliverEvent(this, vec, err, kind, nextRip);
    } finally {
      this.delivering = -1;
    }
  }

  /** Triple fault or an explicit shutdown: the CPU stops until reset. */
  enterShutdown(why: string): void {
    if (this.nonRoot && nonRootHooks !== null && nonRootHooks.shutdown(this, why)) return;
    this.events |= EV_ATTN;
    this.shutdown = true;
    this.halted = true;
    this.stopReason = 'shutdown';
    this.stopDetail = why;
  }

  /** Port I/O with the protected-mode permission checks (IOPL, TSS I/O bitmap). */
  portIn(port: number, size: number): number {
    if (this.needsIoCheck()) this.checkIoPermission(port, size);
    return this.io.in(port, size);
  }

  portOut(port: number, size: number, v: number): void {
    if (this.needsIoCheck()) this.checkIoPermission(port, size);
    this.io.out(port, size, size === 4 ? v >>> 0 : v & (size === 1 ? 0xFF : 0xFFFF));
  }

  /** Public for VMX: the I/O permission check comes before the VM-exit decision (SDM 26.1.1). */
  needsIoCheck(): boolean {
    return this.protectedMode && (this.v86 || this.cpl > ((this.flags >> 12) & 3));
  }

  /** SDM 19.5.2: every bit for the accessed ports in the TSS I/O permission bitmap must be 0. */
  checkIoPermission(port: number, size: number): void {
    const trType = this.segAr[K.SEG_TR] & 0xF;
    if (trType !== 0x9 && trType !== 0xB) this.raise(K.EXC_GP, 0, 'I/O permission: no 32-bit TSS');
    const limit = this.segLimit[K.SEG_TR];
    if (limit < 0x67) this.raise(K.EXC_GP, 0, 'I/O permission: TSS too small for an I/O map');
    const base = this.segBase[K.SEG_TR];
    const mapBase = this.rdSys16(this.mode64 ? base + 0x66 : (base + 0x66) >>> 0);
    const byteOff = mapBase + (port >>> 3);
    if (byteOff + 1 > limit) this.raise(K.EXC_GP, 0, `I/O permission: port 0x${port.toString(16)} beyond the TSS I/O map`);
    const lin = this.mode64 ? base + byteOff : (base + byteOff) >>> 0;
    const bits = this.rdSys16(lin);
    const mask = ((1 << size) - 1) << (port & 7);
    if (bits & mask) this.raise(K.EXC_GP, 0, `I/O permission: port 0x${port.toString(16)} denied by the TSS I/O map`);
  }

  // =====================================================================================
  // Stack
  // =====================================================================================

  /** Pushes `size` bytes (2, 4 or 8; for 8 `hi` is the high half). */
  push(size: number, v: number, hi = 0): void {
    const ss = this.stackBytes;
    if (ss !== 8 && size !== 8) {
      // fast path: 16/32-bit stack, write TLB hit, no page crossing
      const sp = ss === 4 ? ((this.r[4] >>> 0) - size) >>> 0 : (this.r[4] - size) & 0xFFFF;
      if (sp + size - 1 <= this.wrLim[K.SEG_SS]) {
        const lin = (this.effBase[K.SEG_SS] + sp) >>> 0;
        const idx = (lin >>> 12) & TLB_MASK;
        const po = lin & 0xFFF;
        if (this.tlbWTag[idx] === lin - po && po <= 0x1000 - size) {
          const off = this.tlbWOff[idx] + po;
          if (size === 2) this.dv.setUint16(off, v, true);
          else this.dv.setInt32(off, v, true);
          if (ss === 4) { this.r[4] = sp | 0; this.rh[4] = 0; } else this.r[4] = (this.r[4] & ~0xFFFF) | sp;
          return;
        }
      }
    }
    this.pushSlow(size, v, hi);
  }

  private pushSlow(size: number, v: number, hi: number): void {
    const ss = this.stackBytes;
    if (ss === 8) {
      const sp = this.rsp64 - size;
      if (size === 8) this.wr64(K.SEG_SS, sp, v, hi);
      else this.wr(size, K.SEG_SS, sp, v);
      this.setAddrReg(4, 8, sp);
      return;
    }
    if (ss === 4) {
      const sp = ((this.r[4] >>> 0) - size) >>> 0;
      if (size === 8) this.wr64(K.SEG_SS, sp, v, hi);
      else this.wr(size, K.SEG_SS, sp, v);
      this.r[4] = sp | 0;
      this.rh[4] = 0;
      return;
    }
    const sp = (this.r[4] - size) & 0xFFFF;
    this.wr(size, K.SEG_SS, sp, v);
    this.r[4] = (this.r[4] & ~0xFFFF) | sp;
  }

  /** Pops `size` bytes; for 8 the high half is left in `hi`. */
  pop(size: number): number {
    const ss = this.stackBytes;
    if (ss !== 8 && size !== 8) {
      // fast path: 16/32-bit stack, read TLB hit, no page crossing
      const sp = ss === 4 ? this.r[4] >>> 0 : this.r[4] & 0xFFFF;
      if (sp + size - 1 <= this.rdLim[K.SEG_SS]) {
        const lin = (this.effBase[K.SEG_SS] + sp) >>> 0;
        const idx = (lin >>> 12) & TLB_MASK;
        const po = lin & 0xFFF;
        if (this.tlbRTag[idx] === lin - po && po <= 0x1000 - size) {
          const off = this.tlbROff[idx] + po;
          const v = size === 2 ? this.dv.getUint16(off, true) : this.dv.getInt32(off, true);
          if (ss === 4) { this.r[4] = (sp + size) | 0; this.rh[4] = 0; } else this.r[4] = (this.r[4] & ~0xFFFF) | ((sp + size) & 0xFFFF);
          return v;
        }
      }
    }
    return this.popSlow(size);
  }

  private popSlow(size: number): number {
    const ss = this.stackBytes;
    let v: number;
    if (ss === 8) {
      const sp = this.rsp64;
      v = size === 8 ? this.rd64(K.SEG_SS, sp) : this.rd(size, K.SEG_SS, sp);
      this.setAddrReg(4, 8, sp + size);
      return v;
    }
    if (ss === 4) {
      const sp = this.r[4] >>> 0;
      v = size === 8 ? this.rd64(K.SEG_SS, sp) : this.rd(size, K.SEG_SS, sp);
      this.r[4] = (sp + size) | 0;
      this.rh[4] = 0;
      return v;
    }
    const sp = this.r[4] & 0xFFFF;
    v = this.rd(size, K.SEG_SS, sp);
    this.r[4] = (this.r[4] & ~0xFFFF) | ((sp + size) & 0xFFFF);
    return v;
  }

  /** Reads the stack at RSP + offset without popping. */
  peek(size: number, offset: number): number {
    const ss = this.stackSize();
    const sp = ss === 8 ? this.rsp64 + offset : ss === 4 ? ((this.r[4] >>> 0) + offset) >>> 0 : (this.r[4] + offset) & 0xFFFF;
    return size === 8 ? this.rd64(K.SEG_SS, sp) : this.rd(size, K.SEG_SS, sp);
  }
}

/** Operand mask of a lazy record (size in the low bits of lzOp). */
export function lzMask(op: number): number {
  const size = op & 0xF;
  return size === 4 ? -1 : size === 2 ? 0xFFFF : 0xFF;
}

function lzSign(op: number): number {
  const size = op & 0xF;
  return size === 4 ? -0x80000000 : size === 2 ? 0x8000 : 0x80;
}

/** Replaces the handlers of an invalidated block: leave it and re-decode from this instruction. */
function smcExit(c: Cpu, i: Instr): void {
  c.rip = i.rip;
  throw BLOCK_EXIT;
}
