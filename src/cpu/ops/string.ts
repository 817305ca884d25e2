import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { alu64, aluOp } from './alu';
import { def } from './registry';
import { rdLin, wrLin } from './operands';
import { interceptStringIo } from '../vmx/intercept';

/**
 * String instructions: MOVS CMPS STOS LODS SCAS INS OUTS, element sizes 1/2/4/8 (INS/OUTS up to 4),
 * address sizes 2/4/8 (rCX, rSI, rDI at i.asize), DF for the direction. The source is seg:rSI
 * (i.seg: DS or the override); the destination is always ES:rDI.
 *
 * REP (any of F2/F3 for MOVS STOS LODS INS OUTS), REPE (F3) and REPNE (F2) for CMPS SCAS: one
 * invocation runs at most CHUNK iterations (one when EFLAGS.TF is set, so the single-step trap comes
 * after each iteration as on hardware, and one under the VMX monitor trap flag, whose VM exit comes
 * after an iteration too); when iterations remain it sets RIP back to the instruction,
 * which the decoder always places last in its block, so interrupts and the instruction budget are
 * looked at in between. A fault leaves rCX/rSI/rDI describing the iterations completed before it
 * (architectural REP semantics), and RIP at the instruction.
 *
 * Fast paths: runs of elements that lie in one 4 KiB page for both source and destination, inside
 * the segment limits and without offset wrap-around, whose pages are in the CPU's TLB (read TLB for
 * sources, write TLB for destinations: a write-TLB entry exists only for RAM pages without decoded
 * code), are processed directly on the backing store. Copies whose destination overlaps a source
 * element still to be read (forward copy with dst just above src, or the mirror case for DF = 1)
 * are done element by element in the architectural order, so e.g. REP MOVSB with dst = src + 1
 * replicates a byte as on hardware. Everything else goes through the ordinary checked accessors,
 * one element at a time, which also fills the TLB for the next run.
 */

/** Most iterations one invocation of a REP string instruction performs. */
const CHUNK = 4096;
const CANON = 0x800000000000; // 2^47
const TWO32 = 0x100000000;
const CMP = 7;
const SEG_ES = K.SEG_ES;

/** Host (backing-store) offset of the first element of the last successful span(). */
let spanHost = 0;
/** High half of a 64-bit element read by hostRead. */
let hostHi = 0;

/** Wraps an offset to the address size. */
function wrapA(v: number, a: number): number {
  return a === 8 ? v : a === 4 ? v >>> 0 : v & 0xFFFF;
}

/** Iterations the REP count in rCX asks for; 64-bit counts of 2^32 and more read as 2^32. */
function readCount(c: Cpu, a: number): number {
  if (a === 2) return c.r[1] & 0xFFFF;
  if (a === 4) return c.r[1] >>> 0;
  return c.rh[1] !== 0 ? TWO32 : c.r[1] >>> 0;
}

/** rCX -= n (n no larger than the count). */
function subCount(c: Cpu, a: number, n: number): void {
  const r = c.r;
  if (a === 2) r[1] = (r[1] & ~0xFFFF) | ((r[1] - n) & 0xFFFF);
  else if (a === 4) { r[1] = ((r[1] >>> 0) - n) | 0; c.rh[1] = 0; }
  else {
    const lo = (r[1] >>> 0) - n;
    r[1] = lo | 0;
    if (lo < 0) c.rh[1] = (c.rh[1] - 1) | 0;
  }
}

/** Iterations allowed in this invocation: one under TF, and under the VMX monitor trap flag (SDM 26.5.2). */
function chunkLimit(c: Cpu): number {
  return c.flags & F.TF || c.mtf ? 1 : CHUNK;
}

/**
 * How many of the next `max` elements (size e, from offset `off` of segment `seg`, going down when
 * `down`) can be accessed directly: all in one page that the read (or write) TLB maps, inside the
 * segment limit and without wrapping the offset. Returns 0 when the element at `off` cannot (the
 * caller then takes the checked path); otherwise sets spanHost to the first element's host offset.
 */
function span(c: Cpu, seg: number, off: number, e: number, down: boolean, a: number, max: number, write: boolean): number {
  let k = max;
  if (a !== 8) {
    const lim = write ? c.wrLim[seg] : c.rdLim[seg];
    const amax = a === 2 ? 0xFFFF : 0xFFFFFFFF;
    const top = lim < amax ? lim : amax;
    if (off + e - 1 > top) return 0;
    const room = down ? Math.floor(off / e) + 1 : Math.floor((top - off + 1) / e);
    if (room < k) k = room;
  }
  let lin: number;
  if (c.mode64) {
    lin = c.effBase[seg] + off;
    if (lin < -CANON || lin >= CANON) return 0;
  } else lin = (c.effBase[seg] + off) >>> 0;
  const po = lin & 0xFFF;
  if (po + e > 0x1000) return 0;
  const room = down ? Math.floor(po / e) + 1 : Math.floor((0x1000 - po) / e);
  if (room < k) k = room;
  const tag = lin - po;
  const idx = (lin >>> 12) & (c.tlbRTag.length - 1);
  if (write) {
    if (c.tlbWTag[idx] !== tag) return 0;
    spanHost = c.tlbWOff[idx] + po;
  } else {
    if (c.tlbRTag[idx] !== tag) return 0;
    spanHost = c.tlbROff[idx] + po;
  }
  return k;
}

/** Reads an element from the backing store (size 8: high half in hostHi). */
function hostRead(c: Cpu, x: number, e: number): number {
  switch (e) {
    case 1: return c.mem[x];
    case 2: return c.dv.getUint16(x, true);
    case 4: return c.dv.getInt32(x, true);
    default:
      hostHi = c.dv.getInt32(x + 4, true);
      return c.dv.getInt32(x, true);
  }
}

/** Scratch for element-wise overlapping copies (no allocation per use). */
const tmp = new Uint8Array(8);

/**
 * Copies k elements of size e on the backing store in the architectural order. hs/hd are the host
 * offsets of the first elements (the highest ones when going down).
 */
function copyBulk(mem: Uint8Array, hs: number, hd: number, k: number, e: number, down: boolean): void {
  const len = k * e;
  if (len === 1) { mem[hd] = mem[hs]; return; }
  const sLo = down ? hs - len + e : hs;
  const dLo = down ? hd - len + e : hd;
  if (!down) {
    const d = dLo - sLo;
    if (d <= 0 || d >= len) { mem.copyWithin(dLo, sLo, sLo + len); return; }
    // the destination runs into source bytes not yet read: copy forward as the iterations do
    if (d >= e) {
      for (let j = 0; j < len; j++) mem[dLo + j] = mem[sLo + j];
      return;
    }
    for (let p = 0; p < len; p += e) {
      for (let t = 0; t < e; t++) tmp[t] = mem[sLo + p + t];
      for (let t = 0; t < e; t++) mem[dLo + p + t] = tmp[t];
    }
    return;
  }
  const d = sLo - dLo;
  if (d <= 0 || d >= len) { mem.copyWithin(dLo, sLo, sLo + len); return; }
  if (d >= e) {
    for (let j = len - 1; j >= 0; j--) mem[dLo + j] = mem[sLo + j];
    return;
  }
  for (let p = len - e; p >= 0; p -= e) {
    for (let t = 0; t < e; t++) tmp[t] = mem[sLo + p + t];
    for (let t = 0; t < e; t++) mem[dLo + p + t] = tmp[t];
  }
}

/** Fills k elements (host range starting at dLo) with the element value (lo, hi). */
function fillBulk(c: Cpu, dLo: number, len: number, e: number, lo: number, hi: number): void {
  const mem = c.mem;
  const b = lo & 0xFF;
  let same: boolean;
  switch (e) {
    case 1: same = true; break;
    case 2: same = (lo & 0xFFFF) === b * 0x101; break;
    case 4: same = lo === (Math.imul(b, 0x01010101) | 0); break;
    default: same = lo === (Math.imul(b, 0x01010101) | 0) && hi === lo; break;
  }
  if (same) { mem.fill(b, dLo, dLo + len); return; }
  const dv = c.dv;
  if (e === 2) dv.setUint16(dLo, lo, true);
  else {
    dv.setInt32(dLo, lo, true);
    if (e === 8) dv.setInt32(dLo + 4, hi, true);
  }
  let filled = e;
  while (filled < len) {
    const n = filled < len - filled ? filled : len - filled;
    mem.copyWithin(dLo + filled, dLo, dLo + n);
    filled += n;
  }
}

/** Stores the final pointer registers and the count after `done` iterations. */
function finish(c: Cpu, a: number, si: number, di: number, done: number, useSi: boolean, useDi: boolean): void {
  if (useSi) c.setAddrReg(6, a, si);
  if (useDi) c.setAddrReg(7, a, di);
  subCount(c, a, done);
}

// =====================================================================================
// MOVS
// =====================================================================================

/** One MOVS element through the checked accessors. */
function movsOne(c: Cpu, e: number, seg: number, si: number, di: number): void {
  if (e === 8) {
    const lo = c.rd64(seg, si);
    const hi = c.hi;
    c.wr64(SEG_ES, di, lo, hi);
    return;
  }
  c.wr(e, SEG_ES, di, c.rd(e, seg, si));
}

function movs(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size, seg = i.seg;
  const down = (c.flags & F.DF) !== 0;
  const step = down ? -e : e;
  let si = c.addrReg(6, a), di = c.addrReg(7, a);
  if (i.rep === 0) {
    movsOne(c, e, seg, si, di);
    c.setAddrReg(6, a, wrapA(si + step, a));
    c.setAddrReg(7, a, wrapA(di + step, a));
    return;
  }
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  try {
    while (done < n) {
      let k = span(c, seg, si, e, down, a, n - done, false);
      if (k > 0) {
        const hs = spanHost;
        k = span(c, SEG_ES, di, e, down, a, k, true);
        if (k > 0) {
          copyBulk(c.mem, hs, spanHost, k, e, down);
          si = wrapA(si + k * step, a);
          di = wrapA(di + k * step, a);
          done += k;
          continue;
        }
      }
      movsOne(c, e, seg, si, di);
      si = wrapA(si + step, a);
      di = wrapA(di + step, a);
      done++;
    }
  } catch (ex) {
    if (done > 0) finish(c, a, si, di, done, true, true);
    throw ex;
  }
  finish(c, a, si, di, done, true, true);
  if (count > n) c.rip = i.rip;
}

// =====================================================================================
// STOS
// =====================================================================================

function stosOne(c: Cpu, e: number, di: number, lo: number, hi: number): void {
  if (e === 8) c.wr64(SEG_ES, di, lo, hi);
  else c.wr(e, SEG_ES, di, lo);
}

function stos(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size;
  const down = (c.flags & F.DF) !== 0;
  const step = down ? -e : e;
  const lo = e === 1 ? c.r[0] & 0xFF : e === 2 ? c.r[0] & 0xFFFF : c.r[0];
  const hi = e === 8 ? c.rh[0] : 0;
  let di = c.addrReg(7, a);
  if (i.rep === 0) {
    stosOne(c, e, di, lo, hi);
    c.setAddrReg(7, a, wrapA(di + step, a));
    return;
  }
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  try {
    while (done < n) {
      const k = span(c, SEG_ES, di, e, down, a, n - done, true);
      if (k > 0) {
        const len = k * e;
        fillBulk(c, down ? spanHost - len + e : spanHost, len, e, lo, hi);
        di = wrapA(di + k * step, a);
        done += k;
        continue;
      }
      stosOne(c, e, di, lo, hi);
      di = wrapA(di + step, a);
      done++;
    }
  } catch (ex) {
    if (done > 0) finish(c, a, 0, di, done, false, true);
    throw ex;
  }
  finish(c, a, 0, di, done, false, true);
  if (count > n) c.rip = i.rip;
}

// =====================================================================================
// LODS
// =====================================================================================

/** Loads the accumulator with an element value. */
function setAcc(c: Cpu, e: number, lo: number, hi: number): void {
  if (e === 1) c.r[0] = (c.r[0] & ~0xFF) | lo;
  else if (e === 2) c.r[0] = (c.r[0] & ~0xFFFF) | lo;
  else { c.r[0] = lo; c.rh[0] = e === 8 ? hi : 0; }
}

function lods(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size, seg = i.seg;
  const down = (c.flags & F.DF) !== 0;
  const step = down ? -e : e;
  let si = c.addrReg(6, a);
  if (i.rep === 0) {
    const lo = e === 8 ? c.rd64(seg, si) : c.rd(e, seg, si);
    setAcc(c, e, lo, c.hi);
    c.setAddrReg(6, a, wrapA(si + step, a));
    return;
  }
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  try {
    while (done < n) {
      const k = span(c, seg, si, e, down, a, n - done, false);
      if (k > 0) {
        // only the last element read stays in the accumulator
        const lo = hostRead(c, spanHost + (k - 1) * step, e);
        setAcc(c, e, lo, hostHi);
        si = wrapA(si + k * step, a);
        done += k;
        continue;
      }
      const lo = e === 8 ? c.rd64(seg, si) : c.rd(e, seg, si);
      setAcc(c, e, lo, c.hi);
      si = wrapA(si + step, a);
      done++;
    }
  } catch (ex) {
    if (done > 0) finish(c, a, si, 0, done, true, false);
    throw ex;
  }
  finish(c, a, si, 0, done, true, false);
  if (count > n) c.rip = i.rip;
}

// =====================================================================================
// SCAS and CMPS
// =====================================================================================

/** Sets the flags of x - y for elements of size e (x, y: lo halves; xh, yh: high halves). */
function cmpFlags(c: Cpu, e: number, x: number, xh: number, y: number, yh: number): void {
  if (e === 8) alu64(c, CMP, x, xh, y, yh);
  else aluOp(c, CMP, x, y, e);
}

/** Reads an element through the checked accessors (size 8: high half in c.hi). */
function rdElem(c: Cpu, e: number, seg: number, off: number): number {
  return e === 8 ? c.rd64(seg, off) : c.rd(e, seg, off);
}

function scas(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size;
  const down = (c.flags & F.DF) !== 0;
  const step = down ? -e : e;
  const acc = e === 1 ? c.r[0] & 0xFF : e === 2 ? c.r[0] & 0xFFFF : c.r[0];
  const accHi = e === 8 ? c.rh[0] : 0;
  let di = c.addrReg(7, a);
  if (i.rep === 0) {
    const v = rdElem(c, e, SEG_ES, di);
    cmpFlags(c, e, acc, accHi, v, c.hi);
    c.setAddrReg(7, a, wrapA(di + step, a));
    return;
  }
  /** REPE continues while equal, REPNE while different. */
  const whileEq = i.rep === 0xF3;
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  let stopped = false;
  try {
    while (done < n) {
      const k = span(c, SEG_ES, di, e, down, a, n - done, false);
      if (k > 0 && e === 1) {
        // bytes (strlen, memchr): a tight scan for the first element that ends the repetition
        const mem = c.mem;
        let x = spanHost, j = 0;
        if (whileEq) while (j < k && mem[x] === acc) { j++; x += step; }
        else while (j < k && mem[x] !== acc) { j++; x += step; }
        if (j < k) { stopped = true; j++; } else x -= step;
        cmpFlags(c, 1, acc, 0, mem[x], 0);
        di = wrapA(di + j * step, a);
        done += j;
        if (stopped) break;
        continue;
      }
      if (k > 0) {
        let x = spanHost, v = 0, vh = 0, j = 0;
        while (j < k) {
          v = hostRead(c, x, e);
          vh = e === 8 ? hostHi : 0;
          j++;
          if ((v === acc && vh === accHi) !== whileEq) { stopped = true; break; }
          x += step;
        }
        cmpFlags(c, e, acc, accHi, v, vh);
        di = wrapA(di + j * step, a);
        done += j;
        if (stopped) break;
        continue;
      }
      const v = rdElem(c, e, SEG_ES, di);
      const vh = e === 8 ? c.hi : 0;
      cmpFlags(c, e, acc, accHi, v, vh);
      di = wrapA(di + step, a);
      done++;
      if ((v === acc && vh === accHi) !== whileEq) { stopped = true; break; }
    }
  } catch (ex) {
    if (done > 0) finish(c, a, 0, di, done, false, true);
    throw ex;
  }
  finish(c, a, 0, di, done, false, true);
  if (!stopped && count > n) c.rip = i.rip;
}

function cmps(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size, seg = i.seg;
  const down = (c.flags & F.DF) !== 0;
  const step = down ? -e : e;
  let si = c.addrReg(6, a), di = c.addrReg(7, a);
  if (i.rep === 0) {
    const x = rdElem(c, e, seg, si);
    const xh = c.hi;
    const y = rdElem(c, e, SEG_ES, di);
    cmpFlags(c, e, x, xh, y, c.hi);
    c.setAddrReg(6, a, wrapA(si + step, a));
    c.setAddrReg(7, a, wrapA(di + step, a));
    return;
  }
  const whileEq = i.rep === 0xF3;
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  let stopped = false;
  try {
    while (done < n) {
      let k = span(c, seg, si, e, down, a, n - done, false);
      if (k > 0) {
        const hs = spanHost;
        k = span(c, SEG_ES, di, e, down, a, k, false);
        if (k > 0) {
          let xs = hs, xd = spanHost, x = 0, xh = 0, y = 0, yh = 0, j = 0;
          while (j < k) {
            x = hostRead(c, xs, e);
            xh = e === 8 ? hostHi : 0;
            y = hostRead(c, xd, e);
            yh = e === 8 ? hostHi : 0;
            j++;
            if ((x === y && xh === yh) !== whileEq) { stopped = true; break; }
            xs += step;
            xd += step;
          }
          cmpFlags(c, e, x, xh, y, yh);
          si = wrapA(si + j * step, a);
          di = wrapA(di + j * step, a);
          done += j;
          if (stopped) break;
          continue;
        }
      }
      const x = rdElem(c, e, seg, si);
      const xh = e === 8 ? c.hi : 0;
      const y = rdElem(c, e, SEG_ES, di);
      const yh = e === 8 ? c.hi : 0;
      cmpFlags(c, e, x, xh, y, yh);
      si = wrapA(si + step, a);
      di = wrapA(di + step, a);
      done++;
      if ((x === y && xh === yh) !== whileEq) { stopped = true; break; }
    }
  } catch (ex) {
    if (done > 0) finish(c, a, si, di, done, true, true);
    throw ex;
  }
  finish(c, a, si, di, done, true, true);
  if (!stopped && count > n) c.rip = i.rip;
}

// =====================================================================================
// INS and OUTS (port DX; permission checks in Cpu.portIn/portOut)
// =====================================================================================

/**
 * One INS element: the destination is checked for writing (segment and page) before the port is
 * read, so a fault does not lose the data of a port read with side effects.
 */
function insOne(c: Cpu, e: number, port: number, di: number): void {
  const lin = c.linW(SEG_ES, di, e);
  c.probeW(lin);
  if ((lin & 0xFFF) + e > 0x1000) c.probeW(c.linAdd(lin, e - 1));
  const v = c.portIn(port, e);
  wrLin(c, e, lin, v);
}

function ins(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size;
  const step = c.flags & F.DF ? -e : e;
  const port = c.r[2] & 0xFFFF;
  if (c.nonRoot) vmxStringIo(c, i, port, true);
  let di = c.addrReg(7, a);
  if (i.rep === 0) {
    insOne(c, e, port, di);
    c.setAddrReg(7, a, wrapA(di + step, a));
    return;
  }
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  try {
    for (; done < n; done++) {
      insOne(c, e, port, di);
      di = wrapA(di + step, a);
    }
  } catch (ex) {
    if (done > 0) finish(c, a, 0, di, done, false, true);
    throw ex;
  }
  finish(c, a, 0, di, done, false, true);
  if (count > n) c.rip = i.rip;
}

/** Non-root INS/OUTS: the permission check first (SDM 26.1.1), then the I/O exiting decision. */
function vmxStringIo(c: Cpu, i: Instr, port: number, isIn: boolean): void {
  if (c.needsIoCheck()) c.checkIoPermission(port, i.size);
  interceptStringIo(c, i, isIn);
}

function outsOne(c: Cpu, e: number, seg: number, port: number, si: number): void {
  const v = rdLin(c, e, c.linR(seg, si, e));
  c.portOut(port, e, v);
}

function outs(c: Cpu, i: Instr): void {
  const a = i.asize, e = i.size, seg = i.seg;
  const step = c.flags & F.DF ? -e : e;
  const port = c.r[2] & 0xFFFF;
  if (c.nonRoot) vmxStringIo(c, i, port, false);
  let si = c.addrReg(6, a);
  if (i.rep === 0) {
    outsOne(c, e, seg, port, si);
    c.setAddrReg(6, a, wrapA(si + step, a));
    return;
  }
  const count = readCount(c, a);
  if (count === 0) return;
  const lim = chunkLimit(c);
  const n = count < lim ? count : lim;
  let done = 0;
  try {
    for (; done < n; done++) {
      outsOne(c, e, seg, port, si);
      si = wrapA(si + step, a);
    }
  } catch (ex) {
    if (done > 0) finish(c, a, si, 0, done, true, false);
    throw ex;
  }
  finish(c, a, si, 0, done, true, false);
  if (count > n) c.rip = i.rip;
}

def('movs', movs);
def('cmps', cmps);
def('stos', stos);
def('lods', lods);
def('scas', scas);
def('ins', ins);
def('outs', outs);
