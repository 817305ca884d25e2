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
const GENU = str4('Genu', 0), NTEL = str4('ntel', 0), INEI = str4('ineI', 0);

function str4(s: string, k: number): number {
  let v = 0;
  for (let j = 3; j >= 0; j--) v = (v << 8) | (s.charCodeAt(k + j) || 0);
  return v | 0;
}

/** The brand string as the 12 dwords of leaves 80000002H-80000004H. */
const BRAND_DWORDS = Int32Array.from({ length: 12 }, (_, k) => str4(BRAND.padEnd(48, '\0'), k * 4));

export class CpuidTable {
  leaf1Ecx = LEAF1_ECX;
  leaf1Edx = LEAF1_EDX;
  /** Family 6, model 0x8C-like signature (Tiger Lake client). */
  signature = 0x000806C1;
  /** query's answer, reused: CPUID runs in guest loops and its exits in the monitor's fast path. */
  private readonly out: number[] = [0, 0, 0, 0];

  /** [EAX, EBX, ECX, EDX] in a shared array, valid until the next query (copy it to keep it). */
  query(leaf: number, sub: number, c: Cpu): readonly number[] {
    const apicId = 0;
    switch (leaf >>> 0) {
      case 0: return this.answer(0xD, GENU, NTEL, INEI);
      case 1: {
        const ebx = (apicId << 24) | (1 << 16) | (8 << 8); // one logical CPU, CLFLUSH line 64 bytes
        const osxsave = c.cr4 & CR4_OSXSAVE ? 1 << 27 : 0;
        return this.answer(this.signature, ebx, this.leaf1Ecx | osxsave, this.leaf1Edx);
      }
      case 7: return sub === 0 ? this.answer(0, LEAF7_EBX, 1 << 2, 0) : this.answer(0, 0, 0, 0);
      // MONITOR/MWAIT: 64-byte lines, MWAIT extensions enumerated, interrupts as break events
      case 5: return this.answer(64, 64, 3, 0);
      // XSAVE (SDM CPUID leaf 0DH): sub-leaf 0 sizes the area, sub-leaf 1 reports no XSAVEOPT, XSAVEC,
      // XGETBV with ECX=1 or XSAVES; no component above 1 exists, so the other sub-leaves are 0
      case 0xD: return sub === 0 ? this.answer(XCR0_SUPPORTED, xsaveAreaSize(c.xcr0), XSAVE_AREA_BYTES, 0) : this.answer(0, 0, 0, 0);
      case 0xB: case 2: case 4: case 6: case 0xA: return this.answer(0, 0, 0, 0);
      case 0x80000000: return this.answer(0x80000008 | 0, 0, 0, 0);
      case 0x80000001: return this.answer(0, 0, EXT1_ECX, EXT1_EDX);
      case 0x80000002: case 0x80000003: case 0x80000004: {
        const base = ((leaf >>> 0) - 0x80000002) * 4;
        return this.answer(BRAND_DWORDS[base], BRAND_DWORDS[base + 1], BRAND_DWORDS[base + 2], BRAND_DWORDS[base + 3]);
      }
      case 0x80000006: return this.answer(0, 0, 0, 0);
      case 0x80000008: return this.answer((48 << 8) | 39, 0, 0, 0);
    }
    // leaves above the maximum basic or extended leaf return the highest basic leaf's data (Intel
    // behaviour: leaf 0DH with this ECX); reserved leaves inside the ranges read as 0
    const l = leaf >>> 0;
    if ((l > 0xD && l < 0x80000000) || l > 0x80000008) return this.query(0xD, sub, c);
    return this.answer(0, 0, 0, 0);
  }

  private answer(a: number, b: number, c: number, d: number): readonly number[] {
    const o = this.out;
    o[0] = a | 0; o[1] = b | 0; o[2] = c | 0; o[3] = d | 0;
    return o;
  }
}
