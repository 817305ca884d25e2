import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { loadPdptes } from '../paging';
import { desc, descAr, descBase64, descBase, descLimit, readDescriptor } from '../segmentation';
import { def } from './registry';
import {
  EXIT, exitAlways, exitAlwaysAtBlockEnd, interceptClts, interceptDescTable, interceptInvlpg, interceptIo, interceptLdtrTr, interceptLmsw,
  interceptMovDr, interceptMovFromCr, interceptMovToCr, interceptMwait, interceptRdmsr, interceptRdpmc, interceptRdtsc, interceptWbinvd,
  interceptWrmsr, markSti, rdtscpAllowed, vmxCrCheck,
} from '../vmx/intercept';
import { tprShadowActive, writeCr8Shadow } from '../vmx/tpr';

/**
 * System instructions: control and debug registers, descriptor-table registers, MSRs, CPUID,
 * time-stamp counter, port I/O, interrupt flag, cache and TLB control.
 */

const TWO32 = 0x100000000;

/** #GP(0) unless at CPL 0 (protected mode) — real mode is always CPL 0. */
export function requireCpl0(c: Cpu, what: string): void {
  if (c.protectedMode && c.cpl !== 0) c.raise(K.EXC_GP, 0, `${what} at CPL ${c.cpl}`);
}

// ---- control registers ----

function movRC(c: Cpu, i: Instr): void {
  requireCpl0(c, 'MOV from CR');
  if (c.nonRoot && (i.reg === 0 || i.reg === 3 || i.reg === 4 || (i.reg === 8 && c.mode64)) && interceptMovFromCr(c, i, i.reg)) return;
  let lo: number, hi = 0;
  switch (i.reg) {
    case 0: lo = c.cr0; break;
    case 2: lo = c.cr2 | 0; hi = Math.floor(c.cr2 / TWO32) | 0; break;
    case 3: lo = c.cr3 | 0; hi = Math.floor(c.cr3 / TWO32) | 0; break;
    case 4: lo = c.cr4; break;
    case 8: if (!c.mode64) return badCr(c, i.reg); lo = c.cr8; break;
    default: return badCr(c, i.reg);
  }
  if (i.size === 8) { c.r[i.rm] = lo; c.rh[i.rm] = hi; } else { c.r[i.rm] = lo; c.rh[i.rm] = 0; }
}

function badCr(c: Cpu, n: number): never {
  return c.raise(K.EXC_UD, -1, `CR${n} does not exist`);
}

/** CR4 bits this CPU implements (anything else is reserved: #GP on write). */
export const CR4_VALID = K.CR4_TSD | K.CR4_DE | K.CR4_PSE | K.CR4_PAE | K.CR4_MCE | K.CR4_PGE |
  K.CR4_PCE | K.CR4_UMIP | K.CR4_FSGSBASE | K.CR4_PCIDE | K.CR4_OSXSAVE | K.CR4_SMEP | K.CR4_SMAP;

/** Writes CR0 with the architectural checks and mode side effects (SDM MOV CR, 10.8.5, 10.9). */
export function writeCr0(c: Cpu, vlo: number, vhi: number): void {
  if (vhi !== 0) c.raise(K.EXC_GP, 0, 'reserved CR0 bits 63:32 set');
  let v = vlo | K.CR0_ET;
  if (v & K.CR0_PG && !(v & K.CR0_PE)) c.raise(K.EXC_GP, 0, 'CR0.PG=1 with CR0.PE=0');
  if (v & K.CR0_NW && !(v & K.CR0_CD)) c.raise(K.EXC_GP, 0, 'CR0.NW=1 with CR0.CD=0');
  v &= ~0x1FFAFFC0 | 0; // reserved bits read as 0
  v |= K.CR0_ET;
  if (c.vmx !== null) vmxCrCheck(c, 0, v);
  const old = c.cr0;
  const pgOn = v & K.CR0_PG && !(old & K.CR0_PG);
  const pgOff = !(v & K.CR0_PG) && old & K.CR0_PG;
  if (pgOn && c.efer & K.EFER_LME) {
    // entering IA-32e mode needs PAE and a CS that is not 64-bit yet
    if (!(c.cr4 & K.CR4_PAE)) c.raise(K.EXC_GP, 0, 'enabling paging with EFER.LME=1 but CR4.PAE=0');
    if (c.segAr[K.SEG_CS] & K.AR_L) c.raise(K.EXC_GP, 0, 'enabling IA-32e paging with CS.L=1');
  }
  if (pgOff && c.mode64) c.raise(K.EXC_GP, 0, 'disabling paging in 64-bit mode');
  if (pgOn && c.cr4 & K.CR4_PAE && !(c.efer & K.EFER_LME)) loadPdptes(c);
  if (!(v & K.CR0_PE) && old & K.CR0_PE && c.cr4 & K.CR4_PCIDE) c.raise(K.EXC_GP, 0, 'clearing PE with CR4.PCIDE=1');
  c.cr0 = v | 0;
  if (pgOn && c.efer & K.EFER_LME) c.efer |= K.EFER_LMA;
  if (pgOff) c.efer &= ~K.EFER_LMA;
  if ((old ^ v) & (K.CR0_PG | K.CR0_WP | K.CR0_PE)) c.flushTlb(true);
  c.updateMode();
}

export function writeCr4(c: Cpu, vlo: number, vhi: number): void {
  c.sysGen++;
  if (c.vmx !== null) vmxCrCheck(c, 4, vlo);
  if (vhi !== 0 || vlo & ~(c.vmx !== null ? CR4_VALID | K.CR4_VMXE : CR4_VALID)) c.raise(K.EXC_GP, 0, `reserved CR4 bits set (0x${(vlo >>> 0).toString(16)})`);
  if (c.efer & K.EFER_LMA && !(vlo & K.CR4_PAE)) c.raise(K.EXC_GP, 0, 'clearing CR4.PAE in IA-32e mode');
  if (vlo & K.CR4_PCIDE && !(c.cr4 & K.CR4_PCIDE) && (!(c.efer & K.EFER_LMA) || c.cr3 % 4096 !== 0)) c.raise(K.EXC_GP, 0, 'setting CR4.PCIDE outside IA-32e mode or with CR3[11:0] != 0');
  const old = c.cr4;
  if (c.cr0 & K.CR0_PG && (old ^ vlo) & K.CR4_PAE && !(c.efer & K.EFER_LMA) && vlo & K.CR4_PAE) {
    c.cr4 = vlo;
    loadPdptes(c);
  }
  c.cr4 = vlo;
  if ((old ^ vlo) & (K.CR4_PAE | K.CR4_PGE | K.CR4_PSE | K.CR4_SMEP | K.CR4_SMAP | K.CR4_PCIDE)) c.flushTlb(true);
}

export function writeCr3(c: Cpu, vlo: number, vhi: number): void {
  c.sysGen++;
  const v = (vhi >>> 0) * TWO32 + (vlo >>> 0);
  if (c.efer & K.EFER_LMA) {
    if (v >= 2 ** K.MAXPHYADDR && !(c.cr4 & K.CR4_PCIDE && vhi >>> 31 === 1 && (v - 2 ** 63) < 2 ** K.MAXPHYADDR)) {
      c.raise(K.EXC_GP, 0, 'CR3 has bits set beyond MAXPHYADDR');
    }
    // with PCIDE, bit 63 asks not to flush; it is not stored
    c.cr3 = vhi < 0 ? v - 2 ** 63 : v;
  } else {
    c.cr3 = vlo >>> 0;
  }
  if (c.cr0 & K.CR0_PG && c.cr4 & K.CR4_PAE && !(c.efer & K.EFER_LMA)) loadPdptes(c);
  c.flushTlb(false);
}

function movCR(c: Cpu, i: Instr): void {
  requireCpl0(c, 'MOV to CR');
  let lo = c.r[i.rm];
  const hi = i.size === 8 ? c.rh[i.rm] : 0;
  if (c.nonRoot && (i.reg <= 4 || (i.reg === 8 && c.mode64))) lo = interceptMovToCr(c, i, i.reg, lo, hi);
  switch (i.reg) {
    case 0: writeCr0(c, lo, hi); return;
    case 2: c.cr2 = (hi >>> 0) * TWO32 + (lo >>> 0); if (hi < 0) c.cr2 = hi * TWO32 + (lo >>> 0); return;
    case 3: writeCr3(c, lo, hi); return;
    case 4: writeCr4(c, lo, hi); return;
    case 8:
      if (!c.mode64) badCr(c, 8);
      if (hi !== 0 || lo & ~0xF) c.raise(K.EXC_GP, 0, 'reserved CR8 bits set');
      if (c.nonRoot && tprShadowActive(c)) return writeCr8Shadow(c, i, lo);
      c.cr8 = lo;
      c.raiseIntrLine();
      return;
    default: badCr(c, i.reg);
  }
}

// ---- debug registers ----

function drIndex(c: Cpu, n: number): number {
  if (n > 7) c.raise(K.EXC_UD, -1, `DR${n} does not exist`);
  if (n === 4 || n === 5) {
    if (c.cr4 & K.CR4_DE) c.raise(K.EXC_UD, -1, `DR${n} with CR4.DE=1`);
    return n + 2; // aliases of DR6/DR7
  }
  return n;
}

function movRD(c: Cpu, i: Instr): void {
  if (c.nonRoot) interceptMovDr(c, i, false);
  requireCpl0(c, 'MOV from DR');
  const n = drIndex(c, i.reg);
  if (c.dr[7] & 0x2000) {
    // general detect: #DB before the access
    c.dr[6] = (c.dr[6] | 0x2000) >>> 0;
    c.raise(K.EXC_DB, -1, 'debug-register access with DR7.GD=1');
  }
  const v = c.dr[n];
  c.r[i.rm] = v | 0;
  c.rh[i.rm] = i.size === 8 ? Math.floor(v / TWO32) | 0 : 0;
}

function movDR(c: Cpu, i: Instr): void {
  if (c.nonRoot) interceptMovDr(c, i, true);
  requireCpl0(c, 'MOV to DR');
  const n = drIndex(c, i.reg);
  if (c.dr[7] & 0x2000) {
    c.dr[6] = (c.dr[6] | 0x2000) >>> 0;
    c.raise(K.EXC_DB, -1, 'debug-register access with DR7.GD=1');
  }
  const lo = c.r[i.rm] >>> 0;
  const hi = i.size === 8 ? c.rh[i.rm] >>> 0 : 0;
  if ((n === 6 || n === 7) && hi !== 0) c.raise(K.EXC_GP, 0, `reserved DR${n} bits 63:32 set`);
  if (n === 6) c.dr[6] = ((lo & 0x0001E00F) | 0xFFFE0FF0) >>> 0;
  else if (n === 7) c.dr[7] = ((lo & 0xFFFF2BFF) | 0x400) >>> 0;
  else c.dr[n] = (i.size === 8 ? (c.rh[i.rm] | 0) * TWO32 : 0) + lo;
  if (n !== 6) c.debugRegistersChanged();
}

// ---- descriptor-table registers ----

function tableOperand(c: Cpu, i: Instr): number {
  if (!i.isMem) c.raise(K.EXC_UD, -1, 'descriptor-table instruction needs a memory operand');
  return c.ea(i);
}

function lgdtLidt(c: Cpu, i: Instr, idt: boolean): void {
  requireCpl0(c, idt ? 'LIDT' : 'LGDT');
  const ea = tableOperand(c, i);
  if (c.nonRoot) interceptDescTable(c, i, idt ? 3 : 2);
  const limit = c.rd16(i.seg, ea);
  const off = (k: number) => (i.asize === 8 ? ea + k : i.asize === 4 ? (ea + k) >>> 0 : (ea + k) & 0xFFFF);
  let base: number;
  if (c.mode64) {
    const lo = c.rd32(i.seg, off(2)) >>> 0;
    const hi = c.rd32(i.seg, off(6));
    base = hi * TWO32 + lo;
    if (base < -(2 ** 47) || base >= 2 ** 47) c.raise(K.EXC_GP, 0, `${idt ? 'LIDT' : 'LGDT'} with a non-canonical base`);
  } else {
    base = c.rd32(i.seg, off(2)) >>> 0;
    // a 16-bit operand loads only 24 bits of the base
    if (i.size === 2) base &= 0xFFFFFF;
  }
  if (idt) { c.idtrBase = base; c.idtrLimit = limit; } else { c.gdtrBase = base; c.gdtrLimit = limit; }
  c.sysGen++;
}

function sgdtSidt(c: Cpu, i: Instr, idt: boolean): void {
  if (c.cr4 & K.CR4_UMIP && c.protectedMode && c.cpl > 0) c.raise(K.EXC_GP, 0, 'SGDT/SIDT with CR4.UMIP=1 at CPL > 0');
  const ea = tableOperand(c, i);
  if (c.nonRoot) interceptDescTable(c, i, idt ? 1 : 0);
  const base = idt ? c.idtrBase : c.gdtrBase;
  const limit = idt ? c.idtrLimit : c.gdtrLimit;
  const off = (k: number) => (i.asize === 8 ? ea + k : i.asize === 4 ? (ea + k) >>> 0 : (ea + k) & 0xFFFF);
  c.linW(i.seg, ea, c.mode64 ? 10 : 6);
  c.wr16(i.seg, ea, limit);
  if (c.mode64) {
    c.wr32(i.seg, off(2), base | 0);
    c.wr32(i.seg, off(6), Math.floor(base / TWO32) | 0);
  } else {
    c.wr32(i.seg, off(2), base | 0);
  }
}

function smsw(c: Cpu, i: Instr): void {
  if (c.cr4 & K.CR4_UMIP && c.protectedMode && c.cpl > 0) c.raise(K.EXC_GP, 0, 'SMSW with CR4.UMIP=1 at CPL > 0');
  if (i.isMem) c.wr16(i.seg, c.ea(i), c.cr0 & 0xFFFF);
  else if (i.size === 8) { c.r[i.rm] = c.cr0; c.rh[i.rm] = 0; }
  else c.setReg(i.size, i.rm, i.size === 2 ? c.cr0 & 0xFFFF : c.cr0);
}

/** LMSW: loads CR0 bits 3:0; can set PE but never clear it. */
function lmsw(c: Cpu, i: Instr): void {
  requireCpl0(c, 'LMSW');
  let v = i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm);
  if (c.nonRoot) v = interceptLmsw(c, i, v, i.isMem ? c.linR(i.seg, c.ea(i), 2) : 0);
  const nv = (c.cr0 & ~0xE) | (v & 0xF) | (c.cr0 & 1);
  writeCr0(c, nv, 0);
}

function clts(c: Cpu, i: Instr): void {
  requireCpl0(c, 'CLTS');
  if (c.nonRoot && !interceptClts(c, i)) return;
  c.cr0 &= ~K.CR0_TS;
  c.sysGen++;
}

/** SLDT/STR: stores the selector; a register destination of 32/64 bits is zero-extended. */
function storeSel(c: Cpu, i: Instr, sel: number, what: string): void {
  if (!c.protectedMode || c.v86) c.raise(K.EXC_UD, -1, `${what} outside protected mode`);
  if (c.cr4 & K.CR4_UMIP && c.cpl > 0) c.raise(K.EXC_GP, 0, `${what} with CR4.UMIP=1 at CPL > 0`);
  if (c.nonRoot) interceptLdtrTr(c, i, what === 'SLDT' ? 0 : 1);
  if (i.isMem) c.wr16(i.seg, c.ea(i), sel);
  else if (i.size === 8) { c.r[i.rm] = sel; c.rh[i.rm] = 0; }
  else c.setReg(i.size, i.rm, sel);
}

function lldt(c: Cpu, i: Instr): void {
  if (!c.protectedMode || c.v86) c.raise(K.EXC_UD, -1, 'LLDT outside protected mode');
  requireCpl0(c, 'LLDT');
  if (c.nonRoot) interceptLdtrTr(c, i, 2);
  const sel = i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm);
  if ((sel & 0xFFFC) === 0) {
    c.loadSegRaw(K.SEG_LDTR, sel, 0, 0, K.AR_UNUSABLE);
    return;
  }
  if (sel & 4) c.raise(K.EXC_GP, sel & 0xFFFC, 'LLDT selector points into the LDT');
  const lma = (c.efer & K.EFER_LMA) !== 0;
  readDescriptor(c, sel, K.EXC_GP, lma ? 16 : 8);
  const ar = descAr(desc.hi);
  if (ar & K.AR_S || (ar & 0xF) !== 2) c.raise(K.EXC_GP, sel & 0xFFFC, `LLDT selector 0x${sel.toString(16)} is not an LDT descriptor`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, sel & 0xFFFC, 'LDT descriptor not present');
  const base = lma ? descBase64(desc.lo, desc.hi, desc.lo2) : descBase(desc.lo, desc.hi);
  if (lma && (base < -(2 ** 47) || base >= 2 ** 47)) c.raise(K.EXC_GP, sel & 0xFFFC, 'LDT base is not canonical');
  c.loadSegRaw(K.SEG_LDTR, sel, base >= 2 ** 47 ? base - 2 ** 64 : base, descLimit(desc.lo, desc.hi), ar);
}

function ltr(c: Cpu, i: Instr): void {
  if (!c.protectedMode || c.v86) c.raise(K.EXC_UD, -1, 'LTR outside protected mode');
  requireCpl0(c, 'LTR');
  if (c.nonRoot) interceptLdtrTr(c, i, 3);
  const sel = i.isMem ? c.rd16(i.seg, c.ea(i)) : c.getReg(2, i.rm);
  if ((sel & 0xFFFC) === 0) c.raise(K.EXC_GP, 0, 'LTR with a null selector');
  if (sel & 4) c.raise(K.EXC_GP, sel & 0xFFFC, 'LTR selector points into the LDT');
  const lma = (c.efer & K.EFER_LMA) !== 0;
  readDescriptor(c, sel, K.EXC_GP, lma ? 16 : 8);
  const ar = descAr(desc.hi);
  const type = ar & 0xF;
  const ok = lma ? type === 9 : type === 9 || type === 1;
  if (ar & K.AR_S || !ok) c.raise(K.EXC_GP, sel & 0xFFFC, `LTR selector 0x${sel.toString(16)} is not an available TSS`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, sel & 0xFFFC, 'TSS descriptor not present');
  const base = lma ? descBase64(desc.lo, desc.hi, desc.lo2) : descBase(desc.lo, desc.hi);
  // mark busy in memory
  desc.hi |= 0x200;
  c.wrSys32(lma ? desc.addr + 4 : (desc.addr + 4) >>> 0, desc.hi);
  c.loadSegRaw(K.SEG_TR, sel, base >= 2 ** 47 ? base - 2 ** 64 : base, descLimit(desc.lo, desc.hi), ar | 2);
}

function invlpg(c: Cpu, i: Instr): void {
  requireCpl0(c, 'INVLPG');
  const ea = c.ea(i);
  const lin = c.mode64 ? c.effBase[i.seg] + ea : (c.effBase[i.seg] + ea) >>> 0;
  if (c.nonRoot) interceptInvlpg(c, i, lin);
  c.invlpg(lin);
}

// ---- MSRs, CPUID, TSC ----

function rdmsr(c: Cpu, i: Instr): void {
  requireCpl0(c, 'RDMSR');
  if (c.nonRoot && interceptRdmsr(c, i)) return;
  const v = c.msrs.read(c.r[1] >>> 0);
  c.r[0] = Number(v & 0xFFFFFFFFn) | 0;
  c.rh[0] = 0;
  c.r[2] = Number((v >> 32n) & 0xFFFFFFFFn) | 0;
  c.rh[2] = 0;
}

function wrmsr(c: Cpu, i: Instr): void {
  requireCpl0(c, 'WRMSR');
  if (c.nonRoot) interceptWrmsr(c, i);
  const v = (BigInt(c.r[2] >>> 0) << 32n) | BigInt(c.r[0] >>> 0);
  c.msrs.write(c.r[1] >>> 0, v);
}

function cpuid(c: Cpu, i: Instr): void {
  // CPUID ends its block, so its exit can return instead of throwing
  if (c.nonRoot) { exitAlwaysAtBlockEnd(c, i, EXIT.CPUID); return; }
  const out = c.cpuid.query(c.r[0] >>> 0, c.r[1] >>> 0, c);
  // EAX, EBX, ECX, EDX are registers 0, 3, 1, 2; the upper halves are cleared
  c.r[0] = out[0]; c.r[3] = out[1]; c.r[1] = out[2]; c.r[2] = out[3];
  c.rh[0] = c.rh[3] = c.rh[1] = c.rh[2] = 0;
}

function rdtsc(c: Cpu, i: Instr, rdtscp = false): void {
  if (c.cr4 & K.CR4_TSD && c.protectedMode && c.cpl > 0) c.raise(K.EXC_GP, 0, 'RDTSC with CR4.TSD=1 at CPL > 0');
  const t = c.nonRoot ? interceptRdtsc(c, i, rdtscp) : c.readTsc();
  c.setReg(4, 0, t | 0);
  c.setReg(4, 2, Math.floor(t / TWO32) | 0);
}

function rdtscp(c: Cpu, i: Instr): void {
  if (c.nonRoot && !rdtscpAllowed(c)) c.raise(K.EXC_UD, -1, 'RDTSCP in non-root operation without "enable RDTSCP"');
  rdtsc(c, i, true);
  c.setReg(4, 1, Number(c.msrs.read(0xC0000103) & 0xFFFFFFFFn));
}

/** RDPMC: no counters are implemented; every index is out of range (#GP), as CPUID leaf 0xA says. */
function rdpmc(c: Cpu, i: Instr): void {
  if (c.protectedMode && c.cpl > 0 && !(c.cr4 & K.CR4_PCE)) c.raise(K.EXC_GP, 0, 'RDPMC at CPL > 0 with CR4.PCE=0');
  if (c.nonRoot) interceptRdpmc(c, i);
  c.raise(K.EXC_GP, 0, `RDPMC: performance counter 0x${(c.r[1] >>> 0).toString(16)} not implemented`);
}

// ---- interrupt flag ----

/** CLI/STI privilege (SDM CLI: IOPL, and VME/PVI for virtual-8086 and ring 3). */
function cli(c: Cpu): void {
  if (c.protectedMode && ((c.flags >> 12) & 3) < c.cpl) {
    if (c.v86 && c.cr4 & K.CR4_VME || !c.v86 && c.cpl === 3 && c.cr4 & K.CR4_PVI) { c.flags &= ~F.VIF; return; }
    c.raise(K.EXC_GP, 0, 'CLI with IOPL < CPL');
  }
  c.flags &= ~F.IF;
}

function sti(c: Cpu, i: Instr): void {
  if (c.protectedMode && ((c.flags >> 12) & 3) < c.cpl) {
    if ((c.v86 && c.cr4 & K.CR4_VME || !c.v86 && c.cpl === 3 && c.cr4 & K.CR4_PVI) && !(c.flags & F.VIP)) { c.flags |= F.VIF; return; }
    c.raise(K.EXC_GP, 0, 'STI with IOPL < CPL');
  }
  if (!(c.flags & F.IF)) {
    c.flags |= F.IF;
    c.shadow = true;
    if (c.vmx !== null) markSti(c, i);
    c.raiseIntrLine();
  }
}

// ---- port I/O ----

/** Non-root I/O: the IOPL / TSS permission check has priority over the VM exit (SDM 26.1.1). */
/** True when the I/O instruction caused a VM exit (the permission check comes first, SDM 26.1.1). */
function vmxIo(c: Cpu, i: Instr, port: number, isIn: boolean, imm: boolean): boolean {
  if (c.needsIoCheck()) c.checkIoPermission(port, i.size);
  return interceptIo(c, i, port, i.size, isIn, imm);
}

function inI(c: Cpu, i: Instr): void {
  if (c.nonRoot && vmxIo(c, i, i.imm, true, true)) return;
  c.setReg(i.size, 0, c.portIn(i.imm, i.size));
}
function inDX(c: Cpu, i: Instr): void {
  if (c.nonRoot && vmxIo(c, i, c.r[2] & 0xFFFF, true, false)) return;
  c.setReg(i.size, 0, c.portIn(c.r[2] & 0xFFFF, i.size));
}
function outI(c: Cpu, i: Instr): void {
  if (c.nonRoot && vmxIo(c, i, i.imm, false, true)) return;
  c.portOut(i.imm, i.size, c.getReg(i.size, 0));
}
function outDX(c: Cpu, i: Instr): void {
  if (c.nonRoot && vmxIo(c, i, c.r[2] & 0xFFFF, false, false)) return;
  c.portOut(c.r[2] & 0xFFFF, i.size, c.getReg(i.size, 0));
}

// ---- x87 escapes: this CPU has no FPU (CPUID.1:EDX.FPU = 0) ----

/** ESC (D8-DF): #NM when CR0.EM or CR0.TS is set; otherwise #UD since no x87 unit is present. */
function fpuEsc(c: Cpu): void {
  if (c.cr0 & (K.CR0_EM | K.CR0_TS)) c.raise(K.EXC_NM, -1, 'x87 instruction with CR0.EM or CR0.TS set');
  c.raise(K.EXC_UD, -1, 'x87 instructions are not emulated (CPUID reports no FPU)');
}

/** WAIT/FWAIT: #NM only when both CR0.MP and CR0.TS are set; otherwise a no-op. */
function fwait(c: Cpu): void {
  if ((c.cr0 & (K.CR0_MP | K.CR0_TS)) === (K.CR0_MP | K.CR0_TS)) c.raise(K.EXC_NM, -1, 'WAIT with CR0.MP and CR0.TS set');
}

// ---- miscellaneous ----

function swapgs(c: Cpu): void {
  if (!c.mode64) c.raise(K.EXC_UD, -1, 'SWAPGS outside 64-bit mode');
  requireCpl0(c, 'SWAPGS');
  const k = c.msrs.kernelGsBase;
  c.msrs.kernelGsBase = c.segBase[K.SEG_GS];
  c.segBase[K.SEG_GS] = k;
  c.refreshSeg(K.SEG_GS);
}

/** RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (cc: 0 rdfs, 1 rdgs, 2 wrfs, 3 wrgs). */
function fsgsbase(c: Cpu, i: Instr): void {
  if (!(c.cr4 & K.CR4_FSGSBASE)) c.raise(K.EXC_UD, -1, 'FSGSBASE instruction with CR4.FSGSBASE=0');
  const s = i.cc & 1 ? K.SEG_GS : K.SEG_FS;
  if (i.cc < 2) {
    const b = c.segBase[s];
    c.r[i.rm] = b | 0;
    c.rh[i.rm] = i.size === 8 ? Math.floor(b / TWO32) | 0 : 0;
    return;
  }
  const v = i.size === 8 ? c.rh[i.rm] * TWO32 + (c.r[i.rm] >>> 0) : c.r[i.rm] >>> 0;
  if (v < -(2 ** 47) || v >= 2 ** 47) c.raise(K.EXC_GP, 0, 'WRFSBASE/WRGSBASE with a non-canonical value');
  c.segBase[s] = v;
  c.refreshSeg(s);
}

function clflush(c: Cpu, i: Instr): void {
  // a read-access check on the line is all an emulator without caches can do
  c.linR(i.seg, c.ea(i), 1);
}

function invd(c: Cpu, i: Instr): void {
  requireCpl0(c, 'INVD');
  if (c.nonRoot) exitAlways(c, i, EXIT.INVD);
}

function wbinvd(c: Cpu, i: Instr): void {
  requireCpl0(c, 'WBINVD');
  if (c.nonRoot) interceptWbinvd(c, i);
}

function smapFlag(set: boolean) {
  return (c: Cpu) => {
    if (!(c.cr4 & K.CR4_SMAP)) c.raise(K.EXC_UD, -1, 'CLAC/STAC with CR4.SMAP=0');
    requireCpl0(c, 'CLAC/STAC');
    if (set) c.flags |= F.AC; else c.flags &= ~F.AC;
  };
}

/** MONITOR/MWAIT are not reported by CPUID.1:ECX.MONITOR: #UD (SDM). */
/**
 * MONITOR: arms address monitoring of the line at [rAX] (DS, overridable). The access is checked
 * like a read (segment and paging faults); ECX must be 0 (no extensions are reported).
 */
function monitor(c: Cpu, i: Instr): void {
  if (c.protectedMode && c.cpl !== 0) c.raise(K.EXC_UD, -1, 'MONITOR at CPL > 0');
  if (c.nonRoot) interceptMwait(c, i, true);
  if (c.r[1] !== 0) c.raise(K.EXC_GP, 0, 'MONITOR with unsupported extensions in ECX');
  const seg = i.segOverride >= 0 ? i.segOverride : K.SEG_DS;
  const lin = c.linR(seg, c.addrReg(0, i.asize), 1);
  c.xlate(lin, false, false);
  c.monitorArmed = true;
}

/**
 * MWAIT: an optimised wait that the processor may leave for any reason (SDM MWAIT: "a hint").
 * Returning at once is such a reason; ECX bit 0 (interrupts as break events) is accepted, as
 * CPUID.5:ECX reports.
 */
function mwait(c: Cpu, i: Instr): void {
  if (c.protectedMode && c.cpl !== 0) c.raise(K.EXC_UD, -1, 'MWAIT at CPL > 0');
  if (c.nonRoot) interceptMwait(c, i, false);
  if (c.r[1] & ~1) c.raise(K.EXC_GP, 0, 'MWAIT with unsupported extensions in ECX');
  c.monitorArmed = false;
}

function rsm(c: Cpu): void {
  c.raise(K.EXC_UD, -1, 'RSM outside system-management mode');
}

def('mov_RC', movRC);
def('mov_CR', movCR);
def('mov_RD', movRD);
def('mov_DR', movDR);
def('lgdt', (c, i) => lgdtLidt(c, i, false));
def('lidt', (c, i) => lgdtLidt(c, i, true));
def('sgdt', (c, i) => sgdtSidt(c, i, false));
def('sidt', (c, i) => sgdtSidt(c, i, true));
def('smsw', smsw);
def('lmsw', lmsw);
def('clts', clts);
def('sldt', (c, i) => storeSel(c, i, c.segSel[K.SEG_LDTR], 'SLDT'));
def('str', (c, i) => storeSel(c, i, c.segSel[K.SEG_TR], 'STR'));
def('lldt', lldt);
def('ltr', ltr);
def('invlpg', invlpg);
def('rdmsr', rdmsr);
def('wrmsr', wrmsr);
def('cpuid', cpuid);
def('rdtsc', rdtsc);
def('rdtscp', rdtscp);
def('rdpmc', rdpmc);
def('cli', cli);
def('sti', sti);
def('in_I', inI);
def('in_DX', inDX);
def('out_I', outI);
def('out_DX', outDX);
def('fpu_esc', fpuEsc);
def('fwait', fwait);
def('swapgs', swapgs);
def('fsgsbase', fsgsbase);
def('clflush', clflush);
def('invd', invd);
def('wbinvd', wbinvd);
def('clac', smapFlag(false));
def('stac', smapFlag(true));
def('monitor', monitor);
def('mwait', mwait);
def('rsm', rsm);
def('ud2', (c) => c.raise(K.EXC_UD, -1, 'UD2'));
def('ud0', (c) => c.raise(K.EXC_UD, -1, 'UD0'));
def('ud1', (c) => c.raise(K.EXC_UD, -1, 'UD1'));
