import type { Cpu } from './cpu';
import * as K from './constants';
import { AC } from './flags';

/**
 * The page walker (SDM 4.3 32-bit paging, 4.4 PAE, 4.5 4-level). Called only on TLB misses.
 * Sets accessed and dirty bits, enforces U/S, R/W, NX, CR0.WP, SMEP and SMAP, checks reserved
 * bits, and raises #PF with the architectural error code and CR2.
 */

const TWO32 = 0x100000000;
/** Bits 51:MAXPHYADDR of a 64-bit entry's high half, which must be zero. */
const HI_RSVD = (~((1 << (K.MAXPHYADDR - 32)) - 1)) & 0x000FFFFF;

// ---- EPT (guest-physical addresses in VMX non-root operation) ----

/** Access kinds for guestPhys (EPT-violation exit qualification bits 0-2). */
export const GPA_READ = 1;
export const GPA_WRITE = 2;
export const GPA_FETCH = 4;
/** Where a guest-physical access comes from (qualification bits 7 and 8). */
export const GPA_NO_LINEAR = 0;
export const GPA_PAGING_ENTRY = 1;
export const GPA_FINAL = 2;
/**
 * Pseudo-vector a VMX exit raised from inside an access (EPT violation, EPT misconfiguration) uses
 * with c.raise: the run loop rewinds RIP to the faulting instruction as for any fault, and the VMX
 * event interceptor turns it into the VM exit. Never delivered through an IDT.
 */
export const VEC_VMX_EXIT = 256;

/** Guest-physical to host-physical (raises VEC_VMX_EXIT); installed by src/cpu/vmx/ept.ts. */
export type GuestPhysTranslator = (c: Cpu, gpa: number, access: number, lin: number, kind: number) => number;
let gpaTranslator: GuestPhysTranslator = (_c, gpa) => gpa;
/** Side-effect-free form for debuggers: host-physical address or -1. */
let gpaPeek: (c: Cpu, gpa: number) => number = (_c, gpa) => gpa;

export function setGuestPhysTranslator(f: GuestPhysTranslator, peek: (c: Cpu, gpa: number) => number): void {
  gpaTranslator = f;
  gpaPeek = peek;
}

/** The final guest-physical address of an access to linear address `lin` (only while c.eptActive). */
export function guestPhys(c: Cpu, gpa: number, access: number, lin: number): number {
  return gpaTranslator(c, gpa, access, lin, GPA_FINAL);
}

/** Linear address of the walk in progress (for EPT violations on paging-structure entries). */
let walkLin = 0;

/** Host-physical address of a guest paging-structure entry (identity unless EPT is active). */
function entryAddr(c: Cpu, gpa: number, access: number): number {
  return c.eptActive ? gpaTranslator(c, gpa, access, walkLin, GPA_PAGING_ENTRY) : gpa;
}

export function translate(c: Cpu, lin: number, write: boolean, exec: boolean, user: boolean): number {
  c.lastWalkGlobal = 0;
  walkLin = lin;
  if (!(c.cr4 & K.CR4_PAE)) return walk32(c, lin >>> 0, write, exec, user);
  if (c.efer & K.EFER_LMA) return walk4(c, lin, write, exec, user);
  return walkPae(c, lin >>> 0, write, exec, user);
}

function pageFault(c: Cpu, lin: number, err: number, why: string): never {
  c.cr2 = lin;
  return c.raise(K.EXC_PF, err, why);
}

function errorCode(present: boolean, write: boolean, exec: boolean, user: boolean, rsvd: boolean): number {
  return (present ? K.PFEC_P : 0) | (write ? K.PFEC_W : 0) | (user ? K.PFEC_U : 0) | (rsvd ? K.PFEC_RSVD : 0) | (exec ? K.PFEC_I : 0);
}

/**
 * Final permission check over the combined U/S, R/W and XD of the walk (SDM 4.6).
 * `us` and `rw` are the AND of the bits along the path; `xd` the OR.
 */
function checkAccess(c: Cpu, lin: number, us: boolean, rw: boolean, xd: boolean, write: boolean, exec: boolean, user: boolean): void {
  const errFor = (why: string): never => pageFault(c, lin, errorCode(true, write, exec && nxOrSmepOn(c), user, false), why);
  if (user) {
    if (!us) errFor('user access to a supervisor page');
    if (write && !rw) errFor('user write to a read-only page');
  } else {
    if (write && !rw && c.cr0 & K.CR0_WP) errFor('supervisor write to a read-only page with CR0.WP=1');
    if (us) {
      if (exec && c.cr4 & K.CR4_SMEP) errFor('SMEP: supervisor fetch from a user page');
      if (!exec && c.cr4 & K.CR4_SMAP && !(c.flags & AC)) errFor('SMAP: supervisor access to a user page with EFLAGS.AC=0');
    }
  }
  if (exec && xd) errFor('fetch from a no-execute page');
}

/** The I/D bit is reported only when NX or SMEP could have caused the fault (SDM 4.7). */
function nxOrSmepOn(c: Cpu): boolean {
  return (c.efer & K.EFER_NXE) !== 0 || (c.cr4 & K.CR4_SMEP) !== 0;
}

function rd32(c: Cpu, phys: number): number {
  return c.physRead(entryAddr(c, phys, GPA_READ), 4);
}

function wr32(c: Cpu, phys: number, v: number): void {
  c.physWrite(entryAddr(c, phys, GPA_WRITE), 4, v);
}

/** Sets A (and D on a leaf written to) in an entry, writing back only when they change. */
function touch(c: Cpu, addr: number, e: number, leaf: boolean, write: boolean): void {
  let n = e | 0x20;
  if (leaf && write) n |= 0x40;
  if (n !== e) wr32(c, addr, n);
}

function walk32(c: Cpu, lin: number, write: boolean, exec: boolean, user: boolean): number {
  const pdeAddr = ((c.cr3 & 0xFFFFF000) >>> 0) + ((lin >>> 22) << 2);
  const pde = rd32(c, pdeAddr);
  if (!(pde & 1)) pageFault(c, lin, errorCode(false, write, exec && nxOrSmepOn(c), user, false), 'page directory entry not present');
  if (pde & 0x80 && c.cr4 & K.CR4_PSE) {
    // 4 MiB page; bits 20:13 hold physical address bits 39:32 (PSE-36), bit 21 reserved
    if (pde & (1 << 21)) pageFault(c, lin, errorCode(true, write, exec && nxOrSmepOn(c), user, true), 'reserved bit 21 set in a 4 MiB PDE');
    const hiBits = (pde >>> 13) & 0xFF;
    if (hiBits >= 1 << (K.MAXPHYADDR - 32)) pageFault(c, lin, errorCode(true, write, exec && nxOrSmepOn(c), user, true), 'PDE address beyond MAXPHYADDR');
    checkAccess(c, lin, (pde & 4) !== 0, (pde & 2) !== 0, false, write, exec, user);
    touch(c, pdeAddr, pde, true, write);
    c.lastWalkGlobal = pde & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
    c.tlbHasLarge = true;
    return hiBits * TWO32 + ((pde & 0xFFC00000) >>> 0) + (lin & 0x3FFFFF);
  }
  const pteAddr = ((pde & 0xFFFFF000) >>> 0) + (((lin >>> 12) & 0x3FF) << 2);
  const pte = rd32(c, pteAddr);
  if (!(pte & 1)) pageFault(c, lin, errorCode(false, write, exec && nxOrSmepOn(c), user, false), 'page table entry not present');
  checkAccess(c, lin, (pde & pte & 4) !== 0, (pde & pte & 2) !== 0, false, write, exec, user);
  touch(c, pdeAddr, pde, false, write);
  touch(c, pteAddr, pte, true, write);
  c.lastWalkGlobal = pte & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
  return ((pte & 0xFFFFF000) >>> 0) + (lin & 0xFFF);
}

/** Physical address of a 64-bit entry's frame (bits MAXPHYADDR-1:12). */
function frame(lo: number, hi: number): number {
  return (hi & 0xFFFFF) * TWO32 + ((lo & 0xFFFFF000) >>> 0);
}

/**
 * Reserved-bit check for a 64-bit paging entry. `extraLo` are level-specific reserved low bits.
 * Bit 63 (XD) is reserved unless EFER.NXE.
 */
function rsvd64(c: Cpu, lo: number, hi: number, extraLo: number): boolean {
  if (hi & HI_RSVD) return true;
  if (hi & 0x80000000 && !(c.efer & K.EFER_NXE)) return true;
  return (lo & extraLo) !== 0;
}

interface Entry { lo: number; hi: number; addr: number }
const scratch: Entry = { lo: 0, hi: 0, addr: 0 };

function readEntry(c: Cpu, addr: number): Entry {
  scratch.addr = addr;
  const host = entryAddr(c, addr, GPA_READ);
  scratch.lo = c.physRead(host, 4);
  scratch.hi = c.physRead(host + 4, 4);
  return scratch;
}

function walkPae(c: Cpu, lin: number, write: boolean, exec: boolean, user: boolean): number {
  const i = (lin >>> 30) & 3;
  const plo = c.pdpte[i * 2], phi = c.pdpte[i * 2 + 1];
  const ie = exec && nxOrSmepOn(c);
  if (!(plo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), `PDPTE ${i} not present`);
  let xd = false;
  let us = true, rw = true;
  const pdeAddr = frame(plo, phi) + ((lin >>> 21) & 0x1FF) * 8;
  const pde = readEntry(c, pdeAddr);
  const pdeLo = pde.lo, pdeHi = pde.hi;
  if (!(pdeLo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PDE not present');
  if (pdeLo & 0x80) {
    if (rsvd64(c, pdeLo, pdeHi, 0x1FE000)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a 2 MiB PDE');
    us = (pdeLo & 4) !== 0; rw = (pdeLo & 2) !== 0; xd = (pdeHi & 0x80000000) !== 0;
    checkAccess(c, lin, us, rw, xd, write, exec, user);
    touch(c, pdeAddr, pdeLo, true, write);
    c.lastWalkGlobal = pdeLo & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
    c.tlbHasLarge = true;
    return (pdeHi & 0xFFFFF) * TWO32 + ((pdeLo & 0xFFE00000) >>> 0) + (lin & 0x1FFFFF);
  }
  if (rsvd64(c, pdeLo, pdeHi, 0)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PDE');
  const pteAddr = frame(pdeLo, pdeHi) + ((lin >>> 12) & 0x1FF) * 8;
  const pte = readEntry(c, pteAddr);
  const pteLo = pte.lo, pteHi = pte.hi;
  if (!(pteLo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PTE not present');
  if (rsvd64(c, pteLo, pteHi, 0)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PTE');
  us = (pdeLo & pteLo & 4) !== 0; rw = (pdeLo & pteLo & 2) !== 0;
  xd = ((pdeHi | pteHi) & 0x80000000) !== 0;
  checkAccess(c, lin, us, rw, xd, write, exec, user);
  touch(c, pdeAddr, pdeLo, false, write);
  touch(c, pteAddr, pteLo, true, write);
  c.lastWalkGlobal = pteLo & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
  return frame(pteLo, pteHi) + (lin & 0xFFF);
}

/** Loads the four PDPTEs on MOV CR3 / paging enable in PAE mode; reserved bits raise #GP(0). */
export function loadPdptes(c: Cpu): void {
  let base = (c.cr3 & 0xFFFFFFE0) >>> 0;
  // with EPT the 32-byte table is at a guest-physical address (one page: it is 32-byte aligned)
  if (c.eptActive) base = gpaTranslator(c, base, GPA_READ, 0, GPA_NO_LINEAR);
  for (let i = 0; i < 4; i++) {
    const lo = c.physRead(base + i * 8, 4);
    const hi = c.physRead(base + i * 8 + 4, 4);
    if (lo & 1 && ((lo & 0x1E6) || hi & (HI_RSVD | 0x80000000))) c.raise(K.EXC_GP, 0, `PDPTE ${i} has reserved bits set`);
    c.pdpte[i * 2] = lo;
    c.pdpte[i * 2 + 1] = hi;
  }
}

function walk4(c: Cpu, lin: number, write: boolean, exec: boolean, user: boolean): number {
  const ie = exec && nxOrSmepOn(c);
  // bits 47:0 of the (canonical) address select the entries
  const l48 = lin < 0 ? lin + 2 ** 48 : lin;
  const hiPart = Math.floor(l48 / TWO32); // bits 47:32
  const lo32 = l48 >>> 0;
  const i4 = (hiPart >>> 7) & 0x1FF;
  const i3 = ((hiPart & 0x7F) << 2) | (lo32 >>> 30);
  const i2 = (lo32 >>> 21) & 0x1FF;
  const i1 = (lo32 >>> 12) & 0x1FF;
  let us = true, rw = true, xd = false;
  const pml4Addr = (c.cr3 % 2 ** K.MAXPHYADDR) - (c.cr3 % 4096) + i4 * 8;
  let e = readEntry(c, pml4Addr);
  const l4lo = e.lo, l4hi = e.hi;
  if (!(l4lo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PML4E not present');
  if (rsvd64(c, l4lo, l4hi, 0x180)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PML4E');
  us = (l4lo & 4) !== 0; rw = (l4lo & 2) !== 0; xd = (l4hi & 0x80000000) !== 0;
  const pdpteAddr = frame(l4lo, l4hi) + i3 * 8;
  e = readEntry(c, pdpteAddr);
  const l3lo = e.lo, l3hi = e.hi;
  if (!(l3lo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PDPTE not present');
  us = us && (l3lo & 4) !== 0; rw = rw && (l3lo & 2) !== 0; xd = xd || (l3hi & 0x80000000) !== 0;
  if (l3lo & 0x80) {
    if (rsvd64(c, l3lo, l3hi, 0x3FFFE000)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a 1 GiB PDPTE');
    checkAccess(c, lin, us, rw, xd, write, exec, user);
    touch(c, pml4Addr, l4lo, false, write);
    touch(c, pdpteAddr, l3lo, true, write);
    c.lastWalkGlobal = l3lo & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
    c.tlbHasLarge = true;
    return (l3hi & 0xFFFFF) * TWO32 + ((l3lo & 0xC0000000) >>> 0) + (lo32 & 0x3FFFFFFF);
  }
  if (rsvd64(c, l3lo, l3hi, 0)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PDPTE');
  const pdeAddr = frame(l3lo, l3hi) + i2 * 8;
  e = readEntry(c, pdeAddr);
  const l2lo = e.lo, l2hi = e.hi;
  if (!(l2lo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PDE not present');
  us = us && (l2lo & 4) !== 0; rw = rw && (l2lo & 2) !== 0; xd = xd || (l2hi & 0x80000000) !== 0;
  if (l2lo & 0x80) {
    if (rsvd64(c, l2lo, l2hi, 0x1FE000)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a 2 MiB PDE');
    checkAccess(c, lin, us, rw, xd, write, exec, user);
    touch(c, pml4Addr, l4lo, false, write);
    touch(c, pdpteAddr, l3lo, false, write);
    touch(c, pdeAddr, l2lo, true, write);
    c.lastWalkGlobal = l2lo & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
    c.tlbHasLarge = true;
    return (l2hi & 0xFFFFF) * TWO32 + ((l2lo & 0xFFE00000) >>> 0) + (lo32 & 0x1FFFFF);
  }
  if (rsvd64(c, l2lo, l2hi, 0)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PDE');
  const pteAddr = frame(l2lo, l2hi) + i1 * 8;
  e = readEntry(c, pteAddr);
  const l1lo = e.lo, l1hi = e.hi;
  if (!(l1lo & 1)) pageFault(c, lin, errorCode(false, write, ie, user, false), 'PTE not present');
  if (rsvd64(c, l1lo, l1hi, 0)) pageFault(c, lin, errorCode(true, write, ie, user, true), 'reserved bit set in a PTE');
  us = us && (l1lo & 4) !== 0; rw = rw && (l1lo & 2) !== 0; xd = xd || (l1hi & 0x80000000) !== 0;
  checkAccess(c, lin, us, rw, xd, write, exec, user);
  touch(c, pml4Addr, l4lo, false, write);
  touch(c, pdpteAddr, l3lo, false, write);
  touch(c, pdeAddr, l2lo, false, write);
  touch(c, pteAddr, l1lo, true, write);
  c.lastWalkGlobal = l1lo & 0x100 && c.cr4 & K.CR4_PGE ? 1 : 0;
  return frame(l1lo, l1hi) + (lo32 & 0xFFF);
}

/**
 * Side-effect-free translation for debuggers and tracers: no accessed/dirty updates, no faults,
 * no permission checks. Returns the physical address, or -1 when the page is not mapped.
 */
export function peekTranslate(c: Cpu, lin: number): number {
  if (!c.eptActive) return peekGuest(c, lin);
  const g = peekGuest(c, lin);
  return g < 0 ? -1 : gpaPeek(c, g);
}

function peekGuest(c: Cpu, lin: number): number {
  if (!(c.cr0 & K.CR0_PG)) return c.efer & K.EFER_LMA ? lin : lin >>> 0;
  const rd = (a: number) => {
    const h = c.eptActive ? gpaPeek(c, a) : a;
    return h < 0 ? 0 : c.physRead(h, 4);
  };
  if (!(c.cr4 & K.CR4_PAE)) {
    const l = lin >>> 0;
    const pde = rd(((c.cr3 & 0xFFFFF000) >>> 0) + ((l >>> 22) << 2));
    if (!(pde & 1)) return -1;
    if (pde & 0x80 && c.cr4 & K.CR4_PSE) return ((pde >>> 13) & 0xFF) * TWO32 + ((pde & 0xFFC00000) >>> 0) + (l & 0x3FFFFF);
    const pte = rd(((pde & 0xFFFFF000) >>> 0) + (((l >>> 12) & 0x3FF) << 2));
    if (!(pte & 1)) return -1;
    return ((pte & 0xFFFFF000) >>> 0) + (l & 0xFFF);
  }
  let table: number;
  let levels: number[];
  if (c.efer & K.EFER_LMA) {
    const l48 = lin < 0 ? lin + 2 ** 48 : lin;
    const hiPart = Math.floor(l48 / TWO32);
    const lo32 = l48 >>> 0;
    levels = [(hiPart >>> 7) & 0x1FF, ((hiPart & 0x7F) << 2) | (lo32 >>> 30), (lo32 >>> 21) & 0x1FF, (lo32 >>> 12) & 0x1FF];
    table = (c.cr3 % 2 ** K.MAXPHYADDR) - (c.cr3 % 4096);
  } else {
    const l = lin >>> 0;
    const i = (l >>> 30) & 3;
    const plo = c.pdpte[i * 2], phi = c.pdpte[i * 2 + 1];
    if (!(plo & 1)) return -1;
    table = frame(plo, phi);
    levels = [(l >>> 21) & 0x1FF, (l >>> 12) & 0x1FF];
  }
  const low = lin < 0 ? (lin + 2 ** 48) : lin;
  for (let k = 0; k < levels.length; k++) {
    const lo = rd(table + levels[k] * 8), hi = rd(table + levels[k] * 8 + 4);
    if (!(lo & 1)) return -1;
    const left = levels.length - k - 1;
    if (left > 0 && left < 3 && lo & 0x80) {
      const span = left === 1 ? 0x200000 : 0x40000000;
      return (hi & 0xFFFFF) * TWO32 + ((lo & (left === 1 ? 0xFFE00000 : 0xC0000000)) >>> 0) + (low % span);
    }
    table = frame(lo, hi);
  }
  return table + (low % 4096);
}
