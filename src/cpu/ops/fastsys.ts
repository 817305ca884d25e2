import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { MSR_FMASK, MSR_LSTAR, MSR_STAR } from '../msr';
import { def } from './registry';

/**
 * Fast system calls (SDM vol. 2 SYSCALL, SYSRET, SYSENTER, SYSEXIT). The segment caches are loaded
 * with the fixed flat values the SDM gives, not from the GDT. SYSCALL/SYSRET follow Intel: both
 * exist only in 64-bit mode (#UD in compatibility mode, so IA32_CSTAR is never used), and SYSRET with
 * a non-canonical RCX raises #GP(0) while still at CPL 0.
 */

const TWO32 = 0x100000000;
const CANON = 0x800000000000; // 2^47

/** Flat 4 GiB code segment (type 11: execute/read, accessed) of the given DPL. */
function codeAr(dpl: number, long: boolean): number {
  return K.AR_P | K.AR_S | 0xB | (dpl << K.AR_DPL_SHIFT) | K.AR_G | (long ? K.AR_L : K.AR_DB);
}

/** Flat 4 GiB stack segment (type 3: read/write, accessed) of the given DPL. */
function stackAr(dpl: number): number {
  return K.AR_P | K.AR_S | 3 | (dpl << K.AR_DPL_SHIFT) | K.AR_DB | K.AR_G;
}

function toNumber(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}

function syscall(c: Cpu, i: Instr): void {
  if (!c.mode64 || !(c.efer & K.EFER_SCE)) c.raise(K.EXC_UD, -1, c.mode64 ? 'SYSCALL with EFER.SCE=0' : 'SYSCALL outside 64-bit mode');
  const star = c.msrs.read(MSR_STAR);
  const target = toNumber(c.msrs.read(MSR_LSTAR));
  const fmask = Number(c.msrs.read(MSR_FMASK) & 0xFFFFFFFFn);
  const sel = Number((star >> 32n) & 0xFFFFn) & 0xFFFC;
  const next = i.next;
  const flags = c.getFlags();
  c.r[1] = next | 0;
  c.rh[1] = Math.floor(next / TWO32) | 0;
  c.r[11] = flags;
  c.rh[11] = 0;
  c.loadSegRaw(K.SEG_CS, sel, 0, 0xFFFFFFFF, codeAr(0, true));
  c.loadSegRaw(K.SEG_SS, (sel + 8) & 0xFFFF, 0, 0xFFFFFFFF, stackAr(0));
  c.setFlags(0, fmask);
  c.rip = target;
  c.updateMode();
}

function sysret(c: Cpu, i: Instr): void {
  if (!c.mode64 || !(c.efer & K.EFER_SCE)) c.raise(K.EXC_UD, -1, c.mode64 ? 'SYSRET with EFER.SCE=0' : 'SYSRET outside 64-bit mode');
  if (c.cpl !== 0) c.raise(K.EXC_GP, 0, `SYSRET at CPL ${c.cpl}`);
  const base = Number((c.msrs.read(MSR_STAR) >> 48n) & 0xFFFFn);
  const to64 = i.size === 8;
  let rip: number;
  if (to64) {
    rip = c.reg64(1);
    // Intel checks RCX before leaving ring 0: the #GP is taken at CPL 0
    if (rip < -CANON || rip >= CANON) c.raise(K.EXC_GP, 0, `SYSRET to non-canonical RCX 0x${BigInt.asUintN(64, BigInt(c.rh[1]) << 32n | BigInt(c.r[1] >>> 0)).toString(16)}`);
  } else {
    rip = c.r[1] >>> 0;
  }
  const cs = ((to64 ? base + 16 : base) | 3) & 0xFFFF;
  const ss = ((base + 8) | 3) & 0xFFFF;
  // RFLAGS from R11 without RF and VM; bit 1 set
  c.setFlags(c.r[11] & 0x3C7FD7, F.IMPLEMENTED);
  c.loadSegRaw(K.SEG_CS, cs, 0, 0xFFFFFFFF, codeAr(3, to64));
  c.loadSegRaw(K.SEG_SS, ss, 0, 0xFFFFFFFF, stackAr(3));
  c.rip = rip;
  c.updateMode();
}

function sysenter(c: Cpu): void {
  const cs = c.msrs.sysenterCs & 0xFFFF;
  if (!c.protectedMode) c.raise(K.EXC_GP, 0, 'SYSENTER in real-address mode');
  if ((cs & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'SYSENTER with IA32_SYSENTER_CS = 0');
  const lma = (c.efer & K.EFER_LMA) !== 0;
  c.setFlags(0, F.VM | F.IF | F.RF);
  c.loadSegRaw(K.SEG_CS, cs & 0xFFFC, 0, 0xFFFFFFFF, codeAr(0, lma));
  c.loadSegRaw(K.SEG_SS, ((cs & 0xFFFC) + 8) & 0xFFFF, 0, 0xFFFFFFFF, stackAr(0));
  const esp = c.msrs.sysenterEsp, eip = c.msrs.sysenterEip;
  if (lma) {
    c.setAddrReg(4, 8, esp);
    c.rip = eip;
  } else {
    c.r[4] = esp | 0;
    c.rh[4] = 0;
    c.rip = (eip | 0) >>> 0;
  }
  c.updateMode();
}

function sysexit(c: Cpu, i: Instr): void {
  const cs = c.msrs.sysenterCs & 0xFFFF;
  if (!c.protectedMode) c.raise(K.EXC_GP, 0, 'SYSEXIT in real-address mode');
  if ((cs & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'SYSEXIT with IA32_SYSENTER_CS = 0');
  if (c.cpl !== 0) c.raise(K.EXC_GP, 0, `SYSEXIT at CPL ${c.cpl}`);
  const to64 = i.size === 8;
  let rsp: number, rip: number;
  if (to64) {
    rsp = c.reg64(1);
    rip = c.reg64(2);
    if (rsp < -CANON || rsp >= CANON || rip < -CANON || rip >= CANON) c.raise(K.EXC_GP, 0, 'SYSEXIT to a non-canonical RCX or RDX');
  } else {
    rsp = c.r[1] >>> 0;
    rip = c.r[2] >>> 0;
  }
  const sel = ((cs + (to64 ? 32 : 16)) | 3) & 0xFFFF;
  c.loadSegRaw(K.SEG_CS, sel, 0, 0xFFFFFFFF, codeAr(3, to64));
  c.loadSegRaw(K.SEG_SS, (sel + 8) & 0xFFFF, 0, 0xFFFFFFFF, stackAr(3));
  c.setAddrReg(4, 8, rsp);
  c.rip = rip;
  c.updateMode();
}

def('syscall', syscall);
def('sysret', sysret);
def('sysenter', sysenter);
def('sysexit', sysexit);
