import { Cpu } from '../../src/cpu/cpu';
import * as K from '../../src/cpu/constants';
import { RecordingPorts, SimpleBus } from './simpleBus';

/**
 * Runs a few instructions in a chosen mode with given registers and returns the resulting state.
 * Code is placed at CODE_BASE, an optional data buffer at DATA_BASE; the snippet ends at an HLT
 * appended after the code. Exceptions stop the run and are reported, never delivered.
 */

export const CODE_BASE = 0x10000;
export const DATA_BASE = 0x20000;
export const STACK_TOP = 0x30000;
const PAGE_TABLES = 0x100000;

export interface SnippetInput {
  bits: 16 | 32 | 64;
  code: Uint8Array;
  /** RAX..R15 as 64-bit values (missing = 0). */
  regs?: bigint[];
  rflags?: number;
  /** Bytes placed at DATA_BASE. */
  mem?: Uint8Array;
  /** Instruction budget (default 100000). */
  maxInstructions?: number;
}

export interface SnippetOutput {
  regs: bigint[];
  rflags: number;
  mem: Uint8Array;
  /** Vector of the exception that stopped the run, if any. */
  exception?: number;
  errorCode?: number;
  cpu: Cpu;
  ports: RecordingPorts;
}

export function makeCpu(bits: 16 | 32 | 64): { cpu: Cpu; bus: SimpleBus; ports: RecordingPorts } {
  const bus = new SimpleBus();
  const ports = new RecordingPorts();
  const cpu = new Cpu(bus, ports);
  enterMode(cpu, bus, bits);
  return { cpu, bus, ports };
}

/** Puts the CPU into flat 16-bit real, 32-bit protected or 64-bit long mode directly. */
export function enterMode(cpu: Cpu, bus: SimpleBus, bits: 16 | 32 | 64): void {
  const data = K.AR_P | K.AR_S | 3;
  if (bits === 16) {
    // CS at the code, the data segments at the data buffer, so 16-bit offsets reach both
    for (let s = 0; s < 6; s++) {
      const base = s === K.SEG_CS ? CODE_BASE : DATA_BASE;
      cpu.loadSegRaw(s, base >>> 4, base, 0xFFFF, data | (s === K.SEG_CS ? 8 : 0));
    }
    cpu.updateMode();
    return;
  }
  cpu.cr0 |= K.CR0_PE;
  const flat = K.AR_G | K.AR_DB;
  if (bits === 64) {
    // identity-map the first 1 GiB with 2 MiB pages
    const dv = new DataView(bus.backing.buffer);
    dv.setUint32(PAGE_TABLES, PAGE_TABLES + 0x1000 + 3, true);
    dv.setUint32(PAGE_TABLES + 0x1000, PAGE_TABLES + 0x2000 + 3, true);
    for (let k = 0; k < 512; k++) dv.setUint32(PAGE_TABLES + 0x2000 + k * 8, k * 0x200000 + 0x83, true);
    cpu.cr3 = PAGE_TABLES;
    cpu.cr4 |= K.CR4_PAE;
    cpu.efer |= K.EFER_LME | K.EFER_LMA;
    cpu.cr0 |= K.CR0_PG;
    for (let s = 0; s < 6; s++) cpu.loadSegRaw(s, s === K.SEG_CS ? 8 : 16, 0, 0xFFFFFFFF, s === K.SEG_CS ? data | 8 | K.AR_L | K.AR_G : data | flat);
  } else {
    for (let s = 0; s < 6; s++) cpu.loadSegRaw(s, s === K.SEG_CS ? 8 : 16, 0, 0xFFFFFFFF, data | flat | (s === K.SEG_CS ? 8 : 0));
  }
  cpu.updateMode();
  cpu.flushTlb(true);
}

/** A reusable CPU in one mode: running many snippets costs no new allocation per snippet. */
export class SnippetRunner {
  readonly cpu: Cpu;
  readonly bus: SimpleBus;
  readonly ports: RecordingPorts;
  exception: number | undefined;
  errorCode: number | undefined;
  private lastLen = 0;

  constructor(readonly bits: 16 | 32 | 64) {
    const m = makeCpu(bits);
    this.cpu = m.cpu;
    this.bus = m.bus;
    this.ports = m.ports;
    this.cpu.onException = (vec, err) => {
      this.exception = vec;
      this.errorCode = err;
      return true;
    };
  }

  /** Where the code goes: in 16-bit mode CS is 0x1000 so IP starts at 0. */
  codeIp(): number {
    return this.bits === 16 ? 0 : CODE_BASE;
  }

  run(input: SnippetInput): void {
    const cpu = this.cpu;
    // write through the CPU so decoded blocks of the previous snippet are invalidated
    const n = Math.max(input.code.length + 1, this.lastLen);
    for (let k = 0; k < n; k++) cpu.physWrite(CODE_BASE + k, 1, k < input.code.length ? input.code[k] : k === input.code.length ? 0xF4 : 0);
    this.lastLen = input.code.length + 1;
    if (input.mem) this.bus.backing.set(input.mem, DATA_BASE);
    const regs = input.regs ?? [];
    for (let k = 0; k < 16; k++) {
      const v = BigInt.asUintN(64, regs[k] ?? 0n);
      cpu.r[k] = Number(v & 0xFFFFFFFFn) | 0;
      cpu.rh[k] = Number(v >> 32n) | 0;
    }
    if (regs[4] === undefined) { cpu.r[4] = this.bits === 16 ? 0xFFF0 : STACK_TOP; cpu.rh[4] = 0; }
    cpu.setFlags(input.rflags ?? 0, 0x3F7FD5);
    cpu.rip = this.codeIp();
    cpu.halted = false;
    this.exception = undefined;
    this.errorCode = undefined;
    cpu.run(cpu.icount + (input.maxInstructions ?? 100000));
  }

  reg(k: number): bigint {
    return (BigInt(this.cpu.rh[k] >>> 0) << 32n) | BigInt(this.cpu.r[k] >>> 0);
  }
}

const runners = new Map<number, SnippetRunner>();

export function runSnippet(input: SnippetInput): SnippetOutput {
  let r = runners.get(input.bits);
  if (!r) {
    r = new SnippetRunner(input.bits);
    runners.set(input.bits, r);
  }
  r.run(input);
  const out: bigint[] = [];
  for (let k = 0; k < 16; k++) out.push(r.reg(k));
  return {
    regs: out,
    rflags: r.cpu.getFlags(),
    mem: r.bus.backing.slice(DATA_BASE, DATA_BASE + (input.mem?.length ?? 256)),
    exception: r.exception,
    errorCode: r.errorCode,
    cpu: r.cpu,
    ports: r.ports,
  };
}
