/**
 * A 16550A UART (COM1 at 0x3F8, IRQ4 by default). The transmitter is infinitely fast: a byte written
 * to THR leaves at once through `onOutput`, so LSR always reports THRE and TEMT and firmware never
 * waits. The receiver holds whatever the host pushed with `pushInput`.
 *
 * Deliberate simplifications, with why:
 * - No baud-rate timing: output pacing would only slow a debugger down; the divisor latch is still
 *   stored and read back because firmware verifies it to detect the chip.
 * - The receive interrupt fires as soon as one byte waits, whatever the FIFO trigger level; with an
 *   instant line that is what the character-timeout interrupt would do a few bit times later anyway.
 * - The IRQ is not gated by MCR.OUT2 (QEMU behaves the same way); firmware that forgets OUT2 still
 *   gets its interrupts.
 */
import type { PortDevice, PortRegistry } from '../portBus';
import { type IrqLine, NO_IRQ } from './irqLine';

export interface Uart16550Options {
  /** Base port; default 0x3F8 (COM1). */
  base?: number;
  /** The interrupt wire (IRQ4 for COM1). */
  irq?: IrqLine;
  /** Receives every transmitted byte as soon as the guest writes it (one byte per call). */
  onOutput?: (bytes: Uint8Array) => void;
}

// Register offsets.
const RBR_THR = 0;
const IER = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

// IER bits.
const IER_RDA = 0x01;
const IER_THRE = 0x02;
const IER_RLS = 0x04;
const IER_MS = 0x08;

// IIR values.
const IIR_NONE = 0x01;
const IIR_MS = 0x00;
const IIR_THRE = 0x02;
const IIR_RDA = 0x04;
const IIR_RLS = 0x06;
const IIR_FIFO_ENABLED = 0xc0;

const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;

// LSR bits.
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI_FE_PE = 0x1c;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;

// MSR bits: delta bits in the low nibble, line states in the high nibble.
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_DCD = 0x80;

/** Bound on queued input so a runaway host cannot exhaust memory; excess bytes set overrun. */
const MAX_INPUT = 1 << 20;

export class Uart16550 implements PortDevice {
  readonly base: number;
  private readonly irq: IrqLine;
  private readonly onOutput: (bytes: Uint8Array) => void;

  private ier = 0;
  private lcr = 0x03; // 8N1, as after reset on PC firmware expectations
  private mcr = 0;
  private lsrErrors = 0;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS; // a connected, ready peer
  private scr = 0;
  private dll = 0x0c; // 9600 baud
  private dlm = 0;
  private fifoEnabled = false;
  /** THRE interrupt latched: set when THR empties, cleared by reading IIR (when it says THRE) or writing THR. */
  private threPending = false;
  private readonly rx: number[] = [];
  private rxHead = 0;
  private irqLevel = false;

  constructor(options: Uart16550Options = {}) {
    this.base = options.base ?? 0x3f8;
    this.irq = options.irq ?? NO_IRQ;
    this.onOutput = options.onOutput ?? (() => {});
  }

  attach(bus: PortRegistry): void {
    bus.register(this.base, 8, this);
  }

  /** Queue bytes for the guest to read; a string is sent as UTF-8. */
  pushInput(data: Uint8Array | string): void {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    for (const b of bytes) this.receive(b);
    this.update();
  }

  /** Bytes waiting in the receiver. */
  get inputPending(): number {
    return this.rx.length - this.rxHead;
  }

  in(port: number, _size: number): number {
    switch (port - this.base) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) return this.dll;
        return this.readRbr();
      case IER:
        return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case IIR_FCR: {
        const iir = this.computeIir();
        // Reading IIR acknowledges a THRE interrupt, and only when IIR is reporting it.
        if (iir === IIR_THRE) {
          this.threPending = false;
          this.update();
        }
        return iir | (this.fifoEnabled ? IIR_FIFO_ENABLED : 0);
      }
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR: {
        const lsr = (this.inputPending > 0 ? LSR_DR : 0) | this.lsrErrors | LSR_THRE | LSR_TEMT;
        this.lsrErrors = 0; // error bits clear on read
        this.update();
        return lsr;
      }
      case MSR: {
        const msr = this.msr;
        this.msr &= 0xf0; // delta bits clear on read
        this.update();
        return msr;
      }
      case SCR:
        return this.scr;
    }
    return 0xff;
  }

  out(port: number, _size: number, value: number): void {
    value &= 0xff;
    switch (port - this.base) {
      case RBR_THR:
        if (this.lcr & LCR_DLAB) {
          this.dll = value;
          return;
        }
        this.transmit(value);
        break;
      case IER:
        if (this.lcr & LCR_DLAB) {
          this.dlm = value;
          return;
        }
        // Enabling THRE interrupts while THR is empty raises one right away (8250 behaviour
        // drivers rely on to kick off transmission).
        if (value & IER_THRE && !(this.ier & IER_THRE)) this.threPending = true;
        this.ier = value & 0x0f;
        break;
      case IIR_FCR:
        this.fifoEnabled = (value & 0x01) !== 0;
        if (value & 0x02 || !this.fifoEnabled) this.clearRx();
        break;
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        this.setMcr(value & 0x1f);
        break;
      case LSR:
        return; // read-only (factory test mode is not modelled)
      case MSR:
        return;
      case SCR:
        this.scr = value;
        return;
    }
    this.update();
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) this.receive(byte);
    else this.onOutput(Uint8Array.of(byte));
    // The byte left at once, so THR is empty again.
    this.threPending = true;
  }

  private receive(byte: number): void {
    if (this.inputPending >= MAX_INPUT) {
      this.lsrErrors |= LSR_OE;
      return;
    }
    this.rx.push(byte);
  }

  private readRbr(): number {
    if (this.inputPending === 0) return 0;
    const byte = this.rx[this.rxHead++];
    if (this.rxHead === this.rx.length) this.clearRx();
    else if (this.rxHead > 4096) {
      this.rx.splice(0, this.rxHead);
      this.rxHead = 0;
    }
    this.update();
    return byte;
  }

  private clearRx(): void {
    this.rx.length = 0;
    this.rxHead = 0;
  }

  private setMcr(value: number): void {
    const old = this.mcr;
    this.mcr = value;
    if (!(value & MCR_LOOP)) {
      if (old & MCR_LOOP) this.setModemInputs(MSR_DCD | MSR_DSR | MSR_CTS);
      return;
    }
    // Loopback wires the modem outputs back to the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    const inputs =
      (value & 0x02 ? 0x10 : 0) | (value & 0x01 ? 0x20 : 0) | (value & 0x04 ? 0x40 : 0) | (value & 0x08 ? 0x80 : 0);
    this.setModemInputs(inputs);
  }

  private setModemInputs(inputs: number): void {
    const old = this.msr & 0xf0;
    const changed = old ^ inputs;
    let delta = this.msr & 0x0f;
    if (changed & 0x10) delta |= 0x01; // DCTS
    if (changed & 0x20) delta |= 0x02; // DDSR
    if (old & 0x40 && !(inputs & 0x40)) delta |= 0x04; // TERI: trailing edge of RI only
    if (changed & 0x80) delta |= 0x08; // DDCD
    this.msr = inputs | delta;
  }

  /** Highest-priority pending interrupt, as IIR bits 3:0. */
  private computeIir(): number {
    if (this.ier & IER_RLS && this.lsrErrors & (LSR_OE | LSR_BI_FE_PE)) return IIR_RLS;
    if (this.ier & IER_RDA && this.inputPending > 0) return IIR_RDA;
    if (this.ier & IER_THRE && this.threPending) return IIR_THRE;
    if (this.ier & IER_MS && this.msr & 0x0f) return IIR_MS;
    return IIR_NONE;
  }

  private update(): void {
    const level = this.computeIir() !== IIR_NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }
}
