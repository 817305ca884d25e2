import * as fs from 'fs';
import * as path from 'path';
import { Machine, type MachineOptions, type RunOutcome } from '../../src/machine/machine';
import { loadImage, type CpuMode, type LoaderFormat } from '../../src/machine/loaders';
import type { PostRecord } from '../../src/machine/devices/postPort';

/**
 * Helpers for the whole-machine integration tests: build a Machine, load one of the NASM fixtures
 * from test/fixtures/machine (rebuilt by its build.sh), run it, and read back what the guest left
 * in memory (see common.inc: RES is the result block, TSTAMP the per-interrupt time stamps).
 */

export const RES = 0x6000;
export const TSTAMP = 0x6100;

function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();

export function fixture(name: string, dir = 'machine'): Uint8Array {
  return new Uint8Array(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', dir, name)));
}

export interface BootOptions {
  /** Image format; default flat. Pass null to let loadImage auto-detect. */
  format?: LoaderFormat | null;
  mode?: CpuMode;
  loadAddress?: number;
  ramMiB?: number;
  onPost?: (record: PostRecord, m: Machine) => void;
  /** Image bytes instead of a fixture file. */
  bytes?: Uint8Array;
}

export interface Booted {
  m: Machine;
  serial: () => string;
  debugcon: () => string;
  posts: PostRecord[];
  run: (max?: number) => RunOutcome;
  u32: (addr: number) => number;
  /** `count` dwords from `addr`. */
  dwords: (addr: number, count: number) => number[];
}

/** Builds a machine with `name` loaded (flat, real mode at 0x7C00 unless told otherwise). */
export function boot(name: string, opts: BootOptions = {}): Booted {
  const ramMiB = opts.ramMiB ?? 32;
  const serial: number[] = [];
  const debugcon: number[] = [];
  const posts: PostRecord[] = [];
  let machine: Machine | null = null;
  const mopts: MachineOptions = {
    ramMiB,
    onSerial: (b) => serial.push(...b),
    onDebugcon: (b) => debugcon.push(...b),
    onPost: (r) => {
      posts.push(r);
      if (opts.onPost && machine) opts.onPost(r, machine);
    },
    now: () => 0,
  };
  const m = new Machine(mopts);
  machine = m;
  const bytes = opts.bytes ?? fixture(name);
  const format = opts.format === null ? undefined : (opts.format ?? 'flat');
  const plan = loadImage(bytes, {
    format,
    mode: format === 'flat' || format === 'elf' ? (opts.mode ?? 'real') : undefined,
    loadAddress: opts.loadAddress,
    ramBytes: ramMiB * 1024 * 1024,
  });
  m.load(plan);
  const text = (a: number[]) => Buffer.from(a).toString('latin1');
  return {
    m,
    serial: () => text(serial),
    debugcon: () => text(debugcon),
    posts,
    run: (max = 50_000_000) => m.run(max),
    u32: (addr) => m.memory.read32(addr),
    dwords: (addr, count) => Array.from({ length: count }, (_, i) => m.memory.read32(addr + 4 * i)),
  };
}

/** The status the exit port reports for a guest write of `v`. */
export function exitStatus(v: number): number {
  return ((v << 1) | 1) >>> 0;
}

/** Differences between consecutive values. */
export function deltas(values: number[]): number[] {
  return values.slice(1).map((v, i) => (v - values[i]) >>> 0);
}
