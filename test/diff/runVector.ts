import { DATA_BASE, SnippetRunner } from '../support/snippet';
import { DiffVector, placeAt } from './vectors';

/**
 * Runs one native differential vector through the emulator and compares every defined result:
 * registers (except architecturally undefined ones), the flags in flagsMask, memory, and #DE.
 * Returns null on a match, or a one-line description of the first difference.
 */

const REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const runners = new Map<number, SnippetRunner>();

function runner(bits: 32 | 64): SnippetRunner {
  let r = runners.get(bits);
  if (!r) {
    r = new SnippetRunner(bits);
    runners.set(bits, r);
  }
  return r;
}

const hex = (v: bigint) => '0x' + v.toString(16);

export function runVector(v: DiffVector): string | null {
  const { in: regsIn, out: regsOut } = placeAt(v, BigInt(DATA_BASE));
  const regs: bigint[] = REGS.map((n) => regsIn[n] ?? 0n);
  if (regsIn.rsp === undefined) regs[4] = 0x30000n;
  const r = runner(v.bits);
  r.run({ bits: v.bits, code: v.code, regs, rflags: Number(regsIn.rflags ?? 2n), mem: v.mem?.before, maxInstructions: 1 });
  if (v.exc !== undefined) {
    if (r.exception !== v.exc) return `${v.asm}: expected exception ${v.exc}, got ${r.exception ?? 'none'}`;
    return null;
  }
  if (r.exception !== undefined) return `${v.asm}: unexpected exception ${r.exception} (${r.cpu.faultWhy})`;
  const width = v.bits === 32 ? 0xFFFFFFFFn : 0xFFFFFFFFFFFFFFFFn;
  for (let k = 0; k < 16; k++) {
    const name = REGS[k];
    if (regsOut[name] === undefined || v.undefRegs?.includes(name)) continue;
    const got = r.reg(k) & width;
    const want = regsOut[name] & width;
    if (got !== want) return `${v.asm} in=${fmtIn(regsIn)}: ${name} = ${hex(got)}, native ${hex(want)}`;
  }
  const flags = r.cpu.getFlags();
  const want = Number(regsOut.rflags ?? 0n);
  if ((flags ^ want) & v.flagsMask) {
    return `${v.asm} in=${fmtIn(regsIn)}: rflags = 0x${flags.toString(16)}, native 0x${want.toString(16)} (mask 0x${v.flagsMask.toString(16)})`;
  }
  if (v.mem) {
    const got = r.bus.backing.subarray(DATA_BASE, DATA_BASE + v.mem.size);
    for (let k = 0; k < v.mem.size; k++) {
      if (got[k] !== v.mem.after[k]) return `${v.asm} in=${fmtIn(regsIn)}: memory byte ${k} = 0x${got[k].toString(16)}, native 0x${v.mem.after[k].toString(16)}`;
    }
  }
  return null;
}

/** Undefined flags: what this machine's CPU did, for the tests that also pin those. */
export function undefinedFlagsDiffer(v: DiffVector): boolean {
  const r = runner(v.bits);
  return ((r.cpu.getFlags() ^ Number(v.out.rflags ?? 0n)) & v.undefMask) !== 0;
}

function fmtIn(regs: Record<string, bigint>): string {
  return Object.entries(regs).map(([k, v]) => `${k}=${hex(v)}`).join(',');
}
