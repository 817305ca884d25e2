import type { Instr } from '../block';
import type { Cpu } from '../cpu';
import * as K from '../constants';
import * as F from '../flags';
import { descLimit, descriptorAddress } from '../segmentation';
import { rmwLin } from './operands';
import { def } from './registry';

/**
 * Descriptor inspection (SDM vol. 2 LAR, LSL, VERR, VERW, ARPL). These never fault on a bad
 * selector: they report through ZF. Only protected mode has them (#UD in real and virtual-8086
 * mode). Memory faults on the operand or on the descriptor table itself are real faults.
 */

/** System descriptor types LAR accepts: legacy mode (TSSs, LDT, call and task gates). */
const LAR_LEGACY = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 9) | (1 << 0xB) | (1 << 0xC);
/** IA-32e mode: LDT, 64-bit TSS (available, busy), 64-bit call gate. */
const LAR_LONG = (1 << 2) | (1 << 9) | (1 << 0xB) | (1 << 0xC);
/** System descriptor types LSL accepts (they have a limit): TSSs and the LDT. */
const LSL_LEGACY = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 9) | (1 << 0xB);
const LSL_LONG = (1 << 2) | (1 << 9) | (1 << 0xB);

/** Result of lookUp: the descriptor's dwords, or ok = false (ZF will be cleared). */
const found = { ok: false, lo: 0, hi: 0 };

function requireProtected(c: Cpu, what: string): void {
  if (!c.protectedMode || c.v86) c.raise(K.EXC_UD, -1, `${what} outside protected mode`);
}

/** The selector operand: a register's low 16 bits or a word in memory. */
function selectorOperand(c: Cpu, i: Instr): number {
  return i.isMem ? c.rd16(i.seg, c.ea(i)) : c.r[i.rm] & 0xFFFF;
}

/**
 * Reads the descriptor of `sel` when it exists and is visible at the current CPL and the selector's
 * RPL (conforming code is always visible). `types` is the bitmap of acceptable system types.
 */
function lookUp(c: Cpu, sel: number, types: number): void {
  found.ok = false;
  if ((sel & 0xFFFC) === 0) return;
  const addr = descriptorAddress(c, sel);
  if (addr < 0) return;
  const lma = (c.efer & K.EFER_LMA) !== 0;
  const lo = c.rdSys32(addr);
  const hi = c.rdSys32(lma ? addr + 4 : (addr + 4) >>> 0);
  const type = (hi >>> 8) & 0xF;
  const s = (hi & 0x1000) !== 0;
  if (!s) {
    if (!((types >>> type) & 1)) return;
    if (lma) {
      // 16-byte system descriptor: it must fit the table and its upper type field must be 0
      if (descriptorAddress(c, sel, 16) < 0) return;
      if ((c.rdSys32(addr + 12) >>> 8) & 0x1F) return;
    }
  }
  const dpl = (hi >>> 13) & 3;
  const conformingCode = s && (type & 0xC) === 0xC;
  if (!conformingCode && (dpl < c.cpl || dpl < (sel & 3))) return;
  found.ok = true;
  found.lo = lo;
  found.hi = hi;
}

/** Sets ZF alone, keeping the other arithmetic flags. */
function setZF(c: Cpu, z: boolean): void {
  c.setArith((c.getFlags() & ~F.ZF) | (z ? F.ZF : 0));
}

/** Writes a LAR/LSL result: 16 bits merge, 32 and 64 bits zero-extend. */
function setDest(c: Cpu, i: Instr, v: number): void {
  if (i.size === 2) c.setReg(2, i.reg, v & 0xFFFF);
  else { c.r[i.reg] = v | 0; c.rh[i.reg] = 0; }
}

function lar(c: Cpu, i: Instr): void {
  requireProtected(c, 'LAR');
  const sel = selectorOperand(c, i);
  lookUp(c, sel, c.efer & K.EFER_LMA ? LAR_LONG : LAR_LEGACY);
  if (found.ok) setDest(c, i, i.size === 2 ? found.hi & 0xFF00 : found.hi & 0x00FFFF00);
  setZF(c, found.ok);
}

function lsl(c: Cpu, i: Instr): void {
  requireProtected(c, 'LSL');
  const sel = selectorOperand(c, i);
  lookUp(c, sel, c.efer & K.EFER_LMA ? LSL_LONG : LSL_LEGACY);
  if (found.ok) setDest(c, i, descLimit(found.lo, found.hi));
  setZF(c, found.ok);
}

/** VERR/VERW: code/data segments only; readable (data, or code with R) / writable (data with W). */
function verify(c: Cpu, i: Instr, write: boolean): void {
  requireProtected(c, write ? 'VERW' : 'VERR');
  const sel = selectorOperand(c, i);
  lookUp(c, sel, 0);
  let ok = found.ok && (found.hi & 0x1000) !== 0;
  if (ok) {
    const type = (found.hi >>> 8) & 0xF;
    ok = write ? !(type & 8) && (type & 2) !== 0 : !(type & 8) || (type & 2) !== 0;
  }
  setZF(c, ok);
}

/** ARPL r/m16, r16: raises the destination selector's RPL to the source's. */
function arpl(c: Cpu, i: Instr): void {
  requireProtected(c, 'ARPL');
  const src = c.r[i.reg] & 3;
  if (!i.isMem) {
    const d = c.r[i.rm] & 0xFFFF;
    if ((d & 3) < src) { c.setReg(2, i.rm, (d & ~3) | src); setZF(c, true); } else setZF(c, false);
    return;
  }
  const lin = rmwLin(c, i, 2);
  const d = c.rdLin16(lin);
  if ((d & 3) < src) { c.wrLin16(lin, (d & ~3) | src); setZF(c, true); } else setZF(c, false);
}

def('lar', lar);
def('lsl', lsl);
def('verr', (c, i) => verify(c, i, false));
def('verw', (c, i) => verify(c, i, true));
def('arpl', arpl);
