import { CpuMode, hex, InitialState, LoadError } from './loadPlan';

const REAL_MODE_LIMIT = 0x100000n;
const FOUR_GIB = 0x1_0000_0000n;
/** Half of the 48-bit canonical range: canonical addresses are below this or at/above 2^64 minus it. */
const CANONICAL_HALF = 1n << 47n;
const TWO_TO_64 = 1n << 64n;

/**
 * An address given as an option or read from an image, as a bigint, refusing what can't be one
 * (negative, fractional, NaN) with a LoadError rather than BigInt()'s RangeError.
 */
export function toAddress(value: number | bigint, what: string): bigint {
  if (typeof value === 'bigint') {
    if (value < 0n || value >= TWO_TO_64) throw new LoadError(`${what} ${value} is not a 64-bit address`);
    return value;
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new LoadError(`${what} ${value} is not a non-negative integer address`);
  }
  return BigInt(value);
}

/**
 * Splits a linear real-mode address into cs:ip. Below 64 KiB we use cs = 0 so the image sees the
 * same offsets it was assembled for with `org`; above, cs = address >> 4 leaves ip = address & 0xF,
 * the only split that works for every address below 1 MiB.
 */
export function realModeSplit(address: number): { cs: number; ip: number } {
  if (address < 0x10000) return { cs: 0, ip: address };
  return { cs: address >>> 4, ip: address & 0xf };
}

/** The initial CPU state that starts executing at `address` in `mode`; `what` names the address. */
export function entryState(mode: CpuMode, address: bigint, what: string): InitialState {
  switch (mode) {
    case 'real': {
      if (address >= REAL_MODE_LIMIT) {
        throw new LoadError(`${what} ${hex(address)} is beyond the 1 MiB that real mode can reach`);
      }
      return { kind: 'real', ...realModeSplit(Number(address)) };
    }
    case 'protected': {
      if (address >= FOUR_GIB) {
        throw new LoadError(`${what} ${hex(address)} is above 4 GiB, out of reach of protected mode; use mode 'long'`);
      }
      return { kind: 'protected', eip: Number(address) };
    }
    case 'long': {
      if (address >= CANONICAL_HALF && address < TWO_TO_64 - CANONICAL_HALF) {
        throw new LoadError(`${what} ${hex(address)} is not canonical, so long mode cannot execute there`);
      }
      return { kind: 'long', rip: address };
    }
  }
}
