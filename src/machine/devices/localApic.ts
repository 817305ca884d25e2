/**
 * The local APIC of the (single) CPU: xAPIC registers through a 4 KiB MMIO window (0xFEE00000 after
 * reset, relocatable through IA32_APIC_BASE) and x2APIC registers through MSRs 0x800-0x8FF. It also
 * owns IA32_APIC_BASE (MSR 0x1B), so the CPU forwards those MSRs here (MsrHandler).
 *
 * Modelled: ID, version 0x00050014 (six LVT entries: timer, thermal, performance, LINT0, LINT1,
 * error; no CMCI, no EOI-broadcast suppression), TPR/PPR, EOI, LDR/DFR, the spurious-vector register
 * with software enable, ISR/TMR/IRR, ESR, the ICR (with one CPU only the local processor can be a
 * destination: fixed, lowest-priority and NMI IPIs to self are delivered; INIT, SIPI and SMI are
 * accepted and dropped; delivery status always reads idle), the timer (one-shot and periodic, divide
 * configuration, initial and current count) and x2APIC mode with SELF IPI.
 *
 * The timer counts one per INSTRUCTIONS_PER_APIC_TICK x divisor instructions (clock.ts), so it is
 * deterministic. TSC-deadline mode is not offered (timer mode 2 behaves as one-shot); the CPU must
 * not advertise it in CPUID.
 *
 * Reset state follows KVM/QEMU for the bootstrap processor: LINT0 is ExtINT and unmasked, so the
 * 8259 PIC reaches the CPU through the APIC before firmware touches it (the "virtual wire" that real
 * firmware sets up during POST).
 */
import { type Clock, INSTRUCTIONS_PER_APIC_TICK, type Rescheduler, type TimedDevice } from '../clock';
import type { MsrHandler } from '../../cpu/interfaces';
import type { MmioHandler, MmioMapping } from '../physicalMemory';

export const IA32_APIC_BASE = 0x1b;
export const X2APIC_MSR_FIRST = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;
export const DEFAULT_APIC_BASE = 0xfee0_0000;
export const APIC_MMIO_SIZE = 0x1000;

const APIC_BASE_BSP = 0x100;
const APIC_BASE_EXTD = 0x400;
const APIC_BASE_EN = 0x800;

/** Version register: version 0x14 (integrated APIC), max LVT entry 5. */
const VERSION = 0x0005_0014;

// Register numbers: MMIO offset >> 4, and x2APIC MSR index - 0x800.
const REG_ID = 0x02;
const REG_VERSION = 0x03;
const REG_TPR = 0x08;
const REG_APR = 0x09;
const REG_PPR = 0x0a;
const REG_EOI = 0x0b;
const REG_RRD = 0x0c;
const REG_LDR = 0x0d;
const REG_DFR = 0x0e;
const REG_SVR = 0x0f;
const REG_ISR = 0x10;
const REG_TMR = 0x18;
const REG_IRR = 0x20;
const REG_ESR = 0x28;
const REG_ICR_LOW = 0x30;
const REG_ICR_HIGH = 0x31;
const REG_LVT_TIMER = 0x32;
const REG_LVT_ERROR = 0x37;
const REG_TIMER_INITIAL = 0x38;
const REG_TIMER_CURRENT = 0x39;
const REG_TIMER_DIVIDE = 0x3e;
const REG_SELF_IPI = 0x3f;

/** LVT slots, in register order from 0x320. */
export const LVT_TIMER = 0;
export const LVT_THERMAL = 1;
export const LVT_PERF = 2;
export const LVT_LINT0 = 3;
export const LVT_LINT1 = 4;
export const LVT_ERROR = 5;
const LVT_COUNT = 6;
/** Bits software can write in each LVT entry (delivery status and remote IRR are read-only). */
const LVT_WRITABLE = [0x0007_00ff, 0x0001_07ff, 0x0001_07ff, 0x0001_a7ff, 0x0001_a7ff, 0x0001_00ff];

const LVT_MASKED = 0x1_0000;
const SVR_ENABLE = 0x100;

export const DELIVERY_FIXED = 0;
export const DELIVERY_LOWEST = 1;
export const DELIVERY_SMI = 2;
export const DELIVERY_NMI = 4;
export const DELIVERY_INIT = 5;
export const DELIVERY_STARTUP = 6;
export const DELIVERY_EXTINT = 7;

// ESR bits.
const ESR_SEND_ILLEGAL_VECTOR = 0x20;
const ESR_RECEIVE_ILLEGAL_VECTOR = 0x40;
const ESR_ILLEGAL_REGISTER = 0x80;

export interface LocalApicOptions {
  clock: Clock;
  scheduler?: Rescheduler;
  /** Initial APIC ID (also the x2APIC ID); default 0. */
  apicId?: number;
  /** Bootstrap processor; default true. */
  bsp?: boolean;
  /** MAXPHYADDR, for IA32_APIC_BASE's reserved bits; must match CPUID 0x80000008. Default 39. */
  physAddrBits?: number;
  /**
   * Where to map the xAPIC window. Given this, the APIC maps itself and follows IA32_APIC_BASE
   * (moves with the base, disappears when disabled or in x2APIC mode).
   */
  memory?: { mapMmio(base: number, length: number, handler: MmioHandler): MmioMapping };
}

export class LocalApic implements MsrHandler, MmioHandler, TimedDevice {
  private readonly clock: Clock;
  private readonly scheduler?: Rescheduler;
  private readonly memory?: LocalApicOptions['memory'];
  private mapping?: MmioMapping;
  readonly initialId: number;
  private readonly isBsp: boolean;
  private readonly physAddrBits: number;

  /** hasInterrupt() may have changed: the router forwards this to the CPU. */
  onChange?: () => void;
  /** EOI of a level-triggered vector (its TMR bit was set): the I/O APIC clears remote IRR. */
  onEoi?: (vector: number) => void;
  /** An NMI was delivered (LVT entry or IPI with NMI delivery mode). */
  onNmi?: () => void;

  private baseAddress = DEFAULT_APIC_BASE;
  private baseFlags = APIC_BASE_EN; // EN, EXTD and BSP bits of IA32_APIC_BASE
  private id = 0;
  private tpr = 0;
  private ldr = 0;
  private dfr = 0xffff_ffff;
  private svr = 0xff;
  private esr = 0;
  private pendingEsr = 0;
  private icrLow = 0;
  private icrHigh = 0;
  readonly lvt = new Uint32Array(LVT_COUNT);
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);

  // Timer: expirations happen at timerStart + (firstCount + (k-1) * initialCount) * countInstructions.
  private initialCount = 0;
  private divideConfig = 0;
  private timerStart = 0;
  private firstCount = 0;
  private expirations = 0; // delivered so far since timerStart
  private timerRunning = false;

  constructor(options: LocalApicOptions) {
    this.clock = options.clock;
    this.scheduler = options.scheduler;
    this.memory = options.memory;
    this.initialId = options.apicId ?? 0;
    this.isBsp = options.bsp ?? true;
    this.physAddrBits = options.physAddrBits ?? 39;
    this.reset();
  }

  /** Power-up / RESET state (INIT keeps IA32_APIC_BASE; the machine calls this for a full reset). */
  reset(): void {
    this.baseAddress = DEFAULT_APIC_BASE;
    this.baseFlags = APIC_BASE_EN | (this.isBsp ? APIC_BASE_BSP : 0);
    this.resetRegisters();
    this.remap();
    this.changed();
  }

  private resetRegisters(): void {
    this.id = this.initialId & 0xff;
    this.tpr = 0;
    this.ldr = 0;
    this.dfr = 0xffff_ffff;
    this.svr = 0xff;
    this.esr = 0;
    this.pendingEsr = 0;
    this.icrLow = 0;
    this.icrHigh = 0;
    this.lvt.fill(LVT_MASKED);
    if (this.isBsp) this.lvt[LVT_LINT0] = DELIVERY_EXTINT << 8;
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.initialCount = 0;
    this.divideConfig = 0;
    this.timerRunning = false;
    this.scheduler?.reschedule();
  }

  // ---- mode ----

  /** IA32_APIC_BASE[11]: the APIC is present on the bus at all. */
  get hardwareEnabled(): boolean {
    return (this.baseFlags & APIC_BASE_EN) !== 0;
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  get x2apicMode(): boolean {
    return (this.baseFlags & APIC_BASE_EXTD) !== 0;
  }

  /** Physical base of the xAPIC window. */
  get base(): number {
    return this.baseAddress;
  }

  /** The APIC ID as software sees it (x2APIC: 32 bits; xAPIC: 8 bits). */
  get apicId(): number {
    return this.x2apicMode ? this.initialId : this.id;
  }

  /** True when LINT0 passes the 8259's INTR through as ExtINT (or the APIC is off entirely). */
  acceptsPicInterrupts(): boolean {
    if (!this.hardwareEnabled) return true;
    const lint0 = this.lvt[LVT_LINT0];
    return !(lint0 & LVT_MASKED) && ((lint0 >> 8) & 7) === DELIVERY_EXTINT;
  }

  // ---- the CPU's side ----

  /** A fixed interrupt whose priority class beats PPR is waiting. */
  hasInterrupt(): boolean {
    if (!this.hardwareEnabled || !this.softwareEnabled) return false;
    const v = highestBit(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0);
  }

  /** INTA: the highest eligible IRR vector moves to ISR; with none eligible, the spurious vector. */
  acknowledge(): number {
    if (!this.hasInterrupt()) return this.svr & 0xff;
    const v = highestBit(this.irr);
    clearBit(this.irr, v);
    setBit(this.isr, v);
    this.changed();
    return v;
  }

  /**
   * An interrupt message arrives (I/O APIC, IPI, local LVT). `level` marks it level-triggered, so
   * its EOI is forwarded to the I/O APIC.
   */
  accept(vector: number, level = false): void {
    if (!this.hardwareEnabled) return;
    vector &= 0xff;
    if (vector < 16) {
      this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    setBit(this.irr, vector);
    if (level) setBit(this.tmr, vector);
    else clearBit(this.tmr, vector);
    this.changed();
  }

  /** Deliver through an LVT entry (LINT0/LINT1 pins, timer, error). */
  deliverLocal(slot: number): void {
    if (!this.hardwareEnabled) return;
    const entry = this.lvt[slot];
    if (entry & LVT_MASKED) return;
    // The timer and error entries have no delivery-mode field: always fixed.
    const mode = slot === LVT_TIMER || slot === LVT_ERROR ? DELIVERY_FIXED : (entry >> 8) & 7;
    switch (mode) {
      case DELIVERY_FIXED:
        this.accept(entry & 0xff, (slot === LVT_LINT0 || slot === LVT_LINT1) && (entry & 0x8000) !== 0);
        return;
      case DELIVERY_NMI:
        this.onNmi?.();
        return;
      default:
        // ExtINT is handled by the router (it fetches the vector from the 8259); SMI and INIT have
        // nowhere to go in this machine.
        return;
    }
  }

  /** Whether a destination field selects this APIC (for the I/O APIC and for IPIs). */
  matchesDestination(dest: number, logical: boolean): boolean {
    if (this.x2apicMode) {
      if (dest === 0xffff_ffff) return true;
      if (!logical) return dest === this.initialId;
      return dest >>> 16 === this.ldr >>> 16 && (dest & this.ldr & 0xffff) !== 0;
    }
    dest &= 0xff;
    if (dest === 0xff) return true;
    if (!logical) return dest === this.id;
    const logicalId = this.ldr >>> 24;
    if (this.dfr >>> 28 === 0xf) return (logicalId & dest) !== 0; // flat model
    return dest >> 4 === logicalId >> 4 && (dest & logicalId & 0xf) !== 0; // cluster model
  }

  // ---- MsrHandler ----

  owns(index: number): boolean {
    return index === IA32_APIC_BASE || (index >= X2APIC_MSR_FIRST && index <= X2APIC_MSR_LAST);
  }

  rdmsr(index: number): bigint | undefined {
    if (index === IA32_APIC_BASE) return BigInt(this.baseAddress) | BigInt(this.baseFlags);
    if (index < X2APIC_MSR_FIRST || index > X2APIC_MSR_LAST) return undefined;
    if (!this.x2apicMode) return undefined; // #GP: x2APIC MSRs exist only in x2APIC mode
    const reg = index - X2APIC_MSR_FIRST;
    if (reg === REG_ICR_LOW) return (BigInt(this.icrHigh) << 32n) | BigInt(this.icrLow);
    const value = this.readRegister(reg, true);
    return value === undefined ? undefined : BigInt(value >>> 0);
  }

  wrmsr(index: number, value: bigint): boolean {
    if (index === IA32_APIC_BASE) return this.writeApicBase(value);
    if (index < X2APIC_MSR_FIRST || index > X2APIC_MSR_LAST) return false;
    if (!this.x2apicMode) return false;
    const reg = index - X2APIC_MSR_FIRST;
    const v = BigInt.asUintN(64, value);
    if (reg === REG_ICR_LOW) {
      this.icrHigh = Number(v >> 32n);
      this.icrLow = Number(v & 0xffff_ffffn) & 0xc_cfff;
      this.sendIpi();
      return true;
    }
    if (v >> 32n !== 0n) return false; // only the ICR is 64 bits wide
    return this.writeRegister(reg, Number(v), true);
  }

  private writeApicBase(value: bigint): boolean {
    const v = BigInt.asUintN(64, value);
    const reserved = (~0n << BigInt(this.physAddrBits)) | 0x2ffn;
    if (v & BigInt.asUintN(64, reserved)) return false;
    const flags = Number(v & 0xfffn) & (APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP);
    const en = (flags & APIC_BASE_EN) !== 0;
    const extd = (flags & APIC_BASE_EXTD) !== 0;
    if (extd && !en) return false; // invalid state
    if (this.x2apicMode && en && !extd) return false; // x2APIC -> xAPIC must go through disabled
    const wasEnabled = this.hardwareEnabled;
    const wasX2 = this.x2apicMode;
    this.baseAddress = Number(v & ~0xfffn);
    this.baseFlags = flags;
    if (wasEnabled && !en) {
      // Global disable: the APIC behaves as software-disabled, and starts clean when re-enabled.
      this.resetRegisters();
    }
    if (!wasX2 && extd) {
      // Entering x2APIC mode: the ID is the x2APIC ID and LDR is derived from it (read-only).
      this.ldr = (((this.initialId >>> 4) & 0xffff) << 16) | (1 << (this.initialId & 0xf));
    }
    if (wasX2 && !extd) this.id = this.initialId & 0xff;
    this.remap();
    this.changed();
    return true;
  }

  private remap(): void {
    if (!this.memory) return;
    const want = this.hardwareEnabled && !this.x2apicMode;
    if (this.mapping && (!want || this.mapping.base !== this.baseAddress)) {
      this.mapping.unmap();
      this.mapping = undefined;
    }
    if (want && !this.mapping) this.mapping = this.memory.mapMmio(this.baseAddress, APIC_MMIO_SIZE, this);
  }

  // ---- MmioHandler (xAPIC) ----

  read(offset: number, size: number): number {
    // Registers are 32 bits at 16-byte strides; the other 12 bytes of each slot read as 0.
    const within = offset & 0xf;
    const value = within < 4 ? (this.readRegister(offset >> 4, false) ?? 0) >>> (8 * within) : 0;
    return size === 4 ? value >>> 0 : value & (size === 2 ? 0xffff : 0xff);
  }

  write(offset: number, size: number, value: number): void {
    // Only aligned 32-bit writes reach a register (narrower writes are undefined; dropped here).
    if (size !== 4 || (offset & 0xf) !== 0) return;
    this.writeRegister(offset >> 4, value >>> 0, false);
  }

  // ---- registers ----

  /** A register read; undefined means the register does not exist in this mode (#GP in x2APIC). */
  private readRegister(reg: number, x2: boolean): number | undefined {
    switch (reg) {
      case REG_ID:
        return x2 ? this.initialId : this.id << 24;
      case REG_VERSION:
        return VERSION;
      case REG_TPR:
        return this.tpr;
      case REG_APR:
        return x2 ? undefined : this.apr();
      case REG_PPR:
        return this.ppr();
      case REG_EOI:
        return x2 ? undefined : 0; // write-only
      case REG_RRD:
        return x2 ? undefined : 0;
      case REG_LDR:
        return this.ldr;
      case REG_DFR:
        return x2 ? undefined : this.dfr;
      case REG_SVR:
        return this.svr;
      case REG_ESR:
        return this.esr;
      case REG_ICR_LOW:
        return this.icrLow; // delivery status (bit 12) is always idle
      case REG_ICR_HIGH:
        return x2 ? undefined : this.icrHigh;
      case REG_TIMER_INITIAL:
        return this.initialCount;
      case REG_TIMER_CURRENT:
        return this.currentCount(this.clock.instructions());
      case REG_TIMER_DIVIDE:
        return this.divideConfig;
      case REG_SELF_IPI:
        return undefined; // write-only, x2APIC only
    }
    if (reg >= REG_ISR && reg < REG_ISR + 8) return this.isr[reg - REG_ISR];
    if (reg >= REG_TMR && reg < REG_TMR + 8) return this.tmr[reg - REG_TMR];
    if (reg >= REG_IRR && reg < REG_IRR + 8) return this.irr[reg - REG_IRR];
    if (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR) return this.lvt[reg - REG_LVT_TIMER];
    if (!x2) this.raiseError(ESR_ILLEGAL_REGISTER);
    return undefined;
  }

  /** A register write; false means #GP (x2APIC only: xAPIC MMIO writes never fault). */
  private writeRegister(reg: number, value: number, x2: boolean): boolean {
    switch (reg) {
      case REG_ID:
        if (x2) return false; // read-only in x2APIC mode
        this.id = value >>> 24;
        return true;
      case REG_TPR:
        this.tpr = value & 0xff;
        this.changed();
        return true;
      case REG_EOI:
        if (x2 && value !== 0) return false;
        this.eoi();
        return true;
      case REG_LDR:
        if (x2) return false;
        this.ldr = value & 0xff00_0000;
        return true;
      case REG_DFR:
        if (x2) return false;
        this.dfr = (value | 0x0fff_ffff) >>> 0;
        return true;
      case REG_SVR:
        this.writeSvr(value);
        return true;
      case REG_ESR:
        if (x2 && value !== 0) return false;
        // A write latches the errors collected since the previous write (SDM 11.5.3).
        this.esr = this.pendingEsr;
        this.pendingEsr = 0;
        return true;
      case REG_ICR_LOW:
        this.icrLow = value & 0xc_cfff;
        this.sendIpi();
        return true;
      case REG_ICR_HIGH:
        if (x2) return false;
        this.icrHigh = value & 0xff00_0000;
        return true;
      case REG_TIMER_INITIAL:
        this.startTimer(value >>> 0);
        return true;
      case REG_TIMER_DIVIDE:
        this.setDivide(value & 0xb);
        return true;
      case REG_SELF_IPI:
        if (!x2 || value & ~0xff) return false;
        this.accept(value & 0xff);
        return true;
    }
    if (reg >= REG_LVT_TIMER && reg <= REG_LVT_ERROR) {
      this.writeLvt(reg - REG_LVT_TIMER, value);
      return true;
    }
    if (x2) return false; // read-only or nonexistent
    // xAPIC: writes to read-only registers are ignored; nonexistent ones are an illegal address.
    const readOnly =
      reg === REG_VERSION ||
      reg === REG_APR ||
      reg === REG_PPR ||
      reg === REG_RRD ||
      reg === REG_TIMER_CURRENT ||
      (reg >= REG_ISR && reg < REG_IRR + 8);
    if (!readOnly) this.raiseError(ESR_ILLEGAL_REGISTER);
    return true;
  }

  private writeSvr(value: number): void {
    const wasEnabled = this.softwareEnabled;
    this.svr = value & 0x1ff;
    if (wasEnabled && !this.softwareEnabled) {
      // Software disable masks every LVT entry (SDM 11.4.7.2).
      for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] |= LVT_MASKED;
    }
    this.changed();
    this.scheduler?.reschedule();
  }

  private writeLvt(slot: number, value: number): void {
    const now = this.clock.instructions();
    const countBefore = slot === LVT_TIMER ? this.currentCount(now) : 0;
    let entry = (this.lvt[slot] & ~LVT_WRITABLE[slot]) | (value & LVT_WRITABLE[slot]);
    // While software-disabled the mask bits stay set.
    if (!this.softwareEnabled) entry |= LVT_MASKED;
    if (slot === LVT_TIMER && ((entry >> 17) & 3) === 3) entry &= ~(3 << 17); // reserved mode
    const modeChanged = slot === LVT_TIMER && ((this.lvt[slot] ^ entry) & (3 << 17)) !== 0;
    this.lvt[slot] = entry >>> 0;
    if (modeChanged && this.timerRunning && countBefore > 0) {
      // One-shot <-> periodic while counting: the current countdown continues under the new mode.
      this.timerStart = now;
      this.firstCount = countBefore;
      this.expirations = 0;
    }
    if (slot === LVT_TIMER) this.scheduler?.reschedule();
    this.changed(); // LINT0 may have switched the PIC path
  }

  /** ISRV: the highest in-service vector. */
  private ppr(): number {
    const isrv = Math.max(0, highestBit(this.isr));
    return (this.tpr & 0xf0) >= (isrv & 0xf0) ? this.tpr : isrv & 0xf0;
  }

  private apr(): number {
    const irrv = Math.max(0, highestBit(this.irr));
    const isrv = Math.max(0, highestBit(this.isr));
    const tprClass = this.tpr & 0xf0;
    if (tprClass >= (irrv & 0xf0) && tprClass >= (isrv & 0xf0)) return this.tpr;
    return Math.max(irrv, isrv) & 0xf0;
  }

  private eoi(): void {
    const v = highestBit(this.isr);
    if (v < 0) return;
    clearBit(this.isr, v);
    if (testBit(this.tmr, v)) this.onEoi?.(v);
    this.changed();
  }

  private raiseError(bits: number): void {
    const fresh = (this.pendingEsr & bits) !== bits;
    this.pendingEsr |= bits;
    if (fresh) this.deliverLocal(LVT_ERROR);
  }

  private sendIpi(): void {
    const vector = this.icrLow & 0xff;
    const mode = (this.icrLow >> 8) & 7;
    const logical = (this.icrLow & 0x800) !== 0;
    const shorthand = (this.icrLow >> 18) & 3;
    const dest = this.x2apicMode ? this.icrHigh >>> 0 : this.icrHigh >>> 24;
    let toSelf: boolean;
    switch (shorthand) {
      case 1: // self
      case 2: // all including self
        toSelf = true;
        break;
      case 3: // all excluding self: there is nobody else
        toSelf = false;
        break;
      default:
        toSelf = this.matchesDestination(dest, logical);
    }
    if ((mode === DELIVERY_FIXED || mode === DELIVERY_LOWEST) && vector < 16) {
      this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    if (!toSelf) return;
    switch (mode) {
      case DELIVERY_FIXED:
      case DELIVERY_LOWEST:
        this.accept(vector, false);
        return;
      case DELIVERY_NMI:
        this.onNmi?.();
        return;
      default:
        // INIT, STARTUP and SMI to the only CPU are accepted and have no effect: there are no APs
        // to start, and a self-INIT is not a reset path firmware uses.
        return;
    }
  }

  // ---- timer ----

  /** Instructions per timer count at the current divide configuration. */
  private countInstructions(): number {
    const code = ((this.divideConfig & 8) >> 1) | (this.divideConfig & 3);
    const divisor = code === 7 ? 1 : 2 << code;
    return divisor * INSTRUCTIONS_PER_APIC_TICK;
  }

  private periodic(): boolean {
    return ((this.lvt[LVT_TIMER] >> 17) & 3) === 1;
  }

  private startTimer(count: number): void {
    this.initialCount = count;
    this.timerStart = this.clock.instructions();
    this.firstCount = count;
    this.expirations = 0;
    this.timerRunning = count !== 0;
    this.scheduler?.reschedule();
  }

  private setDivide(value: number): void {
    // Keep the count where it is and continue at the new rate.
    const now = this.clock.instructions();
    const current = this.currentCount(now);
    this.divideConfig = value;
    if (this.timerRunning && current > 0) {
      this.timerStart = now;
      this.firstCount = current;
      this.expirations = 0;
    }
    this.scheduler?.reschedule();
  }

  private currentCount(now: number): number {
    if (!this.timerRunning) return 0;
    const counted = Math.floor((now - this.timerStart) / this.countInstructions());
    if (counted < this.firstCount) return this.firstCount - counted;
    if (!this.periodic()) return 0;
    return this.initialCount - ((counted - this.firstCount) % this.initialCount);
  }

  /** Instruction count of expiration k (1-based) since timerStart. */
  private expirationTime(k: number): number {
    return this.timerStart + (this.firstCount + (k - 1) * this.initialCount) * this.countInstructions();
  }

  nextDeadline(): number {
    if (!this.timerRunning) return Infinity;
    if (!this.periodic() && this.expirations >= 1) return Infinity;
    return this.expirationTime(this.expirations + 1);
  }

  poll(): void {
    const now = this.clock.instructions();
    const due = this.nextDeadline();
    if (due > now) return;
    if (this.periodic()) {
      // Expirations missed while the CPU overran the deadline collapse into one interrupt, as
      // they would in IRR anyway.
      const period = this.initialCount * this.countInstructions();
      const sinceFirst = now - this.expirationTime(1);
      this.expirations = 1 + Math.floor(sinceFirst / period);
    } else {
      this.expirations = 1;
      this.timerRunning = false; // one-shot is over; the current count reads 0
    }
    this.deliverLocal(LVT_TIMER);
  }

  private changed(): void {
    this.onChange?.();
  }
}

function highestBit(words: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = words[i];
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

function setBit(words: Uint32Array, bit: number): void {
  words[bit >> 5] |= 1 << (bit & 31);
}

function clearBit(words: Uint32Array, bit: number): void {
  words[bit >> 5] &= ~(1 << (bit & 31));
}

function testBit(words: Uint32Array, bit: number): boolean {
  return (words[bit >> 5] & (1 << (bit & 31))) !== 0;
}
