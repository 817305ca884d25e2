import type { Cpu, StepObserver } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { SHADOW_MOVSS, SHADOW_NONE, type Vmx } from '../cpu/vmx/state';
import type { Instr } from '../cpu/block';
import { peekTranslate } from '../cpu/paging';
import { FIELD_COUNT, VMCS_OFF_DATA, type VmcsCache } from '../cpu/vmx/vmcs';
import { REG_16, REG_32, REG_64, REG_HI8, REG_LO8, REG_RIP, accessPlanAt, accessesAt, type AccessPlan, type OperandPlan } from './instructions';
import type { GuestMemory } from './memory';
import { VmxSnapshot } from './vmxSnapshot';

/**
 * Execution history for reverse execution (stepBack, reverseContinue): a bounded ring of records,
 * one per executed instruction, each holding the architectural state before the instruction and
 * the memory bytes it was about to overwrite (its written operands as iced-x86 decodes them, a
 * window below the stack pointer for pushes and interrupt frames, and the VMCS regions that
 * VMCLEAR / VMPTRLD / VMXOFF store). The VMCS cache and the VMX-side state outside it (VmxSnapshot:
 * current VMCS, launch state, non-root operation, EPT in force, MTF, preemption timer, registers VM
 * entries and exits load...) are kept only for instructions that changed them (VMWRITE, VMX
 * instructions, VM entries and exits, including those at the boundary after the instruction).
 * Putting one back re-derives what the CPU caches from it: TLBs of both VMX worlds, decoded code,
 * DR7 breakpoints, VMCS check results, the interrupt shadow.
 *
 * Cost: nothing when the launch does not ask for it (no observer is installed, the CPU keeps its
 * block fast path). When on, the CPU runs one instruction per block and recording runs at roughly
 * 1-2 million instructions per second (npm run bench:adapter; 100-180 without). Per instruction: the
 * registers copied into a ring array; the segment, descriptor-table, control and debug registers
 * compared with the previous record's (SysState, shared until one changes); the instruction's memory
 * operands evaluated from an AccessPlan that iced-x86 decodes once per decoded instruction of the CPU
 * (a new Instr whenever the bytes or the mode change), in plain numbers (bigints and accessesAt only
 * where a number would not be exact); the 144-byte stack window of the previous record compared with
 * memory (copied into that record only when the instruction changed it, and taken again only when it
 * moved or changed); translations from a small cache dropped with the CPU's own (codeEpoch). Outside
 * VMX operation the VMX side costs four compares; in it, one counter compare for the VMCS (writeGen:
 * the cache is compared, and a diff of the changed fields kept, only when it moved) and one compare
 * per VmxSnapshot field. Memory: at most `capacity` records, ~300 bytes each plus what they saved.
 *
 * Not restored: device state (a UART byte already sent stays sent, timers keep their time), MSRs
 * other than EFER, FS/GS base and (in VMX operation) those VmxSnapshot keeps, PDPTEs loaded outside
 * VMX operation, accessed/dirty bits the page walker and EPT set, the VM-exit MSR-store area, and
 * the guest stack bytes an event injected by VM entry pushed.
 */

interface MemPatch {
  phys: number;
  bytes: Uint8Array;
}

/**
 * The segment, descriptor-table, control and debug registers before an instruction. Immutable:
 * consecutive records share one until an instruction changes any of them, so a record costs a
 * compare here, not a copy.
 */
export class SysState {
  readonly segSel: Uint16Array;
  readonly segBase: Float64Array;
  readonly segLimit: Float64Array;
  readonly segAr: Int32Array;
  readonly gdtrBase: number;
  readonly gdtrLimit: number;
  readonly idtrBase: number;
  readonly idtrLimit: number;
  readonly cr0: number;
  readonly cr2: number;
  readonly cr3: number;
  readonly cr4: number;
  readonly cr8: number;
  readonly dr: Float64Array;

  constructor(c: Cpu) {
    this.segSel = c.segSel.slice();
    this.segBase = c.segBase.slice();
    this.segLimit = c.segLimit.slice();
    this.segAr = c.segAr.slice();
    this.gdtrBase = c.gdtrBase;
    this.gdtrLimit = c.gdtrLimit;
    this.idtrBase = c.idtrBase;
    this.idtrLimit = c.idtrLimit;
    this.cr0 = c.cr0;
    this.cr2 = c.cr2;
    this.cr3 = c.cr3;
    this.cr4 = c.cr4;
    this.cr8 = c.cr8;
    this.dr = c.dr.slice();
  }

  matches(c: Cpu): boolean {
    if (c.cr0 !== this.cr0 || c.cr2 !== this.cr2 || c.cr3 !== this.cr3 || c.cr4 !== this.cr4 || c.cr8 !== this.cr8 ||
      c.gdtrBase !== this.gdtrBase || c.gdtrLimit !== this.gdtrLimit || c.idtrBase !== this.idtrBase || c.idtrLimit !== this.idtrLimit) return false;
    const sel = c.segSel, base = c.segBase, limit = c.segLimit, ar = c.segAr, dr = c.dr;
    for (let k = 0; k < sel.length; k++) {
      if (sel[k] !== this.segSel[k] || base[k] !== this.segBase[k] || limit[k] !== this.segLimit[k] || ar[k] !== this.segAr[k]) return false;
    }
    for (let k = 0; k < dr.length; k++) if (dr[k] !== this.dr[k]) return false;
    return true;
  }
}

export interface HistoryRecord {
  icount: number;
  r: Int32Array;
  rh: Int32Array;
  rip: number;
  flags: number;
  /** Segment, descriptor-table, control and debug registers (shared with neighbouring records). */
  sys: SysState;
  efer: number;
  xcr0: number;
  /** The x87 image (Cpu.x87 is replaced, never modified, so the reference is the snapshot) and XINUSE[0]. */
  x87: Uint8Array;
  x87InUse: boolean;
  cpl: number;
  halted: boolean;
  nmiBlocked: boolean;
  /** Debug traps not yet delivered (Cpu.pendingDb). */
  pendingDb: number;
  /** The VMX-side state before this instruction, when the instruction (or the boundary after it) changed it. */
  vmxBefore: VmxSnapshot | null;
  /** The VMCS fields this instruction changed, as they were before it. */
  vmcsBefore: VmcsDiff | null;
  /** Before-images of the memory the instruction changed (or may have), put back last to first. */
  mem: MemPatch[];
  /** The state of this record is the one right after a VM exit (or a failed VM entry into the host). */
  afterVmExit: boolean;
}

/** No memory saved: shared by records, never pushed to (a record gets its own array first). */
const NO_MEM: MemPatch[] = Object.freeze([]) as unknown as MemPatch[];

/**
 * A ring slot: a record without its registers, which are in ExecutionHistory.regs (32 ints a slot,
 * reused when the ring wraps). Overwritten in place; popAndRestore hands out a HistoryRecord of its own.
 */
class Slot {
  icount = 0;
  rip = 0;
  flags = 0;
  sys: SysState;
  efer = 0;
  xcr0 = 0;
  x87: Uint8Array;
  x87InUse = false;
  cpl = 0;
  halted = false;
  nmiBlocked = false;
  pendingDb = 0;
  vmxBefore: VmxSnapshot | null = null;
  vmcsBefore: VmcsDiff | null = null;
  mem: MemPatch[] = NO_MEM;
  afterVmExit = false;

  constructor(sys: SysState, x87: Uint8Array) {
    this.sys = sys;
    this.x87 = x87;
  }
}

/**
 * The VMCS fields an instruction changed, with their values before it: slots and the low and high
 * halves. Merged into the record's earlier diff (its values win: they are the older ones).
 */
export interface VmcsDiff {
  slots: Int32Array;
  lo: Int32Array;
  hi: Int32Array;
}

function vmcsDiff(old: VmcsDiff | null, changed: Int32Array, n: number, lo: Int32Array, hi: Int32Array): VmcsDiff {
  if (old === null) {
    const d: VmcsDiff = { slots: changed.slice(0, n), lo: new Int32Array(n), hi: new Int32Array(n) };
    for (let j = 0; j < n; j++) { d.lo[j] = lo[changed[j]]; d.hi[j] = hi[changed[j]]; }
    return d;
  }
  const slots: number[] = old ? Array.from(old.slots) : [];
  const los: number[] = old ? Array.from(old.lo) : [];
  const his: number[] = old ? Array.from(old.hi) : [];
  for (let j = 0; j < n; j++) {
    const k = changed[j];
    if (old && slots.includes(k)) continue;
    slots.push(k);
    los.push(lo[k]);
    his.push(hi[k]);
  }
  return { slots: Int32Array.from(slots), lo: Int32Array.from(los), hi: Int32Array.from(his) };
}

function addPatch(rec: { mem: MemPatch[] }, phys: number, bytes: Uint8Array): void {
  if (rec.mem === NO_MEM) rec.mem = [];
  rec.mem.push({ phys, bytes });
}

const STACK_WINDOW = 128;
const WINDOW_BYTES = STACK_WINDOW + 16;
const VMCS_BYTES = VMCS_OFF_DATA + 8 * FIELD_COUNT;
const CANON = 2 ** 47;
/** Register (and segment base) magnitudes up to which address arithmetic in numbers stays exact. */
const EXACT_HI = 0x10000;
const EXACT = 2 ** 48;
/** Instructions whose AccessPlan is kept (direct-mapped by linear address). */
const PLAN_SLOTS = 4096;
/** Linear pages whose translation is kept (direct-mapped). */
const XLATE_SLOTS = 64;

export class ExecutionHistory implements StepObserver {
  private readonly ring: (Slot | undefined)[];
  /** RAX..R15 low halves then high halves of each slot (32 ints a slot), grown up to the capacity. */
  private regs = new Int32Array(0);
  private head = 0;
  private count = 0;
  private shadowLo = new Int32Array(FIELD_COUNT);
  private shadowHi = new Int32Array(FIELD_COUNT);
  private shadowValid = false;
  private readonly changedSlots = new Int32Array(FIELD_COUNT);
  /** The VMCS cache the shadow copies and its writeGen then: unmoved means unchanged. */
  private shadowOf: VmcsCache | null = null;
  private shadowGen = 0;
  /** The VMX-side state at the last boundary looked at (null without VMX). */
  private vmxShadow: VmxSnapshot | null;
  /** A VM exit (or failed entry) happened since the last record: the next one starts right after it. */
  private exitPending = false;
  /** The SysState of the latest record. */
  private sys: SysState | null = null;
  /** The one before it (see beforeInstruction). */
  private sysPrev: SysState | null = null;
  /**
   * AccessPlans by the CPU's decoded instruction (Instr): the CPU decodes again, into a new Instr,
   * whatever makes the old one wrong (code bytes written, another mode or RIP at the address), so
   * the same Instr at the same slot means the same bytes decoded the same way.
   */
  private readonly planIns: (Instr | null)[] = new Array<Instr | null>(PLAN_SLOTS).fill(null);
  private readonly plans: (AccessPlan | null)[] = new Array<AccessPlan | null>(PLAN_SLOTS).fill(null);
  /**
   * The stack window of the latest record (pushes, calls, interrupt and exception frames): up to two
   * chunks (a page boundary), their physical and backing-store addresses and lengths, and their
   * bytes when it was taken in winBuf. Compared at the next boundary; only a window the instruction
   * changed is copied into its record.
   */
  private winCount = 0;
  private readonly winPhys = [0, 0];
  private readonly winHost = [0, 0];
  private readonly winLen = [0, 0];
  private readonly winBuf = new Uint8Array(WINDOW_BYTES);
  private readonly winBuf32 = new Int32Array(this.winBuf.buffer);
  /** The CPU's memory as 32-bit words (for comparing windows). */
  private mem32: Int32Array | null = null;
  /** The translation cache (see translate) and what it is valid for. */
  private readonly tLin = new Float64Array(XLATE_SLOTS).fill(NaN);
  private readonly tPhys = new Float64Array(XLATE_SLOTS);
  private tEpoch = -1;
  private tCr3 = -1;
  private tCr0 = -1;
  private tCr4 = -1;
  private tEfer = -1;
  private tEpt = false;
  /** Instructions dropped at the old end (the ring was full). */
  dropped = 0;

  constructor(readonly capacity: number, private readonly cpu: Cpu, private readonly memory: GuestMemory) {
    this.ring = new Array(capacity);
    const v = this.vmx();
    this.vmxShadow = v ? new VmxSnapshot(cpu, v) : null;
  }

  get length(): number {
    return this.count;
  }

  private vmx(): Vmx | null {
    return this.cpu.vmx as Vmx | null;
  }

  private latest(): Slot | undefined {
    return this.count ? this.ring[(this.head - 1 + this.capacity) % this.capacity] : undefined;
  }

  /**
   * Compares the VMCS cache with the copy taken at the previous record when its write counter
   * moved since (VmcsCache.writeGen): the last instruction changed it.
   */
  private noteVmcsChange(v: Vmx): void {
    const d = v.vmcs;
    if (this.shadowValid && d.writeGen === this.shadowGen && d === this.shadowOf) return;
    const lo = d.lo, hi = d.hi, slo = this.shadowLo, shi = this.shadowHi;
    this.shadowGen = d.writeGen;
    if (!this.shadowValid || d !== this.shadowOf) {
      slo.set(lo);
      shi.set(hi);
      this.shadowValid = true;
      this.shadowOf = d;
      return;
    }
    const changed = this.changedSlots;
    let n = 0;
    for (let k = 0; k < FIELD_COUNT; k++) if (lo[k] !== slo[k] || hi[k] !== shi[k]) changed[n++] = k;
    if (n === 0) return;
    const last = this.latest();
    if (last) last.vmcsBefore = vmcsDiff(last.vmcsBefore, changed, n, slo, shi);
    for (let j = 0; j < n; j++) {
      const k = changed[j];
      slo[k] = lo[k];
      shi[k] = hi[k];
    }
  }

  /**
   * Compares the VMX-side state with the snapshot of the previous boundary: when the last instruction
   * (or the boundary after it: an exit for the preemption timer, a window, MTF...) changed it, its
   * record gets that snapshot. Outside VMX operation only the interrupt-shadow bookkeeping (STI,
   * MOV SS) can change, so ordinary instructions there pay four compares.
   */
  private noteVmxChange(v: Vmx): void {
    const s = this.vmxShadow;
    if (s === null) {
      // VMX attached after the history started
      this.vmxShadow = new VmxSnapshot(this.cpu, v);
      return;
    }
    if (!v.inVmx && !s.inVmx && v.shadowKind === s.shadowKind && v.shadowRip === s.shadowRip) return;
    if (s.matches(this.cpu, v)) return;
    const now = new VmxSnapshot(this.cpu, v);
    if (s.exitBetween(now)) this.exitPending = true;
    const last = this.latest();
    if (last && !last.vmxBefore) last.vmxBefore = s;
    this.vmxShadow = now;
  }

  /**
   * Compares the stack window of the latest record with memory: the chunks the instruction (or the
   * boundary after it: an interrupt frame) changed go into its record, and the window is taken
   * again, so it holds memory as it is now.
   */
  private noteStackChange(): void {
    const n = this.winCount;
    if (n === 0) return;
    const mem = this.cpu.mem, buf = this.winBuf;
    if (this.mem32 === null || this.mem32.buffer !== mem.buffer) {
      this.mem32 = mem.byteOffset % 4 === 0 ? new Int32Array(mem.buffer, mem.byteOffset, mem.byteLength >> 2) : new Int32Array(0);
    }
    const m32 = this.mem32, b32 = this.winBuf32;
    let off = 0;
    for (let c = 0; c < n; c++) {
      const h = this.winHost[c], len = this.winLen[c];
      let same = true;
      if ((h & 3) === 0 && m32.length !== 0) {
        // (chunks are 16-byte aligned: the window starts on a 16-byte boundary and pages split it)
        const w = h >> 2, bw = off >> 2;
        for (let k = 0; k < len >> 2; k++) if (m32[w + k] !== b32[bw + k]) { same = false; break; }
      } else {
        for (let k = 0; k < len; k++) if (mem[h + k] !== buf[off + k]) { same = false; break; }
      }
      if (!same) {
        const last = this.latest();
        if (last) addPatch(last, this.winPhys[c], buf.slice(off, off + len));
        buf.set(mem.subarray(h, h + len), off);
      }
      off += len;
    }
  }

  /** Takes the stack window of the record just made: 128 bytes below RSP and the 16-byte slot it is in. */
  private takeStack(cpu: Cpu): void {
    let sp: number;
    if (cpu.mode64) {
      const h = cpu.rh[4];
      // far from canonical: no byte of the window can be (nor is a number exact there)
      if (h < -EXACT_HI || h >= EXACT_HI) { this.winCount = 0; return; }
      sp = h * 0x100000000 + (cpu.r[4] >>> 0);
    } else {
      sp = (cpu.segBase[K.SEG_SS] + (cpu.r[4] >>> 0)) >>> 0;
    }
    const start = sp - (sp & 15) - STACK_WINDOW;
    const lma = (cpu.efer & K.EFER_LMA) !== 0;
    // (outside long mode, a window that wraps below 0 is beyond 4 GiB as a whole: nothing)
    if (!lma && start < 0) { this.winCount = 0; return; }
    const old = this.winCount;
    const mem = cpu.mem, buf = this.winBuf;
    let c = 0, off = 0, moved = false;
    for (let a = start, end = start + WINDOW_BYTES; a < end;) {
      const n = Math.min(0x1000 - (a & 0xFFF), end - a);
      if (lma ? a >= -CANON && a < CANON : a <= 0xFFFFFFFF) {
        const phys = this.translate(cpu, a);
        const h = phys >= 0 ? this.hostOf(phys) : -1;
        if (h >= 0) {
          if (c >= old || this.winHost[c] !== h || this.winLen[c] !== n || this.winPhys[c] !== phys) moved = true;
          this.winPhys[c] = phys;
          this.winHost[c] = h;
          this.winLen[c] = n;
          c++;
          off += n;
        }
      }
      a += n;
    }
    this.winCount = c;
    // the same chunks as the previous record's: noteStackChange left their bytes as memory holds them
    if (!moved && c === old) return;
    off = 0;
    for (let k = 0; k < c; k++) {
      const h = this.winHost[k], len = this.winLen[k];
      buf.set(mem.subarray(h, h + len), off);
      off += len;
    }
  }

  /**
   * peekTranslate with a small cache of the pages it found mapped, dropped whenever the CPU's own
   * cached translations may have gone (its codeEpoch moves on every TLB flush, INVLPG, world switch
   * and EPTP change) or a paging register differs. Like the CPU's TLB it does not see a present
   * entry rewritten without invalidation; unmapped pages are not kept.
   */
  private translate(cpu: Cpu, a: number): number {
    if (cpu.codeEpoch !== this.tEpoch || cpu.cr3 !== this.tCr3 || cpu.cr0 !== this.tCr0 || cpu.cr4 !== this.tCr4 || cpu.efer !== this.tEfer || cpu.eptActive !== this.tEpt) {
      this.tEpoch = cpu.codeEpoch; this.tCr3 = cpu.cr3; this.tCr0 = cpu.cr0; this.tCr4 = cpu.cr4; this.tEfer = cpu.efer; this.tEpt = cpu.eptActive;
      this.tLin.fill(NaN);
    }
    const off = a & 0xFFF, page = a - off;
    const slot = (page / 4096) & (XLATE_SLOTS - 1);
    if (this.tLin[slot] === page) return this.tPhys[slot] + off;
    const phys = peekTranslate(cpu, page);
    if (phys < 0) return -1;
    this.tLin[slot] = page;
    this.tPhys[slot] = phys;
    return phys + off;
  }

  /** Backing-store offset of a physical byte (RAM/ROM), or -1 (as GuestMemory reads). */
  private hostOf(phys: number): number {
    const off = this.cpu.bus.hostOffset(phys - (phys % 4096));
    return off < 0 ? -1 : off + (phys % 4096);
  }

  /** Before a reverse operation: the changes of the last executed instruction are known now. */
  finish(): void {
    const v = this.vmx();
    if (v !== null) {
      this.noteVmcsChange(v);
      this.noteVmxChange(v);
    }
    this.noteStackChange();
  }

  beforeInstruction(cpu: Cpu, lin?: number, ins?: Instr): void {
    const v = this.vmx();
    if (v !== null) {
      this.noteVmcsChange(v);
      this.noteVmxChange(v);
    }
    this.noteStackChange();
    const afterVmExit = this.exitPending;
    this.exitPending = false;
    let sys = this.sys;
    if (sys === null || !sys.matches(cpu)) {
      // VM entries and exits go back and forth between two states
      const prev = this.sysPrev;
      this.sysPrev = sys;
      sys = this.sys = prev !== null && prev.matches(cpu) ? prev : new SysState(cpu);
    }
    const at = this.head;
    let rec = this.ring[at];
    if (rec === undefined) rec = this.ring[at] = new Slot(sys, cpu.x87);
    if (this.regs.length <= at * 32) this.growRegs(at);
    const regs = this.regs, r = cpu.r, rh = cpu.rh, o = at * 32;
    for (let k = 0; k < 16; k++) {
      regs[o + k] = r[k];
      regs[o + 16 + k] = rh[k];
    }
    rec.icount = cpu.icount;
    rec.rip = cpu.rip;
    rec.flags = cpu.getFlags();
    rec.sys = sys;
    rec.efer = cpu.efer;
    rec.xcr0 = cpu.xcr0;
    rec.x87 = cpu.x87;
    rec.x87InUse = cpu.x87InUse;
    rec.cpl = cpu.cpl;
    rec.halted = cpu.halted;
    rec.nmiBlocked = cpu.nmiBlocked;
    rec.pendingDb = cpu.pendingDb;
    rec.vmxBefore = null;
    rec.vmcsBefore = null;
    rec.mem = NO_MEM;
    rec.afterVmExit = afterVmExit;
    this.memoryAbout(cpu, v, rec, lin ?? cpu.linearRip(), ins);
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    else this.dropped++;
    this.takeStack(cpu);
  }

  private growRegs(at: number): void {
    const n = Math.min(this.capacity, Math.max(1024, (at + 1) * 2));
    const next = new Int32Array(n * 32);
    next.set(this.regs);
    this.regs = next;
  }

  /** The instruction's AccessPlan: kept per decoded instruction when the CPU says which one runs. */
  private planFor(cpu: Cpu, lin: number, ins: Instr | undefined): AccessPlan {
    if (ins === undefined) return accessPlanAt(this.memory, cpu);
    const slot = (lin ^ (lin >>> 12)) & (PLAN_SLOTS - 1);
    if (this.planIns[slot] === ins) return this.plans[slot]!;
    const plan = accessPlanAt(this.memory, cpu);
    this.planIns[slot] = ins;
    this.plans[slot] = plan;
    return plan;
  }

  /** The memory the instruction may write (its operands; VMCS regions), before it does. */
  private memoryAbout(cpu: Cpu, v: Vmx | null, rec: Slot, lin: number, ins: Instr | undefined): void {
    const plan = this.planFor(cpu, lin, ins);
    if (!plan.exact) { this.memoryAboutSlow(cpu, v, rec); return; }
    const ops = plan.ops;
    let first = 0;
    for (let k = 0; k < ops.length; k++) {
      const op = ops[k];
      let a = operandAddress(cpu, op);
      if (Number.isNaN(a)) { this.memoryAboutSlow(cpu, v, rec); return; }
      let size = op.size;
      if (plan.rep) {
        const span = Math.max(1, cpu.r[1] & 0xFFFFF) * size;
        a = a - span + size;
        if (!cpu.mode64) a >>>= 0;
        size = span * 2;
      }
      if (first === 0) first = a;
      if (op.write) this.save(rec, a, Math.min(size, 1 << 16));
    }
    if (plan.vmcsOp !== 0 && v && v.inVmx && !cpu.nonRoot) this.saveVmcsRegions(v, rec, plan.vmcsOp === 1, first === 0 ? 0n : BigInt.asUintN(64, BigInt(first)));
  }

  /** Saves `size` bytes from linear address `lin` (a number in the CPU's form, exact) page by page. */
  private save(rec: Slot, lin: number, size: number): void {
    const cpu = this.cpu;
    const lma = (cpu.efer & K.EFER_LMA) !== 0;
    const end = lin + size;
    for (let a = lin; a < end;) {
      const n = Math.min(0x1000 - (a & 0xFFF), end - a);
      // (as GuestMemory.linearKey: what cannot exist in this mode is not mapped)
      if (lma ? a >= -CANON && a < CANON : a >= 0 && a <= 0xFFFFFFFF) {
        const phys = this.translate(cpu, a);
        const h = phys >= 0 ? this.hostOf(phys) : -1;
        if (h >= 0) addPatch(rec, phys, cpu.mem.slice(h, h + n));
      }
      a += n;
    }
  }

  /** VMCLEAR / VMPTRLD / VMXOFF store a VMCS region: the current one, and the operand's. */
  private saveVmcsRegions(v: Vmx, rec: Slot, isC7: boolean, first: bigint): void {
    if (v.current !== -1) addPatch(rec, v.current, this.memory.read('physical', BigInt(v.current), VMCS_BYTES));
    if (isC7 && first !== 0n) {
      try {
        const p = Number(this.memory.readValue('linear', first, 8) & 0xFFFFFFFFFF000n);
        addPatch(rec, p, this.memory.read('physical', BigInt(p), VMCS_BYTES));
      } catch { /* unreadable operand: the instruction faults */ }
    }
  }

  /** memoryAbout through accessesAt (iced-x86 and bigints): for what numbers cannot hold exactly. */
  private memoryAboutSlow(cpu: Cpu, v: Vmx | null, rec: Slot): void {
    rec.mem = NO_MEM;
    let first = 0n;
    for (const a of accessesAt(this.memory, cpu)) {
      if (first === 0n) first = a.address;
      if (a.write) this.saveBig(rec, a.address, Math.min(a.size, 1 << 16));
    }
    if (v && v.inVmx && !cpu.nonRoot) {
      const b = this.memory.read('linear', BigInt.asUintN(64, BigInt(cpu.linearRip())), 4);
      const k = b[0] === 0x66 || b[0] === 0xF3 ? 1 : 0;
      const isC7 = b[k] === 0x0F && b[k + 1] === 0xC7;
      const isOff = b[0] === 0x0F && b[1] === 0x01 && b[2] === 0xC4;
      if (isC7 || isOff) this.saveVmcsRegions(v, rec, isC7, first);
    }
  }

  private saveBig(rec: Slot, lin: bigint, size: number): void {
    const end = lin + BigInt(size);
    for (let a = lin; a < end;) {
      const pageEnd = (a | 0xFFFn) + 1n;
      const n = Number((pageEnd < end ? pageEnd : end) - a);
      const phys = this.memory.translate(a);
      if (phys >= 0) {
        const bytes = this.memory.read('physical', BigInt(phys), n);
        if (bytes.length) addPatch(rec, phys, bytes);
      }
      a += BigInt(n);
    }
  }

  /** Undoes the last recorded instruction; returns its record (undefined when the history is empty). */
  popAndRestore(): HistoryRecord | undefined {
    if (!this.count) return undefined;
    // (what the instruction changed in its stack window goes back too)
    this.noteStackChange();
    this.winCount = 0;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    const s = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    const o = this.head * 32;
    const rec: HistoryRecord = {
      icount: s.icount, r: this.regs.slice(o, o + 16), rh: this.regs.slice(o + 16, o + 32), rip: s.rip, flags: s.flags, sys: s.sys,
      efer: s.efer, xcr0: s.xcr0, x87: s.x87, x87InUse: s.x87InUse, cpl: s.cpl, halted: s.halted, nmiBlocked: s.nmiBlocked,
      pendingDb: s.pendingDb, vmxBefore: s.vmxBefore, vmcsBefore: s.vmcsBefore, mem: s.mem, afterVmExit: s.afterVmExit,
    };
    this.count--;
    this.restore(rec);
    return rec;
  }

  private restore(rec: HistoryRecord): void {
    const cpu = this.cpu;
    for (let k = rec.mem.length - 1; k >= 0; k--) this.memory.write('physical', BigInt(rec.mem[k].phys), rec.mem[k].bytes);
    const sys = rec.sys;
    cpu.r.set(rec.r);
    cpu.rh.set(rec.rh);
    cpu.cr0 = sys.cr0; cpu.cr2 = sys.cr2; cpu.cr3 = sys.cr3; cpu.cr4 = sys.cr4; cpu.cr8 = sys.cr8;
    cpu.efer = rec.efer;
    cpu.xcr0 = rec.xcr0;
    cpu.x87 = rec.x87;
    cpu.x87InUse = rec.x87InUse;
    // VM entries and exits load DR7, MOV DR writes any: breakpoints armed from them are derived state
    const dr = cpu.dr, was = sys.dr;
    const drChanged = dr[0] !== was[0] || dr[1] !== was[1] || dr[2] !== was[2] || dr[3] !== was[3] || dr[7] !== was[7];
    dr.set(was);
    for (let s = 0; s < sys.segSel.length; s++) cpu.loadSegRaw(s, sys.segSel[s], sys.segBase[s], sys.segLimit[s], sys.segAr[s]);
    cpu.gdtrBase = sys.gdtrBase; cpu.gdtrLimit = sys.gdtrLimit;
    cpu.idtrBase = sys.idtrBase; cpu.idtrLimit = sys.idtrLimit;
    cpu.setFlags(rec.flags, -1);
    cpu.updateMode();
    cpu.cpl = rec.cpl;
    cpu.rip = rec.rip;
    cpu.halted = rec.halted;
    cpu.shutdown = false;
    cpu.nmiBlocked = rec.nmiBlocked;
    cpu.pendingDb = rec.pendingDb;
    cpu.icount = rec.icount;
    const v = this.vmx();
    let world = false;
    if (v) {
      const diff = rec.vmcsBefore;
      if (diff) for (let j = 0; j < diff.slots.length; j++) { v.vmcs.lo[diff.slots[j]] = diff.lo[j]; v.vmcs.hi[diff.slots[j]] = diff.hi[j]; }
      if (rec.vmxBefore) {
        rec.vmxBefore.apply(cpu, v);
        this.vmxShadow = rec.vmxBefore;
        world = true;
      }
      // entry checks that passed for the later VMCS contents (or launch state, or CPU state) prove nothing now
      if (rec.vmcsBefore || rec.vmxBefore) v.vmcs.changedAll();
      this.shadowLo.set(v.vmcs.lo);
      this.shadowHi.set(v.vmcs.hi);
      this.shadowValid = true;
      this.shadowOf = v.vmcs;
      this.shadowGen = v.vmcs.writeGen;
      // The record was taken after the boundary's events were serviced, where an STI / MOV SS shadow
      // becomes the core's one-instruction window; VMX bookkeeping says whether this instruction runs
      // in one. Re-arming the core's shadow makes the next run service the boundary as it was then
      // (no interrupt, window exit or debug trap ahead of this instruction).
      const shadow = v.shadowKind !== SHADOW_NONE && v.shadowRip === rec.rip;
      cpu.shadow = shadow;
      cpu.movSsShadow = shadow && v.shadowKind === SHADOW_MOVSS;
      cpu.singleStepChanged();
    }
    this.exitPending = rec.afterVmExit;
    // Conservative: every cached translation may come from a later world, CR3 or EPTP (both VMX
    // worlds' sets, as flushTlb(true) drops the kept one too)
    cpu.flushTlb(true);
    // and the arrays in use become those of the world the CPU is in now: with the sets swapped, the
    // next VM entry or exit would see no world change, and VPID-tagged translations would be kept
    // across exits only from the round trip after it
    if (world) cpu.switchTlbWorld(cpu.nonRoot, false);
    if (drChanged) cpu.debugRegistersChanged();
    cpu.flushCode();
  }
}

/** A register operand's value as a number (see instructions.ts REG_*); NaN when too large to be exact. */
function regNum(cpu: Cpu, kind: number, reg: number): number {
  switch (kind) {
    case REG_LO8: return cpu.r[reg] & 0xFF;
    case REG_HI8: return (cpu.r[reg] >> 8) & 0xFF;
    case REG_16: return cpu.r[reg] & 0xFFFF;
    case REG_32: return cpu.r[reg] >>> 0;
    case REG_64: {
      const h = cpu.rh[reg];
      return h < -EXACT_HI || h >= EXACT_HI ? NaN : h * 0x100000000 + (cpu.r[reg] >>> 0);
    }
    default: return 0;
  }
}

/**
 * The linear address of a memory operand as accessesAt computes it, in the CPU's number form (64-bit
 * mode: signed; otherwise 0 .. 2^32 - 1); NaN when a value is too large for numbers to be exact.
 */
function operandAddress(cpu: Cpu, op: OperandPlan): number {
  let off: number;
  if (op.baseKind === REG_RIP) {
    off = cpu.rip + op.disp;
  } else {
    off = regNum(cpu, op.baseKind, op.baseReg) + regNum(cpu, op.indexKind, op.indexReg) * op.scale + op.disp;
    if (Number.isNaN(off)) return NaN;
    if (op.wrap16) off &= 0xFFFF;
  }
  if (cpu.mode64) {
    if (op.seg < K.SEG_FS) return off;
    const b = cpu.segBase[op.seg];
    return b <= -EXACT || b >= EXACT ? NaN : off + b;
  }
  return ((op.seg >= 0 ? cpu.segBase[op.seg] >>> 0 : 0) + (off >>> 0)) >>> 0;
}
