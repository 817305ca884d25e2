import type { Cpu, StepObserver } from '../cpu/cpu';
import * as K from '../cpu/constants';
import type { Vmx, EntryFailure } from '../cpu/vmx/state';
import { FIELD_COUNT, VMCS_OFF_DATA } from '../cpu/vmx/vmcs';
import { EV_VMX } from '../cpu/vmx/exit';
import { accessesAt } from './instructions';
import type { GuestMemory } from './memory';

/**
 * Execution history for reverse execution (stepBack, reverseContinue): a bounded ring of records,
 * one per executed instruction, each holding the architectural state before the instruction and
 * the memory bytes it was about to overwrite (its written operands as iced-x86 decodes them, a
 * window below the stack pointer for pushes and interrupt frames, and the VMCS regions that
 * VMCLEAR / VMPTRLD / VMXOFF store). The VMCS cache is kept as a copy only for instructions that
 * changed it (VMWRITE, VM entry and exit...).
 *
 * Cost: nothing when the launch does not ask for it (no observer is installed, the CPU keeps its
 * block fast path). When on, the CPU runs one instruction per block and each instruction is decoded
 * once more by iced-x86. Memory: at most `capacity` records (typically ~300 bytes each).
 *
 * Not restored: device state (a UART byte already sent stays sent, timers keep their time), MSRs
 * other than those the CPU keeps as fields, accessed/dirty bits the page walker set, and the
 * VM-exit MSR-store area.
 */

interface MemPatch {
  phys: number;
  bytes: Uint8Array;
}

interface VmxState {
  inVmx: boolean;
  vmxonPtr: number;
  current: number;
  launch: number;
  exitReason: number;
  exitQual: number;
  exitRip: number;
  exitIcount: number;
  exitCount: number;
  lastEntryFailure: EntryFailure | null;
  shadowKind: number;
  shadowRip: number;
  vnmiBlocked: boolean;
  guestActivity: number;
  vectoringInfo: number;
  timerActive: boolean;
  /** Monitor trap flag in force, MTF VM exit pending, icount at the last boundary (src/cpu/vmx/mtf.ts). */
  mtf: boolean;
  mtfPending: boolean;
  mtfIcount: number;
}

export interface HistoryRecord {
  icount: number;
  r: Int32Array;
  rh: Int32Array;
  rip: number;
  flags: number;
  segSel: number[];
  segBase: number[];
  segLimit: number[];
  segAr: number[];
  gdtr: [number, number];
  idtr: [number, number];
  cr: [number, number, number, number, number];
  efer: number;
  dr: Float64Array;
  cpl: number;
  halted: boolean;
  nmiBlocked: boolean;
  /** Debug traps not yet delivered (Cpu.pendingDb). */
  pendingDb: number;
  nonRoot: boolean;
  vmx: VmxState | null;
  /** The VMCS cache before this instruction, when the instruction changed it. */
  vmcsBefore: { lo: Int32Array; hi: Int32Array } | null;
  mem: MemPatch[];
  /** The state of this record is the one right after a VM exit (or a failed VM entry into the host). */
  afterVmExit: boolean;
}

const STACK_WINDOW = 128;
const VMCS_BYTES = VMCS_OFF_DATA + 8 * FIELD_COUNT;

export class ExecutionHistory implements StepObserver {
  private readonly ring: (HistoryRecord | undefined)[];
  private head = 0;
  private count = 0;
  private shadowLo = new Int32Array(FIELD_COUNT);
  private shadowHi = new Int32Array(FIELD_COUNT);
  private shadowValid = false;
  private lastExitKey = '';
  /** Instructions dropped at the old end (the ring was full). */
  dropped = 0;

  constructor(readonly capacity: number, private readonly cpu: Cpu, private readonly memory: GuestMemory) {
    this.ring = new Array(capacity);
    this.lastExitKey = this.exitKey();
  }

  get length(): number {
    return this.count;
  }

  private vmx(): Vmx | null {
    return this.cpu.vmx as Vmx | null;
  }

  private exitKey(): string {
    const v = this.vmx();
    return v ? `${v.exitCount}:${v.lastExit.icount}:${v.lastExit.reason}:${v.lastEntryFailure ? 1 : 0}` : '';
  }

  private latest(): HistoryRecord | undefined {
    return this.count ? this.ring[(this.head - 1 + this.capacity) % this.capacity] : undefined;
  }

  /** Compares the VMCS cache with the copy taken at the previous record: the last instruction changed it. */
  private noteVmcsChange(): void {
    const v = this.vmx();
    if (!v) return;
    const lo = v.vmcs.lo, hi = v.vmcs.hi;
    if (this.shadowValid) {
      let same = true;
      for (let k = 0; k < FIELD_COUNT; k++) if (lo[k] !== this.shadowLo[k] || hi[k] !== this.shadowHi[k]) { same = false; break; }
      if (same) return;
      const last = this.latest();
      if (last && !last.vmcsBefore) last.vmcsBefore = { lo: this.shadowLo.slice(), hi: this.shadowHi.slice() };
    }
    this.shadowLo.set(lo);
    this.shadowHi.set(hi);
    this.shadowValid = true;
  }

  /** Before a reverse operation: the changes of the last executed instruction are known now. */
  finish(): void {
    this.noteVmcsChange();
  }

  beforeInstruction(cpu: Cpu): void {
    this.noteVmcsChange();
    const key = this.exitKey();
    const afterVmExit = key !== this.lastExitKey;
    this.lastExitKey = key;
    const v = this.vmx();
    const rec: HistoryRecord = {
      icount: cpu.icount,
      r: cpu.r.slice(),
      rh: cpu.rh.slice(),
      rip: cpu.rip,
      flags: cpu.getFlags(),
      segSel: Array.from(cpu.segSel),
      segBase: Array.from(cpu.segBase),
      segLimit: Array.from(cpu.segLimit),
      segAr: Array.from(cpu.segAr),
      gdtr: [cpu.gdtrBase, cpu.gdtrLimit],
      idtr: [cpu.idtrBase, cpu.idtrLimit],
      cr: [cpu.cr0, cpu.cr2, cpu.cr3, cpu.cr4, cpu.cr8],
      efer: cpu.efer,
      dr: cpu.dr.slice(),
      cpl: cpu.cpl,
      halted: cpu.halted,
      nmiBlocked: cpu.nmiBlocked,
      pendingDb: cpu.pendingDb,
      nonRoot: cpu.nonRoot,
      vmx: v ? {
        inVmx: v.inVmx, vmxonPtr: v.vmxonPtr, current: v.current, launch: v.vmcs.launch,
        exitReason: v.lastExit.reason, exitQual: v.lastExit.qualification, exitRip: v.lastExit.guestRip, exitIcount: v.lastExit.icount,
        exitCount: v.exitCount, lastEntryFailure: v.lastEntryFailure, shadowKind: v.shadowKind, shadowRip: v.shadowRip,
        vnmiBlocked: v.vnmiBlocked, guestActivity: v.guestActivity, vectoringInfo: v.vectoringInfo, timerActive: v.timerActive,
        mtf: cpu.mtf, mtfPending: v.mtfPending, mtfIcount: v.mtfIcount,
      } : null,
      vmcsBefore: null,
      mem: this.memoryAbout(cpu, v),
      afterVmExit,
    };
    this.ring[this.head] = rec;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
    else this.dropped++;
  }

  private save(out: MemPatch[], lin: bigint, size: number): void {
    const end = lin + BigInt(size);
    for (let a = lin; a < end;) {
      const pageEnd = (a | 0xFFFn) + 1n;
      const n = Number((pageEnd < end ? pageEnd : end) - a);
      const phys = this.memory.translate(a);
      if (phys >= 0) {
        const bytes = this.memory.read('physical', BigInt(phys), n);
        if (bytes.length) out.push({ phys, bytes });
      }
      a += BigInt(n);
    }
  }

  private memoryAbout(cpu: Cpu, v: Vmx | null): MemPatch[] {
    const out: MemPatch[] = [];
    let first = 0n;
    for (const a of accessesAt(this.memory, cpu)) {
      if (first === 0n) first = a.address;
      if (a.write) this.save(out, a.address, Math.min(a.size, 1 << 16));
    }
    // pushes, calls, interrupt and exception frames
    const sp = cpu.mode64 ? (BigInt(cpu.rh[4] >>> 0) << 32n) | BigInt(cpu.r[4] >>> 0) : BigInt((cpu.segBase[K.SEG_SS] + (cpu.r[4] >>> 0)) >>> 0);
    this.save(out, BigInt.asUintN(64, (sp & ~15n) - BigInt(STACK_WINDOW)), STACK_WINDOW + 16);
    // VMCLEAR / VMPTRLD / VMXOFF store a VMCS region
    if (v && v.inVmx && !cpu.nonRoot) {
      const b = this.memory.read('linear', BigInt.asUintN(64, BigInt(cpu.linearRip())), 4);
      const k = b[0] === 0x66 || b[0] === 0xF3 ? 1 : 0;
      const isC7 = b[k] === 0x0F && b[k + 1] === 0xC7;
      const isOff = b[0] === 0x0F && b[1] === 0x01 && b[2] === 0xC4;
      if (isC7 || isOff) {
        if (v.current !== -1) out.push({ phys: v.current, bytes: this.memory.read('physical', BigInt(v.current), VMCS_BYTES) });
        if (isC7 && first !== 0n) {
          try {
            const p = Number(this.memory.readValue('linear', first, 8) & 0xFFFFFFFFFF000n);
            out.push({ phys: p, bytes: this.memory.read('physical', BigInt(p), VMCS_BYTES) });
          } catch { /* unreadable operand: the instruction faults */ }
        }
      }
    }
    return out;
  }

  /** Undoes the last recorded instruction; returns its record (undefined when the history is empty). */
  popAndRestore(): HistoryRecord | undefined {
    if (!this.count) return undefined;
    this.head = (this.head - 1 + this.capacity) % this.capacity;
    const rec = this.ring[this.head]!;
    this.ring[this.head] = undefined;
    this.count--;
    this.restore(rec);
    return rec;
  }

  private restore(rec: HistoryRecord): void {
    const cpu = this.cpu;
    for (let k = rec.mem.length - 1; k >= 0; k--) this.memory.write('physical', BigInt(rec.mem[k].phys), rec.mem[k].bytes);
    cpu.r.set(rec.r);
    cpu.rh.set(rec.rh);
    cpu.cr0 = rec.cr[0]; cpu.cr2 = rec.cr[1]; cpu.cr3 = rec.cr[2]; cpu.cr4 = rec.cr[3]; cpu.cr8 = rec.cr[4];
    cpu.efer = rec.efer;
    cpu.dr.set(rec.dr);
    for (let s = 0; s < rec.segSel.length; s++) cpu.loadSegRaw(s, rec.segSel[s], rec.segBase[s], rec.segLimit[s], rec.segAr[s]);
    cpu.gdtrBase = rec.gdtr[0]; cpu.gdtrLimit = rec.gdtr[1];
    cpu.idtrBase = rec.idtr[0]; cpu.idtrLimit = rec.idtr[1];
    cpu.setFlags(rec.flags, -1);
    cpu.updateMode();
    cpu.cpl = rec.cpl;
    cpu.rip = rec.rip;
    cpu.halted = rec.halted;
    cpu.shutdown = false;
    cpu.nmiBlocked = rec.nmiBlocked;
    cpu.pendingDb = rec.pendingDb;
    cpu.nonRoot = rec.nonRoot;
    cpu.icount = rec.icount;
    const v = this.vmx();
    if (v && rec.vmx) {
      const x = rec.vmx;
      if (rec.vmcsBefore) { v.vmcs.lo.set(rec.vmcsBefore.lo); v.vmcs.hi.set(rec.vmcsBefore.hi); v.vmcs.changedAll(); }
      v.inVmx = x.inVmx; v.vmxonPtr = x.vmxonPtr; v.current = x.current; v.vmcs.launch = x.launch;
      v.lastExit.reason = x.exitReason; v.lastExit.qualification = x.exitQual; v.lastExit.guestRip = x.exitRip; v.lastExit.icount = x.exitIcount;
      v.exitCount = x.exitCount; v.lastEntryFailure = x.lastEntryFailure; v.shadowKind = x.shadowKind; v.shadowRip = x.shadowRip;
      v.vnmiBlocked = x.vnmiBlocked; v.guestActivity = x.guestActivity; v.vectoringInfo = x.vectoringInfo; v.timerActive = x.timerActive;
      cpu.mtf = x.mtf; v.mtfPending = x.mtfPending; v.mtfIcount = x.mtfIcount;
      cpu.singleStepChanged();
      // both need the run loop's look at every boundary
      if (x.mtf || x.timerActive) cpu.events |= EV_VMX;
      this.shadowLo.set(v.vmcs.lo);
      this.shadowHi.set(v.vmcs.hi);
      this.shadowValid = true;
    }
    this.lastExitKey = this.exitKey();
    cpu.flushTlb(true);
    cpu.flushCode();
  }
}
