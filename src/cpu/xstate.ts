/**
 * The XSAVE feature set as this core implements it (SDM vol. 1 ch. 13). The only state component
 * is 0, x87: there is no SSE (component 1) or anything above, so XCR0 can only ever be 1.
 *
 * The core has no x87 unit (CPUID.1:EDX.FPU = 0), yet an OS that enables XSAVE saves and restores
 * component 0 on every task switch and expects to read back what it wrote. The component is
 * therefore held as an opaque image of the bytes it occupies in the legacy region of an XSAVE area;
 * XRSTOR loads it, XSAVE stores it, and no instruction computes on it.
 */

/** XCR0 bits this CPU supports (CPUID.(EAX=0DH,ECX=0):EAX/EDX): x87 only. */
export const XCR0_SUPPORTED = 1;

/** Bytes of the legacy region that belong to component 0: 0-23 (FCW..FDS) and 32-159 (ST0-ST7). */
export const X87_LOW_BYTES = 24;
export const X87_REGS_OFFSET = 32;
export const X87_IMAGE_BYTES = X87_LOW_BYTES + 128;

/** Legacy region (512) plus the XSAVE header (64): every supported component lives in the legacy region. */
export const XSAVE_AREA_BYTES = 576;
/** Offset of the XSAVE header (XSTATE_BV, XCOMP_BV, reserved) in the area. */
export const XSAVE_HEADER = 512;

/**
 * The x87 initial configuration (SDM 13.6): FCW 037FH, FSW 0, FTW (abridged) 0, everything else 0.
 * Images are replaced, never written in place, so this one can be shared (and reverse-execution
 * records can keep a reference instead of a copy).
 */
export const X87_INIT: Uint8Array = (() => {
  const b = new Uint8Array(X87_IMAGE_BYTES);
  b[0] = 0x7F;
  b[1] = 0x03;
  return b;
})();

/** XSAVE area size for the components enabled in `xcr0` (CPUID.(EAX=0DH,ECX=0):EBX). */
export function xsaveAreaSize(xcr0: number): number {
  // components 0 and 1 live in the legacy region; no extended component exists
  void xcr0;
  return XSAVE_AREA_BYTES;
}
