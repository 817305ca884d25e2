/**
 * The POST diagnostic port 0x80. Firmware writes progress codes here; a debugger shows them and a CI
 * run asserts on them. Reads return the last code written, as the latch on POST cards does (and some
 * firmware reads it back to confirm the port decodes).
 *
 * The log keeps both the instruction count (deterministic, comparable across runs) and a wall-clock
 * timestamp (only for humans reading how long a boot stage took). Linux-style code also uses 0x80 as
 * an I/O delay, so the log is bounded: the oldest records are dropped, `totalWrites` keeps counting.
 */
import type { Clock } from '../clock';
import type { PortDevice, PortRegistry } from '../portBus';

export interface PostRecord {
  value: number;
  /** Instructions executed when the code was written. */
  instructions: number;
  /** Wall-clock time of the write (ms since the epoch); informative only, never used for emulation. */
  timeMs: number;
}

export interface PostPortOptions {
  clock: Clock;
  onPost?: (record: PostRecord) => void;
  /** Wall-clock source for `timeMs`; default Date.now (tests inject a fixed one). */
  now?: () => number;
  /** Records kept before the oldest are dropped; default 65536. */
  maxRecords?: number;
}

export const POST_PORT = 0x80;

export class PostPort implements PortDevice {
  private readonly clock: Clock;
  private readonly onPost?: (record: PostRecord) => void;
  private readonly now: () => number;
  private readonly maxRecords: number;
  private readonly values: Uint8Array;
  private readonly counts: Float64Array;
  private readonly times: Float64Array;
  private latch = 0;
  /** Every write since power-up, including records that fell out of the log. */
  totalWrites = 0;

  constructor(options: PostPortOptions) {
    this.clock = options.clock;
    this.onPost = options.onPost;
    this.now = options.now ?? Date.now;
    this.maxRecords = options.maxRecords ?? 65536;
    this.values = new Uint8Array(this.maxRecords);
    this.counts = new Float64Array(this.maxRecords);
    this.times = new Float64Array(this.maxRecords);
  }

  attach(bus: PortRegistry): void {
    bus.register(POST_PORT, 1, this);
  }

  /** The last code written (0 before any). */
  get last(): number {
    return this.latch;
  }

  /** The kept records, oldest first (built on demand from the ring). */
  get records(): readonly PostRecord[] {
    const out: PostRecord[] = [];
    const n = Math.min(this.totalWrites, this.maxRecords);
    for (let k = this.totalWrites - n; k < this.totalWrites; k++) {
      const slot = k % this.maxRecords;
      out.push({ value: this.values[slot], instructions: this.counts[slot], timeMs: this.times[slot] });
    }
    return out;
  }

  // Byte-only device: the bus splits wider accesses, so port 0x81 and up stay open bus.
  in(_port: number, _size: number): number {
    return this.latch;
  }

  out(_port: number, _size: number, value: number): void {
    this.latch = value & 0xff;
    // a ring of typed arrays: a guest writing POST codes in a tight loop costs no allocation
    const slot = this.totalWrites % this.maxRecords;
    const instructions = this.clock.instructions();
    const timeMs = this.now();
    this.values[slot] = this.latch;
    this.counts[slot] = instructions;
    this.times[slot] = timeMs;
    this.totalWrites++;
    if (this.onPost) this.onPost({ value: this.latch, instructions, timeMs });
  }
}
