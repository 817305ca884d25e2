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
VMCS_FIELDS.forEach((f, k) => {
  SLOT_BY_ENCODING[f.encoding] = k;
  SLOT_WIDTH[k] = f.width === '16' ? 0 : f.width === '32' ? 1 : 2;
});

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
  readonly lo = new Int32Array(FIELD_COUNT);
  readonly hi = new Int32Array(FIELD_COUNT);
  launch = LAUNCH_CLEAR;

  clear(): void {
    this.lo.fill(0);
    this.hi.fill(0);
    this.launch = LAUNCH_CLEAR;
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
    return this.hi[s] * TWO32 + (this.lo[s] >>> 0);
  }

  /** The 64-bit value as an unsigned number (exact below 2^53). */
  unum(s: number): number {
    return (this.hi[s] >>> 0) * TWO32 + (this.lo[s] >>> 0);
  }

  big(s: number): bigint {
    return (BigInt(this.hi[s] >>> 0) << 32n) | BigInt(this.lo[s] >>> 0);
  }

  /** Writes a field keeping only the bits its width holds. */
  set(s: number, lo: number, hi: number): void {
    const w = SLOT_WIDTH[s];
    this.lo[s] = w === 0 ? lo & 0xFFFF : lo;
    this.hi[s] = w === 2 ? hi : 0;
  }

  /** Writes a (signed or unsigned) number, e.g. a canonical address. */
  setNum(s: number, v: number): void {
    this.set(s, v | 0, Math.floor(v / TWO32) | 0);
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

/** Reads the launch state straight from a region (VMCS not current). */
export function storedLaunchState(c: Cpu, addr: number): number {
  return c.physRead(addr + VMCS_OFF_LAUNCH, 4);
}

export function setStoredLaunchState(c: Cpu, addr: number, state: number): void {
  c.physWrite(addr + VMCS_OFF_LAUNCH, 4, state);
}
