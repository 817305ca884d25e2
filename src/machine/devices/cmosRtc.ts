/**
 * The MC146818-style CMOS RTC at 0x70 (index, bit 7 = NMI disable) and 0x71 (data): 128 bytes of
 * CMOS, the first 14 of which are the real-time clock.
 *
 * Time is deterministic: the clock starts at a fixed base (2026-01-01 00:00:00 by default, a
 * Thursday) and advances one second per INSTRUCTIONS_PER_SECOND instructions. The guest may set the
 * time (with or without the SET bit); the clock then continues from what it wrote. Registers are
 * rendered on demand in BCD or binary and 12- or 24-hour format, as register B selects.
 *
 * Status register A's UIP bit is high during the last 244 us of every emulated second, so code that
 * waits for it to drop never waits more than that. Register C's flags (periodic, alarm,
 * update-ended) are computed from the clock and raise IRQ8 when enabled in register B.
 *
 * Memory-size bytes are filled the way QEMU does for SeaBIOS and other PC firmware:
 *   0x15/0x16  base memory in KiB (640)
 *   0x17/0x18  and 0x30/0x31: KiB above 1 MiB, at most 0xFFFF
 *   0x34/0x35  64 KiB units between 16 MiB and the PCI hole (0xE0000000), at most 0xFFFF
 *   0x5B-0x5D  64 KiB units above 4 GiB (24 bits)
 *   0x5F       number of CPUs minus one
 * with the standard checksum of 0x10-0x2D at 0x2E/0x2F.
 */
import { type Clock, INSTRUCTIONS_PER_SECOND, type Rescheduler, type TimedDevice } from '../clock';
import type { PortDevice, PortRegistry } from '../portBus';
import { type IrqLine, NO_IRQ } from './irqLine';

export interface CmosRtcOptions {
  clock: Clock;
  /** Total guest RAM in bytes, for the memory-size bytes. */
  ramSize: number;
  /** IRQ8. */
  irq?: IrqLine;
  scheduler?: Rescheduler;
  /** Seconds since the Unix epoch (UTC) the RTC shows at instruction 0; default 2026-01-01T00:00:00Z. */
  baseTime?: number;
  /** CPUs in the machine, for byte 0x5F; default 1. */
  cpus?: number;
}

export const DEFAULT_RTC_BASE_TIME = Date.UTC(2026, 0, 1) / 1000;

const SECONDS = 0x00;
const SECONDS_ALARM = 0x01;
const MINUTES = 0x02;
const MINUTES_ALARM = 0x03;
const HOURS = 0x04;
const HOURS_ALARM = 0x05;
const DAY_OF_WEEK = 0x06;
const DAY_OF_MONTH = 0x07;
const MONTH = 0x08;
const YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const CENTURY = 0x32;

const B_SET = 0x80;
const B_PIE = 0x40;
const B_AIE = 0x20;
const B_UIE = 0x10;
const B_BINARY = 0x04;
const B_24H = 0x02;

const C_IRQF = 0x80;
const C_PF = 0x40;
const C_AF = 0x20;
const C_UF = 0x10;

const A_UIP = 0x80;

/** The update cycle announces itself 244 us ahead (MC146818 datasheet, t_BUC). */
const UIP_INSTRUCTIONS = Math.ceil((244e-6 * INSTRUCTIONS_PER_SECOND));

const PCI_HOLE_START = 0xe000_0000;
const MIB = 1024 * 1024;

export class CmosRtc implements PortDevice, TimedDevice {
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly scheduler?: Rescheduler;
  readonly ram = new Uint8Array(128);
  private index = 0;
  private nmiDisabledBit = true; // NMIs are masked until firmware clears bit 7 of port 0x70
  /** RTC time (Unix seconds) at instruction `baseInstr`, which is a second boundary. */
  private baseSeconds: number;
  private baseInstr = 0;
  /** Instruction count up to which register C's flags have been accumulated. */
  private flagsAt = 0;
  private irqLevel = false;
  private deadline = Infinity;

  constructor(options: CmosRtcOptions) {
    this.clock = options.clock;
    this.irq = options.irq ?? NO_IRQ;
    this.scheduler = options.scheduler;
    this.baseSeconds = Math.floor(options.baseTime ?? DEFAULT_RTC_BASE_TIME);
    this.ram[REG_A] = 0x26; // 32.768 kHz divider, 1024 Hz periodic rate
    this.ram[REG_B] = B_24H;
    this.ram[REG_D] = 0x80; // valid RAM and time
    this.fillMemorySize(options.ramSize, options.cpus ?? 1);
    this.flagsAt = this.clock.instructions();
  }

  attach(bus: PortRegistry): void {
    bus.register(0x70, 2, this);
  }

  /** False while bit 7 of the last index written to port 0x70 was set. */
  get nmiEnabled(): boolean {
    return !this.nmiDisabledBit;
  }

  /** The RTC's current time, as Unix seconds. */
  currentTime(): number {
    return this.secondsAt(this.clock.instructions());
  }

  in(port: number, _size: number): number {
    if (port === 0x70) return 0xff; // the index register is write-only
    return this.readRegister(this.index);
  }

  out(port: number, _size: number, value: number): void {
    value &= 0xff;
    if (port === 0x70) {
      this.index = value & 0x7f;
      this.nmiDisabledBit = (value & 0x80) !== 0;
      return;
    }
    this.writeRegister(this.index, value);
  }

  readRegister(reg: number): number {
    const now = this.clock.instructions();
    switch (reg) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        if (!(this.ram[REG_B] & B_SET)) this.renderTime(this.secondsAt(now));
        return this.ram[reg];
      case REG_A:
        return (this.ram[REG_A] & 0x7f) | (this.updateInProgress(now) ? A_UIP : 0);
      case REG_C: {
        this.accumulateFlags(now);
        const c = this.ram[REG_C];
        this.ram[REG_C] = 0; // reading C acknowledges everything
        this.setIrq(false);
        return c;
      }
      case REG_D:
        return 0x80;
      default:
        return this.ram[reg];
    }
  }

  writeRegister(reg: number, value: number): void {
    const now = this.clock.instructions();
    switch (reg) {
      case SECONDS:
      case MINUTES:
      case HOURS:
      case DAY_OF_WEEK:
      case DAY_OF_MONTH:
      case MONTH:
      case YEAR:
      case CENTURY:
        if (!(this.ram[REG_B] & B_SET)) this.renderTime(this.secondsAt(now));
        this.ram[reg] = value;
        // While SET is held the guest is still writing; the clock restarts when SET drops.
        if (!(this.ram[REG_B] & B_SET)) this.restartFromRegisters(now);
        return;
      case REG_A:
        this.accumulateFlags(now);
        this.ram[REG_A] = value & 0x7f;
        break;
      case REG_B: {
        this.accumulateFlags(now);
        const old = this.ram[REG_B];
        if (!(old & B_SET) && value & B_SET) this.renderTime(this.secondsAt(now)); // freeze what shows
        // Setting SET clears UIE (datasheet).
        this.ram[REG_B] = value & B_SET ? value & ~B_UIE : value;
        if (old & B_SET && !(value & B_SET)) this.restartFromRegisters(now);
        else if (!(value & B_SET) && (old ^ value) & (B_BINARY | B_24H)) this.renderTime(this.secondsAt(now));
        break;
      }
      case REG_C:
      case REG_D:
        return; // read-only
      default:
        this.ram[reg] = value;
        return;
    }
    this.updateIrq();
    this.reschedule();
  }

  // ---- TimedDevice ----

  nextDeadline(): number {
    return this.deadline;
  }

  poll(): void {
    this.accumulateFlags(this.clock.instructions());
    this.updateIrq();
    this.reschedule();
  }

  /**
   * Recompute the next instruction count at which an enabled event happens. Stored rather than
   * derived on demand, so that at the deadline itself it still reads as due.
   */
  private reschedule(): void {
    const now = this.clock.instructions();
    const b = this.ram[REG_B];
    let next = Infinity;
    if (b & B_PIE) next = Math.min(next, this.nextPeriodicEdge(now));
    if (b & (B_UIE | B_AIE) && !(b & B_SET)) next = Math.min(next, this.nextSecondEdge(now));
    this.deadline = next;
    this.scheduler?.reschedule();
  }

  // ---- time keeping ----

  private secondsAt(now: number): number {
    return this.baseSeconds + Math.floor((now - this.baseInstr) / INSTRUCTIONS_PER_SECOND);
  }

  private updateInProgress(now: number): boolean {
    if (this.ram[REG_B] & B_SET) return false;
    const phase = mod(now - this.baseInstr, INSTRUCTIONS_PER_SECOND);
    return phase >= INSTRUCTIONS_PER_SECOND - UIP_INSTRUCTIONS;
  }

  private nextSecondEdge(now: number): number {
    return this.baseInstr + (Math.floor((now - this.baseInstr) / INSTRUCTIONS_PER_SECOND) + 1) * INSTRUCTIONS_PER_SECOND;
  }

  /** Periodic interrupt rate from register A's RS bits, in Hz; 0 when off. */
  private periodicHz(): number {
    const rs = this.ram[REG_A] & 0x0f;
    if (rs === 0) return 0;
    if (rs <= 2) return 256 >> (rs - 1); // RS 1 and 2 alias 256 Hz and 128 Hz at 32.768 kHz
    return 32768 >> (rs - 1);
  }

  /** Periodic ticks are counted from instruction 0, so their phase does not depend on history. */
  private periodicIndex(now: number, hz: number): number {
    return Math.floor((now * hz) / INSTRUCTIONS_PER_SECOND);
  }

  private nextPeriodicEdge(now: number): number {
    const hz = this.periodicHz();
    if (hz === 0) return Infinity;
    return Math.ceil(((this.periodicIndex(now, hz) + 1) * INSTRUCTIONS_PER_SECOND) / hz);
  }

  /** Set register C's flags for every event between the last accumulation and `now`. */
  private accumulateFlags(now: number): void {
    const from = this.flagsAt;
    if (now <= from) return;
    this.flagsAt = now;
    let c = this.ram[REG_C];
    const hz = this.periodicHz();
    if (hz !== 0 && this.periodicIndex(now, hz) > this.periodicIndex(from, hz)) c |= C_PF;
    if (!(this.ram[REG_B] & B_SET)) {
      const s0 = this.secondsAt(from);
      const s1 = this.secondsAt(now);
      if (s1 > s0) {
        c |= C_UF;
        // Check each new second against the alarm; a day covers every pattern.
        for (let s = s0 + 1; s <= Math.min(s1, s0 + 86400); s++) {
          if (this.alarmMatches(s)) {
            c |= C_AF;
            break;
          }
        }
      }
    }
    this.ram[REG_C] = c;
  }

  private alarmMatches(seconds: number): boolean {
    const d = new Date(seconds * 1000);
    const match = (alarmReg: number, value: number, isHour: boolean): boolean => {
      const alarm = this.ram[alarmReg];
      if ((alarm & 0xc0) === 0xc0) return true; // "don't care"
      return (isHour ? this.decodeHour(alarm) : this.decode(alarm)) === value;
    };
    return (
      match(SECONDS_ALARM, d.getUTCSeconds(), false) &&
      match(MINUTES_ALARM, d.getUTCMinutes(), false) &&
      match(HOURS_ALARM, d.getUTCHours(), true)
    );
  }

  private updateIrq(): void {
    let c = this.ram[REG_C] & ~C_IRQF;
    const b = this.ram[REG_B];
    if ((c & C_PF && b & B_PIE) || (c & C_AF && b & B_AIE) || (c & C_UF && b & B_UIE)) c |= C_IRQF;
    this.ram[REG_C] = c;
    this.setIrq((c & C_IRQF) !== 0);
  }

  private setIrq(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq(level);
  }

  /** Write the time registers for `seconds` in the format register B selects. */
  private renderTime(seconds: number): void {
    const d = new Date(seconds * 1000);
    const h = d.getUTCHours();
    this.ram[SECONDS] = this.encode(d.getUTCSeconds());
    this.ram[MINUTES] = this.encode(d.getUTCMinutes());
    if (this.ram[REG_B] & B_24H) {
      this.ram[HOURS] = this.encode(h);
    } else {
      const h12 = h % 12 === 0 ? 12 : h % 12;
      this.ram[HOURS] = this.encode(h12) | (h >= 12 ? 0x80 : 0);
    }
    this.ram[DAY_OF_WEEK] = this.encode(d.getUTCDay() + 1); // 1 = Sunday
    this.ram[DAY_OF_MONTH] = this.encode(d.getUTCDate());
    this.ram[MONTH] = this.encode(d.getUTCMonth() + 1);
    this.ram[YEAR] = this.encode(d.getUTCFullYear() % 100);
    this.ram[CENTURY] = this.encode(Math.floor(d.getUTCFullYear() / 100));
  }

  /** The guest set the clock: continue from the registers, starting a new second now. */
  private restartFromRegisters(now: number): void {
    const year = this.decode(this.ram[CENTURY]) * 100 + this.decode(this.ram[YEAR]);
    const seconds =
      Date.UTC(
        year,
        this.decode(this.ram[MONTH]) - 1,
        this.decode(this.ram[DAY_OF_MONTH]),
        this.decodeHour(this.ram[HOURS]),
        this.decode(this.ram[MINUTES]),
        this.decode(this.ram[SECONDS]),
      ) / 1000;
    this.accumulateFlags(now);
    this.baseSeconds = Number.isFinite(seconds) ? seconds : this.baseSeconds;
    this.baseInstr = now;
    this.renderTime(this.baseSeconds);
    this.reschedule();
  }

  private encode(value: number): number {
    return this.ram[REG_B] & B_BINARY ? value : ((Math.floor(value / 10) % 10) << 4) | value % 10;
  }

  private decode(value: number): number {
    return this.ram[REG_B] & B_BINARY ? value : (value >> 4) * 10 + (value & 0x0f);
  }

  private decodeHour(value: number): number {
    if (this.ram[REG_B] & B_24H) return this.decode(value & 0x7f);
    const h12 = this.decode(value & 0x7f) % 12;
    return value & 0x80 ? h12 + 12 : h12;
  }

  private fillMemorySize(ramSize: number, cpus: number): void {
    const setWord = (reg: number, value: number): void => {
      this.ram[reg] = value & 0xff;
      this.ram[reg + 1] = (value >> 8) & 0xff;
    };
    setWord(0x15, 640);
    const extendedKiB = Math.min(0xffff, Math.max(0, ramSize / 1024 - 1024));
    setWord(0x17, extendedKiB);
    setWord(0x30, extendedKiB);
    const below4g = Math.min(ramSize, PCI_HOLE_START);
    const above16m = below4g > 16 * MIB ? Math.min(0xffff, Math.floor((below4g - 16 * MIB) / 65536)) : 0;
    setWord(0x34, above16m);
    const above4g = Math.floor((ramSize - below4g) / 65536);
    this.ram[0x5b] = above4g & 0xff;
    this.ram[0x5c] = (above4g >> 8) & 0xff;
    this.ram[0x5d] = (above4g >> 16) & 0xff;
    this.ram[0x5f] = Math.max(0, cpus - 1);
    this.ram[0x14] = 0x02; // equipment byte: math coprocessor present, EGA/VGA display, no floppy
    let sum = 0;
    for (let i = 0x10; i <= 0x2d; i++) sum += this.ram[i];
    this.ram[0x2e] = (sum >> 8) & 0xff;
    this.ram[0x2f] = sum & 0xff;
  }
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
