/**
 * The contract between the image loaders and the machine. Loaders are pure: they parse bytes and
 * return a LoadPlan; the machine copies the chunks into RAM, maps the ROM and sets up the CPU as
 * `entry` says. Keeping the loaders free of any machine or CPU reference lets the debugger parse an
 * image (symbols, sections) without building a machine, and lets tests check a plan byte for byte.
 */

export type LoaderFormat = 'elf' | 'flat' | 'rom' | 'multiboot';

/** The CPU mode an image asks to start in (the `reset` state is implied by the ROM format). */
export type CpuMode = 'real' | 'protected' | 'long';

/** How the CPU starts once the chunks are in memory. */
export type InitialState =
  /**
   * Architectural reset, as after RESET#: real mode, CS selector F000 with base FFFF0000,
   * IP FFF0, so the first instruction is fetched at 0xFFFFFFF0 from the ROM.
   */
  | { kind: 'reset' }
  /**
   * Real mode at cs:ip (linear cs * 16 + ip). DS, ES, SS, FS and GS are 0, as a BIOS leaves them
   * for a boot sector; everything else is as after reset.
   */
  | { kind: 'real'; cs: number; ip: number }
  /**
   * 32-bit protected mode with flat segments (base 0, limit 4 GiB, CS a 32-bit code segment),
   * paging off, interrupts disabled, A20 enabled: the machine state the multiboot specification
   * defines. Registers not listed are the machine's choice; the image must not rely on them.
   */
  | { kind: 'protected'; eip: number; regs?: { eax?: number; ebx?: number; esp?: number } }
  /**
   * 64-bit mode. Long mode cannot run without paging, so the machine builds identity-mapping page
   * tables (virtual = physical, covering at least RAM and the entry point), places them where no
   * chunk of the plan lies, and loads CS with a 64-bit code segment and flat data segments.
   */
  | { kind: 'long'; rip: bigint; regs?: { rax?: bigint; rbx?: bigint; rsp?: bigint } };

/** A symbol from the image, for breakpoints by name and for naming addresses in the debugger. */
export interface SymbolInfo {
  name: string;
  /** The symbol's value: a virtual (link-time) address for ELF. */
  address: bigint;
  /** Size in bytes; 0 when the image does not say (NASM labels without a size directive). */
  size: number;
  kind: 'func' | 'object' | 'other';
}

/** A run of bytes to copy into RAM at a physical address. */
export interface LoadChunk {
  phys: number;
  /** Exactly the bytes to write, zero fill (ELF .bss, multiboot bss_end_addr) included. */
  data: Uint8Array;
  /** Says where the bytes came from, for notes and error messages ("segment 1", "module 0: initrd"). */
  label: string;
}

export interface LoadPlan {
  format: LoaderFormat;
  chunks: LoadChunk[];
  /**
   * A ROM image to map so its last byte is at 0xFFFFFFFF (so it starts at 2^32 - length). Any length
   * from 16 bytes to 16 MiB; it need not be a multiple of 4 KiB, in which case its first page is only
   * partly covered. Far jumps from the reset vector into segment F000 land below 1 MiB, so machines
   * that want PC compatibility also alias the ROM's last 128 KiB at 0xE0000-0xFFFFF.
   */
  rom?: Uint8Array;
  entry: InitialState;
  symbols: SymbolInfo[];
  /** Human-readable observations worth showing the user (defaults chosen, fields ignored, fix-ups). */
  notes: string[];
}

/**
 * The one error type the loaders throw, for any malformed image or impossible option. The message
 * names the problem and where it is (file offset, header index, field), because the user has only
 * the file in front of them.
 */
export class LoadError extends Error {
  override readonly name = 'LoadError';
}

/** Hexadecimal with a 0x prefix, the way addresses and offsets appear in every message. */
export function hex(value: number | bigint): string {
  return '0x' + value.toString(16);
}
