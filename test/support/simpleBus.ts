import type { PhysicalBus, PortBus } from '../../src/cpu/interfaces';

/** A flat RAM-only bus for CPU unit tests: no devices, unmapped reads return all ones. */
export class SimpleBus implements PhysicalBus {
  readonly backing: Uint8Array;
  constructor(bytes = 32 << 20) {
    this.backing = new Uint8Array(bytes);
  }
  hostOffset(phys: number): number {
    return phys >= 0 && phys < this.backing.length ? phys - (phys % 4096) : -1;
  }
  isReadOnly(): boolean {
    return false;
  }
  readSlow(_phys: number, size: number): number {
    return size === 1 ? 0xFF : size === 2 ? 0xFFFF : 0xFFFFFFFF;
  }
  writeSlow(): void {}
}

/** Records port writes; reads return a programmable value (default all ones). */
export class RecordingPorts implements PortBus {
  readonly writes: { port: number; size: number; value: number }[] = [];
  readonly inputs = new Map<number, number>();
  in(port: number, size: number): number {
    return this.inputs.get(port) ?? (size === 1 ? 0xFF : size === 2 ? 0xFFFF : 0xFFFFFFFF);
  }
  out(port: number, size: number, value: number): void {
    this.writes.push({ port, size, value });
  }
}
