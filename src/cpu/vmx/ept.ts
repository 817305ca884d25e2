import type { Cpu } from '../cpu';
import * as K from '../constants';
import {
  GPA_FETCH, GPA_FINAL, GPA_PAGING_ENTRY, GPA_READ, GPA_WRITE, VEC_VMX_EXIT, setGuestPhysTranslator,
} from '../paging';
import { apicGuestPhysical } from './apicAccess';
import { exitInfo, vmExit } from './exit';
import * as S from './slots';
import type { Vmx } from './state';

/**
 * EPT (SDM vol. 3C chapter 29): guest-physical to host-physical translation in VMX non-root operation
 * with "enable EPT". The core calls in here only while `cpu.eptActive` is set, and only on TLB misses
 * (cpu.xlate, the guest page walker in paging.ts, PDPTE loads), so the TLB holds only final
 * linear-to-host translations and nothing is paid when EPT is off.
 *
 * 4-level EPT with 2 MiB and 1 GiB pages; execute-only entries (IA32_VMX_EPT_VPID_CAP[0]); accessed
 * and dirty flags when EPTP[6] = 1 (29.3.5). An EPT violation (exit 48) or misconfiguration (exit 49)
 * is raised as a fault with the pseudo-vector VEC_VMX_EXIT, so RIP is rewound to the faulting
 * instruction exactly like an exception; the VMX event interceptor (events.ts) turns it into the VM
 * exit with the qualification and guest-linear / guest-physical addresses recorded here.
 */

export const EXIT_EPT_VIOLATION = 48;
export const EXIT_EPT_MISCONFIG = 49;

const TWO32 = 0x100000000;
/** Bits 51:MAXPHYADDR of an entry's high half: reserved (misconfiguration). */
const HI_RSVD = (~((1 << (K.MAXPHYADDR - 32)) - 1)) & 0x000FFFFF;

/** Entries used by the walk in progress (host-physical address and low dword), for A/D updates. */
const usedAddr = new Float64Array(4);
const usedLo = new Int32Array(4);

/** Loads the EPT state of the current VMCS (VM entry with "enable EPT"). */
export function eptEnter(c: Cpu, v: Vmx): void {
  const d = v.vmcs;
  v.eptRoot = (d.hi[S.EPT_POINTER] & 0xFFFFF) * TWO32 + ((d.lo[S.EPT_POINTER] & 0xFFFFF000) >>> 0);
  v.eptAd = (d.lo[S.EPT_POINTER] & 0x40) !== 0;
  v.eptExecOnly = (v.caps.spec.eptVpidCap & 1n) !== 0n;
  c.eptActive = true;
}

/**
 * Guest-physical `gpa` to host-physical for an access of kind `acc` (GPA_READ/WRITE/FETCH); `kind`
 * says whether it is the final access of linear address `lin`, a guest paging-structure entry, or
 * an access without a linear address (PDPTE load). Raises the VM exit on a violation or misconfiguration.
 */
export function eptTranslate(c: Cpu, gpa: number, acc: number, lin: number, kind: number): number {
  const v = c.vmx as Vmx;
  // SDM 29.3.3.2: with EPT A/D flags on, guest paging-structure accesses are writes (qualification bits 0 and 1)
  if (kind === GPA_PAGING_ENTRY && v.eptAd) acc = GPA_READ | GPA_WRITE;
  const hi = Math.floor(gpa / TWO32), lo = gpa >>> 0;
  let table = v.eptRoot;
  let perm = 7;
  let n = 0;
  let host = -1;
  for (let level = 4; level >= 1; level--) {
    const idx = level === 4 ? (hi >>> 7) & 0x1FF : level === 3 ? ((hi & 0x7F) << 2) | (lo >>> 30) : level === 2 ? (lo >>> 21) & 0x1FF : (lo >>> 12) & 0x1FF;
    const addr = table + idx * 8;
    const elo = c.physRead(addr, 4), ehi = c.physRead(addr + 4, 4);
    const rwx = elo & 7;
    if (rwx === 0) return violation(c, v, gpa, acc, lin, kind, 0, `EPT ${LEVEL_NAMES[level]} not present`);
    const why = misconfigured(v, level, elo, ehi);
    if (why) return misconfiguration(c, v, gpa, `EPT ${LEVEL_NAMES[level]} 0x${(ehi >>> 0).toString(16)}_${(elo >>> 0).toString(16).padStart(8, '0')}: ${why}`);
    perm &= rwx;
    usedAddr[n] = addr;
    usedLo[n] = elo;
    n++;
    if (level === 1) {
      host = (ehi & 0xFFFFF) * TWO32 + ((elo & 0xFFFFF000) >>> 0) + (lo & 0xFFF);
      break;
    }
    if (elo & 0x80) {
      // 1 GiB (PDPTE) or 2 MiB (PDE) page
      const span = level === 3 ? 0x40000000 : 0x200000;
      host = (ehi & 0xFFFFF) * TWO32 + ((elo & (level === 3 ? 0xC0000000 : 0xFFE00000)) >>> 0) + (lo & (span - 1));
      break;
    }
    table = (ehi & 0xFFFFF) * TWO32 + ((elo & 0xFFFFF000) >>> 0);
  }
  if ((acc & perm) !== acc) return violation(c, v, gpa, acc, lin, kind, perm, `EPT permissions ${permName(perm)} refuse ${accName(acc)}`);
  if (v.eptAd) {
    // 29.3.5: accessed flag (bit 8) in every entry used; dirty flag (bit 9) in the leaf on a write
    for (let k = 0; k < n; k++) {
      let e = usedLo[k] | 0x100;
      if (k === n - 1 && acc & GPA_WRITE) e |= 0x200;
      if (e !== usedLo[k]) c.physWrite(usedAddr[k], 4, e);
    }
  }
  // the final access of a linear address is checked by the caller (Cpu.xlate), which may virtualize it
  if (kind !== GPA_FINAL && c.apicPage >= 0) apicGuestPhysical(c, gpa, host);
  return host;
}

const LEVEL_NAMES = ['', 'PTE', 'PDE', 'PDPTE', 'PML4E'];

/** SDM 29.3.3.1: why a present EPT entry is misconfigured, or ''. */
function misconfigured(v: Vmx, level: number, lo: number, hi: number): string {
  const rwx = lo & 7;
  if ((rwx & 3) === 2) return 'write permission without read permission';
  if (rwx === 4 && !v.eptExecOnly) return 'execute-only translations are not supported';
  if (hi & HI_RSVD) return 'address bits beyond the physical-address width';
  const leaf = level === 1 || ((level === 2 || level === 3) && (lo & 0x80) !== 0);
  if (level === 4 && lo & 0x80) return 'bit 7 of a PML4E is reserved';
  if (!leaf) {
    if (lo & 0x78) return 'reserved bits 6:3 of a non-leaf entry are set';
    return '';
  }
  const mt = (lo >> 3) & 7;
  if (mt === 2 || mt === 3 || mt === 7) return `reserved EPT memory type ${mt}`;
  if (level === 3 && lo & 0x3FFFF000) return 'reserved bits 29:12 of a 1-GiB PDPTE are set';
  if (level === 2 && lo & 0x1FF000) return 'reserved bits 20:12 of a 2-MiB PDE are set';
  return '';
}

function permName(p: number): string {
  return (p & 1 ? 'R' : '-') + (p & 2 ? 'W' : '-') + (p & 4 ? 'X' : '-');
}

function accName(a: number): string {
  return a & GPA_FETCH ? 'an instruction fetch' : a & GPA_WRITE ? (a & GPA_READ ? 'a paging-structure access (a write with EPT A/D)' : 'a data write') : 'a data read';
}

function violation(c: Cpu, v: Vmx, gpa: number, acc: number, lin: number, kind: number, perm: number, why: string): never {
  let q = acc | (perm << 3);
  if (kind !== 0) q |= 0x80;
  if (kind === GPA_FINAL) q |= 0x100;
  if (v.iretUnblocking) q |= 0x1000;
  v.eptExitReason = EXIT_EPT_VIOLATION;
  v.eptQualification = q;
  v.eptGpa = gpa;
  v.eptLinear = lin;
  v.eptLinearValid = kind !== 0;
  return c.raise(VEC_VMX_EXIT, -1, `EPT violation at guest-physical 0x${gpa.toString(16)}: ${why}`);
}

function misconfiguration(c: Cpu, v: Vmx, gpa: number, why: string): never {
  v.eptExitReason = EXIT_EPT_MISCONFIG;
  v.eptQualification = 0;
  v.eptGpa = gpa;
  v.eptLinearValid = false;
  return c.raise(VEC_VMX_EXIT, -1, `EPT misconfiguration at guest-physical 0x${gpa.toString(16)}: ${why}`);
}

/** The VM exit for a VEC_VMX_EXIT fault (events.ts), with guest RIP `rip`. */
export function eptExit(c: Cpu, v: Vmx, rip: number): void {
  const d = v.vmcs;
  d.setNum(S.GUEST_PHYSICAL_ADDRESS, v.eptGpa);
  if (v.eptLinearValid) {
    exitInfo.hasLinear = true;
    exitInfo.linear = v.eptLinear;
  }
  vmExit(c, v.eptExitReason, v.eptQualification, rip);
}

/** Debugger view: host-physical address of a guest-physical one, -1 when EPT does not map it. */
export function eptPeek(c: Cpu, gpa: number): number {
  const v = c.vmx as Vmx;
  const hi = Math.floor(gpa / TWO32), lo = gpa >>> 0;
  let table = v.eptRoot;
  for (let level = 4; level >= 1; level--) {
    const idx = level === 4 ? (hi >>> 7) & 0x1FF : level === 3 ? ((hi & 0x7F) << 2) | (lo >>> 30) : level === 2 ? (lo >>> 21) & 0x1FF : (lo >>> 12) & 0x1FF;
    const elo = c.physRead(table + idx * 8, 4), ehi = c.physRead(table + idx * 8 + 4, 4);
    if ((elo & 7) === 0) return -1;
    const frame = (ehi & 0xFFFFF) * TWO32 + ((elo & 0xFFFFF000) >>> 0);
    if (level === 1) return frame + (lo & 0xFFF);
    if (elo & 0x80 && level === 3) return (ehi & 0xFFFFF) * TWO32 + ((elo & 0xC0000000) >>> 0) + (lo & 0x3FFFFFFF);
    if (elo & 0x80 && level === 2) return (ehi & 0xFFFFF) * TWO32 + ((elo & 0xFFE00000) >>> 0) + (lo & 0x1FFFFF);
    table = frame;
  }
  return -1;
}

export function installEpt(): void {
  setGuestPhysTranslator(eptTranslate, eptPeek);
}
