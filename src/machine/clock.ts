/**
 * The machine's time base. Every device derives time from the CPU's executed-instruction count, never
 * from the wall clock, so a run is reproducible instruction for instruction (a breakpoint hit after a
 * timer interrupt hits at the same place every time).
 *
 * One fixed ratio ties everything together: one 8254 PIT input tick (1.193182 MHz on a PC) lasts
 * INSTRUCTIONS_PER_PIT_TICK instructions. That makes the emulated CPU run at 119.3182 million
 * instructions per emulated second, which the RTC and the local APIC timer use as well.
 */

/** The count the CPU has executed so far; monotonic, starts at 0 on power-up. */
export interface Clock {
  instructions(): number;
}

/** The 8254 input clock of a PC, in Hz. */
export const PIT_HZ = 1_193_182;
/** Instructions per PIT input tick. 100 keeps a 1 ms PIT period near 119k instructions. */
export const INSTRUCTIONS_PER_PIT_TICK = 100;
/** Instructions per emulated second (PIT_HZ x INSTRUCTIONS_PER_PIT_TICK). */
export const INSTRUCTIONS_PER_SECOND = PIT_HZ * INSTRUCTIONS_PER_PIT_TICK;
/**
 * Instructions per local APIC timer input tick (the "bus clock" before the divide configuration).
 * 1 means the APIC timer runs at 119.3182 MHz emulated, a plausible bus clock, and a divide-by-1
 * timer counts exactly one per instruction, which keeps tests and mental arithmetic simple.
 */
export const INSTRUCTIONS_PER_APIC_TICK = 1;

/** A clock the owner advances by hand: for tests, and for a host that counts instructions itself. */
export class ManualClock implements Clock {
  constructor(public count = 0) {}
  instructions(): number {
    return this.count;
  }
  advance(n: number): void {
    this.count += n;
  }
}

/**
 * A device whose state changes with time on its own (timers). Register reads compute their values
 * lazily from the clock; only interrupts need to happen at a definite instruction count, which is
 * what the deadline is for.
 */
export interface TimedDevice {
  /** Instruction count at which `poll()` must next run; Infinity when nothing is due. */
  nextDeadline(): number;
  /** Bring the device up to the clock's current count and raise whatever interrupts are now due. */
  poll(): void;
}

/** What a timed device calls after the guest reprogrammed it, so the deadline is recomputed. */
export interface Rescheduler {
  reschedule(): void;
}

/**
 * Keeps the earliest deadline of all timed devices in one number, so the CPU loop compares its
 * instruction count against `next` and calls `service()` only when something is due.
 */
export class DeviceScheduler implements Rescheduler {
  private readonly devices: TimedDevice[] = [];
  /** Earliest deadline of any device (instruction count), Infinity when all are idle. */
  next = Infinity;
  /** Called whenever `next` changes, so a running CPU slice can end earlier than planned. */
  onReschedule?: (next: number) => void;

  constructor(private readonly clock: Clock) {}

  add(device: TimedDevice): void {
    this.devices.push(device);
    this.reschedule();
  }

  reschedule(): void {
    let next = Infinity;
    for (const d of this.devices) {
      const t = d.nextDeadline();
      if (t < next) next = t;
    }
    if (next !== this.next) {
      this.next = next;
      this.onReschedule?.(next);
    }
  }

  /** Poll every device whose deadline has passed, then recompute `next`. */
  service(): void {
    const now = this.clock.instructions();
    for (const d of this.devices) {
      if (d.nextDeadline() <= now) d.poll();
    }
    this.reschedule();
  }
}
