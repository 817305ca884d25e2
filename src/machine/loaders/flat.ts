import { entryState, toAddress } from './entry';
import { CpuMode, hex, LoadError, LoadPlan } from './loadPlan';

export interface FlatOptions {
  /** Physical load address; default 0x7C00 (where a BIOS puts a boot sector) in real mode, else 1 MiB. */
  loadAddress?: number;
  /** Physical entry address; default the load address. */
  entry?: number | bigint;
  /** Default real: a headerless image is most often a boot sector. */
  mode?: CpuMode;
}

/**
 * Plans loading a headerless binary: the bytes go to `loadAddress` unchanged. A real-mode entry is
 * split into cs:ip as `realModeSplit` documents (cs = 0 below 64 KiB, else cs = entry >> 4).
 */
export function flatLoadPlan(bytes: Uint8Array, opts: FlatOptions = {}): LoadPlan {
  if (bytes.length === 0) throw new LoadError('flat image is empty');
  const mode = opts.mode ?? 'real';
  const loadAddress = opts.loadAddress ?? (mode === 'real' ? 0x7c00 : 0x100000);
  const load = toAddress(loadAddress, 'loadAddress');
  const entry = opts.entry !== undefined ? toAddress(opts.entry, 'entry') : load;
  const end = load + BigInt(bytes.length);

  const notes = [`flat image of ${hex(bytes.length)} bytes at ${hex(load)}, entry ${hex(entry)} in ${mode} mode`];
  if (entry < load || entry >= end) notes.push(`entry ${hex(entry)} lies outside the loaded image`);
  if (mode === 'real' && end > 0x100000n) {
    notes.push(`image ends at ${hex(end)}, beyond the 1 MiB that real-mode code can address`);
  }
  return {
    format: 'flat',
    chunks: [{ phys: Number(load), data: bytes.slice(), label: 'flat image' }],
    entry: entryState(mode, entry, 'flat image entry'),
    symbols: [],
    notes,
  };
}
