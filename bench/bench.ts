import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { Machine } from '../src/machine/machine';
import { loadImage } from '../src/machine/loaders';
import type { CpuMode } from '../src/machine/loaders/loadPlan';
import { Monitor } from '../src/machine/monitor';

/**
 * `npm run bench`: guest workloads on the full machine, each run several times; prints the median
 * MIPS per workload as a table and as JSON (last line). Workload sources: bench/workloads/*.asm.
 *
 *   node dist/bench.js [--runs N] [--only name,name]
 */

interface Workload {
  name: string;
  file: string;
  mode: CpuMode;
  what: string;
  /** VMX workloads: 'bare' = the image is its own VMM, 'monitor' = a guest of the built-in monitor. */
  vmx?: 'bare' | 'monitor';
}

const WORKLOADS: Workload[] = [
  { name: 'alu', file: 'alu16.bin', mode: 'real', what: 'ALU loop, 16-bit real mode' },
  { name: 'alu32', file: 'alu32.bin', mode: 'protected', what: 'ALU loop, 32-bit protected mode' },
  { name: 'alu64', file: 'alu64.bin', mode: 'long', what: 'ALU loop, 64-bit long mode (64-bit operands)' },
  { name: 'mem', file: 'mem32.bin', mode: 'protected', what: 'loads/stores + REP MOVSD (a REP chunk counts once)' },
  { name: 'call', file: 'call16.bin', mode: 'real', what: 'call/ret recursion, stack in another page' },
  { name: 'call-samepage', file: 'call16-samepage.bin', mode: 'real', what: 'call/ret recursion, stack in the code page' },
  { name: 'io', file: 'io16.bin', mode: 'real', what: 'OUT to port 0x80 loop' },
  { name: 'vmexit-io-bare', file: 'vmxio64-bare.bin', mode: 'long', vmx: 'bare', what: 'guest OUT 0x80 loop, every OUT exits to its own VMM (11-instruction handler, VMRESUME)' },
  { name: 'vmexit-io-monitor', file: 'vmxio64-guest.bin', mode: 'long', vmx: 'monitor', what: 'the same guest loop under the built-in monitor (unconditional I/O exiting)' },
];

function workloadDir(): string {
  for (const d of [path.resolve(__dirname, '../bench/workloads'), path.resolve(__dirname, 'workloads'), path.resolve('bench/workloads')]) {
    if (fs.existsSync(d)) return d;
  }
  throw new Error('bench/workloads not found');
}

function runOnce(w: Workload, image: Uint8Array): { instructions: number; seconds: number; exits: number } {
  const m = new Machine({ ramMiB: 64, onSerial: () => {} });
  const plan = loadImage(image, { format: 'flat', mode: w.mode, ramBytes: m.ramBytes });
  m.load(plan);
  let monitor: Monitor | null = null;
  if (w.vmx === 'monitor') {
    monitor = new Monitor(m);
    m.vmm = monitor;
  }
  // the previous run's 64 MiB machine is garbage: collect it now rather than inside the timing
  (globalThis as { gc?: () => void }).gc?.();
  const t0 = process.hrtime.bigint();
  const failed = monitor?.launch();
  if (failed) throw new Error(`${w.name}: ${failed.detail}`);
  const out = m.run(5e9);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (out.kind !== 'halt') throw new Error(`${w.name}: expected a clean halt, got ${out.kind} (${out.detail})`);
  const exits = monitor ? monitor.totalExits : w.vmx === 'bare' && m.vmx ? m.vmx.exitCount : 0;
  return { instructions: m.cpu.icount, seconds, exits };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

type Result = { mips: number; instructions: number; runs: number[]; exitsPerSecond?: number; exits?: number };

/** Warm-up, then `runs` measured runs of one workload in this process. */
function measure(w: Workload, runs: number): Result {
  const image = new Uint8Array(fs.readFileSync(path.join(workloadDir(), w.file)));
  // warm-up until the JIT has settled: at least one run and a second of work, so short workloads
  // (the VM-exit loops take ~0.05 s a run) are measured at their steady state like the long ones
  let warmed = 0;
  for (let k = 0; k < 30 && (k === 0 || warmed < 1); k++) warmed += runOnce(w, image).seconds;
  const mips: number[] = [];
  const eps: number[] = [];
  let instructions = 0, exits = 0;
  for (let k = 0; k < runs; k++) {
    const r = runOnce(w, image);
    instructions = r.instructions;
    exits = r.exits;
    mips.push(r.instructions / r.seconds / 1e6);
    eps.push(r.exits / r.seconds);
  }
  const result: Result = { mips: Number(median(mips).toFixed(1)), instructions, runs: mips.map((x) => Number(x.toFixed(1))) };
  if (w.vmx) Object.assign(result, { exits, exitsPerSecond: Math.round(median(eps)) });
  return result;
}

function main(): void {
  const args = process.argv.slice(2);
  const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
  // `--child NAME`: measure one workload and print its result as JSON (see below)
  if (args.includes('--child')) {
    const w = WORKLOADS.find((x) => x.name === args[args.indexOf('--child') + 1]);
    if (!w) throw new Error('unknown workload');
    process.stdout.write(JSON.stringify(measure(w, runs)) + '\n');
    return;
  }
  const results: Record<string, Result> = {};
  for (const w of WORKLOADS) {
    if (only && !only.includes(w.name)) continue;
    // each workload in a fresh process: what the JIT learnt from the previous ones (call sites made
    // polymorphic by other guests) would otherwise make a figure depend on the order of the table
    const out = execFileSync(process.execPath, ['--expose-gc', __filename, '--child', w.name, '--runs', String(runs)], { encoding: 'utf8' });
    results[w.name] = JSON.parse(out.trim().split('\n').pop() as string) as Result;
  }
  const rows = Object.entries(results);
  const width = Math.max(...WORKLOADS.map((w) => w.name.length));
  process.stdout.write(`${'workload'.padEnd(width)}  median MIPS  instructions  runs (MIPS)\n`);
  for (const [name, r] of rows) {
    process.stdout.write(`${name.padEnd(width)}  ${r.mips.toFixed(1).padStart(11)}  ${String(r.instructions).padStart(12)}  ${r.runs.join(' ')}\n`);
  }
  for (const [name, r] of rows) {
    if (r.exitsPerSecond !== undefined) process.stdout.write(`${name}: median ${(r.exitsPerSecond / 1e6).toFixed(3)} million VM exits/s (${r.exits} exits per run)\n`);
  }
  if (results.call && results['call-samepage']) {
    process.stdout.write(`call-samepage / call = ${(results['call-samepage'].mips / results.call.mips).toFixed(2)}\n`);
  }
  process.stdout.write(JSON.stringify({ runs, results }) + '\n');
}

main();
