import { hex, LoadError, LoadPlan } from './loadPlan';
import { describeBytes } from './ram';

/** The largest firmware flash the machine maps below 4 GiB (a common SPI flash size). */
export const ROM_MAX_BYTES = 16 * 1024 * 1024;
/** The reset vector is the last 16 bytes, so a ROM can't be smaller. */
export const ROM_MIN_BYTES = 16;

const JMP_FAR = 0xea;
const JMP_NEAR = 0xe9;
const JMP_SHORT = 0xeb;
/** Bytes firmware commonly puts before its reset jump: nop, cli, cld, operand-size prefix. */
const PREAMBLE = new Set([0x90, 0xfa, 0xfc, 0x66]);
const WBINVD = [0x0f, 0x09];

/**
 * True when the reset vector (the last 16 bytes) starts with a jump, possibly after a few nop, cli,
 * cld, wbinvd or operand-size bytes: what SeaBIOS (jmp far), coreboot and EDK2 (jmp near after nops)
 * put there. Auto-detection uses it to tell a ROM from a flat binary.
 */
export function hasResetJump(bytes: Uint8Array): boolean {
  if (bytes.length < ROM_MIN_BYTES) return false;
  const vector = bytes.subarray(bytes.length - 16);
  let i = 0;
  while (i < 8) {
    if (PREAMBLE.has(vector[i])) i += 1;
    else if (vector[i] === WBINVD[0] && vector[i + 1] === WBINVD[1]) i += 2;
    else break;
  }
  return vector[i] === JMP_FAR || vector[i] === JMP_NEAR || vector[i] === JMP_SHORT;
}

/** Plans mapping a firmware image so it ends at 4 GiB; the CPU starts from architectural reset. */
export function romLoadPlan(bytes: Uint8Array): LoadPlan {
  if (bytes.length < ROM_MIN_BYTES) {
    throw new LoadError(`ROM image is ${bytes.length} bytes: it needs at least 16, the reset vector is the last 16`);
  }
  if (bytes.length > ROM_MAX_BYTES) {
    const size = describeBytes(bytes.length);
    throw new LoadError(`ROM image is ${size} (${hex(bytes.length)} bytes): the limit is 16 MiB`);
  }
  const base = 2 ** 32 - bytes.length;
  const notes = [
    `ROM of ${describeBytes(bytes.length)} mapped at ${hex(base)}..0xffffffff; ` +
      `reset vector 0xfffffff0 is file offset ${hex(bytes.length - 16)}`,
  ];
  if (bytes.length % 4096 !== 0) {
    notes.push('ROM size is not a multiple of 4 KiB: its first page is only partly covered');
  }
  if (!hasResetJump(bytes)) notes.push('the reset vector (last 16 bytes) does not start with a jump');
  return { format: 'rom', chunks: [], rom: bytes.slice(), entry: { kind: 'reset' }, symbols: [], notes };
}
