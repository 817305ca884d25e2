/**
 * The PC's two cascaded 8259A programmable interrupt controllers: the master at 0x20/0x21 serves
 * IRQ0-7, the slave at 0xA0/0xA1 serves IRQ8-15 and signals through the master's IR2. The ELCR pair
 * at 0x4D0/0x4D1 (from the PIIX/ICH chipsets) selects level-triggered inputs per line.
 *
 * Modelled: the ICW1-ICW4 initialisation sequence, OCW1 (mask), OCW2 (non-specific, specific and
 * rotating EOIs, set priority, rotate in auto-EOI), OCW3 (read IRR/ISR, poll, special mask mode),
 * auto-EOI, rotating priority, edge and level triggering, and the spurious IRQ7/IRQ15 answers to an
 * INTA that finds nothing pending. Not modelled: buffered mode and 8080/8085 mode (no PC uses them).
 */
import type { PortDevice, PortRegistry } from '../portBus';

/** One 8259A. */
export class Pic8259Chip {
  irr = 0;
  isr = 0;
  imr = 0;
  /** Current input levels, for edge detection. */
  private levels = 0;
  /** ELCR: 1 bits are level-triggered lines. */
  elcr = 0;
  /** Bits of ELCR the chipset lets software set (IRQ0-2, 8 and 13 are always edge on a PC). */
  readonly elcrMask: number;
  vectorBase = 0;
  icw3 = 0;
  /** Line with the highest priority; rotation moves it. */
  private priorityBase = 0;
  private initStep = 0; // 0 = operating; 2, 3, 4 = waiting for that ICW
  private needIcw4 = false;
  private single = false;
  private levelTriggeredAll = false; // ICW1.LTIM
  autoEoi = false;
  private rotateOnAutoEoi = false;
  private specialFullyNested = false;
  private readIsr = false;
  private specialMask = false;
  private pollPending = false;

  constructor(
    readonly isMaster: boolean,
    elcrMask: number,
  ) {
    this.elcrMask = elcrMask;
  }

  /** Drive input line `irq` (0-7). */
  setInput(irq: number, level: boolean): void {
    const bit = 1 << irq;
    if (this.isLevelTriggered(irq)) {
      if (level) {
        this.levels |= bit;
        this.irr |= bit;
      } else {
        this.levels &= ~bit;
        this.irr &= ~bit;
      }
      return;
    }
    if (level) {
      if (!(this.levels & bit)) this.irr |= bit; // rising edge latches the request
      this.levels |= bit;
    } else {
      // A falling edge does not withdraw a latched request (QEMU and Bochs agree); the
      // datasheet's spurious-IRQ7 case for a withdrawn request is not worth modelling.
      this.levels &= ~bit;
    }
  }

  /** The line the chip would present to the CPU now, or -1. */
  pendingIrq(): number {
    const requests = this.irr & ~this.imr;
    const prio = this.priorityOf(requests);
    if (prio === 8) return -1;
    let inService = this.isr;
    // In special mask mode a masked in-service line does not block lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    // In special fully nested mode the master lets further slave requests through while one is in service.
    if (this.specialFullyNested && this.isMaster) inService &= ~(1 << 2);
    return prio < this.priorityOf(inService) ? (prio + this.priorityBase) & 7 : -1;
  }

  /** The INTA cycle for a line `pendingIrq()` returned. */
  acknowledge(irq: number): void {
    const bit = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityBase = (irq + 1) & 7;
    } else {
      this.isr |= bit;
    }
    // A level-triggered request stays while the line is high; an edge request is consumed.
    if (!this.isLevelTriggered(irq)) this.irr &= ~bit;
  }

  readCommand(): number {
    if (this.pollPending) return this.poll();
    return this.readIsr ? this.isr : this.irr;
  }

  readData(): number {
    if (this.pollPending) return this.poll();
    return this.imr;
  }

  writeCommand(value: number): void {
    if (value & 0x10) {
      this.icw1(value);
    } else if (value & 0x08) {
      this.ocw3(value);
    } else {
      this.ocw2(value);
    }
  }

  writeData(value: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = value & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = value;
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.autoEoi = (value & 0x02) !== 0;
        this.specialFullyNested = (value & 0x10) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = value; // OCW1
    }
  }

  writeElcr(value: number): void {
    this.elcr = value & this.elcrMask;
    // Lines now level-triggered request service exactly while they are high.
    for (let irq = 0; irq < 8; irq++) {
      const bit = 1 << irq;
      if (this.isLevelTriggered(irq)) this.irr = this.levels & bit ? this.irr | bit : this.irr & ~bit;
    }
  }

  private icw1(value: number): void {
    // ICW1 resets the chip's operating state; the edge detectors keep their levels, so a line
    // that is already high must go low and high again before it requests service (datasheet).
    this.needIcw4 = (value & 0x01) !== 0;
    this.single = (value & 0x02) !== 0;
    this.levelTriggeredAll = (value & 0x08) !== 0;
    this.initStep = 2;
    this.imr = 0;
    this.isr = 0;
    this.irr = (this.levelTriggeredAll ? 0xff : this.elcr) & this.levels; // edge latches are cleared
    this.priorityBase = 0;
    this.readIsr = false;
    this.specialMask = false;
    this.pollPending = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
  }

  private ocw2(value: number): void {
    const level = value & 7;
    switch (value >> 5) {
      case 0: // rotate in auto-EOI mode: clear
        this.rotateOnAutoEoi = false;
        break;
      case 4: // rotate in auto-EOI mode: set
        this.rotateOnAutoEoi = true;
        break;
      case 1: // non-specific EOI
      case 5: {
        // rotate on non-specific EOI
        const prio = this.priorityOf(this.isr);
        if (prio === 8) break;
        const irq = (prio + this.priorityBase) & 7;
        this.isr &= ~(1 << irq);
        if (value >> 5 === 5) this.priorityBase = (irq + 1) & 7;
        break;
      }
      case 3: // specific EOI
        this.isr &= ~(1 << level);
        break;
      case 7: // rotate on specific EOI
        this.isr &= ~(1 << level);
        this.priorityBase = (level + 1) & 7;
        break;
      case 6: // set priority: `level` becomes the lowest
        this.priorityBase = (level + 1) & 7;
        break;
      default: // 2: no operation
        break;
    }
  }

  private ocw3(value: number): void {
    if (value & 0x04) this.pollPending = true;
    if (value & 0x02) this.readIsr = (value & 0x01) !== 0;
    if (value & 0x40) this.specialMask = (value & 0x20) !== 0;
  }

  /** Poll command: the next read acknowledges the highest request and returns 0x80 | line. */
  private poll(): number {
    this.pollPending = false;
    const irq = this.pendingIrq();
    if (irq < 0) return 0;
    this.acknowledge(irq);
    return 0x80 | irq;
  }

  /** Priority (0 = highest) of the best bit in `mask`, counting from the rotating base; 8 if none. */
  private priorityOf(mask: number): number {
    if ((mask & 0xff) === 0) return 8;
    let prio = 0;
    while (!(mask & (1 << ((prio + this.priorityBase) & 7)))) prio++;
    return prio;
  }

  private isLevelTriggered(irq: number): boolean {
    return this.levelTriggeredAll || (this.elcr & (1 << irq)) !== 0;
  }
}

const CASCADE_IRQ = 2;

/** The master/slave pair as one port device and one interrupt source. */
export class DualPic implements PortDevice {
  readonly master = new Pic8259Chip(true, 0xf8);
  readonly slave = new Pic8259Chip(false, 0xde);
  /** Called when the INTR output changes level (the router forwards it to the CPU). */
  onOutputChange?: () => void;
  private output = false;

  attach(bus: PortRegistry): void {
    bus.register(0x20, 2, this);
    bus.register(0xa0, 2, this);
    bus.register(0x4d0, 2, this);
  }

  /** Drive ISA IRQ line 0-15. */
  setIrq(line: number, level: boolean): void {
    if (line < 8) this.master.setInput(line, level);
    else this.slave.setInput(line - 8, level);
    this.update();
  }

  /** True when the master's INTR output is asserted. */
  hasInterrupt(): boolean {
    return this.master.pendingIrq() >= 0;
  }

  /**
   * The INTA sequence: the vector of the highest-priority request, now in service. With nothing to
   * deliver (the request went away), the master answers IRQ7 and the slave IRQ15 without setting
   * their in-service bits, which is how an OS recognises a spurious interrupt.
   */
  acknowledge(): number {
    const irq = this.master.pendingIrq();
    let vector: number;
    if (irq < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.acknowledge(irq);
      if (irq === CASCADE_IRQ) {
        const slaveIrq = this.slave.pendingIrq();
        if (slaveIrq >= 0) {
          this.slave.acknowledge(slaveIrq);
          vector = this.slave.vectorBase + slaveIrq;
        } else {
          vector = this.slave.vectorBase + 7; // the master's IR2 stays in service: the OS EOIs it
        }
        // The slave's INT drops during INTA; drop IR2 so a request still pending behind this one
        // produces a fresh edge on the master.
        this.master.setInput(CASCADE_IRQ, false);
      } else {
        vector = this.master.vectorBase + irq;
      }
    }
    this.update();
    return vector;
  }

  in(port: number, _size: number): number {
    let value: number;
    switch (port) {
      case 0x20:
        value = this.master.readCommand();
        break;
      case 0x21:
        value = this.master.readData();
        break;
      case 0xa0:
        value = this.slave.readCommand();
        break;
      case 0xa1:
        value = this.slave.readData();
        break;
      case 0x4d0:
        return this.master.elcr;
      case 0x4d1:
        return this.slave.elcr;
      default:
        return 0xff;
    }
    this.update(); // a poll read acknowledges
    return value;
  }

  out(port: number, _size: number, value: number): void {
    value &= 0xff;
    switch (port) {
      case 0x20:
        this.master.writeCommand(value);
        break;
      case 0x21:
        this.master.writeData(value);
        break;
      case 0xa0:
        this.slave.writeCommand(value);
        break;
      case 0xa1:
        this.slave.writeData(value);
        break;
      case 0x4d0:
        this.master.writeElcr(value);
        break;
      case 0x4d1:
        this.slave.writeElcr(value);
        break;
    }
    this.update();
  }

  /** Feed the slave's output into the master's IR2 and report the master's output level. */
  private update(): void {
    this.master.setInput(CASCADE_IRQ, this.slave.pendingIrq() >= 0);
    const output = this.master.pendingIrq() >= 0;
    if (output !== this.output) {
      this.output = output;
      this.onOutputChange?.();
    }
  }
}
