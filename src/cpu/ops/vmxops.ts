import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import { BLOCK_EXIT } from '../cpu';
import * as K from '../constants';
import { def, handlers } from './registry';
import { vmEntry } from '../vmx/entry';
import { eptpProblem } from '../vmx/entryChecks';
import { exitAtBlockEnd, exitForInstruction, exitInfo } from '../vmx/exit';
import { EXIT, displacement, interceptPause, memOperandInfo, proc2 } from '../vmx/intercept';
import { vmFail, vmFailInvalid, vmFailValid, vmSucceed } from '../vmx/result';
import { VMCS_FIELDS, controlMask, isReadOnlyField } from '../vmx/spec';
import { EPTP_LIST_ADDRESS, EPT_POINTER, PIN_BASED_VM_EXEC_CONTROL, VIRTUAL_PROCESSOR_ID, VM_FUNCTION_CONTROL, VMREAD_BITMAP, VMWRITE_BITMAP } from '../vmx/slots';
import { currentIsShadow, shadowAccessAllowed, shadowHi, shadowRead, shadowVmcs, shadowWrite } from '../vmx/shadow';
import { eptEnter } from '../vmx/ept';
import { NO_VMCS, SHADOW_MOVSS, Vmx } from '../vmx/state';
import { LAUNCH_AFTER_VMXOFF, LAUNCH_CLEAR, LAUNCH_LAUNCHED, SLOT_WIDTH, VMCS_OFF_REVISION, setStoredLaunchState, accessOfEncoding } from '../vmx/vmcs';

/**
 * The VMX instructions (SDM vol. 3C chapter 31 "VMX Instruction Reference"): each follows the SDM
 * pseudocode in order: #UD conditions, VM exit in non-root operation, #GP(0) at CPL > 0, then the
 * VMfailInvalid / VMfailValid(n) paths, then the operation and VMsucceed.
 */

const TWO32 = 0x100000000;
/** Physical addresses must stay below 2^MAXPHYADDR: bits 63:32 below this bound. */
const MAXPHY_HI = 1 << (K.MAXPHYADDR - 32);

const P2_VMFUNC = controlMask('SECONDARY_EXEC_ENABLE_VMFUNC');
const PIN_VNMI = controlMask('PIN_BASED_VIRTUAL_NMIS');
const S_PIN = PIN_BASED_VM_EXEC_CONTROL;
const P2_VPID = controlMask('SECONDARY_EXEC_ENABLE_VPID');
const S_VMFUNC_CTL = VM_FUNCTION_CONTROL, S_EPTP_LIST = EPTP_LIST_ADDRESS, S_EPTP = EPT_POINTER, S_VPID = VIRTUAL_PROCESSOR_ID;

function vmxState(c: Cpu): Vmx | null {
  return c.vmx as Vmx | null;
}

/** #UD unless in VMX operation, protected mode, not virtual-8086 and not compatibility mode. */
function requireVmxOperation(c: Cpu, what: string): Vmx {
  const v = vmxState(c);
  if (v === null || !v.inVmx) return c.raise(K.EXC_UD, -1, `${what} outside VMX operation`);
  checkMode(c, what);
  return v;
}

function checkMode(c: Cpu, what: string): void {
  if (!(c.cr0 & K.CR0_PE)) c.raise(K.EXC_UD, -1, `${what} with CR0.PE = 0`);
  if (c.v86) c.raise(K.EXC_UD, -1, `${what} in virtual-8086 mode`);
  if (c.efer & K.EFER_LMA && !c.mode64) c.raise(K.EXC_UD, -1, `${what} in compatibility mode`);
}

function requireCpl0(c: Cpu, what: string): void {
  if (c.cpl > 0) c.raise(K.EXC_GP, 0, `${what} at CPL ${c.cpl}`);
}

/** VM exit for a VMX instruction with a memory operand (qualification = displacement, instruction information). */
function exitMemForm(c: Cpu, i: Instr, reason: number, extraInfo = 0): never {
  exitInfo.hasInfo = true;
  exitInfo.info = memOperandInfo(c, i) | extraInfo;
  return exitForInstruction(c, i, reason, displacement(c, i));
}

/** Reads the 64-bit memory operand as a physical address: [lo, hi]. */
function readPointer(c: Cpu, i: Instr): number {
  const lo = c.rd64(i.seg, c.ea(i));
  ptrHi = c.hi;
  return lo;
}
let ptrHi = 0;

/** 4-KiB aligned and within the physical-address width. */
function validPointer(lo: number, hi: number): boolean {
  return (lo & 0xFFF) === 0 && (hi >>> 0) < MAXPHY_HI;
}

function toAddr(lo: number, hi: number): number {
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

// ---- VMXON / VMXOFF ----

function vmxon(c: Cpu, i: Instr): void {
  const v = vmxState(c);
  if (v === null) return c.raise(K.EXC_UD, -1, 'VMXON: VMX is not supported (CPUID.1:ECX.VMX = 0)');
  checkMode(c, 'VMXON');
  if (!(c.cr4 & K.CR4_VMXE) && !c.nonRoot) c.raise(K.EXC_UD, -1, 'VMXON with CR4.VMXE = 0');
  if (!v.inVmx) {
    requireCpl0(c, 'VMXON');
    const caps = v.caps;
    if ((c.cr0 & caps.cr0Fixed0) !== caps.cr0Fixed0 || c.cr0 & ~caps.cr0Fixed1) c.raise(K.EXC_GP, 0, 'VMXON: CR0 violates IA32_VMX_CR0_FIXED0/FIXED1');
    if ((c.cr4 & caps.cr4Fixed0) !== caps.cr4Fixed0 || c.cr4 & ~caps.cr4Fixed1) c.raise(K.EXC_GP, 0, 'VMXON: CR4 violates IA32_VMX_CR4_FIXED0/FIXED1');
    const fc = c.msrs.featureControl;
    if (!(fc & 1n)) c.raise(K.EXC_GP, 0, 'VMXON: IA32_FEATURE_CONTROL is not locked');
    if (!(fc & 4n)) c.raise(K.EXC_GP, 0, 'VMXON: IA32_FEATURE_CONTROL does not enable VMX outside SMX');
    const lo = readPointer(c, i), hi = ptrHi;
    if (!validPointer(lo, hi)) return vmFailInvalid(c);
    const addr = toAddr(lo, hi);
    const rev = c.physRead(addr + VMCS_OFF_REVISION, 4);
    if ((rev & 0x7FFFFFFF) !== caps.revisionId || rev < 0) return vmFailInvalid(c);
    v.inVmx = true;
    v.vmxonPtr = addr;
    v.current = NO_VMCS;
    return vmSucceed(c);
  }
  if (c.nonRoot) exitMemForm(c, i, EXIT.VMXON);
  requireCpl0(c, 'VMXON');
  vmFail(c, v, 15);
}

function vmxoff(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMXOFF');
  if (c.nonRoot) exitForInstruction(c, i, EXIT.VMXOFF, 0);
  requireCpl0(c, 'VMXOFF');
  if (v.hasCurrent) {
    // the cached VMCS goes to memory; a launched one remembers that VMXOFF came in between (error 6)
    if (v.vmcs.launch === LAUNCH_LAUNCHED) v.vmcs.launch = LAUNCH_AFTER_VMXOFF;
    v.vmcs.store(c, v.current);
  }
  v.inVmx = false;
  v.vmxonPtr = NO_VMCS;
  v.current = NO_VMCS;
  vmSucceed(c);
}

// ---- VMCLEAR / VMPTRLD / VMPTRST ----

function vmclear(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMCLEAR');
  if (c.nonRoot) exitMemForm(c, i, EXIT.VMCLEAR);
  requireCpl0(c, 'VMCLEAR');
  const lo = readPointer(c, i), hi = ptrHi;
  if (!validPointer(lo, hi)) return vmFail(c, v, 2);
  const addr = toAddr(lo, hi);
  if (addr === v.vmxonPtr) return vmFail(c, v, 3);
  if (addr === v.current) {
    v.vmcs.launch = LAUNCH_CLEAR;
    v.vmcs.store(c, addr);
    v.current = NO_VMCS;
  } else {
    setStoredLaunchState(c, addr, LAUNCH_CLEAR);
  }
  vmSucceed(c);
}

function vmptrld(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMPTRLD');
  if (c.nonRoot) exitMemForm(c, i, EXIT.VMPTRLD);
  requireCpl0(c, 'VMPTRLD');
  const lo = readPointer(c, i), hi = ptrHi;
  if (!validPointer(lo, hi)) return vmFail(c, v, 9);
  const addr = toAddr(lo, hi);
  if (addr === v.vmxonPtr) return vmFail(c, v, 10);
  const rev = c.physRead(addr + VMCS_OFF_REVISION, 4);
  // bit 31 (shadow VMCS) is acceptable only with "VMCS shadowing" support; VM entry refuses such a VMCS
  if ((rev & 0x7FFFFFFF) !== v.caps.revisionId || (rev < 0 && !v.caps.allows2('SECONDARY_EXEC_SHADOW_VMCS'))) return vmFail(c, v, 11);
  if (addr !== v.current) {
    if (v.hasCurrent) v.vmcs.store(c, v.current);
    v.vmcs.load(c, addr);
    v.current = addr;
  }
  vmSucceed(c);
}

function vmptrst(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMPTRST');
  if (c.nonRoot) exitMemForm(c, i, EXIT.VMPTRST);
  requireCpl0(c, 'VMPTRST');
  const p = v.current;
  if (p === NO_VMCS) c.wr64(i.seg, c.ea(i), -1, -1);
  else c.wr64(i.seg, c.ea(i), p | 0, Math.floor(p / TWO32));
  vmSucceed(c);
}

// ---- VMREAD / VMWRITE ----

/** Instruction information for VMREAD/VMWRITE: register or memory operand, reg2 = encoding register. */
function vmrwInfo(c: Cpu, i: Instr): number {
  const base = i.isMem ? memOperandInfo(c, i) : (i.rm << 3) | (1 << 10) | (i.asize === 2 ? 0 : i.asize === 4 ? 1 << 7 : 2 << 7);
  return base | (i.reg << 28);
}

/** The slot of the field named by the encoding register, or -1 (unsupported component). Sets `high`. */
function fieldSlot(c: Cpu, v: Vmx, i: Instr): number {
  // in 64-bit mode bits 63:32 of the encoding register must be 0 as well
  if (c.mode64 && c.rh[i.reg] !== 0) return -1;
  const access = accessOfEncoding(c.r[i.reg] >>> 0);
  if (access < 0) return -1;
  const slot = access >> 1;
  if (!v.caps.fieldSupported[slot]) return -1;
  accessHigh = (access & 1) !== 0;
  return slot;
}
let accessHigh = false;

function vmread(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMREAD');
  if (c.nonRoot && !shadowAccessAllowed(c, v, i.reg, VMREAD_BITMAP)) {
    exitInfo.hasInfo = true;
    exitInfo.info = vmrwInfo(c, i);
    exitForInstruction(c, i, EXIT.VMREAD, i.isMem ? displacement(c, i) : 0);
  }
  requireCpl0(c, 'VMREAD');
  // in non-root operation (VMCS shadowing) the shadow VMCS is read; a failure is still recorded in the current VMCS
  const shadow = c.nonRoot ? shadowVmcs(v) : -1;
  if (c.nonRoot ? shadow < 0 : !v.hasCurrent) return vmFailInvalid(c);
  const slot = fieldSlot(c, v, i);
  if (slot < 0) return vmFailValid(c, v, 12);
  const d = v.vmcs;
  let lo: number, hi: number;
  if (shadow >= 0) { lo = shadowRead(c, shadow, slot); hi = shadowHi; } else { lo = d.lo[slot]; hi = d.hi[slot]; }
  if (accessHigh) { lo = hi; hi = 0; }
  if (c.mode64) {
    if (i.isMem) c.wr64(i.seg, c.ea(i), lo, hi);
    else { c.r[i.rm] = lo; c.rh[i.rm] = hi; }
  } else if (i.isMem) c.wr32(i.seg, c.ea(i), lo);
  else { c.r[i.rm] = lo; c.rh[i.rm] = 0; }
  vmSucceed(c);
}

function vmwrite(c: Cpu, i: Instr): void {
  const v = requireVmxOperation(c, 'VMWRITE');
  if (c.nonRoot && !shadowAccessAllowed(c, v, i.reg, VMWRITE_BITMAP)) {
    exitInfo.hasInfo = true;
    exitInfo.info = vmrwInfo(c, i);
    exitForInstruction(c, i, EXIT.VMWRITE, i.isMem ? displacement(c, i) : 0);
  }
  requireCpl0(c, 'VMWRITE');
  const shadow = c.nonRoot ? shadowVmcs(v) : -1;
  if (c.nonRoot ? shadow < 0 : !v.hasCurrent) return vmFailInvalid(c);
  // the source operand is read before the encoding is looked at (a fault on it comes first)
  let lo: number, hi = 0;
  if (c.mode64) {
    if (i.isMem) { lo = c.rd64(i.seg, c.ea(i)); hi = c.hi; } else { lo = c.r[i.rm]; hi = c.rh[i.rm]; }
  } else lo = i.isMem ? c.rd32(i.seg, c.ea(i)) : c.r[i.rm];
  const slot = fieldSlot(c, v, i);
  if (slot < 0) return vmFailValid(c, v, 12);
  // IA32_VMX_MISC[29] decides whether the VM-exit information fields are writable
  if (isReadOnlyField(VMCS_FIELDS[slot]) && !v.caps.spec.misc.vmwriteAnyField) return vmFailValid(c, v, 13);
  if (shadow >= 0) {
    shadowWrite(c, shadow, slot, lo, hi, accessHigh);
    return vmSucceed(c);
  }
  const d = v.vmcs;
  if (accessHigh) d.setHigh(slot, lo);
  else d.set(slot, lo, SLOT_WIDTH[slot] === 2 ? hi : 0);
  vmSucceed(c);
}


// ---- VMLAUNCH / VMRESUME / VMCALL ----

function launchOrResume(c: Cpu, i: Instr, launch: boolean): void {
  const what = launch ? 'VMLAUNCH' : 'VMRESUME';
  const v = requireVmxOperation(c, what);
  if (c.nonRoot) exitForInstruction(c, i, launch ? EXIT.VMLAUNCH : EXIT.VMRESUME, 0);
  requireCpl0(c, what);
  if (!v.hasCurrent || currentIsShadow(v)) return vmFailInvalid(c);
  if (v.shadowKind === SHADOW_MOVSS && v.shadowRip === i.rip) return vmFailValid(c, v, 26);
  const st = v.vmcs.launch;
  if (launch && st !== LAUNCH_CLEAR) return vmFailValid(c, v, 4);
  if (!launch && st === LAUNCH_AFTER_VMXOFF) return vmFailValid(c, v, 6);
  if (!launch && st !== LAUNCH_LAUNCHED) return vmFailValid(c, v, 5);
  // VM entry changes the whole machine state: RIP and flags of the failure paths are set before
  // VMLAUNCH/VMRESUME end their block, so the run loop simply continues at the new RIP (guest, or host
  // after a failed entry) and counts the instruction as retired; nothing needs to be thrown
  vmEntry(c, v, launch);
}

function vmcall(c: Cpu, i: Instr): void {
  const v = vmxState(c);
  if (v === null || !v.inVmx) return c.raise(K.EXC_UD, -1, 'VMCALL outside VMX operation');
  if (c.nonRoot) exitForInstruction(c, i, EXIT.VMCALL, 0);
  if (c.v86) c.raise(K.EXC_UD, -1, 'VMCALL in virtual-8086 mode');
  if (c.efer & K.EFER_LMA && !c.mode64) c.raise(K.EXC_UD, -1, 'VMCALL in compatibility mode');
  requireCpl0(c, 'VMCALL');
  // no dual-monitor treatment of SMIs and SMM: VMCALL in root operation fails
  vmFail(c, v, 1);
}

// ---- INVEPT / INVVPID / VMFUNC ----

/** The register operand of INVEPT/INVVPID (the invalidation type): 64 bits in 64-bit mode. */
function typeOperand(c: Cpu, i: Instr): number {
  if (c.mode64 && c.rh[i.reg] !== 0) return -1;
  return c.r[i.reg] >>> 0;
}

function invept(c: Cpu, i: Instr): void {
  const v = vmxState(c);
  const cap = v ? v.caps.spec.eptVpidCap : 0n;
  if (v === null || !v.caps.allows2('SECONDARY_EXEC_ENABLE_EPT') || !(cap & (1n << 20n))) return c.raise(K.EXC_UD, -1, 'INVEPT is not supported');
  requireVmxOperation(c, 'INVEPT');
  if (c.nonRoot) exitMemForm(c, i, EXIT.INVEPT, i.reg << 28);
  requireCpl0(c, 'INVEPT');
  const type = typeOperand(c, i);
  const ea = c.ea(i);
  // the 128-bit descriptor is read (faults) before the type is judged; bits 63:0 are the EPTP
  const eptpLo = c.rd64(i.seg, ea);
  const eptpHi = c.hi;
  c.rd64(i.seg, i.asize === 8 ? ea + 8 : i.asize === 4 ? (ea + 8) >>> 0 : (ea + 8) & 0xFFFF);
  // IA32_VMX_EPT_VPID_CAP[24 + type]: 25 single-context, 26 all-context; anything else is invalid
  const ok = (type === 1 && cap & (1n << 25n)) || (type === 2 && cap & (1n << 26n));
  if (!ok) return vmFail(c, v, 28);
  // single-context: an EPTP VM entry would refuse is an invalid operand (SDM INVEPT)
  if (type === 1 && eptpProblem(cap, (BigInt(eptpHi >>> 0) << 32n) | BigInt(eptpLo >>> 0))) return vmFail(c, v, 28);
  // cached translations are combined linear -> host-physical mappings: flushing them all invalidates
  // at least what either type asks for (the SDM allows invalidating more)
  c.flushTlb(true);
  vmSucceed(c);
}

function invvpid(c: Cpu, i: Instr): void {
  const v = vmxState(c);
  const cap = v ? v.caps.spec.eptVpidCap : 0n;
  if (v === null || !v.caps.allows2('SECONDARY_EXEC_ENABLE_VPID') || !(cap & (1n << 32n))) return c.raise(K.EXC_UD, -1, 'INVVPID is not supported');
  requireVmxOperation(c, 'INVVPID');
  if (c.nonRoot) exitMemForm(c, i, EXIT.INVVPID, i.reg << 28);
  requireCpl0(c, 'INVVPID');
  const type = typeOperand(c, i);
  const ea = c.ea(i);
  const vpidLo = c.rd64(i.seg, ea);
  const vpidHi = c.hi;
  const addrLo = c.rd64(i.seg, i.asize === 8 ? ea + 8 : i.asize === 4 ? (ea + 8) >>> 0 : (ea + 8) & 0xFFFF);
  const addr = c.hi * TWO32 + (addrLo >>> 0);
  if (type < 0 || type > 3 || !(cap & (1n << BigInt(40 + type)))) return vmFail(c, v, 28);
  // descriptor bits 63:16 are reserved
  if (vpidLo >>> 16 || vpidHi) return vmFail(c, v, 28);
  const vpid = vpidLo & 0xFFFF;
  if (type !== 2 && vpid === 0) return vmFail(c, v, 28);
  if (type === 0 && (addr < -(2 ** 47) || addr >= 2 ** 47)) return vmFail(c, v, 28);
  // translations are not kept across VM entries and exits; invalidating means flushing the TLB
  c.flushTlb(true);
  vmSucceed(c);
}

/**
 * VMFUNC (SDM vol. 3C 26.5.6, and the VMFUNC instruction reference): #UD outside non-root operation,
 * with "enable VM functions" = 0, or when EAX > 63; a VM exit (59, qualification 0, instruction
 * length) when the VM-function control bit EAX is 0 or the function refuses its input. Flags are
 * left alone; on success RIP simply moves on. VMFUNC ends its block, so the next fetch already goes
 * through whatever the function changed, and its exits can return instead of throwing.
 */
function vmfunc(c: Cpu, i: Instr): void {
  const v = vmxState(c);
  if (v === null || !c.nonRoot || !(proc2(c) & P2_VMFUNC)) return c.raise(K.EXC_UD, -1, 'VMFUNC outside non-root operation or without "enable VM functions"');
  const fn = c.r[0] >>> 0;
  if (fn > 63) return c.raise(K.EXC_UD, -1, `VMFUNC with EAX = ${fn} (only VM functions 0-63 exist)`);
  const d = v.vmcs;
  const enabled = (fn < 32 ? d.lo[S_VMFUNC_CTL] >>> fn : d.hi[S_VMFUNC_CTL] >>> (fn - 32)) & 1;
  // entry check B24 admits only the functions IA32_VMX_VMFUNC reports (EPTP switching), so an
  // enabled function other than 0 cannot occur; exiting for it keeps that assumption harmless
  if (!enabled || fn !== 0) return exitAtBlockEnd(c, i, EXIT.VMFUNC, 0);
  eptpSwitch(c, v, i);
}

/** SDM 26.5.6.3: VM function 0 loads EPTP-list entry ECX into EPT_POINTER. */
function eptpSwitch(c: Cpu, v: Vmx, i: Instr): void {
  const d = v.vmcs;
  const index = c.r[1] >>> 0;
  // the list is one 4-KiB page of 512 8-byte EPTPs
  if (index >= 512) return exitAtBlockEnd(c, i, EXIT.VMFUNC, 0);
  const at = d.unum(S_EPTP_LIST) + index * 8;
  const lo = c.physRead(at, 4), hi = c.physRead(at + 4, 4);
  // "valid" means exactly what VM entry accepts in EPT_POINTER (check B19)
  if (eptpProblem(v.caps.spec.eptVpidCap, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0))) return exitAtBlockEnd(c, i, EXIT.VMFUNC, 0);
  // no EPTP_INDEX update: that happens only on processors with "EPT-violation #VE", which no model reports
  d.set(S_EPTP, lo, hi);
  eptEnter(c, v);
  // The TLBs hold combined linear -> host translations made through the old EPTP. Re-keying this
  // world's set with the new EPTP flushes it (unless the EPTP did not change), and with a VPID lets
  // it survive exits that come back to the same EPTP, exactly as VM entry would key it.
  const vpid = proc2(c) & P2_VPID ? d.u32(S_VPID) & 0xFFFF : 0;
  c.switchTlbWorld(true, vpid !== 0, vpid, hi, lo);
}

def('vmxon', vmxon);
def('vmxoff', vmxoff);
def('vmclear', vmclear);
def('vmptrld', vmptrld);
def('vmptrst', vmptrst);
def('vmread', vmread);
def('vmwrite', vmwrite);
def('vmlaunch', (c, i) => launchOrResume(c, i, true));
def('vmresume', (c, i) => launchOrResume(c, i, false));
def('vmcall', vmcall);
def('invept', invept);
def('invvpid', invvpid);
def('vmfunc', vmfunc);

/**
 * MOV SS, POP SS and LSS (data.ts) start "blocking by MOV SS" for one instruction. The VMX layer
 * must tell it apart from STI blocking (VMLAUNCH fails with error 26; the guest interruptibility
 * state records the kind), so their handlers are wrapped here: the wrapper costs one test, and only
 * when the instruction loads SS.
 */
function markMovSs(name: string): void {
  const orig = handlers[name];
  if (!orig) return;
  handlers[name] = (c, i) => {
    orig(c, i);
    if (i.cc === K.SEG_SS && c.vmx !== null) {
      const v = c.vmx as Vmx;
      v.shadowKind = SHADOW_MOVSS;
      v.shadowRip = i.next;
    }
  };
}
markMovSs('mov_SE');
markMovSs('pop_S');
markMovSs('load_far_ptr');

/**
 * IRET (far.ts) in non-root operation: with "virtual NMIs" it unblocks virtual NMIs (SDM 26.3); and an
 * EPT violation while an IRET that unblocked NMIs runs reports "NMI unblocking due to IRET"
 * (qualification bit 12), so the wrapper marks the IRET while it runs. Root operation pays one test.
 */
{
  const orig = handlers['iret'];
  if (orig) handlers['iret'] = (c, i) => {
    if (!c.nonRoot) return orig(c, i);
    const v = c.vmx as Vmx;
    const virtual = (v.vmcs.i32(S_PIN) & PIN_VNMI) !== 0;
    const blocked = virtual ? v.vnmiBlocked : c.nmiBlocked;
    if (virtual) v.vnmiBlocked = false;
    v.iretUnblocking = blocked;
    try {
      orig(c, i);
    } finally {
      v.iretUnblocking = false;
    }
  };
}

/** PAUSE (data.ts, a no-op there): PAUSE exiting and PAUSE-loop exiting in non-root operation. */
{
  const orig = handlers['pause'];
  if (orig) handlers['pause'] = (c, i) => {
    if (c.nonRoot) interceptPause(c, i);
    orig(c, i);
  };
}
