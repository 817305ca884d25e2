/**
 * The Bochs/QEMU debug console at port 0xE9: every byte written is console output, with no setup and
 * no status polling, which is why early firmware prints here. Reading the port returns 0xE9 so the
 * guest can detect the device, as Bochs and QEMU answer.
 */
import type { PortDevice, PortRegistry } from '../portBus';

export interface DebugConOptions {
  /** Receives each byte as the guest writes it (one byte per call). */
  onOutput?: (bytes: Uint8Array) => void;
  /** Default 0xE9. */
  port?: number;
}

export class DebugCon implements PortDevice {
  readonly port: number;
  private readonly onOutput: (bytes: Uint8Array) => void;

  constructor(options: DebugConOptions = {}) {
    this.port = options.port ?? 0xe9;
    this.onOutput = options.onOutput ?? (() => {});
  }

  attach(bus: PortRegistry): void {
    bus.register(this.port, 1, this);
  }

  in(_port: number, _size: number): number {
    return 0xe9;
  }

  out(_port: number, _size: number, value: number): void {
    this.onOutput(Uint8Array.of(value & 0xff));
  }
}
