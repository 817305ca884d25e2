/**
 * The PC interrupt fabric between devices and the CPU's INTR pin, as one InterruptController.
 *
 *   devices --setIrq(n)--> 8259 pair ----INTR----> LAPIC LINT0 (ExtINT) --> CPU
 *                    \---> I/O APIC --messages--> LAPIC IRR --------------> CPU
 *   chipset NMI ---------> LAPIC LINT1 (or straight to the CPU with the APIC off)
 *
 * The 8259's output reaches the CPU when the local APIC is hardware-disabled (IA32_APIC_BASE[11] = 0,
 * the PIC then drives INTR directly) or when LINT0 is programmed ExtINT and unmasked (virtual wire
 * mode, the reset state of the BSP). Fixed interrupts in the local APIC are offered first, the PIC
 * second, as QEMU and KVM do.
 *
 * The CPU polls hasInterrupt() only after `onChange` fired (wired to the CPU's "interrupt line
 * changed" hook), so nothing is paid per instruction while the lines are quiet.
 */
import type { InterruptController } from '../cpu/interfaces';
import type { ApicMessage, IoApic } from './devices/ioApic';
import { DELIVERY_FIXED, DELIVERY_LOWEST, DELIVERY_NMI, LVT_LINT1, type LocalApic } from './devices/localApic';
import type { DualPic } from './devices/pic8259';

export interface InterruptRouterOptions {
  pic: DualPic;
  /** Omit for a machine without a local APIC (the PIC drives INTR). */
  lapic?: LocalApic;
  ioapic?: IoApic;
  /** Something changed that may change hasInterrupt(): the CPU should re-poll. */
  onChange?: () => void;
  /** An NMI reaches the CPU. */
  onNmi?: () => void;
  /** NMI mask outside the CPU (CMOS port 0x70 bit 7); return false to drop chipset NMIs. */
  nmiEnabled?: () => boolean;
}

/** Number of I/O APIC inputs reachable through setIrq (ISA 0-15 plus PCI 16-23). */
export const IRQ_LINES = 24;

/**
 * The I/O APIC input for ISA IRQ `irq`: identity, except that the PIT's IRQ0 arrives on pin 2 (the
 * interrupt source override every PC's MADT declares) and the cascade IRQ2 has no pin.
 */
export function isaIrqToGsi(irq: number): number {
  if (irq === 0) return 2;
  if (irq === 2) return -1;
  return irq;
}

export class InterruptRouter implements InterruptController {
  readonly pic: DualPic;
  readonly lapic?: LocalApic;
  readonly ioapic?: IoApic;
  onChange?: () => void;
  onNmi?: () => void;
  private readonly nmiEnabled: () => boolean;

  constructor(options: InterruptRouterOptions) {
    this.pic = options.pic;
    this.lapic = options.lapic;
    this.ioapic = options.ioapic;
    this.onChange = options.onChange;
    this.onNmi = options.onNmi;
    this.nmiEnabled = options.nmiEnabled ?? (() => true);
    this.pic.onOutputChange = () => this.changed();
    if (this.lapic) {
      this.lapic.onChange = () => this.changed();
      this.lapic.onNmi = () => this.onNmi?.();
      const ioapic = this.ioapic;
      if (ioapic) this.lapic.onEoi = (vector) => ioapic.eoi(vector);
    }
    if (this.ioapic) this.ioapic.sink = (message) => this.deliverMessage(message);
  }

  /**
   * Drive an interrupt line. ISA lines 0-15 go to both the 8259 pair and the I/O APIC (a PC wires
   * them to both; the OS masks the one it does not use); lines 16-23 exist only on the I/O APIC.
   */
  setIrq(line: number, level: boolean): void {
    if (line < 16) {
      this.pic.setIrq(line, level);
      const gsi = isaIrqToGsi(line);
      if (gsi >= 0) this.ioapic?.setIrq(gsi, level);
    } else {
      this.ioapic?.setIrq(line, level);
    }
  }

  /** A chipset NMI (e.g. from a debugger's "inject NMI"). */
  nmi(): void {
    if (!this.nmiEnabled()) return;
    if (this.lapic && this.lapic.hardwareEnabled) this.lapic.deliverLocal(LVT_LINT1);
    else this.onNmi?.();
  }

  /** The 8259's INTR currently reaches the CPU. */
  picRouted(): boolean {
    return !this.lapic || this.lapic.acceptsPicInterrupts();
  }

  hasInterrupt(): boolean {
    if (this.lapic && this.lapic.hasInterrupt()) return true;
    return this.picRouted() && this.pic.hasInterrupt();
  }

  acknowledge(): number {
    if (this.lapic && this.lapic.hasInterrupt()) return this.lapic.acknowledge();
    // With nothing pending any more, each controller answers its own spurious vector.
    if (this.picRouted()) return this.pic.acknowledge();
    return this.lapic ? this.lapic.acknowledge() : this.pic.acknowledge();
  }

  private deliverMessage(message: ApicMessage): void {
    const lapic = this.lapic;
    if (!lapic) return;
    // 0xFF is a broadcast from an 8-bit destination field in either APIC mode.
    if (message.destination !== 0xff && !lapic.matchesDestination(message.destination, message.logical)) return;
    switch (message.deliveryMode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST:
        lapic.accept(message.vector, message.level);
        return;
      case DELIVERY_NMI:
        this.onNmi?.();
        return;
      default:
        // SMI, INIT and ExtINT through the I/O APIC are not used by firmware on this machine.
        return;
    }
  }

  private changed(): void {
    this.onChange?.();
  }
}
