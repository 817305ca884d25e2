import type { Cpu } from '../cpu';
import { EV_ATTN } from '../cpu';
import { VEC_VMX_EXIT } from '../paging';
import { vmExit } from './exit';
import { controlMask } from './spec';
import * as S from './slots';
import type { Vmx } from './state';
import { EXIT_TPR_BELOW_THRESHOLD } from './tpr';

/**
 * "Virtualize APIC accesses" (secondary control 0; SDM vol. 3C 29.4) without APIC-register
 * virtualization or virtual-interrupt delivery, which no model reports.
 *
 * Which accesses count (29.4, 29.4.6): the APIC-access address is a physical address, so it is the
 * final (host-)physical address of an access that is compared, after EPT when EPT is on; that is why
 * a VMM maps the guest's APIC base guest-physical address to the APIC-access page in its EPT.
 * - Linear accesses (data, fetches, implicit descriptor-table/IDT/TSS accesses) reach the page only
 *   through Cpu.xlate (the TLB-miss path). Cpu.apicPage is set while the control is in force and no
 *   translation to the page is ever put in a TLB (an exit throws before the fill; a virtualized TPR
 *   access sets Cpu.apicVirtualized, which keeps the caller from filling), so the fast path never
 *   sees the page and pays nothing.
 * - Guest-physical accesses (EPT on: guest paging-structure reads and A/D updates, PDPTE loads)
 *   always exit, never virtualized (29.4.6.1); ept.ts asks here after translating them.
 * - Physical accesses (EPT off: guest paging structures) may or may not exit (29.4.6.2): here they
 *   operate on memory.
 * Priority (29.4.1): below #PF and EPT violations and after the accessed/dirty flags are set, which
 * the order in xlate gives (paging walk, then EPT, then this check).
 *
 * The exit is fault-like (RIP of the accessing instruction, or the event being delivered reported as
 * IDT-vectoring information): it is raised as a fault with the pseudo-vector VEC_VMX_EXIT like an
 * EPT violation, and events.ts onEvent turns it into the exit (apicAccessExit).
 *
 * With "use TPR shadow" = 1, 29.4.2 / 29.4.3.1 with APIC-register virtualization and virtual-
 * interrupt delivery 0: a read of at most 32 bits, not a fetch, entirely within 080H-083H is
 * virtualized (it reads the virtual-APIC page); a write of at most 32 bits starting at 080H is
 * virtualized (it writes the virtual-APIC page) and is followed, once the instruction is done, by
 * APIC-write emulation for the TPR (29.4.3.2): bytes 83H:81H of the virtual-APIC page are cleared and
 * TPR virtualization (29.1.2) may make the trap-like TPR-below-threshold exit. The core splits wider
 * and page-crossing accesses into accesses of at most 4 bytes before they get here, so an access
 * wider than 32 bits is judged by its parts.
 */

export const EXIT_APIC_ACCESS = 44;

const P1_TPR_SHADOW = controlMask('CPU_BASED_TPR_SHADOW');
const P1_SECONDARY = controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS');
const P2_APIC_ACCESS = controlMask('SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES');
const P2_VID = controlMask('SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY');
const VTPR_OFFSET = 0x80;

/** Exit-qualification access types (bits 15:12, SDM Table 28-6 "APIC-access" qualification). */
export const APIC_LINEAR_READ = 0;
export const APIC_LINEAR_WRITE = 1;
export const APIC_LINEAR_FETCH = 2;
export const APIC_LINEAR_EVENT = 3;
export const APIC_GPA_EVENT = 10;
export const APIC_GPA_INSTRUCTION = 15;

/** Cpu.apicPending: the work waiting for the boundary after the current operation. */
const PENDING_TPR_WRITE = 1;
const PENDING_POST_ENTRY = 2;

function secondary(v: Vmx): number {
  const d = v.vmcs;
  return d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_SECONDARY ? d.i32(S.SECONDARY_VM_EXEC_CONTROL) : 0;
}

/**
 * VM entry (also VMRESUME handled in place): arms the check while the control is 1. A TLB kept from
 * before (VPID-tagged, or filled while the control was 0 or the address differed) may hold a
 * translation to the page, so the guest starts with empty TLBs when the control is on; guests that
 * leave it off pay nothing. Also the SDM 26.7.7 (26.6.7 in older editions) check: with "use TPR
 * shadow" and this control both 1 and virtual-interrupt delivery 0, entry check B10 does not apply
 * and a TPR threshold above VTPR[7:4] is a TPR-below-threshold exit right after the entry (after any
 * injection, before MTF and debug traps): made pending for the first guest boundary.
 */
export function apicAccessEnter(c: Cpu, v: Vmx): void {
  c.apicPending = 0;
  const p2 = secondary(v);
  if (!(p2 & P2_APIC_ACCESS)) {
    c.apicPage = -1;
    return;
  }
  c.apicPage = v.vmcs.unum(S.APIC_ACCESS_ADDR);
  c.flushTlb(true);
  const d = v.vmcs;
  if (d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_TPR_SHADOW && !(p2 & P2_VID)) {
    const vtpr = c.physRead(d.unum(S.VIRTUAL_APIC_PAGE_ADDR) + VTPR_OFFSET, 1);
    if ((d.u32(S.TPR_THRESHOLD) & 0xF) > vtpr >>> 4) {
      c.apicPending = PENDING_POST_ENTRY;
      c.events |= EV_ATTN;
    }
  }
}

/**
 * Cpu.xlate found physical address `phys` on the APIC-access page for an access of `size` bytes to
 * linear address `lin`. Returns the address to use (on the virtual-APIC page) when the access is
 * virtualized; otherwise raises the APIC-access exit.
 */
export function apicAccess(c: Cpu, phys: number, lin: number, write: boolean, exec: boolean, size: number): number {
  const v = c.vmx as Vmx;
  const off = phys % 4096;
  const d = v.vmcs;
  if (!exec && d.i32(S.CPU_BASED_VM_EXEC_CONTROL) & P1_TPR_SHADOW) {
    const virt = write ? off === VTPR_OFFSET && size <= 4 : off >= VTPR_OFFSET && off + size <= VTPR_OFFSET + 4;
    if (virt) {
      c.apicVirtualized = true;
      if (write) {
        // APIC-write emulation waits for the end of the instruction: make the block end there
        c.apicPending = PENDING_TPR_WRITE;
        c.events |= EV_ATTN;
        c.endBlockAfterCurrent();
      }
      return d.unum(S.VIRTUAL_APIC_PAGE_ADDR) + off;
    }
  }
  // an access made while delivering an event (IDT, stack) is type 3
  const type = v.vectoringInfo !== 0 ? APIC_LINEAR_EVENT : exec ? APIC_LINEAR_FETCH : write ? APIC_LINEAR_WRITE : APIC_LINEAR_READ;
  return raiseApicAccess(c, v, off | (type << 12), -1, `APIC-access page ${write ? 'write' : exec ? 'fetch' : 'read'} at offset 0x${off.toString(16)} (linear 0x${lin.toString(16)})`);
}

/**
 * ept.ts: a guest-physical access that is not the final access of a linear address (guest paging
 * entry, PDPTE load) translated to `host`. On the APIC-access page it always exits (29.4.6.1).
 */
export function apicGuestPhysical(c: Cpu, gpa: number, host: number): void {
  if (c.apicPage < 0 || host - (host % 4096) !== c.apicPage) return;
  const v = c.vmx as Vmx;
  const type = v.vectoringInfo !== 0 ? APIC_GPA_EVENT : APIC_GPA_INSTRUCTION;
  // bits 11:0 are undefined for guest-physical accesses (the guest-physical address says it): the offset
  raiseApicAccess(c, v, (host % 4096) | (type << 12), gpa, `guest-physical access to the APIC-access page at 0x${gpa.toString(16)}`);
}

function raiseApicAccess(c: Cpu, v: Vmx, q: number, gpa: number, why: string): never {
  v.eptExitReason = EXIT_APIC_ACCESS;
  v.eptQualification = q;
  v.eptGpa = gpa;
  v.eptLinearValid = false;
  return c.raise(VEC_VMX_EXIT, -1, why);
}

/** The VM exit for an APIC access raised as a fault (events.ts), with guest RIP `rip`. */
export function apicAccessExit(c: Cpu, v: Vmx, rip: number): void {
  // the guest-physical-address field is written only for guest-physical accesses (types 10 and 15)
  if (v.eptGpa >= 0) v.vmcs.setNum(S.GUEST_PHYSICAL_ADDRESS, v.eptGpa);
  vmExit(c, EXIT_APIC_ACCESS, v.eptQualification, rip);
}

/**
 * At the boundary after the operation that made it pending (Cpu.serviceEvents, ahead of MTF and debug
 * traps): APIC-write emulation of a virtualized TPR write (clear VTPR bytes 3:1, then TPR
 * virtualization), or the post-entry TPR check. True when it caused the trap-like exit 43, whose RIP
 * is the next instruction; a single-step trap the instruction raised is still in cpu.pendingDb, which
 * the exit saves as pending debug exceptions.
 */
export function apicPendingWork(c: Cpu): boolean {
  const what = c.apicPending;
  c.apicPending = 0;
  // a VM exit after the write and before the emulation cancels it (29.4.3.2)
  if (!c.nonRoot) return false;
  const v = c.vmx as Vmx;
  const d = v.vmcs;
  const addr = d.unum(S.VIRTUAL_APIC_PAGE_ADDR) + VTPR_OFFSET;
  if (what === PENDING_TPR_WRITE) c.physWrite(addr, 4, c.physRead(addr, 1));
  const vtpr = c.physRead(addr, 1);
  if ((d.u32(S.TPR_THRESHOLD) & 0xF) <= vtpr >>> 4) return false;
  v.vectoringInfo = 0;
  vmExit(c, EXIT_TPR_BELOW_THRESHOLD, 0, c.rip);
  return true;
}
