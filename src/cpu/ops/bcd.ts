import type { Cpu } from '../cpu';
import type { Instr } from '../block';
import { EXC_DE } from '../constants';
import * as F from '../flags';
import { def } from './registry';

/**
 * Decimal adjust instructions (invalid in 64-bit mode; the decoder never asks for them there):
 * DAA DAS AAA AAS AAM AAD. Defined flags per the SDM; the undefined ones as this machine's CPU sets
 * them (test/diff/README.md).
 */

/** SF ZF PF of an 8-bit value. */
function szp8(v: number): number {
  return (v === 0 ? F.ZF : 0) | (v & 0x80 ? F.SF : 0) | F.PARITY[v];
}

function setAL(c: Cpu, v: number): void {
  c.r[0] = (c.r[0] & ~0xFF) | v;
}

/** DAA. OF (undefined) = bit 7 of (NOT AL_in AND AL_out). */
function daa(c: Cpu): void {
  const f = c.getFlags();
  const old = c.r[0] & 0xFF;
  let al = old, cf = 0, af = 0;
  if ((al & 0x0F) > 9 || f & F.AF) {
    al = (al + 6) & 0xFF;
    cf = (f & F.CF) | (old > 0xF9 ? 1 : 0);
    af = F.AF;
  }
  if (old > 0x99 || f & F.CF) {
    al = (al + 0x60) & 0xFF;
    cf = 1;
  } else cf = 0;
  setAL(c, al);
  c.setArith(szp8(al) | cf | af | (~old & al & 0x80 ? F.OF : 0));
}

/** DAS. OF (undefined) = bit 7 of (AL_in AND NOT AL_out). */
function das(c: Cpu): void {
  const f = c.getFlags();
  const old = c.r[0] & 0xFF;
  let al = old, cf = 0, af = 0;
  if ((al & 0x0F) > 9 || f & F.AF) {
    al = (al - 6) & 0xFF;
    cf = (f & F.CF) | (old < 6 ? 1 : 0);
    af = F.AF;
  }
  if (old > 0x99 || f & F.CF) {
    al = (al - 0x60) & 0xFF;
    cf = 1;
  }
  setAL(c, al);
  c.setArith(szp8(al) | cf | af | (old & ~al & 0x80 ? F.OF : 0));
}

/**
 * AAA / AAS: AX ± 0x106 when adjusting, then AL &= 0x0F. CF = AF = "adjusted"; the undefined
 * SF ZF PF OF come from the 16-bit sum (before masking AL), as this CPU computes them.
 */
function asciiAdjust(c: Cpu, sub: boolean): void {
  const f = c.getFlags();
  const ax = c.r[0] & 0xFFFF;
  const adjust = (ax & 0x0F) > 9 || (f & F.AF) !== 0;
  let r = ax, of = 0;
  if (adjust) {
    if (sub) {
      r = (ax - 0x106) & 0xFFFF;
      of = ax & ~r & 0x8000;
    } else {
      r = (ax + 0x106) & 0xFFFF;
      of = ~ax & r & 0x8000;
    }
  }
  c.r[0] = (c.r[0] & ~0xFFFF) | (r & 0xFF0F);
  c.setArith((r === 0 ? F.ZF : 0) | (r & 0x8000 ? F.SF : 0) | F.PARITY[r & 0xFF] | (of ? F.OF : 0) | (adjust ? F.CF | F.AF : 0));
}

/** AAM imm8: AH = AL / imm, AL = AL mod imm; CF AF OF = 0. */
function aam(c: Cpu, i: Instr): void {
  const base = i.imm & 0xFF;
  if (base === 0) c.raise(EXC_DE, -1, 'AAM with base 0');
  const al = c.r[0] & 0xFF;
  const q = Math.floor(al / base), r = al - q * base;
  c.r[0] = (c.r[0] & ~0xFFFF) | (q << 8) | r;
  c.setArith(szp8(r));
}

/** AAD imm8: AL = AL + AH * imm, AH = 0; CF AF OF as from the 8-bit ADD AL, AH*imm. */
function aad(c: Cpu, i: Instr): void {
  const al = c.r[0] & 0xFF;
  const b = (((c.r[0] >> 8) & 0xFF) * (i.imm & 0xFF)) & 0xFF;
  const r = (al + b) & 0xFF;
  c.r[0] = (c.r[0] & ~0xFFFF) | r;
  const cf = al + b > 0xFF ? F.CF : 0;
  const af = (al ^ b ^ r) & F.AF;
  const of = (al ^ r) & (b ^ r) & 0x80 ? F.OF : 0;
  c.setArith(szp8(r) | cf | af | of);
}

def('daa', daa);
def('das', das);
def('aaa', (c) => asciiAdjust(c, false));
def('aas', (c) => asciiAdjust(c, true));
def('aam', aam);
def('aad', aad);
