/**
 * The contracts between the CPU and the platform around it. The CPU never imports from `machine/`;
 * the machine hands it objects implementing these.
 */

/** Physical memory as the CPU sees it: RAM and ROM on the fast path, everything else through MMIO. */
export interface PhysicalBus {
  /**
   * The backing store for directly addressable pages (RAM, then ROM). `hostOffset` maps a physical
   * page to an offset in `backing`, or -1 when the page is MMIO or unmapped.
   */
  readonly backing: Uint8Array;
  /** Offset in `backing` of the 4 KiB physical page containing `phys`, or -1 (MMIO / unmapped). */
  hostOffset(phys: number): number;
  /** True when the page is ROM: reads are direct, writes are dropped. */
  isReadOnly(phys: number): boolean;
  /** Slow-path access for MMIO or unmapped addresses. size is 1, 2 or 4. */
  readSlow(phys: number, size: number): number;
  writeSlow(phys: number, size: number, value: number): void;
}

/** The I/O-port space. size is 1, 2 or 4; values are unsigned. Unclaimed ports read all ones. */
export interface PortBus {
  in(port: number, size: number): number;
  out(port: number, size: number, value: number): void;
}

/**
 * The interrupt controller(s) seen from the CPU's INTR pin (PIC or local APIC). The CPU polls
 * `hasInterrupt()` only when the machine has told it, through `Cpu.raiseIntrLine()`, that something
 * changed, so the hot loop pays nothing while the line is idle.
 */
export interface InterruptController {
  /** True when a maskable interrupt is waiting to be acknowledged. */
  hasInterrupt(): boolean;
  /** The INTA cycle: returns the vector and moves the interrupt to in-service. */
  acknowledge(): number;
}

/**
 * MSRs owned by the platform rather than the core (x2APIC registers 0x800-0x8FF, IA32_APIC_BASE).
 * `rdmsr` returns undefined for an index it does not own; `wrmsr` returns false to request #GP.
 */
export interface MsrHandler {
  rdmsr(index: number): bigint | undefined;
  wrmsr(index: number, value: bigint): boolean;
  owns(index: number): boolean;
}
