import { detectFormat } from './detect';
import { elfLoadPlan } from './elf';
import { flatLoadPlan } from './flat';
import { CpuMode, LoaderFormat, LoadError, LoadPlan } from './loadPlan';
import { multibootLoadPlan, MultibootModule } from './multiboot';
import { assertFitsInRam, checkRamBytes } from './ram';
import { romLoadPlan } from './rom';

export * from './loadPlan';
export { detectFormat } from './detect';
export { elfLoadPlan, elfSectionData, parseElf } from './elf';
export type { ElfFile, ElfHeader, ElfPlanOptions, ElfSection, ElfSegment } from './elf';
export { flatLoadPlan } from './flat';
export type { FlatOptions } from './flat';
export {
  findMultibootHeader, multibootLoadPlan, MULTIBOOT_BOOTLOADER_MAGIC, MULTIBOOT_BOOT_LOADER_NAME,
  MULTIBOOT_HEADER_MAGIC,
} from './multiboot';
export type { MultibootHeader, MultibootModule, MultibootOptions } from './multiboot';
export { hasResetJump, romLoadPlan, ROM_MAX_BYTES } from './rom';

export interface LoadOptions {
  /** Omit to auto-detect (see detectFormat for the rule). */
  format?: LoaderFormat;
  /** flat only. */
  loadAddress?: number;
  /** flat and elf: the physical address to start at, overriding the default / e_entry. */
  entry?: number | bigint;
  /** flat and elf: the mode to start in. */
  mode?: CpuMode;
  /** Guest RAM size; every chunk must fit below it. */
  ramBytes: number;
  /** multiboot only: the kernel command line. */
  cmdline?: string;
  /** multiboot only: boot modules, placed after the kernel. */
  modules?: MultibootModule[];
}

/** Which options each format reads, so ignored ones can be pointed out rather than silently dropped. */
const USES: Record<LoaderFormat, readonly (keyof LoadOptions)[]> = {
  elf: ['entry', 'mode'],
  flat: ['loadAddress', 'entry', 'mode'],
  rom: [],
  multiboot: ['cmdline', 'modules'],
};
const OPTIONAL: readonly (keyof LoadOptions)[] = ['loadAddress', 'entry', 'mode', 'cmdline', 'modules'];

/**
 * Turns an image into a LoadPlan: picks the format (given or detected), runs its loader, and checks
 * every chunk lies inside RAM. Anything wrong with the image or the options is a LoadError.
 */
export function loadImage(bytes: Uint8Array, opts: LoadOptions): LoadPlan {
  checkRamBytes(opts.ramBytes);
  const notes: string[] = [];
  let format = opts.format;
  if (format === undefined) {
    const detected = detectFormat(bytes);
    format = detected.format;
    notes.push(`format detected as ${format}: ${detected.reason}`);
  }
  for (const key of OPTIONAL) {
    if (opts[key] !== undefined && !USES[format].includes(key)) {
      notes.push(`option ${key} is ignored for ${format} images`);
    }
  }

  const plan = planFor(format, bytes, opts);
  for (const chunk of plan.chunks) assertFitsInRam(chunk.label, chunk.phys, chunk.data.length, opts.ramBytes);
  return { ...plan, notes: [...notes, ...plan.notes] };
}

function planFor(format: LoaderFormat, bytes: Uint8Array, opts: LoadOptions): LoadPlan {
  switch (format) {
    case 'elf':
      return elfLoadPlan(bytes, { mode: opts.mode, entry: opts.entry, ramBytes: opts.ramBytes });
    case 'flat':
      return flatLoadPlan(bytes, { loadAddress: opts.loadAddress, entry: opts.entry, mode: opts.mode });
    case 'rom':
      return romLoadPlan(bytes);
    case 'multiboot':
      return multibootLoadPlan(bytes, { ramBytes: opts.ramBytes, cmdline: opts.cmdline, modules: opts.modules });
    default:
      throw new LoadError(`unknown image format ${String(format)}: expected elf, flat, rom or multiboot`);
  }
}
