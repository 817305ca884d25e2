/**
 * The 64 KiB I/O-port space. Dispatch is one table load: a 65536-entry table holds, for each port,
 * the index of the device that claimed it (0 = nobody), because port I/O sits in firmware hot loops
 * (POST codes, UART polling, PIT delays).
 */
import type { PortBus as PortBusContract } from '../cpu/interfaces';

/** Access sizes a device accepts whole, as a bit mask of 1, 2 and 4. */
export const BYTE = 1;
export const WORD = 2;
export const DWORD = 4;

/** A device on the port bus. `port` is the absolute port number; size is 1, 2 or 4. */
export interface PortDevice {
  in(port: number, size: number): number;
  out(port: number, size: number, value: number): void;
  /**
   * Sizes the device wants whole (mask of BYTE | WORD | DWORD); default BYTE. Any other access is
   * split into byte accesses, each going to whichever device owns that port, as an ISA bus does
   * for an 8-bit device.
   */
  readonly accessSizes?: number;
}

/** What devices use to claim their ports (so they can describe their own ranges). */
export interface PortRegistry {
  register(port: number, count: number, device: PortDevice): void;
}

const ALL_ONES = [0, 0xff, 0xffff, 0, 0xffff_ffff];

export class PortBus implements PortBusContract, PortRegistry {
  private readonly owner = new Uint16Array(0x10000);
  private readonly devices: PortDevice[] = [];
  private readonly sizes: number[] = [];

  /** Claim ports [port, port + count). Overlaps are wiring bugs, so they throw. */
  register(port: number, count: number, device: PortDevice): void {
    if (port < 0 || count <= 0 || port + count > 0x10000)
      throw new RangeError(`bad port range 0x${port.toString(16)}+${count}`);
    for (let p = port; p < port + count; p++) {
      if (this.owner[p] !== 0) throw new RangeError(`port 0x${p.toString(16)} is already claimed`);
    }
    let index = this.devices.indexOf(device);
    if (index < 0) {
      index = this.devices.length;
      this.devices.push(device);
      this.sizes.push(device.accessSizes ?? BYTE);
    }
    this.owner.fill(index + 1, port, port + count);
  }

  /** True when some device claimed the port (for diagnostics and tests). */
  isClaimed(port: number): boolean {
    return this.owner[port & 0xffff] !== 0;
  }

  in(port: number, size: number): number {
    port &= 0xffff;
    const id = this.owner[port];
    if (id === 0) {
      if (size === 1) return 0xff;
    } else if ((this.sizes[id - 1] & size) !== 0) {
      return this.devices[id - 1].in(port, size) >>> 0;
    } else if (size === 1) {
      // A device with no byte access still answers: give it the byte it asked for.
      return this.devices[id - 1].in(port, 1) & 0xff;
    }
    // Lowest port first, as the bus cycles would run (matters for registers with read side effects).
    let value = 0;
    for (let i = 0; i < size; i++) value += this.in((port + i) & 0xffff, 1) * 2 ** (8 * i);
    return value;
  }

  out(port: number, size: number, value: number): void {
    port &= 0xffff;
    const id = this.owner[port];
    if (id !== 0 && ((this.sizes[id - 1] & size) !== 0 || size === 1)) {
      this.devices[id - 1].out(port, size, size === 4 ? value >>> 0 : value & ALL_ONES[size]);
      return;
    }
    if (size === 1) return;
    for (let i = 0; i < size; i++) this.out((port + i) & 0xffff, 1, (value >>> (8 * i)) & 0xff);
  }
}
