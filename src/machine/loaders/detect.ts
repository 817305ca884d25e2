import { hasElfMagic } from './elfLayout';
import { hex, LoaderFormat } from './loadPlan';
import { findMultibootHeader } from './multiboot';
import { hasResetJump, ROM_MAX_BYTES } from './rom';

/**
 * Guesses an image's format when the launch configuration doesn't say. The first rule that matches
 * wins:
 *   1. a valid multiboot header (magic 0x1BADB002, 4-aligned, in the first 8 KiB, checksum 0)
 *      -> multiboot. This comes before ELF because multiboot kernels are usually ELF files, and
 *      started as plain ELF they would miss EAX/EBX and the information block they were written for;
 *      an ELF file that isn't a multiboot kernel practically never holds a valid header by chance.
 *   2. the ELF magic 7F 'E' 'L' 'F' -> elf.
 *   3. exactly 512 bytes ending in 55 AA (a boot sector) -> flat, checked before the ROM rule
 *      because a boot sector's last 16 bytes could happen to start with a jump opcode.
 *   4. 16 bytes to 16 MiB whose last 16 bytes (the reset vector) start with a jump (EA, E9 or EB,
 *      possibly after nop/cli/cld/wbinvd/66) -> rom.
 *   5. anything else -> flat.
 */
export function detectFormat(bytes: Uint8Array): { format: LoaderFormat; reason: string } {
  const multiboot = findMultibootHeader(bytes);
  if (multiboot) {
    return { format: 'multiboot', reason: `valid multiboot header at file offset ${hex(multiboot.offset)}` };
  }
  if (hasElfMagic(bytes)) return { format: 'elf', reason: 'ELF magic' };
  if (bytes.length === 512 && bytes[510] === 0x55 && bytes[511] === 0xaa) {
    return { format: 'flat', reason: 'a 512-byte boot sector with the 55 AA signature' };
  }
  if (bytes.length <= ROM_MAX_BYTES && hasResetJump(bytes)) {
    return { format: 'rom', reason: 'the last 16 bytes hold a reset-vector jump' };
  }
  return { format: 'flat', reason: 'no header or reset vector recognised' };
}
