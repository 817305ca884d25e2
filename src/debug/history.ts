import type { Cpu, StepObserver } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { SHADOW_MOVSS, SHADOW_NONE, type Vmx } from '../cpu/vmx/state';
import { FIELD_COUNT, VMCS_OFF_DATA } from '../cpu/vmx/vmcs';
import { accessesAt } from './instructions';
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
 * block fast path). When on, the CPU runs one instruction per block and each instruction is decoded
 * once more by iced-x86. Outside VMX operation the VMX side costs four compares per instruction; in
 * it, one compare per VmxSnapshot field. Memory: at most `capacity` records (typically ~300 bytes each).
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
  xcr0: number;
  /** The x87 image (Cpu.x87 is replaced, never modified, so the reference is the snapshot) and XINUSE[0]. */
  x87: Uint8Array;
  x87InUse: boolean;
  dr: Float64Array;
  cpl: number;
  halted: boolean;
  nmiBlocked: boolean;
  /** Debug traps not yet delivered (Cpu.pendingDb). */
  pendingDb: number;
  /** The VMX-side state before this instruction, when the instruction (or the boundary after it) changed it. */
  vmxBefore: VmxSnapshot | null;
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
  /** The VMX-side state at the last boundary looked at (null without VMX). */
  private vmxShadow: VmxSnapshot | null;
  /** A VM exit (or failed entry) happened since the last record: the next one starts right after it. */
  private exitPending = false;
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

  /**
   * Compares the VMX-side state with the snapshot of the previous boundary: when the last instruction
   * (or the boundary after it: an exit for the preemption timer, a window, MTF...) changed it, its
   * record gets that snapshot. Outside VMX operation only the interrupt-shadow bookkeeping (STI,
   * MOV SS) can change, so ordinary instructions there pay four compares.
   */
  private noteVmxChange(): void {
    const v = this.vmx();
    if (v === null) return;
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

  /** Before a reverse operation: the changes of the last executed instruction are known now. */
  finish(): void {
    this.noteVmcsChange();
    this.noteVmxChange();
  }

  beforeInstruction(cpu: Cpu): void {
    this.noteVmcsChange();
    this.noteVmxChange();
    const afterVmExit = this.exitPending;
    this.exitPending = false;
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
      xcr0: cpu.xcr0,
      x87: cpu.x87,
      x87InUse: cpu.x87InUse,
      dr: cpu.dr.slice(),
      cpl: cpu.cpl,
      halted: cpu.halted,
      nmiBlocked: cpu.nmiBlocked,
      pendingDb: cpu.pendingDb,
      vmxBefore: null,
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
    cpu.xcr0 = rec.xcr0;
    cpu.x87 = rec.x87;
    cpu.x87InUse = rec.x87InUse;
    // VM entries and exits load DR7, MOV DR writes any: breakpoints armed from them are derived state
    const dr = cpu.dr, was = rec.dr;
    const drChanged = dr[0] !== was[0] || dr[1] !== was[1] || dr[2] !== was[2] || dr[3] !== was[3] || dr[7] !== was[7];
    dr.set(was);
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
    cpu.icount = rec.icount;
    const v = this.vmx();
    let world = false;
    if (v) {
      if (rec.vmcsBefore) { v.vmcs.lo.set(rec.vmcsBefore.lo); v.vmcs.hi.set(rec.vmcsBefore.hi); }
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
