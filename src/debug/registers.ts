import type { Cpu } from '../cpu/cpu';
import { FAULT } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { writeCr0, writeCr3, writeCr4 } from '../cpu/ops/system';
import { XCR0_SUPPORTED } from '../cpu/xstate';

/**
 * The debugger's view of the CPU's registers: one table of named registers, each read and written
 * as an unsigned bigint, used by the Registers scope, by expressions (`eax`, `rip`, `cs.base`) and
 * by setVariable/setExpression. Writes go through the same architectural checks as the guest's own
 * MOV to CRx / WRMSR where those exist, and report a violated rule as a RegisterError.
 */

export class RegisterError extends Error {}

export interface RegisterDef {
  /** Lower-case name as typed in expressions. */
  name: string;
  /** Width in bits (for formatting and to reject values that do not fit). */
  bits: number;
  read(cpu: Cpu): bigint;
  /** Absent for read-only registers. */
  write?(cpu: Cpu, v: bigint): void;
  /** The value is an address worth opening in the memory view. */
  pointer?: boolean;
}

const M64 = (1n << 64n) - 1n;

export function u64(n: number): bigint {
  return BigInt.asUintN(64, BigInt(Math.trunc(n)));
}

/** Runs a CPU routine that may raise a guest fault, turning the fault into a RegisterError. */
function guarded(cpu: Cpu, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e === FAULT) throw new RegisterError(`${what}: the CPU refuses this value (${cpu.faultWhy || K.EXCEPTION_NAMES[cpu.faultVec]})`);
    throw e;
  }
}

function fits(name: string, bits: number, v: bigint): void {
  if (v < 0n || v >> BigInt(bits) !== 0n) throw new RegisterError(`${name} is ${bits} bits wide: 0x${BigInt.asUintN(64, v).toString(16)} does not fit`);
}

const GPR64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const GPR8H = ['ah', 'ch', 'dh', 'bh'];
export const SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

function gpr(cpu: Cpu, i: number): bigint {
  return (BigInt(cpu.rh[i] >>> 0) << 32n) | BigInt(cpu.r[i] >>> 0);
}

function setGpr(cpu: Cpu, i: number, v: bigint): void {
  cpu.r[i] = Number(v & 0xFFFFFFFFn) | 0;
  cpu.rh[i] = Number((v >> 32n) & 0xFFFFFFFFn) | 0;
}

function gprDef(name: string, i: number, bits: number, shift = 0): RegisterDef {
  const mask = (1n << BigInt(bits)) - 1n;
  const sh = BigInt(shift);
  return {
    name,
    bits,
    pointer: bits >= 32 && shift === 0 && [4, 5, 6, 7].includes(i),
    read: (cpu) => (gpr(cpu, i) >> sh) & mask,
    write: (cpu, v) => {
      fits(name, bits, v);
      setGpr(cpu, i, (gpr(cpu, i) & ~(mask << sh) & M64) | (v << sh));
    },
  };
}

export function readRip(cpu: Cpu): bigint {
  return u64(cpu.rip);
}

export function writeRip(cpu: Cpu, v: bigint): void {
  if (cpu.mode64) {
    const s = BigInt.asIntN(64, v);
    if (s < -(1n << 47n) || s >= 1n << 47n) throw new RegisterError(`rip: 0x${v.toString(16)} is not canonical`);
    cpu.rip = Number(s);
  } else {
    const limit = cpu.bits === 16 && !cpu.protectedMode ? 0xFFFFn : 0xFFFFFFFFn;
    if (v > limit) throw new RegisterError(`rip: 0x${v.toString(16)} does not fit the ${cpu.bits}-bit instruction pointer`);
    cpu.rip = Number(v);
  }
  cpu.halted = false;
}

/** EFLAGS bits, for the decoded flag children and for `zf`-style names in expressions. */
export const FLAG_BITS: [string, number, string][] = [
  ['cf', 0, 'carry'], ['pf', 2, 'parity'], ['af', 4, 'auxiliary carry'], ['zf', 6, 'zero'], ['sf', 7, 'sign'],
  ['tf', 8, 'trap'], ['if', 9, 'interrupt enable'], ['df', 10, 'direction'], ['of', 11, 'overflow'],
  ['iopl', 12, 'I/O privilege level (2 bits)'], ['nt', 14, 'nested task'], ['rf', 16, 'resume'], ['vm', 17, 'virtual-8086 mode'],
  ['ac', 18, 'alignment check'], ['vif', 19, 'virtual interrupt'], ['vip', 20, 'virtual interrupt pending'], ['id', 21, 'CPUID available'],
];

function readFlags(cpu: Cpu): bigint {
  return BigInt(cpu.getFlags() >>> 0);
}

function writeFlags(cpu: Cpu, v: bigint): void {
  fits('rflags', 32, v);
  cpu.setFlags(Number(v), 0xFFFFFFFF);
}

/** Segment attribute (AR) bits, in the VMX access-rights layout the core keeps. */
export function describeAr(ar: number): string {
  if (ar & K.AR_UNUSABLE) return 'unusable';
  const type = ar & 0xF;
  const parts: string[] = [];
  if (ar & K.AR_S) {
    if (type & 8) parts.push(`code${type & 2 ? ' readable' : ' execute-only'}${type & 4 ? ' conforming' : ''}`);
    else parts.push(`data${type & 2 ? ' writable' : ' read-only'}${type & 4 ? ' expand-down' : ''}`);
    if (type & 1) parts.push('accessed');
  } else {
    const sys: Record<number, string> = { 1: '16-bit TSS (available)', 2: 'LDT', 3: '16-bit TSS (busy)', 9: '32/64-bit TSS (available)', 0xB: '32/64-bit TSS (busy)' };
    parts.push(sys[type] ?? `system type ${type}`);
  }
  parts.push(`DPL ${(ar >> K.AR_DPL_SHIFT) & 3}`);
  if (!(ar & K.AR_P)) parts.push('not present');
  if (ar & K.AR_L) parts.push('L (64-bit)');
  if (ar & K.AR_DB) parts.push('D/B (32-bit)');
  if (ar & K.AR_G) parts.push('G (4 KiB granularity)');
  return parts.join(', ');
}

function segDefs(): RegisterDef[] {
  const out: RegisterDef[] = [];
  const names = [...SEGMENTS, 'ldtr', 'tr'];
  names.forEach((name, s) => {
    out.push({
      name,
      bits: 16,
      read: (cpu) => BigInt(cpu.segSel[s]),
      write: (cpu, v) => {
        fits(name, 16, v);
        if (cpu.protectedMode && !cpu.v86) {
          throw new RegisterError(`${name}: in protected mode a selector load reads a descriptor; set ${name}.base, ${name}.limit and ${name}.attr instead`);
        }
        if (s === K.SEG_CS || s >= 6) {
          cpu.loadSegRaw(s, Number(v), Number(v) * 16, cpu.segLimit[s], cpu.segAr[s]);
          if (s === K.SEG_CS) cpu.updateMode();
          return;
        }
        cpu.loadSegRaw(s, Number(v), Number(v) * 16, cpu.segLimit[s], cpu.segAr[s]);
      },
    });
    out.push({
      name: `${name}.base`,
      bits: 64,
      pointer: true,
      read: (cpu) => u64(cpu.segBase[s]),
      write: (cpu, v) => {
        const n = cpu.mode64 ? Number(BigInt.asIntN(64, v)) : Number(v);
        if (!cpu.mode64 && v > 0xFFFFFFFFn) throw new RegisterError(`${name}.base: 0x${v.toString(16)} does not fit 32 bits outside 64-bit mode`);
        if (cpu.mode64 && Math.abs(n) >= 2 ** 47) throw new RegisterError(`${name}.base: 0x${v.toString(16)} is not canonical`);
        cpu.loadSegRaw(s, cpu.segSel[s], n, cpu.segLimit[s], cpu.segAr[s]);
        cpu.flushTlb(true);
      },
    });
    out.push({
      name: `${name}.limit`,
      bits: 32,
      read: (cpu) => BigInt(cpu.segLimit[s] >>> 0),
      write: (cpu, v) => {
        fits(`${name}.limit`, 32, v);
        cpu.loadSegRaw(s, cpu.segSel[s], cpu.segBase[s], Number(v), cpu.segAr[s]);
      },
    });
    out.push({
      name: `${name}.attr`,
      bits: 17,
      read: (cpu) => BigInt(cpu.segAr[s] >>> 0),
      write: (cpu, v) => {
        fits(`${name}.attr`, 17, v);
        cpu.loadSegRaw(s, cpu.segSel[s], cpu.segBase[s], cpu.segLimit[s], Number(v));
        if (s === K.SEG_CS || s === K.SEG_SS) cpu.updateMode();
      },
    });
  });
  return out;
}

export interface MsrDef {
  name: string;
  index: number;
}

/** MSRs shown in the Registers scope (all readable on every model this core emulates). */
export const SHOWN_MSRS: MsrDef[] = [
  { name: 'IA32_TIME_STAMP_COUNTER', index: 0x10 },
  { name: 'IA32_APIC_BASE', index: 0x1B },
  { name: 'IA32_FEATURE_CONTROL', index: 0x3A },
  { name: 'IA32_SYSENTER_CS', index: 0x174 },
  { name: 'IA32_SYSENTER_ESP', index: 0x175 },
  { name: 'IA32_SYSENTER_EIP', index: 0x176 },
  { name: 'IA32_PAT', index: 0x277 },
  { name: 'IA32_EFER', index: 0xC0000080 },
  { name: 'IA32_STAR', index: 0xC0000081 },
  { name: 'IA32_LSTAR', index: 0xC0000082 },
  { name: 'IA32_FMASK', index: 0xC0000084 },
  { name: 'IA32_FS_BASE', index: 0xC0000100 },
  { name: 'IA32_GS_BASE', index: 0xC0000101 },
  { name: 'IA32_KERNEL_GS_BASE', index: 0xC0000102 },
];

/** Reads an MSR without disturbing the guest; undefined when this CPU does not have it. */
export function readMsr(cpu: Cpu, index: number): bigint | undefined {
  try {
    return cpu.msrs.read(index);
  } catch (e) {
    if (e === FAULT) return undefined;
    throw e;
  }
}

export function writeMsr(cpu: Cpu, name: string, index: number, v: bigint): void {
  guarded(cpu, name, () => cpu.msrs.write(index, v));
}

function buildTable(): RegisterDef[] {
  const defs: RegisterDef[] = [];
  for (let i = 0; i < 16; i++) {
    defs.push(gprDef(GPR64[i], i, 64));
    defs.push(gprDef(GPR32[i], i, 32));
    defs.push(gprDef(GPR16[i], i, 16));
    defs.push(gprDef(GPR8[i], i, 8));
  }
  for (let i = 0; i < 4; i++) defs.push(gprDef(GPR8H[i], i, 8, 8));
  defs.push(gprDef('r8l', 8, 8));
  for (const name of ['rip', 'eip', 'ip']) {
    const bits = name === 'rip' ? 64 : name === 'eip' ? 32 : 16;
    defs.push({
      name,
      bits,
      pointer: true,
      read: (cpu) => readRip(cpu) & ((1n << BigInt(bits)) - 1n),
      write: (cpu, v) => { fits(name, bits, v); writeRip(cpu, bits === 64 ? v : (readRip(cpu) & ~((1n << BigInt(bits)) - 1n) & M64) | v); },
    });
  }
  for (const name of ['rflags', 'eflags', 'flags']) {
    const bits = name === 'flags' ? 16 : name === 'eflags' ? 32 : 64;
    defs.push({
      name,
      bits,
      read: (cpu) => readFlags(cpu) & ((1n << BigInt(bits)) - 1n),
      write: (cpu, v) => { fits(name, bits, v); writeFlags(cpu, bits === 16 ? (readFlags(cpu) & ~0xFFFFn) | v : v & 0xFFFFFFFFn); },
    });
  }
  for (const [name, bit] of FLAG_BITS) {
    const width = name === 'iopl' ? 2 : 1;
    const mask = BigInt((1 << width) - 1);
    defs.push({
      name,
      bits: width,
      read: (cpu) => (readFlags(cpu) >> BigInt(bit)) & mask,
      write: (cpu, v) => { fits(name, width, v); writeFlags(cpu, (readFlags(cpu) & ~(mask << BigInt(bit))) | (v << BigInt(bit))); },
    });
  }
  defs.push(...segDefs());
  defs.push({ name: 'cr0', bits: 32, read: (cpu) => BigInt(cpu.cr0 >>> 0), write: (cpu, v) => { fits('cr0', 32, v); guarded(cpu, 'cr0', () => writeCr0(cpu, Number(v) | 0, 0)); } });
  defs.push({ name: 'cr2', bits: 64, pointer: true, read: (cpu) => u64(cpu.cr2), write: (cpu, v) => { cpu.cr2 = cpu.mode64 ? Number(BigInt.asIntN(64, v)) : Number(v & 0xFFFFFFFFn); } });
  defs.push({
    name: 'cr3', bits: 64, read: (cpu) => u64(cpu.cr3),
    write: (cpu, v) => guarded(cpu, 'cr3', () => writeCr3(cpu, Number(v & 0xFFFFFFFFn) | 0, Number(v >> 32n) | 0)),
  });
  defs.push({ name: 'cr4', bits: 32, read: (cpu) => BigInt(cpu.cr4 >>> 0), write: (cpu, v) => { fits('cr4', 32, v); guarded(cpu, 'cr4', () => writeCr4(cpu, Number(v) | 0, 0)); } });
  defs.push({ name: 'cr8', bits: 4, read: (cpu) => BigInt(cpu.cr8 & 0xF), write: (cpu, v) => { fits('cr8', 4, v); cpu.cr8 = Number(v); } });
  defs.push({
    name: 'xcr0', bits: 64, read: (cpu) => BigInt(cpu.xcr0 >>> 0),
    write: (cpu, v) => {
      // what XSETBV accepts: x87 (bit 0) set, nothing the CPU does not support
      if (!(v & 1n) || v & ~BigInt(XCR0_SUPPORTED)) throw new RegisterError(`xcr0: the CPU refuses this value (bit 0 must be set; supported bits 0x${XCR0_SUPPORTED.toString(16)})`);
      cpu.xcr0 = Number(v);
    },
  });
  defs.push({ name: 'efer', bits: 64, read: (cpu) => BigInt(cpu.efer >>> 0), write: (cpu, v) => { writeMsr(cpu, 'efer', 0xC0000080, v); cpu.updateMode(); } });
  for (let k = 0; k < 8; k++) {
    if (k === 4 || k === 5) continue;
    defs.push({
      name: `dr${k}`,
      bits: 64,
      pointer: k < 4,
      read: (cpu) => u64(cpu.dr[k]),
      write: (cpu, v) => { cpu.dr[k] = k < 4 && cpu.mode64 ? Number(BigInt.asIntN(64, v)) : Number(v & 0xFFFFFFFFn); },
    });
  }
  for (const t of ['gdtr', 'idtr'] as const) {
    defs.push({
      name: `${t}.base`, bits: 64, pointer: true,
      read: (cpu) => u64(t === 'gdtr' ? cpu.gdtrBase : cpu.idtrBase),
      write: (cpu, v) => {
        const n = cpu.mode64 ? Number(BigInt.asIntN(64, v)) : Number(v & 0xFFFFFFFFn);
        if (t === 'gdtr') cpu.gdtrBase = n; else cpu.idtrBase = n;
      },
    });
    defs.push({
      name: `${t}.limit`, bits: 16,
      read: (cpu) => BigInt(t === 'gdtr' ? cpu.gdtrLimit : cpu.idtrLimit),
      write: (cpu, v) => { fits(`${t}.limit`, 16, v); if (t === 'gdtr') cpu.gdtrLimit = Number(v); else cpu.idtrLimit = Number(v); },
    });
  }
  return defs;
}

export const REGISTERS: readonly RegisterDef[] = buildTable();
const BY_NAME = new Map(REGISTERS.map((d) => [d.name, d]));

/** A register by (case-insensitive) name, or undefined. */
export function findRegister(name: string): RegisterDef | undefined {
  return BY_NAME.get(name.toLowerCase());
}

/** Names for completion. */
export function registerNames(): string[] {
  return [...BY_NAME.keys()];
}

/** The general registers the Registers scope lists in the current mode. */
export function generalRegisterNames(cpu: Cpu): string[] {
  if (cpu.mode64) return GPR64;
  return GPR32.slice(0, 8);
}
