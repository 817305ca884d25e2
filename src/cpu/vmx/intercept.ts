import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import { controlMask, makeCrAccessQualification, makeIoQualification, makeMovDrQualification } from './spec';
import * as S from './slots';
import { exitAtBlockEnd, exitForInstruction, exitInfo } from './exit';
import { SHADOW_STI, vmxOf } from './state';
import { readCr8Shadow, tprShadowActive } from './tpr';

/**
 * Non-root interception of instructions (SDM 26.1-26.3). The instruction handlers call these only
 * when `c.nonRoot` is set (one boolean test otherwise). A function either causes a VM exit (it throws
 * BLOCK_EXIT through exitForInstruction, leaving the instruction without effect), returns true when
 * it carried out the instruction itself in its non-root form (TSC offsetting, CR read shadows), or
 * returns false to let the handler run normally. Privilege faults the SDM gives priority over the VM
 * exit are raised by the handler before it calls in here.
 */

const TWO32 = 0x100000000;

const P1_HLT = controlMask('CPU_BASED_HLT_EXITING');
const P1_INVLPG = controlMask('CPU_BASED_INVLPG_EXITING');
const P1_RDPMC = controlMask('CPU_BASED_RDPMC_EXITING');
const P1_RDTSC = controlMask('CPU_BASED_RDTSC_EXITING');
const P1_TSC_OFFSET = controlMask('CPU_BASED_USE_TSC_OFFSETTING');
const P1_CR3_LOAD = controlMask('CPU_BASED_CR3_LOAD_EXITING');
const P1_CR3_STORE = controlMask('CPU_BASED_CR3_STORE_EXITING');
const P1_CR8_LOAD = controlMask('CPU_BASED_CR8_LOAD_EXITING');
const P1_CR8_STORE = controlMask('CPU_BASED_CR8_STORE_EXITING');
const P1_MOV_DR = controlMask('CPU_BASED_MOV_DR_EXITING');
const P1_UNCOND_IO = controlMask('CPU_BASED_UNCOND_IO_EXITING');
const P1_IO_BITMAPS = controlMask('CPU_BASED_USE_IO_BITMAPS');
const P1_MSR_BITMAPS = controlMask('CPU_BASED_USE_MSR_BITMAPS');
const P1_MWAIT = controlMask('CPU_BASED_MWAIT_EXITING');
const P1_MONITOR = controlMask('CPU_BASED_MONITOR_EXITING');
const P1_PAUSE = controlMask('CPU_BASED_PAUSE_EXITING');
const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
const P2_DESC = controlMask('SECONDARY_EXEC_DESC');
const P2_RDTSCP = controlMask('SECONDARY_EXEC_ENABLE_RDTSCP');
const P2_WBINVD = controlMask('SECONDARY_EXEC_WBINVD_EXITING');
const P2_PLE = controlMask('SECONDARY_EXEC_PAUSE_LOOP_EXITING');

/** Exit reasons used here (SDM Appendix C; names in spec/exitReasons.ts). */
export const EXIT = {
  EXCEPTION_NMI: 0, EXTERNAL_INTERRUPT: 1, TRIPLE_FAULT: 2, INTERRUPT_WINDOW: 7, NMI_WINDOW: 8, TASK_SWITCH: 9,
  CPUID: 10, HLT: 12, INVD: 13, INVLPG: 14, RDPMC: 15, RDTSC: 16, VMCALL: 18, VMCLEAR: 19, VMLAUNCH: 20,
  VMPTRLD: 21, VMPTRST: 22, VMREAD: 23, VMRESUME: 24, VMWRITE: 25, VMXOFF: 26, VMXON: 27, CR_ACCESS: 28,
  DR_ACCESS: 29, IO: 30, RDMSR: 31, WRMSR: 32, MWAIT: 36, MONITOR_TRAP_FLAG: 37, MONITOR: 39, PAUSE: 40, GDTR_IDTR: 46, LDTR_TR: 47,
  INVEPT: 50, RDTSCP: 51, PREEMPTION_TIMER: 52, INVVPID: 53, WBINVD: 54, XSETBV: 55, VMFUNC: 59,
} as const;

function proc1(c: Cpu): number {
  return vmxOf(c).vmcs.i32(S.CPU_BASED_VM_EXEC_CONTROL);
}

/** Secondary controls in effect (0 unless activated). */
export function proc2(c: Cpu): number {
  const d = vmxOf(c).vmcs;
  return d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_SECONDARY ? d.i32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
}

/** Instructions that exit unconditionally in non-root operation (CPUID, INVD, GETSEC, XSETBV, ...). */
export function exitAlways(c: Cpu, i: Instr, reason: number): never {
  return exitForInstruction(c, i, reason, 0);
}

/** An unconditional exit by an instruction that ends its block (CPUID): returns after the exit. */
export function exitAlwaysAtBlockEnd(c: Cpu, i: Instr, reason: number): void {
  exitAtBlockEnd(c, i, reason, 0);
}

export function interceptHlt(c: Cpu, i: Instr): void {
  if (proc1(c) & P1_HLT) exitForInstruction(c, i, EXIT.HLT, 0);
  vmxOf(c).guestActivity = 1;
}

export function interceptInvlpg(c: Cpu, i: Instr, lin: number): void {
  if (proc1(c) & P1_INVLPG) exitForInstruction(c, i, EXIT.INVLPG, lin);
}

export function interceptRdpmc(c: Cpu, i: Instr): void {
  if (proc1(c) & P1_RDPMC) exitForInstruction(c, i, EXIT.RDPMC, 0);
}

export function interceptWbinvd(c: Cpu, i: Instr): void {
  if (proc2(c) & P2_WBINVD) exitForInstruction(c, i, EXIT.WBINVD, 0);
}

export function interceptMwait(c: Cpu, i: Instr, monitor: boolean): void {
  if (proc1(c) & (monitor ? P1_MONITOR : P1_MWAIT)) exitForInstruction(c, i, monitor ? EXIT.MONITOR : EXIT.MWAIT, 0);
}

/** RDTSCP without "enable RDTSCP" is #UD in non-root operation (SDM 26.3). */
export function rdtscpAllowed(c: Cpu): boolean {
  return (proc2(c) & P2_RDTSCP) !== 0;
}

/**
 * RDTSC/RDTSCP: exits with RDTSC exiting; otherwise returns the TSC the guest sees (offset added
 * with "use TSC offsetting", SDM 26.3 and 27.? TSC offsetting).
 */
export function interceptRdtsc(c: Cpu, i: Instr, rdtscp: boolean): number {
  const p1 = proc1(c);
  if (p1 & P1_RDTSC) exitForInstruction(c, i, rdtscp ? EXIT.RDTSCP : EXIT.RDTSC, 0);
  return guestTsc(c, p1);
}

export function guestTsc(c: Cpu, p1 = proc1(c)): number {
  const t = c.readTsc();
  return p1 & P1_TSC_OFFSET ? t + vmxOf(c).vmcs.num(S.TSC_OFFSET) : t;
}

/** PAUSE: PAUSE exiting, or PAUSE-loop exiting at CPL 0 (gap and window in TSC ticks, SDM 26.1.3). */
export function interceptPause(c: Cpu, i: Instr): void {
  if (proc1(c) & P1_PAUSE) exitForInstruction(c, i, EXIT.PAUSE, 0);
  if (!(proc2(c) & P2_PLE) || c.cpl !== 0) return;
  const v = vmxOf(c);
  const now = c.readTsc();
  if (v.pauseLast < 0 || now - v.pauseLast > v.vmcs.u32(S.PLE_GAP)) v.pauseFirst = now;
  v.pauseLast = now;
  if (now - v.pauseFirst > v.vmcs.u32(S.PLE_WINDOW)) {
    v.pauseLast = v.pauseFirst = -1;
    exitForInstruction(c, i, EXIT.PAUSE, 0);
  }
}

// ---- MSRs ----

/** SDM 26.1.3: with MSR bitmaps, bit (index) of the read or write quarter decides; outside the ranges always exit. */
function msrExits(c: Cpu, index: number, write: boolean): boolean {
  const d = vmxOf(c).vmcs;
  if (!(d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_MSR_BITMAPS)) return true;
  let off: number;
  if (index <= 0x1FFF) off = 0;
  else if (index >= 0xC0000000 && index <= 0xC0001FFF) off = 0x400;
  else return true;
  const bit = index & 0x1FFF;
  const byte = c.physRead(d.unum(S.MSR_BITMAP) + off + (write ? 0x800 : 0) + (bit >>> 3), 1);
  return ((byte >>> (bit & 7)) & 1) !== 0;
}

/** RDMSR: exits, or (IA32_TSC with TSC offsetting) returns true after doing the read itself. */
export function interceptRdmsr(c: Cpu, i: Instr): boolean {
  const index = c.r[1] >>> 0;
  if (msrExits(c, index, false)) exitForInstruction(c, i, EXIT.RDMSR, 0);
  if (index !== 0x10) return false;
  const t = guestTsc(c);
  c.setReg(4, 0, t | 0);
  c.setReg(4, 2, Math.floor(t / TWO32) | 0);
  return true;
}

export function interceptWrmsr(c: Cpu, i: Instr): void {
  if (msrExits(c, c.r[1] >>> 0, true)) exitForInstruction(c, i, EXIT.WRMSR, 0);
}

// ---- I/O ----

/**
 * SDM 26.1.3 "I/O instructions": "use I/O bitmaps" (primary bit 25) wins over "unconditional I/O
 * exiting" (bit 24). With bitmaps an access exits if the bit of any port it touches is set (bitmap A
 * 0000-7FFF, B 8000-FFFF) or if it wraps past FFFF.
 */
export function ioExits(c: Cpu, port: number, size: number): boolean {
  const d = vmxOf(c).vmcs;
  const p1 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL);
  if (!(p1 & P1_IO_BITMAPS)) return (p1 & P1_UNCOND_IO) !== 0;
  if (port + size - 1 > 0xFFFF) return true;
  for (let p = port; p < port + size; p++) {
    const base = p < 0x8000 ? d.unum(S.IO_BITMAP_A) : d.unum(S.IO_BITMAP_B);
    const q = p & 0x7FFF;
    if ((c.physRead(base + (q >>> 3), 1) >>> (q & 7)) & 1) return true;
  }
  return false;
}

/** IN/OUT (immediate or DX). Called after the IOPL / TSS permission check, which has priority. */
/** IN/OUT in non-root operation: true when it caused a VM exit (the handler must then return at once). */
export function interceptIo(c: Cpu, i: Instr, port: number, size: number, isIn: boolean, imm: boolean): boolean {
  if (!ioExits(c, port, size)) return false;
  // SDM 28.2.1 Table 28-5: size - 1 in bits 2:0, direction bit 3, operand encoding bit 6, port 31:16
  const qual = ((size - 1) | (isIn ? 8 : 0) | (imm ? 0x40 : 0) | (port << 16)) >>> 0;
  exitAtBlockEnd(c, i, EXIT.IO, qual);
  return true;
}

/** INS/OUTS with or without REP: linear address of the first element and instruction information. */
export function interceptStringIo(c: Cpu, i: Instr, isIn: boolean): void {
  const port = c.r[2] & 0xFFFF;
  const size = i.size;
  if (!ioExits(c, port, size)) return;
  const seg = isIn ? K.SEG_ES : i.seg;
  const off = c.addrReg(isIn ? 7 : 6, i.asize);
  exitInfo.hasLinear = true;
  exitInfo.linear = c.mode64 ? c.effBase[seg] + off : (c.effBase[seg] + off) >>> 0;
  if (vmxOf(c).caps.spec.insOutsInfo) {
    exitInfo.hasInfo = true;
    exitInfo.info = (asizeCode(i.asize) << 7) | (seg << 15);
  }
  exitForInstruction(c, i, EXIT.IO, makeIoQualification({ size: size as 1 | 2 | 4, direction: isIn ? 'in' : 'out', string: true, rep: i.rep !== 0, immediate: false, port }));
}

function asizeCode(a: number): number {
  return a === 2 ? 0 : a === 4 ? 1 : 2;
}

// ---- control and debug registers ----

/** MOV to CR0/CR4 under the guest/host mask: exit, or the value to write (masked bits keep their value). */
export function interceptMovToCr(c: Cpu, i: Instr, cr: number, lo: number, hi: number): number {
  const v = vmxOf(c);
  const d = v.vmcs;
  const q = () => makeCrAccessQualification({ accessType: 0, controlRegister: cr, gpr: i.rm });
  switch (cr) {
    case 0: case 4: {
      const mask = cr === 0 ? S.CR0_GUEST_HOST_MASK : S.CR4_GUEST_HOST_MASK;
      const shadow = cr === 0 ? S.CR0_READ_SHADOW : S.CR4_READ_SHADOW;
      if (((lo ^ d.lo[shadow]) & d.lo[mask]) !== 0 || ((hi ^ d.hi[shadow]) & d.hi[mask]) !== 0) exitForInstruction(c, i, EXIT.CR_ACCESS, q());
      const cur = cr === 0 ? c.cr0 : c.cr4;
      return (lo & ~d.lo[mask]) | (cur & d.lo[mask]);
    }
    case 3: {
      if (!(proc1(c) & P1_CR3_LOAD)) return lo;
      const n = d.u32(S.CR3_TARGET_COUNT);
      const targets = [S.CR3_TARGET_VALUE0, S.CR3_TARGET_VALUE1, S.CR3_TARGET_VALUE2, S.CR3_TARGET_VALUE3];
      for (let k = 0; k < n && k < 4; k++) if (d.lo[targets[k]] === lo && d.hi[targets[k]] === hi) return lo;
      return exitForInstruction(c, i, EXIT.CR_ACCESS, q());
    }
    case 8:
      if (proc1(c) & P1_CR8_LOAD) exitForInstruction(c, i, EXIT.CR_ACCESS, q());
      return lo;
    case 2:
      v.guestCr2 = (hi >>> 0) * TWO32 + (lo >>> 0);
      return lo;
  }
  return lo;
}

/** MOV from CR: exit (CR3/CR8 store exiting), the read-shadow view of CR0/CR4 or the TPR shadow for CR8 (true = done). */
export function interceptMovFromCr(c: Cpu, i: Instr, cr: number): boolean {
  const d = vmxOf(c).vmcs;
  const q = () => makeCrAccessQualification({ accessType: 1, controlRegister: cr, gpr: i.rm });
  if (cr === 3 && proc1(c) & P1_CR3_STORE) exitForInstruction(c, i, EXIT.CR_ACCESS, q());
  if (cr === 8 && proc1(c) & P1_CR8_STORE) exitForInstruction(c, i, EXIT.CR_ACCESS, q());
  if (cr === 8 && tprShadowActive(c)) {
    c.r[i.rm] = readCr8Shadow(c);
    c.rh[i.rm] = 0;
    return true;
  }
  if (cr !== 0 && cr !== 4) return false;
  const mask = cr === 0 ? S.CR0_GUEST_HOST_MASK : S.CR4_GUEST_HOST_MASK;
  const shadow = cr === 0 ? S.CR0_READ_SHADOW : S.CR4_READ_SHADOW;
  const real = cr === 0 ? c.cr0 : c.cr4;
  const lo = (real & ~d.lo[mask]) | (d.lo[shadow] & d.lo[mask]);
  const hi = d.hi[shadow] & d.hi[mask];
  c.r[i.rm] = lo;
  c.rh[i.rm] = i.size === 8 ? hi : 0;
  return true;
}

/** CLTS: exits when CR0.TS is owned by the host and the shadow says TS = 1; returns false when TS must stay. */
export function interceptClts(c: Cpu, i: Instr): boolean {
  const d = vmxOf(c).vmcs;
  if (!(d.lo[S.CR0_GUEST_HOST_MASK] & K.CR0_TS)) return true;
  if (d.lo[S.CR0_READ_SHADOW] & K.CR0_TS) exitForInstruction(c, i, EXIT.CR_ACCESS, makeCrAccessQualification({ accessType: 2 }));
  return false;
}

/** LMSW: exit rule of SDM 26.1.3; otherwise the new low 4 bits with host-owned bits kept. */
export function interceptLmsw(c: Cpu, i: Instr, src: number, lin: number): number {
  const d = vmxOf(c).vmcs;
  const mask = d.lo[S.CR0_GUEST_HOST_MASK], shadow = d.lo[S.CR0_READ_SHADOW];
  if ((mask & 1 && !(shadow & 1) && src & 1) || ((src ^ shadow) & mask & 0xE) !== 0) {
    if (i.isMem) {
      exitInfo.hasLinear = true;
      exitInfo.linear = lin;
    }
    exitForInstruction(c, i, EXIT.CR_ACCESS, makeCrAccessQualification({ accessType: 3, lmswMemory: i.isMem, lmswSourceData: src & 0xFFFF }));
  }
  return (src & ~(mask & 0xF)) | (c.cr0 & mask & 0xF);
}

/** MOV DR: the exit has priority over the CPL, DR4/DR5 and general-detect faults (SDM 26.1.1). */
export function interceptMovDr(c: Cpu, i: Instr, toDr: boolean): void {
  if (proc1(c) & P1_MOV_DR) exitForInstruction(c, i, EXIT.DR_ACCESS, makeMovDrQualification({ debugRegister: i.reg & 7, direction: toDr ? 'to' : 'from', gpr: i.rm }));
}

// ---- descriptor tables ----

/** Instruction information for a memory operand (the vmx-memory / descriptor-table layouts share bits 0-27). */
export function memOperandInfo(c: Cpu, i: Instr): number {
  let info = (i.scale & 3) | (asizeCode(i.asize) << 7) | (i.seg << 15);
  if (i.index >= 0) info |= i.index << 18; else info |= 1 << 22;
  if (i.base >= 0) info |= i.base << 23; else info |= 1 << 27;
  void c;
  return info;
}

/** The displacement a memory-operand exit reports (RIP-relative operands keep the encoded disp32). */
export function displacement(c: Cpu, i: Instr): number {
  if (c.mode64 && i.base < 0 && i.index < 0 && (i.modrm & 0xC7) === 0x05) return i.disp - i.next;
  return i.disp;
}

/** LGDT/LIDT/SGDT/SIDT (id 2,3,0,1) with descriptor-table exiting (exit 46). */
export function interceptDescTable(c: Cpu, i: Instr, id: number): void {
  if (!(proc2(c) & P2_DESC)) return;
  exitInfo.hasInfo = true;
  exitInfo.info = memOperandInfo(c, i) | ((i.size === 2 ? 0 : 1) << 11) | (id << 28);
  exitForInstruction(c, i, EXIT.GDTR_IDTR, displacement(c, i));
}

/** SLDT/STR/LLDT/LTR (id 0,1,2,3) with descriptor-table exiting (exit 47). */
export function interceptLdtrTr(c: Cpu, i: Instr, id: number): void {
  if (!(proc2(c) & P2_DESC)) return;
  exitInfo.hasInfo = true;
  exitInfo.info = i.isMem ? memOperandInfo(c, i) | (id << 28) : (i.rm << 3) | (1 << 10) | (id << 28);
  exitForInstruction(c, i, EXIT.LDTR_TR, i.isMem ? displacement(c, i) : 0);
}

/** STI that sets IF starts blocking by STI for the next instruction (system.ts calls this). */
export function markSti(c: Cpu, i: Instr): void {
  const v = vmxOf(c);
  v.shadowKind = SHADOW_STI;
  v.shadowRip = i.next;
}

/**
 * In VMX operation CR0 and CR4 must keep the bits IA32_VMX_CR0/CR4_FIXED0/1 fix (SDM 24.8): a MOV
 * that would change one raises #GP(0) (CR4.VMXE cannot be cleared). Unrestricted guests may clear
 * CR0.PE and PG.
 */
export function vmxCrCheck(c: Cpu, cr: number, value: number): void {
  const v = vmxOf(c);
  if (!v.inVmx) return;
  const caps = v.caps;
  let fixed0 = cr === 0 ? caps.cr0Fixed0 : caps.cr4Fixed0;
  const fixed1 = cr === 0 ? caps.cr0Fixed1 : caps.cr4Fixed1;
  if (cr === 0 && c.nonRoot && proc2(c) & controlMask('SECONDARY_EXEC_UNRESTRICTED_GUEST')) fixed0 &= ~(K.CR0_PE | K.CR0_PG);
  if ((value & fixed0) !== fixed0 || value & ~fixed1) {
    c.raise(K.EXC_GP, 0, `MOV to CR${cr} would change a bit fixed in VMX operation (IA32_VMX_CR${cr}_FIXED0/1)`);
  }
}
