import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import * as F from '../../src/cpu/flags';
import { CODE0, CODE3, GDT, hex, Machine, S } from './sysenv';

/** LAR, LSL, VERR, VERW, ARPL: results through ZF, descriptor types per mode, privilege. */

const LAR = '0f 02 c1'; // lar eax, ecx
const LSL = '0f 03 c1'; // lsl eax, ecx
const VERR = '0f 00 e1'; // verr cx
const VERW = '0f 00 e9'; // verw cx
const LAR16 = '66 0f 02 c1'; // lar ax, cx
const ARPL = '63 ca'; // arpl dx, cx

function legacy(): Machine {
  const m = new Machine().protected32();
  m.seg(8, 0, 0xFFFF, 0xF, 0); // 0x40 conforming readable code, DPL 0
  m.seg(9, 0, 0xFFFF, 0x8, 3); // 0x48 execute-only code, DPL 3
  m.seg(10, 0, 0x1234, 0x1, 3); // 0x50 read-only data, DPL 3
  m.sys(11, 0, 0, 0xE, 3); // 0x58 an interrupt-gate type in the GDT
  m.callGate(12, S.CODE0, 0, 3); // 0x60 call gate, DPL 3
  m.sys(13, 0x6800, 0x77, 0x2, 3); // 0x68 LDT, DPL 3
  m.seg(14, 0, 0xFFFF, 0x3, 3, { p: false }); // 0x70 not present
  return m;
}

/** Runs `code ; ud2` with ECX = sel (EDX = dx) at the given CPL; returns ZF and EAX/EDX. */
function exec(m: Machine, code: string, sel: number, cpl: 0 | 3, dx = 0): { zf: boolean; eax: number; edx: number } {
  const c = m.cpu;
  const at = cpl === 3 ? CODE3 : CODE0;
  m.put(at, hex(code + ' 0f 0b'));
  if (cpl === 3) m.ring3(at); else { m.loadSeg(K.SEG_CS, S.CODE0); m.loadSeg(K.SEG_SS, S.DATA0); c.updateMode(); c.rip = at; }
  c.r[0] = 0xDEADBEEF | 0;
  c.r[1] = sel;
  c.r[2] = dx;
  c.setFlags(F.ZF, F.ARITH); // ZF set beforehand: a "not valid" result must clear it
  const rec = m.catchExceptions();
  m.run();
  assert.equal(rec.vec, K.EXC_UD, 'the instruction itself must not fault');
  return { zf: (c.getFlags() & F.ZF) !== 0, eax: c.r[0] >>> 0, edx: c.r[2] >>> 0 };
}

describe('LAR / LSL', () => {
  it('return access rights and limits of visible segments', () => {
    const m = legacy();
    assert.deepEqual(exec(m, LAR, S.CODE3, 3), { zf: true, eax: 0x00CFFB00, edx: 0 });
    assert.equal(exec(m, LSL, S.CODE3, 3).eax, 0xFFFFFFFF, 'page-granular limit scaled');
    assert.deepEqual(exec(m, LSL, 0x53, 3), { zf: true, eax: 0x1234, edx: 0 });
    assert.equal(exec(m, LAR, 0x73, 3).zf, true, 'a segment that is not present is still reported');
    assert.equal(exec(m, LAR, 0x73, 3).eax & 0x8000, 0, 'with P = 0 in the result');
  });

  it('clear ZF for invisible or unsuitable descriptors and leave the destination alone', () => {
    const m = legacy();
    assert.deepEqual(exec(m, LAR, S.DATA0, 3), { zf: false, eax: 0xDEADBEEF, edx: 0 }, 'DPL 0 at CPL 3');
    assert.equal(exec(m, LAR, 0x13, 0).zf, false, 'RPL 3 above DPL 0');
    assert.equal(exec(m, LAR, 0x43, 3).zf, true, 'conforming code is visible from ring 3');
    assert.equal(exec(m, LAR, 0, 0).zf, false, 'null selector');
    assert.equal(exec(m, LAR, 0x203, 0).zf, false, 'beyond the GDT limit');
    assert.equal(exec(m, LAR, 0x5B, 3).zf, false, 'interrupt gate type is not valid for LAR');
    assert.equal(exec(m, LSL, 0x63, 3).zf, false, 'a call gate has no limit');
  });

  it('accept the system descriptors the SDM lists for legacy mode', () => {
    const m = legacy();
    const gate = exec(m, LAR, 0x63, 3);
    assert.equal(gate.zf, true, 'call gate');
    assert.equal(gate.eax, m.descHi(12) & 0x00FFFF00);
    assert.equal(exec(m, LAR, S.TSSA | 3, 3).zf, false, 'TSS DPL 0 from ring 3');
    assert.deepEqual(exec(m, LSL, S.TSSA, 0), { zf: true, eax: 0x67, edx: 0 }, 'TSS from ring 0');
    assert.deepEqual(exec(m, LSL, 0x6B, 3), { zf: true, eax: 0x77, edx: 0 }, 'LDT');
    m.sys(11, 0, 0x2B, 0x1, 3); // 16-bit TSS
    assert.equal(exec(m, LSL, 0x5B, 3).zf, true, '16-bit TSS in legacy mode');
  });

  it('write 16 bits for a 16-bit operand', () => {
    const m = legacy();
    assert.deepEqual(exec(m, LAR16, S.CODE3, 3), { zf: true, eax: 0xDEADFB00, edx: 0 });
  });

  it('use the IA-32e list of system types in long mode', () => {
    const m = new Machine().long64();
    m.callGate64(8, S.CODE0, 0, 3); // 0x40: 64-bit call gate (16 bytes)
    m.callGate(10, S.CODE0, 0, 3, 0, 0x4); // 0x50: 16-bit call gate type: invalid in IA-32e mode
    m.sys64(12, 0x6800, 0x2B, 0x1, 3); // 0x60: 16-bit TSS type: invalid in IA-32e mode
    assert.equal(exec(m, LAR, 0x43, 3).zf, true);
    assert.equal(exec(m, LAR, 0x53, 3).zf, false);
    assert.equal(exec(m, LSL, 0x63, 3).zf, false);
    assert.deepEqual(exec(m, LSL, S.TSS64, 0), { zf: true, eax: 0x67, edx: 0 });
    m.w32(GDT + 8 * 8 + 12, 0x100); // non-zero upper type field of the call gate
    assert.equal(exec(m, LAR, 0x43, 3).zf, false);
  });

  it('are #UD outside protected mode', () => {
    const m = new Machine();
    const c = m.cpu;
    c.loadSegRaw(K.SEG_CS, 0x1000, 0x10000, 0xFFFF, K.AR_P | K.AR_S | 0xB);
    c.updateMode();
    c.rip = 0;
    m.put(0x10000, hex(LAR));
    const rec = m.catchExceptions();
    m.run();
    assert.equal(rec.vec, K.EXC_UD);
    assert.equal(c.rip, 0);
  });
});

describe('VERR / VERW', () => {
  it('report readability and writability at the current privilege', () => {
    const m = legacy();
    assert.equal(exec(m, VERR, S.CODE3, 3).zf, true, 'readable code');
    assert.equal(exec(m, VERR, 0x4B, 3).zf, false, 'execute-only code');
    assert.equal(exec(m, VERR, 0x53, 3).zf, true, 'read-only data');
    assert.equal(exec(m, VERW, 0x53, 3).zf, false, 'read-only data');
    assert.equal(exec(m, VERW, S.DATA3, 3).zf, true, 'writable data');
    assert.equal(exec(m, VERW, S.CODE3, 3).zf, false, 'code is never writable');
    assert.equal(exec(m, VERW, S.DATA0, 3).zf, false, 'DPL 0 data from ring 3');
    assert.equal(exec(m, VERR, 0x43, 3).zf, true, 'conforming code ignores privilege');
    assert.equal(exec(m, VERR, 0x6B, 3).zf, false, 'system descriptor');
    assert.equal(exec(m, VERR, 0, 0).zf, false, 'null selector');
  });
});

describe('ARPL', () => {
  it('raises the RPL of the destination selector', () => {
    const m = legacy();
    assert.deepEqual(exec(m, ARPL, 0x1B, 3, 0x10), { zf: true, eax: 0xDEADBEEF, edx: 0x13 });
    assert.deepEqual(exec(m, ARPL, 0x10, 3, 0x13), { zf: false, eax: 0xDEADBEEF, edx: 0x13 });
  });
});
