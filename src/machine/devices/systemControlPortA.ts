/**
 * Port 0x92, "system control port A" (PS/2 fast A20 and reset): bit 1 gates A20, writing bit 0 as 1
 * resets the machine. The other bits are stored and read back, as firmware does read-modify-write on
 * this port.
 */
import type { PortDevice, PortRegistry } from '../portBus';
import type { A20Gate } from './a20Gate';

export interface SystemControlPortAOptions {
  a20: A20Gate;
  /** A warm reset was requested (the machine resets the CPU). */
  onReset?: () => void;
}

export class SystemControlPortA implements PortDevice {
  private readonly a20: A20Gate;
  private readonly onReset?: () => void;
  private other = 0;

  constructor(options: SystemControlPortAOptions) {
    this.a20 = options.a20;
    this.onReset = options.onReset;
  }

  attach(bus: PortRegistry): void {
    bus.register(0x92, 1, this);
  }

  in(_port: number, _size: number): number {
    // Bit 0 reads 0: the reset pulse is not latched.
    return (this.other & 0xfc) | (this.a20.enabled ? 0x02 : 0);
  }

  out(_port: number, _size: number, value: number): void {
    this.other = value & 0xfc;
    this.a20.set((value & 0x02) !== 0);
    if (value & 0x01) this.onReset?.();
  }
}
