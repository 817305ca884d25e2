import { Decoder, DecoderOptions, FlowControl, InstructionInfoFactory, MemorySize, MemorySizeExt, OpAccess, Register, RegisterExt } from 'iced-x86';
import type { Cpu } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { XSAVE_AREA_BYTES } from '../cpu/xstate';
import type { GuestMemory } from './memory';
import { readRip } from './registers';
import { disassembleOne } from './disassembler';

/**
 * What the stepper and the data-breakpoint watcher need to know about the instruction at RIP,
 * decoded by iced-x86 from guest memory in the CPU's current mode (never through the CPU's own
 * decoder, so looking has no side effects).
 */

export interface InstructionFacts {
  address: bigint;
  length: number;
  text: string;
  /** CALL (near/far, direct/indirect). */
  isCall: boolean;
  /** INT n, INT3, INTO, INT1, SYSCALL, SYSENTER: returns to the next instruction when the handler does. */
  isInterrupt: boolean;
  /** RET, RETF, IRET, SYSRET, SYSEXIT. */
  isReturn: boolean;
  /** REP/REPE/REPNE string instruction: one step repeats until done. */
  isRepString: boolean;
  /** Direct near branch or call target. */
  target?: bigint;
}

export function cpuBits(cpu: Cpu): 16 | 32 | 64 {
  return cpu.bits as 16 | 32 | 64;
}

/** Linear address of the current instruction as an unsigned bigint. */
export function linearPc(cpu: Cpu): bigint {
  return BigInt.asUintN(64, BigInt(cpu.linearRip()));
}

export function analyzeAt(mem: GuestMemory, cpu: Cpu, lin: bigint, ip: bigint = readRip(cpu)): InstructionFacts | undefined {
  const bytes = mem.read('linear', lin, 15);
  if (bytes.length === 0) return undefined;
  const bits = cpuBits(cpu);
  const d = new Decoder(bits, bytes, DecoderOptions.None);
  d.ip = ip;
  try {
    const ins = d.decode();
    try {
      if (ins.isInvalid) return { address: lin, length: 1, text: '(bad)', isCall: false, isInterrupt: false, isReturn: false, isRepString: false };
      const fc = ins.flowControl;
      const text = disassembleOne(bytes.subarray(0, ins.length), ip, bits).text;
      const mnem = text.split(/\s+/).filter((w) => !/^(rep|repe|repne|repz|repnz|lock|o16|o32|o64|a16|a32)$/.test(w))[0] ?? '';
      const isRepString = (ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix) && /^(movs|stos|lods|cmps|scas|ins|outs)/.test(mnem);
      const facts: InstructionFacts = {
        address: lin,
        length: ins.length,
        text,
        isCall: fc === FlowControl.Call || fc === FlowControl.IndirectCall,
        isInterrupt: fc === FlowControl.Interrupt || /^(syscall|sysenter|int|int1|int3|into)$/.test(mnem),
        isReturn: fc === FlowControl.Return || /^(iret|iretd|iretq|sysret|sysexit|sysretq|sysexitq)/.test(mnem),
        isRepString,
      };
      if (ins.isCallNear || ins.isJmpNear || ins.isJccShortOrNear) facts.target = ins.nearBranchTarget;
      return facts;
    } finally {
      ins.free();
    }
  } finally {
    d.free();
  }
}

/**
 * Quick test for a return instruction at `lin` from its bytes (prefixes, then C3/C2/CB/CA/CF or
 * 0F 07 SYSRET / 0F 35 SYSEXIT), for step-out, which looks at every instruction.
 */
export function isReturnAt(mem: GuestMemory, cpu: Cpu, lin: bigint): boolean {
  const b = mem.read('linear', lin, 15);
  let k = 0;
  while (k < b.length) {
    const x = b[k];
    if (x === 0x66 || x === 0x67 || x === 0xF2 || x === 0xF3 || x === 0xF0 || x === 0x2E || x === 0x36 || x === 0x3E || x === 0x26 || x === 0x64 || x === 0x65) { k++; continue; }
    if (cpu.mode64 && x >= 0x40 && x <= 0x4F) { k++; continue; }
    break;
  }
  const op = b[k];
  if (op === 0xC3 || op === 0xC2 || op === 0xCB || op === 0xCA || op === 0xCF) return true;
  return op === 0x0F && (b[k + 1] === 0x07 || b[k + 1] === 0x35);
}

/** A memory access an instruction is about to make. */
export interface Access {
  address: bigint;
  size: number;
  read: boolean;
  write: boolean;
}

let infoFactory: InstructionInfoFactory | null = null;

function regValue(cpu: Cpu, r: Register): bigint {
  if (r === Register.None) return 0n;
  if (r === Register.RIP || r === Register.EIP) return 0n; // iced gives RIP-relative displacements absolute
  if (r >= Register.AH && r <= Register.BH) return BigInt((cpu.r[r - Register.AH] >> 8) & 0xFF);
  const full = RegisterExt.fullRegister(r);
  if (full >= Register.RAX && full <= Register.R15) {
    const i = full - Register.RAX;
    const v = (BigInt(cpu.rh[i] >>> 0) << 32n) | BigInt(cpu.r[i] >>> 0);
    const size = RegisterExt.size(r);
    return size >= 8 ? v : v & ((1n << BigInt(size * 8)) - 1n);
  }
  return 0n;
}

function segBase(cpu: Cpu, r: Register): bigint {
  if (r < Register.ES || r > Register.GS) return 0n;
  const s = r - Register.ES;
  if (cpu.mode64) return s >= K.SEG_FS ? BigInt.asUintN(64, BigInt(cpu.segBase[s])) : 0n;
  return BigInt(cpu.segBase[s] >>> 0);
}

/**
 * The memory the instruction at RIP will read or write (linear addresses). REP string
 * instructions report the whole range RCX elements could cover, in both directions.
 */
export function accessesAt(mem: GuestMemory, cpu: Cpu): Access[] {
  const lin = linearPc(cpu);
  const bytes = mem.read('linear', lin, 15);
  if (bytes.length === 0) return [];
  const d = new Decoder(cpuBits(cpu), bytes, DecoderOptions.None);
  d.ip = readRip(cpu);
  infoFactory ??= new InstructionInfoFactory();
  const out: Access[] = [];
  try {
    const ins = d.decode();
    if (ins.isInvalid) { ins.free(); return out; }
    const info = infoFactory.info(ins);
    const rep = ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix;
    const addrMask = cpu.mode64 ? (1n << 64n) - 1n : 0xFFFFFFFFn;
    for (const m of info.usedMemory() as { base: Register; index: Register; scale: number; displacement: bigint; segment: Register; access: OpAccess; memorySize: number; free(): void }[]) {
      const ms = m.memorySize;
      // XSAVE reports no size (it depends on XCR0 and EDX:EAX): the whole area this CPU uses
      let size = ms === MemorySize.Xsave || ms === MemorySize.Xsave64 ? XSAVE_AREA_BYTES : MemorySizeExt.size(ms);
      const offset = regValue(cpu, m.base) + regValue(cpu, m.index) * BigInt(m.scale) + m.displacement;
      const addrSizeMask = cpu.bits === 16 && !cpu.mode64 && m.base !== Register.None && RegisterExt.size(m.base) === 2 ? 0xFFFFn : addrMask;
      let address = (segBase(cpu, m.segment) + (offset & addrSizeMask)) & addrMask;
      const acc = m.access;
      const read = acc === OpAccess.Read || acc === OpAccess.CondRead || acc === OpAccess.ReadWrite || acc === OpAccess.ReadCondWrite;
      const write = acc === OpAccess.Write || acc === OpAccess.CondWrite || acc === OpAccess.ReadWrite || acc === OpAccess.ReadCondWrite;
      m.free();
      if (!read && !write) continue; // LEA, NOP with memory operand
      if (size === 0) size = 8;
      if (rep) {
        const count = Number(regValue(cpu, Register.RCX) & 0xFFFFFn);
        const span = BigInt(Math.max(1, count) * size);
        address = (address - span + BigInt(size)) & addrMask;
        size = Number(span) * 2;
      }
      out.push({ address, size, read, write });
    }
    info.free();
    ins.free();
  } finally {
    d.free();
  }
  return out;
}

/**
 * Register operand kinds of an OperandPlan (how to read the register's value as a number): none,
 * the low byte, AH/CH/DH/BH, 16, 32 or 64 bits, and RIP- or EIP-relative (the displacement is then
 * relative to the instruction's own RIP: RIP plus it is the target iced-x86 computed).
 */
export const REG_NONE = 0, REG_LO8 = 1, REG_HI8 = 2, REG_16 = 3, REG_32 = 4, REG_64 = 5, REG_RIP = 6;

/** One memory operand of an instruction, decoded once (accessPlanAt) and evaluated per execution. */
export interface OperandPlan {
  read: boolean;
  write: boolean;
  /** Bytes per element (XSAVE: the whole area; a size iced-x86 does not give is 8, as accessesAt takes it). */
  size: number;
  baseKind: number;
  baseReg: number;
  indexKind: number;
  indexReg: number;
  scale: number;
  /** Displacement as a signed number; relative to the instruction's RIP for a REG_RIP base. */
  disp: number;
  /** ES..GS (segment index), or -1. */
  seg: number;
  /** 16-bit addressing outside 64-bit mode: the offset wraps at 64 KiB (accessesAt's rule). */
  wrap16: boolean;
}

/**
 * What accessesAt finds for an instruction that does not depend on the registers: its memory
 * operands (read, written, or both; LEA-like ones are left out), whether a REP prefix spans them,
 * and in plain numbers, so the addresses come from registers without iced-x86 or bigints. `exact`
 * is false when a displacement is too large for a number to hold exactly (then use accessesAt).
 * Valid for as long as the bytes and the decoding mode (cpu.bits) are those it was made from.
 */
export interface AccessPlan {
  ops: OperandPlan[];
  rep: boolean;
  exact: boolean;
  /** The instruction's first bytes: 0F C7 (with an optional 66/F3 prefix: VMCLEAR, VMPTRLD, VMPTRST...) 1, 0F 01 C4 (VMXOFF) 2, else 0. */
  vmcsOp: number;
}

const TWO52 = 2 ** 52;

function regKind(r: Register): [number, number] {
  if (r === Register.None) return [REG_NONE, 0];
  if (r === Register.RIP) return [REG_RIP, 0];
  if (r === Register.EIP) return [REG_RIP, 0];
  if (r >= Register.AH && r <= Register.BH) return [REG_HI8, r - Register.AH];
  const full = RegisterExt.fullRegister(r);
  if (full >= Register.RAX && full <= Register.R15) {
    const size = RegisterExt.size(r);
    return [size >= 8 ? REG_64 : size === 4 ? REG_32 : size === 2 ? REG_16 : REG_LO8, full - Register.RAX];
  }
  return [REG_NONE, 0]; // (regValue: any other register counts as 0)
}

/** Decodes the instruction at RIP with iced-x86 into an AccessPlan (see there); no operands when its bytes are unreadable. */
export function accessPlanAt(mem: GuestMemory, cpu: Cpu): AccessPlan {
  const lin = linearPc(cpu);
  const bytes = mem.read('linear', lin, 15);
  const k = bytes[0] === 0x66 || bytes[0] === 0xF3 ? 1 : 0;
  const vmcsOp = bytes[k] === 0x0F && bytes[k + 1] === 0xC7 ? 1 : bytes[0] === 0x0F && bytes[1] === 0x01 && bytes[2] === 0xC4 ? 2 : 0;
  const plan: AccessPlan = { ops: [], rep: false, exact: true, vmcsOp };
  if (bytes.length === 0) return plan;
  const ip = readRip(cpu);
  const d = new Decoder(cpuBits(cpu), bytes, DecoderOptions.None);
  d.ip = ip;
  infoFactory ??= new InstructionInfoFactory();
  try {
    const ins = d.decode();
    if (ins.isInvalid) { ins.free(); return plan; }
    const info = infoFactory.info(ins);
    plan.rep = ins.hasRepPrefix || ins.hasRepePrefix || ins.hasRepnePrefix;
    for (const m of info.usedMemory() as { base: Register; index: Register; scale: number; displacement: bigint; segment: Register; access: OpAccess; memorySize: number; free(): void }[]) {
      const ms = m.memorySize;
      let size = ms === MemorySize.Xsave || ms === MemorySize.Xsave64 ? XSAVE_AREA_BYTES : MemorySizeExt.size(ms);
      if (size === 0) size = 8;
      const acc = m.access;
      const read = acc === OpAccess.Read || acc === OpAccess.CondRead || acc === OpAccess.ReadWrite || acc === OpAccess.ReadCondWrite;
      const write = acc === OpAccess.Write || acc === OpAccess.CondWrite || acc === OpAccess.ReadWrite || acc === OpAccess.ReadCondWrite;
      const [baseKind, baseReg] = regKind(m.base);
      const [indexKind, indexReg] = regKind(m.index);
      let disp = m.displacement;
      if (baseKind === REG_RIP) disp -= ip;
      const dn = Number(BigInt.asIntN(64, disp));
      if (dn <= -TWO52 || dn >= TWO52) plan.exact = false;
      const seg = m.segment >= Register.ES && m.segment <= Register.GS ? m.segment - Register.ES : -1;
      const wrap16 = cpu.bits === 16 && !cpu.mode64 && m.base !== Register.None && RegisterExt.size(m.base) === 2;
      const scale = m.scale;
      m.free();
      if (!read && !write) continue; // LEA, NOP with memory operand
      plan.ops.push({ read, write, size, baseKind, baseReg, indexKind, indexReg, scale, disp: dn, seg, wrap16 });
    }
    info.free();
    ins.free();
  } finally {
    d.free();
  }
  return plan;
}
