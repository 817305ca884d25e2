import type { Cpu } from './cpu';

/** An instruction handler. It runs with `cpu.rip` already set past the end of its block. */
export type Handler = (c: Cpu, i: Instr) => void;

/**
 * One decoded instruction. Every instance has the same shape (all fields initialised in the
 * constructor) so that the handlers' property loads stay monomorphic.
 */
export class Instr {
  fn: Handler;
  /** Offset of the instruction in CS (RIP value); in 64-bit mode a signed canonical number. */
  rip = 0;
  /** RIP of the following instruction. */
  next = 0;
  len = 0;
  /** Opcode with its map: 0x000-0x0FF one-byte, 0x100-0x1FF 0F xx, 0x200 0F38 xx, 0x300 0F3A xx. */
  op = 0;
  /** Operand size in bytes: 1, 2, 4 or 8. */
  size = 4;
  /** Address size in bytes: 2, 4 or 8. */
  asize = 4;
  /** ModRM.reg with REX.R, or the register encoded in the opcode. 8-bit: 16-19 are AH, CH, DH, BH. */
  reg = 0;
  /** Register operand when ModRM.mod is 3 (with REX.B); same 8-bit convention as reg. */
  rm = 0;
  /** ModRM byte as decoded (-1 when the instruction has none). */
  modrm = -1;
  isMem = false;
  /** Effective segment for the memory operand. */
  seg = 3;
  /** Base register, -1 for none. */
  base = -1;
  /** Index register, -1 for none. */
  index = -1;
  scale = 0;
  /** Displacement; for RIP-relative operands the absolute target (next + disp) with base -1. */
  disp = 0;
  imm = 0;
  /** Second immediate (ENTER level, far pointer selector) or the high half of a 64-bit immediate. */
  imm2 = 0;
  /** Branch target for relative branches, already wrapped to the operand size. */
  target = 0;
  /** 0, 0xF2 (REPNE) or 0xF3 (REP/REPE). */
  rep = 0;
  lock = false;
  rex = 0;
  /** Sub-operation: ALU op, condition code, group index. */
  cc = 0;
  /** Segment override prefix given (-1 none). */
  segOverride = -1;
  /**
   * Non-zero for the few hottest forms the run loop executes inline (see fastpath.ts); 0 means
   * "call fn". Inline forms must behave exactly like their handler.
   */
  kind = 0;
  constructor(fn: Handler) {
    this.fn = fn;
  }
}

/** A run of decoded instructions with one entry point, none of which crosses a 4 KiB page. */
export class Block {
  /** Offset of the first byte in the physical backing store (-1 for an uncached block). */
  hostOff = -1;
  /** RIP of the first instruction and the decoding mode it was decoded for. */
  rip = 0;
  bits = 32;
  instrs: Instr[] = [];
  /** RIP after the last instruction (fall-through). */
  nextRip = 0;
  /** End of the block in the backing store, for invalidation. */
  hostEnd = -1;
  /** A breakpoint sits on the first instruction. */
  bp = false;
  valid = true;
  /** The last two blocks that followed this one, with the code epoch they were found in. */
  succ0: Block | null = null;
  succ1: Block | null = null;
  epoch0 = -1;
  epoch1 = -1;
}
