import type { Cpu } from '../cpu';
import { VMCS_FIELDS, VmcsField, fieldByName } from './spec';

/**
 * VMCS storage. The current VMCS is cached in two dense Int32Arrays (low and high halves of each
 * field), indexed by the field's position in the spec table (`VMCS_FIELDS`): VMREAD, VMWRITE, VM
 * entry and VM exit touch only typed arrays, never a Map or a bigint.
 *
 * In-memory layout of a VMCS region (our implementation-specific format; SDM 25.2 leaves everything
 * after the first 8 bytes to the processor):
 *
 *   +0    dword  bits 30:0 VMCS revision identifier, bit 31 shadow-VMCS indicator (software writes it)
 *   +4    dword  VMX-abort indicator (written by a VMX abort)
 *   +8    dword  launch state: 0 clear, 1 launched, 2 launched and then VMXOFF without VMCLEAR
 *   +12   dword  reserved (0)
 *   +16   qword  field k of VMCS_FIELDS (little endian, full 64 bits), k = 0 .. VMCS_FIELDS.length - 1
 *
 * That is 16 + 8 * VMCS_FIELDS.length bytes (< 2 KiB) of the 4 KiB that IA32_VMX_BASIC asks for.
 * The data is written back by VMCLEAR and when VMPTRLD switches to another VMCS; until then memory
 * may be stale, as on hardware (software must not read or write an active VMCS region directly).
 */

export const FIELD_COUNT = VMCS_FIELDS.length;
export const VMCS_OFF_REVISION = 0;
export const VMCS_OFF_ABORT = 4;
export const VMCS_OFF_LAUNCH = 8;
export const VMCS_OFF_DATA = 16;

export const LAUNCH_CLEAR = 0;
export const LAUNCH_LAUNCHED = 1;
/** Launched, then VMXOFF ran without VMCLEAR: VMRESUME fails with error 6. */
export const LAUNCH_AFTER_VMXOFF = 2;

const TWO32 = 0x100000000;

/** Slot (index into VMCS_FIELDS) by FULL encoding; -1 for encodings without a field. */
const SLOT_BY_ENCODING = new Int16Array(0x8000).fill(-1);
/** 0 = 16-bit, 1 = 32-bit, 2 = 64-bit or natural width: how many bits a write keeps. */
export const SLOT_WIDTH = new Uint8Array(FIELD_COUNT);
/** Which change counter of VmcsCache a write to the slot moves: GROUP_NONE, GROUP_CONTROL, GROUP_GUEST. */
const SLOT_GROUP = new Uint8Array(FIELD_COUNT);
const GROUP_NONE = 0, GROUP_CONTROL = 1, GROUP_GUEST = 2;
/**
 * The guest-state fields that rarely change while a guest runs, and all that entry checks D1-D43
 * read besides the controls and RFLAGS.VM: control and debug registers, the MSRs VM entry loads,
 * segment and descriptor-table registers.
 */
const STABLE_GUEST_FIELD = /^GUEST_((ES|CS|SS|DS|FS|GS|LDTR|TR)_(SELECTOR|BASE|LIMIT|AR_BYTES)|CR[034]|DR7|IA32_DEBUGCTL|SYSENTER_(CS|ESP|EIP)|IA32_PAT|IA32_EFER|[GI]DTR_(BASE|LIMIT))$/;
VMCS_FIELDS.forEach((f, k) => {
  SLOT_BY_ENCODING[f.encoding] = k;
  SLOT_WIDTH[k] = f.width === '16' ? 0 : f.width === '32' ? 1 : 2;
  SLOT_GROUP[k] = f.area === 'guest-state' ? (STABLE_GUEST_FIELD.test(f.name) ? GROUP_GUEST : GROUP_NONE)
    : f.area === 'vm-exit-information' ? GROUP_NONE : GROUP_CONTROL;
});

/**
 * What VMREAD/VMWRITE access with an encoding (SDM 25.11.2): slot * 2, plus 1 for the "high" access
 * of a 64-bit field (encoding bit 0 = 1); -1 for an encoding that names no field. A table, so the
 * instructions look nothing up in a Map and allocate nothing.
 */
const ACCESS_BY_ENCODING = new Int32Array(0x8000).fill(-1);
VMCS_FIELDS.forEach((f, k) => {
  ACCESS_BY_ENCODING[f.encoding] = k * 2;
  if (f.width === '64') ACCESS_BY_ENCODING[f.encoding | 1] = k * 2 + 1;
});

/** See ACCESS_BY_ENCODING; `enc` is the whole encoding operand (bits above 14 make it unsupported). */
export function accessOfEncoding(enc: number): number {
  return enc >= 0 && enc < 0x8000 ? ACCESS_BY_ENCODING[enc] : -1;
}

export function slotOfEncoding(fullEncoding: number): number {
  return fullEncoding >= 0 && fullEncoding < 0x8000 ? SLOT_BY_ENCODING[fullEncoding] : -1;
}

/** Slot of a field by its spec name; throws for an unknown name (used for module constants). */
export function slotOf(name: string): number {
  const f = fieldByName(name);
  if (!f || f.high) throw new Error(`unknown VMCS field ${name}`);
  return SLOT_BY_ENCODING[f.field.encoding];
}

export function fieldOfSlot(slot: number): VmcsField {
  return VMCS_FIELDS[slot];
}

/** The data of one VMCS: what the processor caches for the current VMCS. */
export class VmcsCache {
  /** Field values. Read them directly; write only through set/setNum/setBig/setHigh (change counters). */
  readonly lo = new Int32Array(FIELD_COUNT);
  readonly hi = new Int32Array(FIELD_COUNT);
  launch = LAUNCH_CLEAR;
  /** The shadow-VMCS indicator of the region (bit 31 of its first dword) when VMPTRLD loaded it. */
  shadow = false;

  /**
   * Change counters: `ctlGen` moves when a control or host-state field changes value, `guestGen` when
   * a stable guest field does (STABLE_GUEST_FIELD), and both when another VMCS is loaded. VM entry
   * re-runs the checks that depend only on those fields when a counter moved since they last passed;
   * a VM exit rewrites the stable fields with the same values, so an I/O exit moves neither.
   */
  ctlGen = 0;
  guestGen = 0;
  /**
   * Moves on every write of a value (set and what calls it, load, clear, changedAll); the VM-exit
   * path, which writes through put/putNum, moves it once per exit (exit.ts vmExit). Unmoved means
   * lo/hi are as they were: the execution history (src/debug/history.ts) compares the cache only
   * when it moved. Never moved back.
   */
  writeGen = 0;
  /** ctlGen when the control checks last passed (-1 never); the same for the host checks, with EFER.LMA then. */
  ctlCheckedGen = -1;
  hostCheckedGen = -1;
  hostCheckedLma = false;
  /** guestGen / ctlGen when guest checks D1-D43 last passed, and RFLAGS.VM then. */
  guestCheckedGen = -1;
  guestCheckedCtlGen = -1;
  guestCheckedVm = false;

  clear(): void {
    this.lo.fill(0);
    this.hi.fill(0);
    this.launch = LAUNCH_CLEAR;
    this.shadow = false;
    this.changedAll();
  }

  /** A stable guest field was written directly into lo/hi (the VM-exit save). */
  guestChanged(): void {
    this.guestGen++;
  }

  /** Everything may have changed (another VMCS loaded, a snapshot restored into lo/hi). */
  changedAll(): void {
    this.writeGen++;
    this.ctlGen++;
    this.guestGen++;
  }

  /** Low 32 bits as an int32. */
  i32(s: number): number {
    return this.lo[s];
  }

  /** Low 32 bits unsigned. */
  u32(s: number): number {
    return this.lo[s] >>> 0;
  }

  /** The 64-bit value as a signed number (exact for addresses, canonical values and counts). */
  num(s: number): number {
    // most values (RIPs, limits, bases) fit 32 bits: an integer result V8 need not box
    const h = this.hi[s];
    return h === 0 ? this.lo[s] >>> 0 : h * TWO32 + (this.lo[s] >>> 0);
  }

  /** The 64-bit value as an unsigned number (exact below 2^53). */
  unum(s: number): number {
    const h = this.hi[s];
    return h === 0 ? this.lo[s] >>> 0 : (h >>> 0) * TWO32 + (this.lo[s] >>> 0);
  }

  big(s: number): bigint {
    // most 64-bit fields hold 0 (DEBUGCTL, pending debug exceptions): no BigInt arithmetic then
    if (this.lo[s] === 0 && this.hi[s] === 0) return 0n;
    return (BigInt(this.hi[s] >>> 0) << 32n) | BigInt(this.lo[s] >>> 0);
  }

  /** Writes a field keeping only the bits its width holds. */
  set(s: number, lo: number, hi: number): void {
    const w = SLOT_WIDTH[s];
    const l = w === 0 ? lo & 0xFFFF : lo, h = w === 2 ? hi : 0;
    const g = SLOT_GROUP[s];
    this.writeGen++;
    if (g !== GROUP_NONE && (this.lo[s] !== l || this.hi[s] !== h)) {
      if (g === GROUP_CONTROL) this.ctlGen++;
      else this.guestGen++;
    }
    this.lo[s] = l;
    this.hi[s] = h;
  }

  /** Bits 63:32 of a 64-bit field (VMREAD/VMWRITE "high" access). */
  setHigh(s: number, hi: number): void {
    this.set(s, this.lo[s], hi);
  }

  /** Writes a (signed or unsigned) number, e.g. a canonical address. */
  setNum(s: number, v: number): void {
    const h = numHi(v);
    this.set(s, numLo(v, h), h);
  }

  /**
   * Writes a field without the width mask and change counters of `set`: for the VM-exit path, which
   * writes exit information (no counter) and counts its guest-state changes itself. Returns non-zero
   * when the value changed. Does not move writeGen either: a caller moves it (once for all its puts).
   */
  put(s: number, lo: number, hi: number): number {
    const changed = (this.lo[s] ^ lo) | (this.hi[s] ^ hi);
    this.lo[s] = lo;
    this.hi[s] = hi;
    return changed;
  }

  /** `put` of a number (an address, a base, a limit). */
  putNum(s: number, v: number): number {
    const h = numHi(v);
    return this.put(s, numLo(v, h), h);
  }

  setBig(s: number, v: bigint): void {
    const u = BigInt.asUintN(64, v);
    this.set(s, Number(u & 0xFFFFFFFFn) | 0, Number(u >> 32n) | 0);
  }

  /** Reads the region at `addr` (physical) into the cache. */
  load(c: Cpu, addr: number): void {
    for (let k = 0; k < FIELD_COUNT; k++) {
      const p = addr + VMCS_OFF_DATA + k * 8;
      this.lo[k] = c.physRead(p, 4);
      this.hi[k] = c.physRead(p + 4, 4);
    }
    const l = c.physRead(addr + VMCS_OFF_LAUNCH, 4);
    this.launch = l === LAUNCH_LAUNCHED || l === LAUNCH_AFTER_VMXOFF ? l : LAUNCH_CLEAR;
    this.shadow = c.physRead(addr + VMCS_OFF_REVISION, 4) < 0;
    this.changedAll();
  }

  /** Writes the cache back to the region at `addr`. */
  store(c: Cpu, addr: number): void {
    for (let k = 0; k < FIELD_COUNT; k++) {
      const p = addr + VMCS_OFF_DATA + k * 8;
      c.physWrite(p, 4, this.lo[k]);
      c.physWrite(p + 4, 4, this.hi[k]);
    }
    c.physWrite(addr + VMCS_OFF_LAUNCH, 4, this.launch);
  }
}

/** Bits 63:32 of a number: ToInt32 of a double outside the int32 range takes V8's slow path, so split with plain arithmetic. */
export function numHi(v: number): number {
  return v >= 0 && v < TWO32 ? 0 : Math.floor(v / TWO32);
}

/** Bits 31:0 of a number as an int32, given its numHi. */
export function numLo(v: number, hi: number): number {
  const l = v - hi * TWO32;
  return l >= 0x80000000 ? l - TWO32 : l;
}

/** Reads the launch state straight from a region (VMCS not current). */
export function storedLaunchState(c: Cpu, addr: number): number {
  return c.physRead(addr + VMCS_OFF_LAUNCH, 4);
}

export function setStoredLaunchState(c: Cpu, addr: number, state: number): void {
  c.physWrite(addr + VMCS_OFF_LAUNCH, 4, state);
}
