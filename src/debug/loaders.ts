import type { LoadPlan } from '../machine/loaders/loadPlan';
import type { DebugInfoLoaders } from './session';
import { loadDebugInfo, loadNasmListing } from './symbols';

/**
 * The debug-information readers the adapter uses (ELF/DWARF, NASM listings), from src/debug/symbols.
 * Kept in one place so the session itself does not depend on which readers exist.
 */

/** Where offset 0 of a flat image or ROM lies in guest memory. */
function imageBase(plan: LoadPlan): bigint {
  if (plan.rom) return BigInt(2 ** 32 - plan.rom.length);
  return BigInt(plan.chunks[0]?.phys ?? 0);
}

export const debugInfoLoaders: DebugInfoLoaders = {
  elf: (bytes, path) => loadDebugInfo(bytes, { path }),
  nasmListing: (text, path, loadAddress, plan) =>
    loadNasmListing(text, { asmPath: path.replace(/\.(lst|list|txt)$/i, '') + '.asm', loadAddress: loadAddress ?? imageBase(plan) }),
};
