import type { Cpu } from '../cpu';
import { proc2 } from './intercept';
import { controlMask } from './spec';
import { VMCS_LINK_POINTER } from './slots';
import type { Vmx } from './state';
import { SLOT_WIDTH, VMCS_OFF_DATA } from './vmcs';

/**
 * VMCS shadowing (SDM vol. 3C 25.10 "VMCS types", 26.1.3, 25.6.15 and the VMREAD/VMWRITE instruction
 * reference): with "VMCS shadowing" = 1, a guest VMREAD/VMWRITE whose encoding has bits 63:15 clear
 * and whose bit in the VMREAD/VMWRITE bitmap is 0 does not exit; it reads or writes the shadow VMCS
 * that the current VMCS's link pointer references.
 *
 * The shadow VMCS is accessed in memory (vmcs.ts layout), never cached. That is exact because the only
 * cached VMCS is the current one, and while the guest runs the link pointer cannot name it (entry check
 * D68), nor can the host switch VMCSs. A VMM that also made the shadow VMCS current on another logical
 * processor would break the SDM's "active on one processor" rule; we do not model that case.
 */

const P2_SHADOW = controlMask('SECONDARY_EXEC_SHADOW_VMCS');
const TWO32 = 0x100000000;

/**
 * Whether a VMREAD/VMWRITE in non-root operation goes to the shadow VMCS (true) or exits (false):
 * the control is 1, the encoding register has no bit above 14 set, and the bit for bits 14:0 in the
 * bitmap at `bitmapSlot` (host-physical, not translated by EPT) is 0.
 */
export function shadowAccessAllowed(c: Cpu, v: Vmx, encReg: number, bitmapSlot: number): boolean {
  if (!(proc2(c) & P2_SHADOW)) return false;
  // the encoding operand is 64 bits in 64-bit mode, 32 bits otherwise
  if (c.mode64 && c.rh[encReg] !== 0) return false;
  const enc = c.r[encReg] >>> 0;
  if (enc > 0x7FFF) return false;
  const bitmap = v.vmcs.unum(bitmapSlot);
  return ((c.physRead(bitmap + (enc >>> 3), 1) >>> (enc & 7)) & 1) === 0;
}

/**
 * Physical address of the shadow VMCS, or -1 when the link pointer is FFFFFFFF_FFFFFFFFH ("not
 * valid": the instruction fails with VMfailInvalid). VM entry (D66/D67) admitted any other value only
 * as an aligned pointer to a region with the shadow-VMCS indicator set.
 */
export function shadowVmcs(v: Vmx): number {
  const d = v.vmcs;
  const lo = d.lo[VMCS_LINK_POINTER], hi = d.hi[VMCS_LINK_POINTER];
  if (lo === -1 && hi === -1) return -1;
  return (hi >>> 0) * TWO32 + (lo >>> 0);
}

/** Bits 63:32 of the last shadowRead. */
export let shadowHi = 0;

/** Reads a field (by slot) of the VMCS region at `vmcs`: returns bits 31:0, leaves 63:32 in shadowHi. */
export function shadowRead(c: Cpu, vmcs: number, slot: number): number {
  const p = vmcs + VMCS_OFF_DATA + slot * 8;
  shadowHi = c.physRead(p + 4, 4);
  return c.physRead(p, 4);
}

/**
 * Writes a field of the VMCS region at `vmcs` keeping only the bits its width holds, as VmcsCache.set
 * does for the current VMCS; `high` is the "high" access of a 64-bit field (bits 63:32 := lo).
 */
export function shadowWrite(c: Cpu, vmcs: number, slot: number, lo: number, hi: number, high: boolean): void {
  const p = vmcs + VMCS_OFF_DATA + slot * 8;
  if (high) {
    c.physWrite(p + 4, 4, lo);
    return;
  }
  const w = SLOT_WIDTH[slot];
  c.physWrite(p, 4, w === 0 ? lo & 0xFFFF : lo);
  c.physWrite(p + 4, 4, w === 2 ? hi : 0);
}

/**
 * The current VMCS is a shadow VMCS (bit 31 of its first dword): VMLAUNCH/VMRESUME fail with
 * VMfailInvalid (SDM 27.1 "Basic VM-entry checks", item 4). Taken when VMPTRLD loaded the VMCS:
 * software must not change the indicator of an active VMCS (SDM 25.11.1), so it cannot differ.
 */
export function currentIsShadow(v: Vmx): boolean {
  return v.vmcs.shadow;
}
