import type { Cpu } from './cpu';
import { CR4_OSXSAVE } from './constants';
import { XCR0_SUPPORTED, XSAVE_AREA_BYTES, xsaveAreaSize } from './xstate';

/**
 * CPUID (SDM vol. 2 CPUID): reports exactly what this core emulates. Higher layers (VMX, the CPU
 * model chosen by name) adjust bits through `set`/`override`; the debugger shows the same table.
 */

/**
 * CPUID.1:EDX features: DE PSE TSC MSR PAE MCE CX8 APIC SEP MTRR PGE CMOV PAT PSE36 CLFSH. VME (bit 1) is not
 * reported: virtual-8086 mode works, its CR4.VME/PVI extensions are not emulated.
 */
const LEAF1_EDX = (1 << 19) | (1 << 7) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 11) |
  (1 << 12) | (1 << 13) | (1 << 15) | (1 << 16) | (1 << 17);
/**
 * CPUID.1:ECX: MONITOR (3), CX16 (13), PCID (17), x2APIC (21), MOVBE (22), POPCNT (23), XSAVE (26). VMX (5) is
 * added by the VMX layer; OSXSAVE (27) mirrors CR4.OSXSAVE at the time of the query.
 */
const LEAF1_ECX = (1 << 3) | (1 << 17) | (1 << 13) | (1 << 21) | (1 << 22) | (1 << 23) | (1 << 26);
/** CPUID.7.0:EBX: FSGSBASE (0), BMI1 (3), SMEP (7), BMI2 (8), SMAP (20); ECX: UMIP (2). */
const LEAF7_EBX = (1 << 0) | (1 << 3) | (1 << 7) | (1 << 8) | (1 << 20);
/** CPUID.80000001:EDX: SYSCALL (11), NX (20), 1 GiB pages (26), RDTSCP (27), LM (29). */
const EXT1_EDX = (1 << 11) | (1 << 20) | (1 << 26) | (1 << 27) | (1 << 29);
/** CPUID.80000001:ECX: LAHF/SAHF in 64-bit mode (0), LZCNT (5). */
const EXT1_ECX = (1 << 0) | (1 << 5);

export const BRAND = 'vmx-debug emulated x86-64 CPU';

function str4(s: string, k: number): number {
  let v = 0;
  for (let j = 3; j >= 0; j--) v = (v << 8) | (s.charCodeAt(k + j) || 0);
  return v | 0;
}

export class CpuidTable {
  /** Explicit results by "leaf:subleaf" that replace the computed ones (monitor configuration). */
  readonly overrides = new Map<string, [number, number, number, number]>();
  leaf1Ecx = LEAF1_ECX;
  leaf1Edx = LEAF1_EDX;
  /** Family 6, model 0x8C-like signature (Tiger Lake client). */
  signature = 0x000806C1;

  /** Returns [EAX, EBX, ECX, EDX]. */
  query(leaf: number, sub: number, c: Cpu): [number, number, number, number] {
    const o = this.overrides.get(`${leaf >>> 0}:${sub >>> 0}`) ?? this.overrides.get(`${leaf >>> 0}:*`);
    if (o) return [o[0] | 0, o[1] | 0, o[2] | 0, o[3] | 0];
    const apicId = 0;
    switch (leaf >>> 0) {
      case 0: return [0xD, str4('Genu', 0), str4('ntel', 0), str4('ineI', 0)];
      case 1: {
        const ebx = (apicId << 24) | (1 << 16) | (8 << 8); // one logical CPU, CLFLUSH line 64 bytes
        const osxsave = c.cr4 & CR4_OSXSAVE ? 1 << 27 : 0;
        return [this.signature, ebx, this.leaf1Ecx | osxsave, this.leaf1Edx];
      }
      case 7: return sub === 0 ? [0, LEAF7_EBX, 1 << 2, 0] : [0, 0, 0, 0];
      // MONITOR/MWAIT: 64-byte lines, MWAIT extensions enumerated, interrupts as break events
      case 5: return [64, 64, 3, 0];
      // XSAVE (SDM CPUID leaf 0DH): sub-leaf 0 sizes the area, sub-leaf 1 reports no XSAVEOPT, XSAVEC,
      // XGETBV with ECX=1 or XSAVES; no component above 1 exists, so the other sub-leaves are 0
      case 0xD: return sub === 0 ? [XCR0_SUPPORTED, xsaveAreaSize(c.xcr0), XSAVE_AREA_BYTES, 0] : [0, 0, 0, 0];
      case 0xB: case 2: case 4: case 6: case 0xA: return [0, 0, 0, 0];
      case 0x80000000: return [0x80000008 | 0, 0, 0, 0];
      case 0x80000001: return [0, 0, EXT1_ECX, EXT1_EDX];
      case 0x80000002: case 0x80000003: case 0x80000004: {
        const s = BRAND.padEnd(48, '\0');
        const base = ((leaf >>> 0) - 0x80000002) * 16;
        return [str4(s, base), str4(s, base + 4), str4(s, base + 8), str4(s, base + 12)];
      }
      case 0x80000006: return [0, 0, 0, 0];
      case 0x80000008: return [(48 << 8) | 39, 0, 0, 0];
    }
    // leaves above the maximum basic or extended leaf return the highest basic leaf's data (Intel
    // behaviour: leaf 0DH with this ECX); reserved leaves inside the ranges read as 0
    const l = leaf >>> 0;
    if ((l > 0xD && l < 0x80000000) || l > 0x80000008) return this.query(0xD, sub, c);
    return [0, 0, 0, 0];
  }
}
