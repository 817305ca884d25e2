/**
 * PCI configuration mechanism #1 with an empty bus: 0xCF8 holds the CONFIG_ADDRESS latch (a dword
 * register, read back as written, which is how firmware and OSes probe for mechanism #1), and every
 * configuration read through 0xCFC-0xCFF returns all ones, meaning "no device at this address".
 * Configuration writes are dropped.
 *
 * Only dword accesses to 0xCF8 reach CONFIG_ADDRESS; byte and word accesses to 0xCF8-0xCFB are
 * ordinary I/O. Of those, 0xCF9 is the PIIX/ICH reset control register: writing it with bit 2 set
 * resets the machine (bit 1 asks for a hard reset; there is no difference here). Other bytes read
 * all ones.
 */
import type { PortDevice, PortRegistry } from '../portBus';

export interface PciConfigOptions {
  /** Called for a reset through 0xCF9. */
  onReset?: () => void;
}

const CONFIG_ADDRESS = 0xcf8;
const RESET_CONTROL = 0xcf9;

export class PciConfigSpace implements PortDevice {
  readonly accessSizes = 1 | 2 | 4;
  private address = 0;
  private resetControl = 0;
  private readonly onReset?: () => void;

  constructor(options: PciConfigOptions = {}) {
    this.onReset = options.onReset;
  }

  attach(bus: PortRegistry): void {
    bus.register(CONFIG_ADDRESS, 8, this);
  }

  /** The CONFIG_ADDRESS latch (bit 31 enable, bus 23:16, device 15:11, function 10:8, register 7:2). */
  get configAddress(): number {
    return this.address;
  }

  in(port: number, size: number): number {
    if (port === CONFIG_ADDRESS && size === 4) return this.address;
    if (port === RESET_CONTROL && size === 1) return this.resetControl;
    // Configuration data (any width) or a non-dword access to the address window: nothing there.
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
  }

  out(port: number, size: number, value: number): void {
    if (port === CONFIG_ADDRESS && size === 4) {
      this.address = value >>> 0;
      return;
    }
    if (port === RESET_CONTROL && size === 1) {
      this.resetControl = value & 0x0a; // bit 2 is the reset strobe itself, not state
      if (value & 0x04) this.onReset?.();
      return;
    }
    // Anything else is a configuration write to a device that does not exist.
  }
}
