import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as F from '../flags';
import { vmExit } from './exit';
import { controlMask } from './spec';
import * as S from './slots';
import { vmxOf } from './state';

/**
 * "Use TPR shadow" (primary processor-based control 21): the CR8-based TPR accesses of SDM 29.3 and
 * TPR virtualization (29.1.2). Only the VTPR (byte 80H of the virtual-APIC page) is used, since no
 * model reports virtual-interrupt delivery. Without "virtualize APIC accesses" entry check B10
 * refuses an entry whose TPR threshold exceeds VTPR[7:4]; with it (apicAccess.ts), the post-entry
 * TPR check of SDM 26.7.7 makes that a TPR-below-threshold exit before the first guest instruction.
 *
 * The virtual-APIC address is a physical address the processor uses directly (SDM 24.6.8), like the
 * I/O and MSR bitmap addresses: it is not translated through EPT even when EPT is on.
 */

const P1_TPR_SHADOW = controlMask('CPU_BASED_TPR_SHADOW');
const P2_VID = controlMask('SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY');
const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
/** SDM Appendix C. */
export const EXIT_TPR_BELOW_THRESHOLD = 43;
const VTPR_OFFSET = 0x80;
/** Pending-debug-exceptions BS bit (single step), as in cpu.pendingDb. */
const PENDING_BS = 0x4000;

/** Whether CR8 accesses that do not exit go to the VTPR instead of the TPR. */
export function tprShadowActive(c: Cpu): boolean {
  return (vmxOf(c).vmcs.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_TPR_SHADOW) !== 0;
}

function vtprAddress(c: Cpu): number {
  return vmxOf(c).vmcs.unum(S.VIRTUAL_APIC_PAGE_ADDR) + VTPR_OFFSET;
}

/** MOV from CR8 with the TPR shadow: VTPR[7:4] into bits 3:0, bits 63:4 cleared (SDM 29.3). */
export function readCr8Shadow(c: Cpu): number {
  return (c.physRead(vtprAddress(c), 1) >>> 4) & 0xF;
}

/**
 * MOV to CR8 with the TPR shadow (SDM 29.3): source bits 3:0 become VTPR[7:4], the rest of the
 * 32-bit VTPR is cleared, then TPR virtualization (29.1.2). The caller has already raised the #GP
 * for source bits 63:4, which the instruction checks before it writes anything.
 */
export function writeCr8Shadow(c: Cpu, i: Instr, value: number): void {
  const vtpr = value & 0xF;
  c.physWrite(vtprAddress(c), 4, vtpr << 4);
  const d = vmxOf(c).vmcs;
  const p2 = d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_SECONDARY ? d.i32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
  // with virtual-interrupt delivery TPR virtualization would evaluate pending virtual interrupts
  // instead; no model allows that control, so entry check B3 keeps it 0 here
  if (p2 & P2_VID) return;
  if ((d.u32(S.TPR_THRESHOLD) & 0xF) > vtpr) tprBelowThreshold(c, i);
}

/**
 * The TPR-below-threshold VM exit is trap-like (SDM 29.1.2): the MOV has completed, the saved RIP
 * is the next instruction and the qualification is 0. A single-step trap the MOV raised is not
 * delivered; the exit records it in the pending-debug-exceptions field (SDM 28.3.4), which
 * savedPendingDebug (mtf.ts) takes from cpu.pendingDb. The MOV ends its block, so the handler
 * returns normally and the run loop continues at HOST_RIP with the MOV counted as retired.
 */
function tprBelowThreshold(c: Cpu, i: Instr): void {
  if (c.getFlags() & F.TF) c.pendingDb |= PENDING_BS;
  vmExit(c, EXIT_TPR_BELOW_THRESHOLD, 0, i.next);
}
