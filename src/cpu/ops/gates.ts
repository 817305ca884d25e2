import type { Cpu } from '../cpu';
import * as K from '../constants';
import { loadStackSegment, tssStack32, writeStackFrame } from '../interrupts';
import { commitCs, desc, descAr, descLimit, readDescriptor } from '../segmentation';

/**
 * Far CALL/JMP through a call gate (SDM 5.8.3-5.8.6 and the CALL/JMP pseudocode): 16- and 32-bit
 * gates in legacy protected mode, 64-bit gates in IA-32e mode; same privilege, and for CALL the
 * inner-privilege transfer with the stack switch from the TSS and (32/16-bit gates) the parameter
 * copy. Every check and every access that can fault happens before any register changes.
 */

const TWO32 = 0x100000000;
const CANON = 0x800000000000; // 2^47

/** Frame scratch: SS, ESP, up to 31 parameters, CS, EIP. */
const frame: number[] = new Array(36).fill(0);

/** Far CALL/JMP through the call gate `sel` (already known to be a call gate descriptor). */
export function callGate(c: Cpu, sel: number, call: boolean, retIp: number, osz: number): void {
  void osz; // the gate, not the instruction, sets the size of the transfer
  const lma = (c.efer & K.EFER_LMA) !== 0;
  const gerr = sel & 0xFFFC;
  // IA-32e call gates are 16 bytes; the whole descriptor must lie inside the table
  readDescriptor(c, sel, K.EXC_GP, lma ? 16 : 8);
  const glo = desc.lo, ghi = desc.hi, glo2 = desc.lo2, ghi2 = desc.hi2;
  const type = (ghi >>> 8) & 0xF;
  const gdpl = (ghi >>> 13) & 3;
  if (lma && ((ghi2 >>> 8) & 0x1F) !== 0) c.raise(K.EXC_GP, gerr, `call gate 0x${sel.toString(16)}: upper type field is not 0`);
  if (gdpl < c.cpl || gdpl < (sel & 3)) c.raise(K.EXC_GP, gerr, `call gate 0x${sel.toString(16)}: DPL ${gdpl} below CPL ${c.cpl} or RPL ${sel & 3}`);
  if (!(ghi & 0x8000)) c.raise(K.EXC_NP, gerr, `call gate 0x${sel.toString(16)} not present`);
  const gsize = lma ? 8 : type === 0xC ? 4 : 2;
  const off32 = ((ghi & 0xFFFF0000) | (glo & 0xFFFF)) >>> 0;
  const off = gsize === 8 ? (glo2 | 0) * TWO32 + off32 : gsize === 4 ? off32 : glo & 0xFFFF;
  const params = lma ? 0 : ghi & 0x1F;

  // ---- the target code segment ----
  const csSel = glo >>> 16;
  const cerr = csSel & 0xFFFC;
  if (cerr === 0) c.raise(K.EXC_GP, 0, `call gate 0x${sel.toString(16)} has a null code selector`);
  readDescriptor(c, csSel);
  const ar = descAr(desc.hi);
  const dpl = (ar >> K.AR_DPL_SHIFT) & 3;
  const conforming = (ar & 4) !== 0;
  if (!(ar & K.AR_S) || !(ar & 8)) c.raise(K.EXC_GP, cerr, `call gate target 0x${csSel.toString(16)} is not a code segment`);
  if (call ? dpl > c.cpl : conforming ? dpl > c.cpl : dpl !== c.cpl) {
    c.raise(K.EXC_GP, cerr, `call gate target 0x${csSel.toString(16)}: DPL ${dpl} not allowed at CPL ${c.cpl}`);
  }
  if (lma && (!(ar & K.AR_L) || ar & K.AR_DB)) c.raise(K.EXC_GP, cerr, `64-bit call gate target 0x${csSel.toString(16)} is not a 64-bit code segment`);
  if (!(ar & K.AR_P)) c.raise(K.EXC_NP, cerr, `call gate target 0x${csSel.toString(16)} not present`);
  const codeLo = desc.lo, codeHi = desc.hi, codeAddr = desc.addr;
  const badOff = lma ? off < -CANON || off >= CANON : off > descLimit(codeLo, codeHi);
  const oldCs = c.segSel[K.SEG_CS];

  if (!call || conforming || dpl === c.cpl) {
    // ---- same privilege ----
    if (badOff) c.raise(K.EXC_GP, 0, `call gate offset 0x${off.toString(16)} outside the target code segment`);
    if (call) {
      if (lma) {
        const rsp = c.reg64(4);
        if (rsp - 16 < -CANON || rsp > CANON) c.raise(K.EXC_SS, 0, 'call gate: return address would be pushed at a non-canonical address');
        push64(c, rsp - 8, oldCs, 0, false);
        push64(c, rsp - 16, retIp | 0, Math.floor(retIp / TWO32) | 0, false);
        c.setAddrReg(4, 8, rsp - 16);
      } else {
        const ssAr = c.segAr[K.SEG_SS];
        const big = (ssAr & K.AR_DB) !== 0;
        frame[0] = oldCs;
        frame[1] = retIp;
        const sp = big ? c.r[4] >>> 0 : c.r[4] & 0xFFFF;
        const nsp = writeStackFrame(c, c.segBase[K.SEG_SS], c.segLimit[K.SEG_SS], ssAr, sp, 2, gsize, false, 0, frame);
        setSp(c, nsp, big);
      }
    }
    desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
    commitCs(c, csSel, c.cpl);
    c.rip = off;
    c.updateMode();
    return;
  }

  // ---- CALL to a more privileged non-conforming segment: stack switch ----
  if (lma) {
    const tr = c.segSel[K.SEG_TR] & 0xFFFC;
    const toff = 4 + dpl * 8;
    if (toff + 7 > c.segLimit[K.SEG_TR]) c.raise(K.EXC_TS, tr, `TSS too small for the ring-${dpl} stack`);
    const tbase = c.segBase[K.SEG_TR];
    const rsp = c.rdSys32(tbase + toff + 4) * TWO32 + (c.rdSys32(tbase + toff) >>> 0);
    if (rsp - 32 < -CANON || rsp > CANON) c.raise(K.EXC_SS, 0, 'call gate: the new stack is not canonical');
    if (badOff) c.raise(K.EXC_GP, 0, 'call gate offset is not canonical');
    push64(c, rsp - 8, c.segSel[K.SEG_SS], 0, true);
    push64(c, rsp - 16, c.r[4], c.rh[4], true);
    push64(c, rsp - 24, oldCs, 0, true);
    push64(c, rsp - 32, retIp | 0, Math.floor(retIp / TWO32) | 0, true);
    // SS becomes a null selector whose RPL is the new CPL
    c.loadSegRaw(K.SEG_SS, dpl, 0, 0, K.AR_UNUSABLE | K.AR_DB | (dpl << K.AR_DPL_SHIFT) | K.AR_S | 3);
    c.setAddrReg(4, 8, rsp - 32);
  } else {
    const { ss, sp } = tssStack32(c, dpl, 0);
    const ssDesc = loadStackSegment(c, ss, dpl, 0);
    if (badOff) c.raise(K.EXC_GP, 0, `call gate offset 0x${off.toString(16)} beyond the target code segment limit`);
    // SS:ESP of the caller, its parameters (same order), then CS:EIP
    const oldAr = c.segAr[K.SEG_SS];
    const oldBig = (oldAr & K.AR_DB) !== 0;
    const oldSp = oldBig ? c.r[4] >>> 0 : c.r[4] & 0xFFFF;
    let n = 0;
    frame[n++] = c.segSel[K.SEG_SS];
    frame[n++] = gsize === 4 ? c.r[4] : c.r[4] & 0xFFFF;
    for (let k = params - 1; k >= 0; k--) {
      const o = oldBig ? (oldSp + k * gsize) >>> 0 : (oldSp + k * gsize) & 0xFFFF;
      frame[n++] = c.rd(gsize, K.SEG_SS, o);
    }
    frame[n++] = oldCs;
    frame[n++] = retIp;
    const nsp = writeStackFrame(c, ssDesc.base, ssDesc.limit, ssDesc.ar, sp, n, gsize, true, ss & 0xFFFC, frame);
    c.loadSegRaw(K.SEG_SS, ssDesc.sel, ssDesc.base, ssDesc.limit, ssDesc.ar);
    setSp(c, nsp, (ssDesc.ar & K.AR_DB) !== 0);
  }
  desc.lo = codeLo; desc.hi = codeHi; desc.addr = codeAddr;
  commitCs(c, csSel, dpl);
  c.rip = off;
  c.updateMode();
}

/** Writes a 64-bit stack slot at linear `lin` (supervisor access for a new inner stack). */
function push64(c: Cpu, lin: number, lo: number, hi: number, sys: boolean): void {
  if (sys) {
    c.wrSys32(lin, lo);
    c.wrSys32(lin + 4, hi);
  } else {
    c.wrLin32(lin, lo);
    c.wrLin32(lin + 4, hi);
  }
}

function setSp(c: Cpu, sp: number, big: boolean): void {
  if (big) { c.r[4] = sp | 0; c.rh[4] = 0; } else c.r[4] = (c.r[4] & ~0xFFFF) | (sp & 0xFFFF);
}
