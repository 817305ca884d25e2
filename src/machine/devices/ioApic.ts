/**
 * An 82093AA-style I/O APIC at 0xFEC00000 with 24 redirection entries (version 0x11). Software
 * selects a register through IOREGSEL (offset 0x00) and accesses it through IOWIN (offset 0x10).
 * Registers: 0x00 ID, 0x01 version, 0x02 arbitration ID, 0x10-0x3F the redirection table (two
 * 32-bit halves per entry).
 *
 * Each unmasked input becomes an interrupt message handed to `sink` (the router passes it to the
 * local APIC). Edge-triggered inputs send one message per rising edge; edges on a masked input are
 * ignored (as the datasheet says). Level-triggered inputs send a message while asserted and set
 * Remote IRR until the local APIC's EOI for that vector comes back through `eoi()`; if the line is
 * still asserted then, the message is sent again. Delivery is instant, so delivery status reads idle.
 * Inputs are the logical "asserted" state; the polarity bit is stored but not applied, because the
 * devices here already report assertion.
 */
import type { MmioHandler, MmioMapping } from '../physicalMemory';

export const DEFAULT_IOAPIC_BASE = 0xfec0_0000;
export const IOAPIC_PINS = 24;
const VERSION = 0x0011 | ((IOAPIC_PINS - 1) << 16);

const IOREGSEL = 0x00;
const IOWIN = 0x10;

const REDIR_MASKED = 0x1_0000;
const REDIR_LEVEL = 0x8000;
const REDIR_REMOTE_IRR = 0x4000;
/** Writable bits of the low half: vector, delivery mode, destination mode, polarity, trigger, mask. */
const REDIR_LOW_WRITABLE = 0x1_afff;

/** One interrupt message on the APIC bus. */
export interface ApicMessage {
  vector: number;
  /** Delivery mode (0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT). */
  deliveryMode: number;
  /** Logical destination mode. */
  logical: boolean;
  /** Destination field (8 bits from the I/O APIC). */
  destination: number;
  /** Level-triggered (the local APIC forwards its EOI back). */
  level: boolean;
}

export interface IoApicOptions {
  base?: number;
  /** APIC ID of the I/O APIC (bits 27:24 of register 0); default 0, as QEMU's MADT declares. */
  id?: number;
  /** Receives the messages; the router sets this. */
  sink?: (message: ApicMessage) => void;
}

export class IoApic implements MmioHandler {
  readonly base: number;
  sink?: (message: ApicMessage) => void;
  private id: number;
  private select = 0;
  private readonly low = new Uint32Array(IOAPIC_PINS);
  private readonly high = new Uint32Array(IOAPIC_PINS);
  private asserted = 0;

  constructor(options: IoApicOptions = {}) {
    this.base = options.base ?? DEFAULT_IOAPIC_BASE;
    this.id = (options.id ?? 0) & 0xf;
    this.sink = options.sink;
    this.reset();
  }

  reset(): void {
    this.select = 0;
    this.low.fill(REDIR_MASKED);
    this.high.fill(0);
  }

  attach(memory: { mapMmio(base: number, length: number, handler: MmioHandler): MmioMapping }): MmioMapping {
    return memory.mapMmio(this.base, 0x1000, this);
  }

  /** Drive input pin 0-23 (a GSI). */
  setIrq(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const bit = 1 << pin;
    const was = (this.asserted & bit) !== 0;
    if (level) this.asserted |= bit;
    else this.asserted &= ~bit;
    const entry = this.low[pin];
    if (entry & REDIR_LEVEL) {
      if (level) this.serviceLevel(pin);
    } else if (level && !was && !(entry & REDIR_MASKED)) {
      this.send(pin);
    }
  }

  /** The local APIC's EOI for a level-triggered vector. */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const entry = this.low[pin];
      if ((entry & 0xff) !== vector || !(entry & REDIR_REMOTE_IRR)) continue;
      this.low[pin] = entry & ~REDIR_REMOTE_IRR;
      this.serviceLevel(pin);
    }
  }

  /** A redirection entry as a 64-bit value (for tests and a debugger view). */
  entry(pin: number): bigint {
    return (BigInt(this.high[pin]) << 32n) | BigInt(this.low[pin]);
  }

  read(offset: number, size: number): number {
    let value: number;
    if (offset === IOREGSEL) value = this.select;
    else if (offset === IOWIN) value = this.readRegister(this.select);
    else value = 0;
    return size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
  }

  write(offset: number, size: number, value: number): void {
    if (offset === IOREGSEL) {
      this.select = value & 0xff;
    } else if (offset === IOWIN && size === 4) {
      this.writeRegister(this.select, value >>> 0);
    }
  }

  private readRegister(reg: number): number {
    switch (reg) {
      case 0x00:
        return this.id << 24;
      case 0x01:
        return VERSION;
      case 0x02:
        return this.id << 24;
    }
    if (reg >= 0x10 && reg < 0x10 + 2 * IOAPIC_PINS) {
      const pin = (reg - 0x10) >> 1;
      return reg & 1 ? this.high[pin] : this.low[pin];
    }
    return 0;
  }

  private writeRegister(reg: number, value: number): void {
    if (reg === 0x00) {
      this.id = (value >>> 24) & 0xf;
      return;
    }
    if (reg < 0x10 || reg >= 0x10 + 2 * IOAPIC_PINS) return;
    const pin = (reg - 0x10) >> 1;
    if (reg & 1) {
      this.high[pin] = value & 0xff00_0000;
      return;
    }
    let entry = (this.low[pin] & ~REDIR_LOW_WRITABLE) | (value & REDIR_LOW_WRITABLE);
    // Remote IRR only means something for level-triggered entries.
    if (!(entry & REDIR_LEVEL)) entry &= ~REDIR_REMOTE_IRR;
    this.low[pin] = entry >>> 0;
    // Unmasking (or switching to level) an asserted level-triggered input delivers it now.
    if (entry & REDIR_LEVEL && this.asserted & (1 << pin)) this.serviceLevel(pin);
  }

  private serviceLevel(pin: number): void {
    const entry = this.low[pin];
    if (entry & (REDIR_MASKED | REDIR_REMOTE_IRR)) return;
    if (!(this.asserted & (1 << pin))) return;
    this.low[pin] = entry | REDIR_REMOTE_IRR;
    this.send(pin);
  }

  private send(pin: number): void {
    const low = this.low[pin];
    this.sink?.({
      vector: low & 0xff,
      deliveryMode: (low >> 8) & 7,
      logical: (low & 0x800) !== 0,
      destination: this.high[pin] >>> 24,
      level: (low & REDIR_LEVEL) !== 0,
    });
  }
}
