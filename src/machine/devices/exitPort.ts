/**
 * QEMU's isa-debug-exit device, placed at 0xF4 as test harnesses configure it: writing v ends the run
 * with exit status (v << 1) | 1. The odd status is QEMU's way of keeping "the guest asked to exit"
 * apart from QEMU's own status 0, and CI scripts written for QEMU compare against it, so we keep it.
 * The value is taken at the width of the write (outb, outw or outl).
 */
import type { PortDevice, PortRegistry } from '../portBus';

export interface ExitPortOptions {
  onExit: (status: number) => void;
  /** Default 0xF4. */
  port?: number;
}

export class ExitPort implements PortDevice {
  readonly accessSizes = 1 | 2 | 4;
  readonly port: number;
  private readonly onExit: (status: number) => void;

  constructor(options: ExitPortOptions) {
    this.port = options.port ?? 0xf4;
    this.onExit = options.onExit;
  }

  attach(bus: PortRegistry): void {
    bus.register(this.port, 1, this);
  }

  in(_port: number, size: number): number {
    return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffff_ffff;
  }

  out(_port: number, _size: number, value: number): void {
    // Arithmetic, not <<, so a 32-bit value does not wrap negative.
    this.onExit((value >>> 0) * 2 + 1);
  }
}
