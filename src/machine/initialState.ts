import * as K from '../cpu/constants';
import type { InitialState } from './loaders/loadPlan';
import type { Machine } from './machine';

/**
 * Puts the CPU in the state an image expects at its entry point. Protected and long mode get a
 * GDT in guest memory so later segment reloads by the guest find real descriptors.
 */

/** Flat descriptors: 0x08 32-bit code, 0x10 data, 0x18 64-bit code, 0x20 16-bit code, 0x28 16-bit data. */
const GDT: [number, number][] = [
  [0, 0],
  [0x0000FFFF, 0x00CF9B00],
  [0x0000FFFF, 0x00CF9300],
  [0x0000FFFF, 0x00AF9B00],
  [0x0000FFFF, 0x00009B00],
  [0x0000FFFF, 0x00009300],
];

const FLAT_CODE32 = K.AR_P | K.AR_S | 0xB | K.AR_DB | K.AR_G;
const FLAT_DATA = K.AR_P | K.AR_S | 0x3 | K.AR_DB | K.AR_G;
const CODE64 = K.AR_P | K.AR_S | 0xB | K.AR_L | K.AR_G;

export function applyInitialState(m: Machine, st: InitialState): void {
  const cpu = m.cpu;
  switch (st.kind) {
    case 'reset':
      return; // cpu.reset() already is the architectural reset state
    case 'real':
      cpu.loadSegRaw(K.SEG_CS, st.cs, st.cs * 16, 0xFFFF, K.AR_P | K.AR_S | 0xB);
      for (const s of [K.SEG_DS, K.SEG_ES, K.SEG_SS, K.SEG_FS, K.SEG_GS]) cpu.loadSegRaw(s, st.cs, st.cs * 16, 0xFFFF, K.AR_P | K.AR_S | 3);
      cpu.rip = st.ip;
      cpu.r[4] = 0xFFFE & (st.cs === 0 ? 0x7C00 : 0xFFFE);
      cpu.updateMode();
      return;
    case 'protected': {
      const gdt = placeTables(m, false);
      cpu.cr0 |= K.CR0_PE;
      cpu.gdtrBase = gdt;
      cpu.gdtrLimit = GDT.length * 8 - 1;
      cpu.loadSegRaw(K.SEG_CS, 0x08, 0, 0xFFFFFFFF, FLAT_CODE32);
      for (const s of [K.SEG_DS, K.SEG_ES, K.SEG_SS, K.SEG_FS, K.SEG_GS]) cpu.loadSegRaw(s, 0x10, 0, 0xFFFFFFFF, FLAT_DATA);
      cpu.rip = st.eip >>> 0;
      if (st.regs?.eax !== undefined) cpu.r[0] = st.regs.eax | 0;
      if (st.regs?.ebx !== undefined) cpu.r[3] = st.regs.ebx | 0;
      cpu.r[4] = (st.regs?.esp ?? gdt) | 0;
      cpu.updateMode();
      cpu.flushTlb(true);
      return;
    }
    case 'long': {
      const base = placeTables(m, true);
      cpu.gdtrBase = base;
      cpu.gdtrLimit = GDT.length * 8 - 1;
      cpu.cr3 = base + 0x1000;
      cpu.cr4 |= K.CR4_PAE;
      cpu.efer |= K.EFER_LME | K.EFER_LMA;
      cpu.cr0 |= K.CR0_PE | K.CR0_PG;
      cpu.loadSegRaw(K.SEG_CS, 0x18, 0, 0xFFFFFFFF, CODE64);
      for (const s of [K.SEG_DS, K.SEG_ES, K.SEG_SS, K.SEG_FS, K.SEG_GS]) cpu.loadSegRaw(s, 0x10, 0, 0xFFFFFFFF, FLAT_DATA);
      cpu.updateMode();
      const rip = BigInt.asIntN(64, st.rip);
      cpu.rip = Number(rip);
      const set = (r: number, v: bigint | undefined) => {
        if (v === undefined) return;
        cpu.r[r] = Number(v & 0xFFFFFFFFn) | 0;
        cpu.rh[r] = Number((v >> 32n) & 0xFFFFFFFFn) | 0;
      };
      set(0, st.regs?.rax);
      set(3, st.regs?.rbx);
      set(4, st.regs?.rsp ?? BigInt(base));
      cpu.flushTlb(true);
      return;
    }
  }
}

/**
 * Writes the GDT (and for long mode identity page tables for the first 4 GiB with 2 MiB pages)
 * into the top of low RAM, where images rarely load. Returns the GDT's address; page tables
 * follow at +0x1000 (PML4), +0x2000 (PDPT), +0x3000.. (four page directories).
 */
function placeTables(m: Machine, paging: boolean): number {
  const size = paging ? 0x7000 : 0x1000;
  const top = Math.min(m.memory.lowRamSize, 0x100000 * 64);
  const base = top - size;
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  GDT.forEach(([lo, hi], k) => { dv.setUint32(k * 8, lo, true); dv.setUint32(k * 8 + 4, hi, true); });
  if (paging) {
    dv.setUint32(0x1000, base + 0x2000 + 3, true);
    for (let k = 0; k < 4; k++) dv.setUint32(0x2000 + k * 8, base + 0x3000 + k * 0x1000 + 3, true);
    for (let k = 0; k < 2048; k++) {
      const phys = k * 0x200000;
      dv.setUint32(0x3000 + k * 8, (phys + 0x83) >>> 0, true);
      dv.setUint32(0x3000 + k * 8 + 4, Math.floor(phys / 0x100000000), true);
    }
  }
  m.memory.writeBytes(base, bytes);
  return base;
}
