import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';

/**
 * Disassembly through iced-x86, in NASM syntax (what the samples are written in). One decoder and
 * formatter are kept and reused; iced objects live in wasm memory and must be freed.
 */

export interface DisassembledInstruction {
  /** Address the instruction was decoded at. */
  address: bigint;
  length: number;
  text: string;
  bytes: Uint8Array;
}

let formatter: Formatter | null = null;

function fmt(): Formatter {
  if (formatter === null) {
    formatter = new Formatter(FormatterSyntax.Nasm);
    formatter.uppercaseHex = false;
    formatter.hexPrefix = '0x';
    formatter.hexSuffix = '';
    formatter.spaceAfterOperandSeparator = true;
  }
  return formatter;
}

/** Decodes up to `max` instructions from `bytes` at `address` in a 16-, 32- or 64-bit code segment. */
export function disassemble(bytes: Uint8Array, address: bigint, bits: 16 | 32 | 64, max = Infinity): DisassembledInstruction[] {
  const out: DisassembledInstruction[] = [];
  const d = new Decoder(bits, bytes, DecoderOptions.None);
  d.ip = BigInt.asUintN(64, address);
  const f = fmt();
  try {
    while (d.canDecode && out.length < max) {
      const start = d.position;
      const ins = d.decode();
      const len = ins.length;
      const text = ins.isInvalid ? '(bad)' : f.format(ins);
      out.push({ address: ins.ip, length: len, text, bytes: bytes.slice(start, start + len) });
      ins.free();
      if (start + len > bytes.length) break;
    }
  } finally {
    d.free();
  }
  return out;
}

/** One instruction, or '(bad)' when the bytes do not form one. */
export function disassembleOne(bytes: Uint8Array, address: bigint, bits: 16 | 32 | 64): DisassembledInstruction {
  return disassemble(bytes, address, bits, 1)[0] ?? { address, length: 1, text: '(bad)', bytes: bytes.slice(0, 1) };
}
