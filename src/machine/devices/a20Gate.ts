/**
 * The A20 gate, shared by its two controls on a PC: port 0x92 bit 1 (fast A20) and the 8042's output
 * port bit 1. Both read back the same state. The machine connects `onChange` to
 * PhysicalMemory.setA20, which masks address bit 20 while the gate is off.
 */
export class A20Gate {
  private state: boolean;
  onChange?: (enabled: boolean) => void;

  /** PCs come out of reset with A20 enabled in QEMU and most modern chipsets; default true. */
  constructor(enabled = true) {
    this.state = enabled;
  }

  get enabled(): boolean {
    return this.state;
  }

  set(enabled: boolean): void {
    if (enabled === this.state) return;
    this.state = enabled;
    this.onChange?.(enabled);
  }
}
