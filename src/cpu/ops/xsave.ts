import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import { def } from './registry';
import { EXIT, exitAlways } from '../vmx/intercept';
import { X87_IMAGE_BYTES, X87_INIT, X87_LOW_BYTES, X87_REGS_OFFSET, XCR0_SUPPORTED, XSAVE_AREA_BYTES, XSAVE_HEADER } from '../xstate';

/**
 * The XSAVE feature set (SDM vol. 1 ch. 13, vol. 2 XGETBV, XSETBV, XSAVE, XRSTOR) for the one state
 * component this core has, x87 (src/cpu/xstate.ts). XSAVEOPT, XSAVEC, XSAVES and XRSTORS are not
 * reported by CPUID.(EAX=0DH,ECX=1) and stay #UD (the decoder gives them no handler).
 */

/** #UD unless CR4.OSXSAVE (every instruction of the set; LOCK and 66/F2/F3 are #UD in the decoder). */
function requireOsxsave(c: Cpu, what: string): void {
  if (!(c.cr4 & K.CR4_OSXSAVE)) c.raise(K.EXC_UD, -1, `${what} with CR4.OSXSAVE=0`);
}

/** XGETBV (0F 01 D0): EDX:EAX = XCR[ECX]; any privilege level, never a VM exit. */
function xgetbv(c: Cpu): void {
  requireOsxsave(c, 'XGETBV');
  // ECX=1 (XINUSE) would need CPUID.(EAX=0DH,ECX=1):EAX[2], which is not reported
  if (c.r[1] !== 0) c.raise(K.EXC_GP, 0, `XGETBV of XCR${c.r[1] >>> 0}, which does not exist`);
  c.r[0] = c.xcr0; c.rh[0] = 0;
  c.r[2] = 0; c.rh[2] = 0;
}

/**
 * XSETBV (0F 01 D1): XCR[ECX] = EDX:EAX. The #UD and the CPL check come before the unconditional VM
 * exit in non-root operation (SDM 25.1.1: invalid-opcode and privilege-based faults have priority);
 * the ECX and value checks are the VMM's to make.
 */
function xsetbv(c: Cpu, i: Instr): void {
  requireOsxsave(c, 'XSETBV');
  if (c.v86) c.raise(K.EXC_GP, 0, 'XSETBV in virtual-8086 mode');
  if (c.protectedMode && c.cpl !== 0) c.raise(K.EXC_GP, 0, `XSETBV at CPL ${c.cpl}`);
  if (c.nonRoot) exitAlways(c, i, EXIT.XSETBV);
  if (c.r[1] !== 0) c.raise(K.EXC_GP, 0, `XSETBV of XCR${c.r[1] >>> 0}, which does not exist`);
  const lo = c.r[0], hi = c.r[2];
  if (hi !== 0 || lo & ~XCR0_SUPPORTED) c.raise(K.EXC_GP, 0, `XSETBV: XCR0 value 0x${(hi >>> 0).toString(16)}_${(lo >>> 0).toString(16).padStart(8, '0')} sets unsupported bits`);
  if (!(lo & 1)) c.raise(K.EXC_GP, 0, 'XSETBV: XCR0 bit 0 (x87) cannot be cleared');
  c.xcr0 = lo;
}

/**
 * The checks XSAVE and XRSTOR share, in the SDM's order: #UD (CR4.OSXSAVE), #NM (CR0.TS), then the
 * segment checks for the whole 576-byte area and 64-byte alignment of its linear address (#GP even
 * when alignment checking is on). Returns the area's linear address.
 */
function area(c: Cpu, i: Instr, write: boolean, what: string): number {
  requireOsxsave(c, what);
  if (c.cr0 & K.CR0_TS) c.raise(K.EXC_NM, -1, `${what} with CR0.TS=1`);
  const ea = c.ea(i);
  const lin = write ? c.linW(i.seg, ea, XSAVE_AREA_BYTES) : c.linR(i.seg, ea, XSAVE_AREA_BYTES);
  // in 64-bit mode the segment check above saw only the first byte's canonicality
  if (c.mode64) { if (write) c.linW(i.seg, ea + XSAVE_AREA_BYTES - 1, 1); else c.linR(i.seg, ea + XSAVE_AREA_BYTES - 1, 1); }
  if (lin & 63) c.raise(K.EXC_GP, 0, `${what} area at 0x${lin.toString(16)} is not 64-byte aligned`);
  return lin;
}

/** Linear address of byte `k` of the x87 image in the area at `lin`. */
function x87Byte(c: Cpu, lin: number, k: number): number {
  return c.linAdd(lin, k < X87_LOW_BYTES ? k : k - X87_LOW_BYTES + X87_REGS_OFFSET);
}

/**
 * XSAVE / XSAVE64 (0F AE /4): saves the components in RFBM = XCR0 AND EDX:EAX and sets
 * XSTATE_BV[i] = XINUSE[i] for them, other header bits unchanged (SDM 13.7). Bytes 24-31
 * (MXCSR, MXCSR_MASK) belong to SSE, which RFBM can never select, so they are not written. REX.W only
 * changes how a real x87 unit lays out FPU IP/DP; the image is stored as it was loaded.
 */
function xsave(c: Cpu, i: Instr): void {
  const lin = area(c, i, true, 'XSAVE');
  const rfbm = c.xcr0 & c.r[0];
  const hdr = c.linAdd(lin, XSAVE_HEADER);
  // every page written is checked for writing before the first byte changes
  if (rfbm & 1) { c.probeW(lin); c.probeW(c.linAdd(lin, X87_REGS_OFFSET + 127)); }
  c.probeW(hdr);
  const bv = c.rdLin32(hdr);
  if (rfbm & 1) {
    const img = c.x87;
    for (let k = 0; k < X87_IMAGE_BYTES; k += 4) {
      c.wrLin32(x87Byte(c, lin, k), img[k] | (img[k + 1] << 8) | (img[k + 2] << 16) | (img[k + 3] << 24));
    }
  }
  const inUse = c.x87InUse ? 1 : 0;
  c.wrLin32(hdr, (bv & ~rfbm) | (inUse & rfbm));
}

/**
 * XRSTOR / XRSTOR64 (0F AE /5), standard form (SDM 13.8): the header is checked first (compacted form
 * not supported, XSTATE_BV within XCR0, header bytes 23:8 zero); then for each component in RFBM,
 * XSTATE_BV[i] = 1 loads it from the area and XSTATE_BV[i] = 0 puts it in its initial configuration.
 */
function xrstor(c: Cpu, i: Instr): void {
  const lin = area(c, i, false, 'XRSTOR');
  const hdr = c.linAdd(lin, XSAVE_HEADER);
  const bvLo = c.rdLin32(hdr), bvHi = c.rdLin32(c.linAdd(hdr, 4));
  const compHi = c.rdLin32(c.linAdd(hdr, 12));
  if (compHi < 0) c.raise(K.EXC_GP, 0, 'XRSTOR: XCOMP_BV[63]=1 (compacted form) is not supported');
  if (bvHi !== 0 || bvLo & ~c.xcr0) c.raise(K.EXC_GP, 0, 'XRSTOR: XSTATE_BV sets a bit that XCR0 does not');
  for (let k = 8; k < 24; k += 4) {
    if (c.rdLin32(c.linAdd(hdr, k)) !== 0) c.raise(K.EXC_GP, 0, `XRSTOR: XSAVE header byte ${k}-${k + 3} (XCOMP_BV or reserved) is not 0`);
  }
  const rfbm = c.xcr0 & c.r[0];
  if (!(rfbm & 1)) return;
  if (!(bvLo & 1)) {
    c.x87 = X87_INIT;
    c.x87InUse = false;
    return;
  }
  const img = new Uint8Array(X87_IMAGE_BYTES);
  for (let k = 0; k < X87_IMAGE_BYTES; k += 4) {
    const v = c.rdLin32(x87Byte(c, lin, k));
    img[k] = v; img[k + 1] = v >>> 8; img[k + 2] = v >>> 16; img[k + 3] = v >>> 24;
  }
  c.x87 = img;
  c.x87InUse = true;
}

def('xgetbv', xgetbv);
def('xsetbv', xsetbv);
def('xsave', xsave);
def('xrstor', xrstor);
