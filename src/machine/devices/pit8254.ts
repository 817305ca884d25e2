/**
 * The 8254 programmable interval timer at 0x40-0x43. Channel 0 drives IRQ0, channel 1 is the DRAM
 * refresh timer (unused by software, modelled anyway), channel 2 feeds the speaker and is readable
 * through port 0x61 (see systemControlPortB.ts), which is how firmware calibrates delays.
 *
 * The input clock is the instruction count: one PIT tick per INSTRUCTIONS_PER_PIT_TICK instructions
 * (see clock.ts), so the 1.193182 MHz PIT rate maps to a fixed instruction rate and every run is
 * reproducible. Counter values and OUT levels are computed from the clock when read, never stepped;
 * only channel 0's rising OUT edges need a deadline, to raise IRQ0.
 *
 * Modes 0-5 are modelled, with the gate input (channel 2 only; channels 0 and 1 have GATE tied high
 * on a PC), the counter latch command, the read-back command (count and status), lobyte/hibyte/both
 * access and BCD counting.
 */
import { type Clock, INSTRUCTIONS_PER_PIT_TICK, type Rescheduler, type TimedDevice } from '../clock';
import type { PortDevice, PortRegistry } from '../portBus';
import { type IrqLine, NO_IRQ } from './irqLine';

const RW_LATCH = 0;
const RW_LOW = 1;
const RW_HIGH = 2;
const RW_BOTH = 3;

/** One 8254 counter. Times are in PIT ticks. */
export class PitChannel {
  /** Power-up state is undefined on real parts; "mode 2 waiting for a count" keeps OUT high and quiet. */
  mode = 2;
  rwMode = RW_BOTH;
  bcd = false;
  /** The count register as written (0 means the maximum). */
  private countRegister = 0;
  /** The count in effect, 1..65536 (or 1..10000 in BCD). */
  private n = 0x10000;
  /** A count has been loaded into the counting element (for modes 1/5: and triggered). */
  private armed = false;
  /** Tick at which the counting element held `n` and began counting down. */
  private t0 = 0;
  /** Tick at which GATE went low, while it is low (counting is suspended). */
  private gateLowAt: number | null = null;
  gate: boolean;
  /** A count written in mode 2/3 while counting takes effect at the end of the current period. */
  private pendingN = 0;
  /** Count used by the next GATE trigger in modes 1 and 5 (0 = none written). */
  private triggerN = 0;
  private switchAt = Infinity;
  /** A count has been written but not loaded yet (status bit 6). */
  private nullCount = true;
  private writeHighNext = false;
  private readHighNext = false;
  private latchedCount: number | null = null;
  private latchedCountHighNext = false;
  private latchedStatus: number | null = null;

  constructor(gate: boolean) {
    this.gate = gate;
  }

  // ---- counter state as a function of time ----

  /** Ticks counted since the load, or -1 when no count is loaded yet. */
  private elapsed(t: number): number {
    if (!this.armed) return -1;
    const te = this.gateLowAt !== null && this.gateStopsCounting() ? Math.min(t, this.gateLowAt) : t;
    return te - this.t0;
  }

  private gateStopsCounting(): boolean {
    return this.mode === 0 || this.mode === 2 || this.mode === 3 || this.mode === 4;
  }

  /** Apply a pending mode 2/3 count once its period boundary has passed. */
  sync(t: number): void {
    if (t >= this.switchAt) {
      this.t0 = this.switchAt;
      this.n = this.pendingN;
      this.switchAt = Infinity;
    }
    if (this.armed && t >= this.t0) this.nullCount = this.switchAt !== Infinity;
  }

  /** The counting element at tick t, in binary. */
  count(t: number): number {
    const e = this.elapsed(t);
    const n = this.n;
    const modulus = this.bcd ? 10000 : 0x10000;
    if (e < 0) return n % modulus;
    switch (this.mode) {
      case 2:
        return n - (e % n);
      case 3: {
        const p = e % n;
        const high = Math.ceil(n / 2);
        const v = p < high ? n - 2 * p : n - 2 * (p - high);
        return (v & ~1) % modulus;
      }
      default:
        return (((n - e) % modulus) + modulus) % modulus;
    }
  }

  /** The OUT pin at tick t. */
  out(t: number): boolean {
    const e = this.elapsed(t);
    if (e < 0) return this.mode !== 0; // mode 0 drives OUT low from the control word on
    const n = this.n;
    switch (this.mode) {
      case 0:
      case 1:
        return e >= n;
      case 2:
        if (this.gateLowAt !== null) return true;
        return n === 1 || e % n !== n - 1;
      case 3:
        if (this.gateLowAt !== null) return true;
        return e % n < Math.ceil(n / 2);
      default: // 4, 5: one-tick strobe at terminal count
        return e !== n;
    }
  }

  /** First tick after `after` at which OUT rises, or Infinity. */
  nextRisingEdge(after: number): number {
    if (!this.armed || this.gateLowAt !== null) return Infinity;
    let edge: number;
    switch (this.mode) {
      case 0:
      case 1:
        edge = this.t0 + this.n;
        break;
      case 2:
      case 3: {
        if (after < this.t0 + this.n) return this.t0 + this.n;
        return this.t0 + (Math.floor((after - this.t0) / this.n) + 1) * this.n;
      }
      default:
        edge = this.t0 + this.n + 1;
    }
    return edge > after ? edge : Infinity;
  }

  // ---- programming ----

  /** A control word for this channel (not a latch command). */
  setMode(t: number, rwMode: number, mode: number, bcd: boolean): void {
    this.rwMode = rwMode;
    this.mode = mode > 5 ? mode - 4 : mode; // 6 and 7 are aliases of 2 and 3
    this.bcd = bcd;
    this.armed = false;
    this.switchAt = Infinity;
    this.nullCount = true;
    this.writeHighNext = false;
    this.readHighNext = false;
    this.latchedCount = null;
    this.latchedStatus = null;
    this.triggerN = 0;
    this.gateLowAt = this.gate ? null : t;
  }

  writeCount(t: number, byte: number): void {
    this.sync(t);
    switch (this.rwMode) {
      case RW_LOW:
        this.countRegister = byte;
        break;
      case RW_HIGH:
        this.countRegister = byte << 8;
        break;
      default:
        if (!this.writeHighNext) {
          this.countRegister = (this.countRegister & 0xff00) | byte;
          this.writeHighNext = true;
          // In mode 0 the first byte of a new count stops the counter (datasheet).
          if (this.mode === 0) this.armed = false;
          return;
        }
        this.countRegister = (this.countRegister & 0xff) | (byte << 8);
        this.writeHighNext = false;
    }
    this.load(t);
  }

  private load(t: number): void {
    const n = decodeCount(this.countRegister, this.bcd);
    this.nullCount = true;
    if ((this.mode === 2 || this.mode === 3) && this.armed) {
      // A running rate generator finishes its period first.
      const e = Math.max(0, this.elapsed(t));
      this.switchAt = this.t0 + (Math.floor(e / this.n) + 1) * this.n;
      this.pendingN = n;
      return;
    }
    if (this.mode === 1 || this.mode === 5) {
      // Waits for a GATE trigger; a count written mid-cycle is used from the next trigger on.
      this.triggerN = n;
      if (!this.armed) this.n = n;
      return;
    }
    this.n = n;
    // The counting element loads on the next clock pulse.
    this.t0 = t + 1;
    this.armed = true;
    if (this.gateLowAt !== null) this.gateLowAt = t + 1;
  }

  setGate(t: number, level: boolean): void {
    this.sync(t);
    if (level === this.gate) return;
    this.gate = level;
    if (!level) {
      this.gateLowAt = t;
      return;
    }
    const lowAt = this.gateLowAt;
    this.gateLowAt = null;
    switch (this.mode) {
      case 0:
      case 4:
        // Counting resumes where it stopped: the next decrement comes on the next clock.
        if (this.armed && lowAt !== null && lowAt >= this.t0) this.t0 += t - lowAt;
        else if (this.armed) this.t0 = Math.max(this.t0, t);
        break;
      case 1:
      case 5:
      case 2:
      case 3:
        // A rising GATE (re)triggers: the count reloads on the next clock.
        if (this.mode === 1 || this.mode === 5) {
          if (this.triggerN === 0) break; // no count written yet
          this.n = this.triggerN;
          this.t0 = t + 1;
          this.armed = true;
        } else if (this.armed) {
          if (this.switchAt !== Infinity) this.n = this.pendingN; // reload takes the newest count
          this.t0 = t + 1;
          this.switchAt = Infinity;
        }
        break;
    }
  }

  latchCount(t: number): void {
    if (this.latchedCount !== null) return; // a second latch before reading is ignored
    this.sync(t);
    this.latchedCount = encodeCount(this.count(t), this.bcd);
    this.latchedCountHighNext = false;
  }

  latchStatus(t: number): void {
    if (this.latchedStatus !== null) return;
    this.sync(t);
    this.latchedStatus =
      (this.out(t) ? 0x80 : 0) | (this.nullCount ? 0x40 : 0) | (this.rwMode << 4) | (this.mode << 1) | (this.bcd ? 1 : 0);
  }

  read(t: number): number {
    if (this.latchedStatus !== null) {
      const s = this.latchedStatus;
      this.latchedStatus = null;
      return s;
    }
    let value: number;
    let highNow: boolean;
    if (this.latchedCount !== null) {
      value = this.latchedCount;
      if (this.rwMode === RW_BOTH) {
        highNow = this.latchedCountHighNext;
        this.latchedCountHighNext = !highNow;
        if (highNow) this.latchedCount = null;
      } else {
        highNow = this.rwMode === RW_HIGH;
        this.latchedCount = null;
      }
    } else {
      this.sync(t);
      value = encodeCount(this.count(t), this.bcd);
      if (this.rwMode === RW_BOTH) {
        highNow = this.readHighNext;
        this.readHighNext = !highNow;
      } else {
        highNow = this.rwMode === RW_HIGH;
      }
    }
    return highNow ? (value >> 8) & 0xff : value & 0xff;
  }
}

function decodeCount(register: number, bcd: boolean): number {
  if (!bcd) return register === 0 ? 0x10000 : register;
  const v =
    ((register >> 12) & 0xf) * 1000 + ((register >> 8) & 0xf) * 100 + ((register >> 4) & 0xf) * 10 + (register & 0xf);
  return v === 0 ? 10000 : v;
}

function encodeCount(count: number, bcd: boolean): number {
  if (!bcd) return count & 0xffff;
  const v = count % 10000;
  return (
    (Math.floor(v / 1000) << 12) | (Math.floor(v / 100) % 10 << 8) | (Math.floor(v / 10) % 10 << 4) | v % 10
  );
}

export interface Pit8254Options {
  clock: Clock;
  /** IRQ0: channel 0's OUT. */
  irq?: IrqLine;
  /** Told when channel 0's next interrupt moved. */
  scheduler?: Rescheduler;
}

export class Pit8254 implements PortDevice, TimedDevice {
  readonly channels: readonly PitChannel[] = [new PitChannel(true), new PitChannel(true), new PitChannel(false)];
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly scheduler?: Rescheduler;
  /** Tick of channel 0's next rising OUT edge. */
  private nextEdge = Infinity;
  /** IRQ0 as last driven; OUT is high after power-up (see PitChannel.mode). */
  private line = true;

  constructor(options: Pit8254Options) {
    this.clock = options.clock;
    this.irq = options.irq ?? NO_IRQ;
    this.scheduler = options.scheduler;
  }

  attach(bus: PortRegistry): void {
    bus.register(0x40, 4, this);
  }

  /** The current PIT tick. */
  tick(): number {
    return Math.floor(this.clock.instructions() / INSTRUCTIONS_PER_PIT_TICK);
  }

  /** OUT of a channel now (port 0x61 bit 5 reads channel 2). */
  outputLevel(channel: number): boolean {
    const t = this.tick();
    this.channels[channel].sync(t);
    return this.channels[channel].out(t);
  }

  /** Drive a channel's GATE input (only channel 2's is wired, to port 0x61 bit 0). */
  setGate(channel: number, level: boolean): void {
    this.channels[channel].setGate(this.tick(), level);
    if (channel === 0) this.channel0Changed();
  }

  out(port: number, _size: number, value: number): void {
    this.portWrite(port, value);
  }

  in(port: number, _size: number): number {
    const index = port - 0x40;
    if (index === 3) return 0xff; // the control register is write-only
    return this.channels[index].read(this.tick());
  }

  nextDeadline(): number {
    return this.nextEdge * INSTRUCTIONS_PER_PIT_TICK;
  }

  poll(): void {
    const t = this.tick();
    const ch = this.channels[0];
    if (this.nextEdge <= t) {
      // Pulse, so edge-triggered controllers latch a new request even if they missed the low phase.
      if (this.line) this.irq(false);
      this.irq(true);
      this.line = true;
    }
    ch.sync(t);
    this.nextEdge = ch.nextRisingEdge(t);
    this.setLine(ch.out(t));
  }

  private portWrite(port: number, value: number): void {
    value &= 0xff;
    const t = this.tick();
    const index = port - 0x40;
    if (index < 3) {
      this.channels[index].writeCount(t, value);
      if (index === 0) this.channel0Changed();
      return;
    }
    const select = value >> 6;
    if (select === 3) {
      // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 1-3 pick channels.
      for (let i = 0; i < 3; i++) {
        if (!(value & (2 << i))) continue;
        if (!(value & 0x20)) this.channels[i].latchCount(t);
        if (!(value & 0x10)) this.channels[i].latchStatus(t);
      }
      return;
    }
    const rw = (value >> 4) & 3;
    if (rw === RW_LATCH) {
      this.channels[select].latchCount(t);
      return;
    }
    this.channels[select].setMode(t, rw, (value >> 1) & 7, (value & 1) !== 0);
    if (select === 0) this.channel0Changed();
  }

  private channel0Changed(): void {
    const t = this.tick();
    const ch = this.channels[0];
    ch.sync(t);
    this.setLine(ch.out(t));
    this.nextEdge = ch.nextRisingEdge(t);
    this.scheduler?.reschedule();
  }

  private setLine(level: boolean): void {
    if (level === this.line) return;
    this.line = level;
    this.irq(level);
  }
}
