import { hex, LoadError } from './loadPlan';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

/** "256 MiB", "640 KiB", or "0x1234 bytes": sizes in the unit a user would have typed. */
export function describeBytes(bytes: number): string {
  if (bytes > 0 && bytes % GIB === 0) return `${bytes / GIB} GiB`;
  if (bytes > 0 && bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes > 0 && bytes % KIB === 0) return `${bytes / KIB} KiB`;
  return `${hex(bytes)} bytes`;
}

/** RAM sizes come from launch configurations, so a nonsense value is the user's to fix, not a crash. */
export function checkRamBytes(ramBytes: number): void {
  if (!Number.isSafeInteger(ramBytes) || ramBytes <= 0) {
    throw new LoadError(`ramBytes ${ramBytes} is not a positive integer`);
  }
}

/**
 * Refuses a chunk that would not lie entirely inside RAM (which starts at physical address 0).
 * Loaders call this before allocating a chunk's bytes, so an absurd p_memsz fails with this message
 * instead of an allocation failure. Bigints let 64-bit header values through without wrapping.
 */
export function assertFitsInRam(label: string, phys: number | bigint, size: number | bigint, ramBytes: number): void {
  if (BigInt(phys) + BigInt(size) > BigInt(ramBytes)) {
    throw new LoadError(
      `image does not fit: ${label} at ${hex(phys)} + ${hex(size)} bytes exceeds RAM of ${describeBytes(ramBytes)}`,
    );
  }
}

/** Rounds up to a multiple of `align`; arithmetic rather than bit masks so addresses above 2^31 survive. */
export function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
