import type { Cpu } from './cpu';
import * as K from './constants';

/**
 * Descriptor tables and segment-register loads (SDM 3.4-3.5, 5.5-5.8): reading descriptors from the
 * GDT/LDT, converting them to the hidden-cache format, and the checks of MOV/POP to a segment register.
 */

const TWO32 = 0x100000000;

/** The last descriptor read: low and high dwords (and the upper 8 bytes of a 16-byte one). */
export const desc = { lo: 0, hi: 0, lo2: 0, hi2: 0, addr: 0 };

/** Linear address of descriptor `sel` or -1 if it lies outside its table's limit. */
export function descriptorAddress(c: Cpu, sel: number, size = 8): number {
  const index = sel & 0xFFF8;
  if (sel & 4) {
    if (c.segAr[K.SEG_LDTR] & K.AR_UNUSABLE || (c.segSel[K.SEG_LDTR] & 0xFFFC) === 0) return -1;
    if (index + size - 1 > c.segLimit[K.SEG_LDTR]) return -1;
    return c.mode64 || c.efer & K.EFER_LMA ? c.segBase[K.SEG_LDTR] + index : (c.segBase[K.SEG_LDTR] + index) >>> 0;
  }
  if (index + size - 1 > c.gdtrLimit) return -1;
  return c.efer & K.EFER_LMA ? c.gdtrBase + index : (c.gdtrBase + index) >>> 0;
}

/**
 * Reads the descriptor for `sel` into `desc`. Raises `vec` (default #GP) with the selector's error
 * code when it lies outside the table.
 */
export function readDescriptor(c: Cpu, sel: number, vec: number = K.EXC_GP, size = 8): void {
  const addr = descriptorAddress(c, sel, size);
  if (addr < 0) c.raise(vec, sel & 0xFFFC, `selector 0x${sel.toString(16)} outside the ${sel & 4 ? 'LDT' : 'GDT'} limit`);
  desc.addr = addr;
  desc.lo = c.rdSys32(addr);
  desc.hi = c.rdSys32(c.efer & K.EFER_LMA ? addr + 4 : (addr + 4) >>> 0);
  if (size === 16) {
    desc.lo2 = c.rdSys32(c.efer & K.EFER_LMA ? addr + 8 : (addr + 8) >>> 0);
    desc.hi2 = c.rdSys32(c.efer & K.EFER_LMA ? addr + 12 : (addr + 12) >>> 0);
  }
}

export function descBase(lo: number, hi: number): number {
  return ((lo >>> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000)) >>> 0;
}

export function descLimit(lo: number, hi: number): number {
  const raw = (lo & 0xFFFF) | (hi & 0xF0000);
  return hi & (1 << 23) ? ((raw << 12) | 0xFFF) >>> 0 : raw;
}

/** Access rights in the VMX layout from the descriptor's high dword. */
export function descAr(hi: number): number {
  return (hi >>> 8) & 0xF0FF;
}

/** Base of a 16-byte system descriptor (LDT, TSS, gates in IA-32e mode). */
export function descBase64(lo: number, hi: number, lo2: number): number {
  const b = descBase(lo, hi);
  return (lo2 | 0) * TWO32 + b;
}

/** Sets the descriptor's accessed bit in memory (SDM 3.4.5.1), if not yet set. */
export function setAccessed(c: Cpu): void {
  if (!(desc.hi & 0x100)) {
    desc.hi |= 0x100;
    c.wrSys32(c.efer & K.EFER_LMA ? desc.addr + 4 : (desc.addr + 4) >>> 0, desc.hi);
  }
}

/** A null selector loaded into a data segment register: marked unusable, base kept at 0. */
function loadNull(c: Cpu, s: number, sel: number): void {
  c.loadSegRaw(s, sel, 0, 0, K.AR_UNUSABLE);
}

/**
 * MOV/POP to ES, SS, DS, FS or GS (SDM vol. 2 MOV, POP). Real and virtual-8086 mode just set the
 * base; protected mode checks type, privilege and presence.
 */
export function loadSegment(c: Cpu, s: number, sel: number): void {
  sel &= 0xFFFF;
  if (!c.protectedMode || c.v86) {
    c.segSel[s] = sel;
    c.segBase[s] = sel * 16;
    if (c.v86) {
      c.segLimit[s] = 0xFFFF;
      c.segAr[s] = K.AR_P | K.AR_S | 3 | (3 << K.AR_DPL_SHIFT);
    } else if (c.segAr[s] & K.AR_UNUSABLE) {
      // a register left unusable by protected mode becomes a normal real-mode segment again
      c.segAr[s] = K.AR_P | K.AR_S | 3;
    }
    c.refreshSeg(s);
    return;
  }
  const rpl = sel & 3;
  const cpl = c.cpl;
  if ((sel & 0xFFFC) === 0) {
    if (s === K.SEG_SS && (!c.mode64 || cpl === 3 || rpl !== cpl)) c.raise(K.EXC_GP, 0, 'null selector loaded into SS');
    if (s === K.SEG_SS) {
      c.loadSegRaw(s, sel, 0, 0, K.AR_UNUSABLE | (cpl << K.AR_DPL_SHIFT) | K.AR_DB);
      c.updateMode();
      return;
    }
    loadNull(c, s, sel);
    return;
  }
  readDescriptor(c, sel);
  const ar = descAr(desc.hi);
  const type = ar & 0xF;
  const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
  const err = sel & 0xFFFC;
  if (!(ar & K.AR_S)) c.raise(K.EXC_GP, err, `selector 0x${sel.toString(16)} is a system descriptor, not a segment`);
  if (s === K.SEG_SS) {
    if (rpl !== cpl) c.raise(K.EXC_GP, err, `SS selector RPL ${rpl} differs from CPL ${cpl}`);
    if (type & 8 || !(type & 2)) c.raise(K.EXC_GP, err, `SS selector 0x${sel.toString(16)} is not a writable data segment`);
    if (dpl !== cpl) c.raise(K.EXC_GP, err, `SS descriptor DPL ${dpl} differs from CPL ${cpl}`);
    if (!(ar & K.AR_P)) c.raise(K.EXC_SS, err, `SS segment 0x${sel.toString(16)} not present`);
  } else {
    if ((type & 0xA) === 8) c.raise(K.EXC_GP, err, `selector 0x${sel.toString(16)} is an execute-only code segment`);
    // data or non-conforming code: both RPL and CPL must be at or above DPL in privilege
    if (!(type & 8) || !(type & 4)) {
      if (rpl > dpl || cpl > dpl) c.raise(K.EXC_GP, err, `selector 0x${sel.toString(16)}: RPL ${rpl} / CPL ${cpl} above DPL ${dpl}`);
    }
    if (!(ar & K.AR_P)) c.raise(K.EXC_NP, err, `segment 0x${sel.toString(16)} not present`);
  }
  setAccessed(c);
  c.loadSegRaw(s, sel, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), descAr(desc.hi));
  if (s === K.SEG_SS) c.updateMode();
}

/** Loads CS from a code descriptor already in `desc` (after the caller's checks), with RPL = cpl. */
export function commitCs(c: Cpu, sel: number, cpl: number): void {
  setAccessed(c);
  c.loadSegRaw(K.SEG_CS, (sel & 0xFFFC) | cpl, descBase(desc.lo, desc.hi), descLimit(desc.lo, desc.hi), descAr(desc.hi));
  // CPL lives in SS.DPL in our model; keep CS.DPL for conforming segments but force the CPL
  c.segAr[K.SEG_CS] = c.segAr[K.SEG_CS];
  setCpl(c, cpl);
}

/** Sets CPL (kept in SS.DPL as VMX does) and re-derives the mode. */
export function setCpl(c: Cpu, cpl: number): void {
  c.segAr[K.SEG_SS] = (c.segAr[K.SEG_SS] & ~(3 << K.AR_DPL_SHIFT)) | (cpl << K.AR_DPL_SHIFT);
  c.updateMode();
}

/**
 * After a privilege-lowering return, data segments whose DPL is below the new CPL are nulled
 * (SDM RET/IRET: "for each of ES, FS, GS, DS").
 */
export function nullLowerPrivSegs(c: Cpu): void {
  for (const s of [K.SEG_ES, K.SEG_DS, K.SEG_FS, K.SEG_GS]) {
    const ar = c.segAr[s];
    if (ar & K.AR_UNUSABLE) continue;
    const type = ar & 0xF;
    const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
    const conformingCode = (type & 0xC) === 0xC;
    if (!conformingCode && dpl < c.cpl) loadNull(c, s, 0);
  }
}

/**
 * Checks a code-segment descriptor in `desc` as the target of a far transfer.
 * Returns its DPL. Raises #GP(sel) / #NP(sel) as the SDM prescribes.
 */
export function checkCodeDescriptor(c: Cpu, sel: number, why: string): number {
  const ar = descAr(desc.hi);
  const err = sel & 0xFFFC;
  if (!(ar & K.AR_S) || !(ar & 8)) c.raise(K.EXC_GP, err, `${why}: selector 0x${sel.toString(16)} is not a code segment`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, err, `${why}: code segment 0x${sel.toString(16)} not present`);
  if (c.efer & K.EFER_LMA && ar & K.AR_L && ar & K.AR_DB) c.raise(K.EXC_GP, err, `${why}: code segment has both L and D set`);
  return (ar >> K.AR_DPL_SHIFT) & 3;
}

/** A stack segment checked by checkReturnSs but not loaded yet. */
const pendingSs = { sel: 0, base: 0, limit: 0, ar: 0, addr: 0, hi: 0, isNull: false };

/**
 * Checks `ss` as the stack segment popped by RETF/IRET for a return to privilege `rpl` (SDM RET
 * "return to outer privilege", IRET "return to outer privilege"; IRET in 64-bit mode always), without
 * changing any state: a fault leaves the instruction without effect. A null SS is allowed only for a
 * return to 64-bit code below ring 3. commitReturnSs loads what this checked.
 */
export function checkReturnSs(c: Cpu, ss: number, rpl: number, long: boolean): void {
  ss &= 0xFFFF;
  pendingSs.sel = ss;
  if ((ss & 0xFFFC) === 0) {
    if (!long || rpl === 3) c.raise(K.EXC_GP, 0, 'return to outer privilege with a null SS');
    pendingSs.isNull = true;
    pendingSs.base = 0;
    pendingSs.limit = 0;
    pendingSs.ar = K.AR_UNUSABLE | K.AR_DB | (rpl << K.AR_DPL_SHIFT) | K.AR_S | 3;
    return;
  }
  readDescriptor(c, ss);
  const ar = descAr(desc.hi);
  const err = ss & 0xFFFC;
  if ((ss & 3) !== rpl) c.raise(K.EXC_GP, err, `return SS RPL ${ss & 3} differs from the return CS RPL ${rpl}`);
  if (!(ar & K.AR_S) || ar & 8 || !(ar & 2)) c.raise(K.EXC_GP, err, `return SS 0x${ss.toString(16)} is not a writable data segment`);
  if (((ar >> K.AR_DPL_SHIFT) & 3) !== rpl) c.raise(K.EXC_GP, err, `return SS DPL differs from the return CS RPL ${rpl}`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_SS, err, `return SS 0x${ss.toString(16)} not present`);
  pendingSs.isNull = false;
  pendingSs.base = descBase(desc.lo, desc.hi);
  pendingSs.limit = descLimit(desc.lo, desc.hi);
  pendingSs.ar = descAr(desc.hi | 0x100);
  pendingSs.addr = desc.addr;
  pendingSs.hi = desc.hi;
}

/** Loads the SS checked by checkReturnSs (setting its accessed bit) and re-derives the mode. */
export function commitReturnSs(c: Cpu): void {
  if (!pendingSs.isNull && !(pendingSs.hi & 0x100)) {
    c.wrSys32(c.efer & K.EFER_LMA ? pendingSs.addr + 4 : (pendingSs.addr + 4) >>> 0, pendingSs.hi | 0x100);
  }
  c.loadSegRaw(K.SEG_SS, pendingSs.sel, pendingSs.base, pendingSs.limit, pendingSs.ar);
  c.updateMode();
}

/**
 * True when `size` bytes at offset `off` of a segment with the given limit and access rights are
 * inside it (expand-up or expand-down; 16/32-bit offsets). Used for stack frames built by event
 * delivery, call gates and task switches, which check the whole frame before writing any of it.
 */
export function segmentFits(limit: number, ar: number, off: number, size: number): boolean {
  const end = off + size - 1;
  if (!(ar & 8) && ar & 4) {
    const upper = ar & K.AR_DB ? 0xFFFFFFFF : 0xFFFF;
    return off > limit && end <= upper;
  }
  return end <= limit;
}
