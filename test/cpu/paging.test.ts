import { strict as assert } from 'assert';
import * as K from '../../src/cpu/constants';
import { CODE0, CODE3, enablePae, Machine } from './sysenv';

/**
 * Paging as seen through faults: #PF error codes (P, W, U, RSVD, I/D) and CR2 under 32-bit, PAE and
 * 4-level paging, CR0.WP, NX, and global TLB entries across CR3 reloads and INVLPG.
 */

const le32 = (v: number) => [v & 0xFF, (v >>> 8) & 0xFF, (v >>> 16) & 0xFF, (v >>> 24) & 0xFF];
const le64 = (v: bigint) => { const b: number[] = []; for (let k = 0n; k < 64n; k += 8n) b.push(Number((BigInt.asUintN(64, v) >> k) & 0xFFn)); return b; };
/** 32-bit code: mov eax, [a] / mov dword [a], v / mov eax, a ; jmp eax / hlt. */
const ld = (a: number) => [0xA1, ...le32(a)];
const st = (a: number, v = 1) => [0xC7, 0x05, ...le32(a), ...le32(v)];
const jmp = (a: number) => [0xB8, ...le32(a), 0xFF, 0xE0];
const HLT = [0xF4];
/** 64-bit code: mov rax, a ; then mov rbx, [rax] / mov dword [rax], 1 / jmp rax. */
const ld64 = (a: bigint) => [0x48, 0xB8, ...le64(a), 0x48, 0x8B, 0x18];
const st64 = (a: bigint) => [0x48, 0xB8, ...le64(a), 0xC7, 0x00, 1, 0, 0, 0];
const jmp64 = (a: bigint) => [0x48, 0xB8, ...le64(a), 0xFF, 0xE0];

const NP = 0x300000; // not present
const RO = 0x301000; // user, read-only
const SUP = 0x302000; // supervisor, read/write
const NX = 0x305000; // user, no-execute (PAE, 4-level)
const RSVD = 0x306000; // reserved bit set in the PTE (PAE, 4-level)

interface Fault { vec: number; err: number; cr2: number }

/** Runs code at CPL 0 or 3 and returns the first exception (or vec -1 when it halted cleanly). */
function fault(m: Machine, code: number[], ring: 0 | 3 = 0): Fault {
  const at = ring === 3 ? CODE3 : CODE0;
  m.put(at, Uint8Array.from([...code, ...HLT]));
  if (ring === 3) m.ring3(at); else m.cpu.rip = at;
  m.cpu.cr2 = 0;
  const rec = m.catchExceptions();
  m.run();
  return { vec: rec.vec, err: rec.err, cr2: m.cpu.cr2 };
}
const pf = (err: number, cr2: number): Fault => ({ vec: K.EXC_PF, err, cr2 });

function paged32(): { m: Machine; pd: number } {
  const m = new Machine().protected32();
  const pd = m.table();
  for (let p = 0; p < 0x400000; p += 0x1000) m.map32(pd, p, p, 7);
  m.map32(pd, NP, 0, 0);
  m.map32(pd, RO, RO, 5);
  m.map32(pd, SUP, SUP, 3);
  m.cpu.cr3 = pd;
  m.cpu.cr0 |= K.CR0_PG;
  m.cpu.flushTlb(true);
  return { m, pd };
}

function paePaged(nxe = true): Machine {
  const m = new Machine().protected32();
  const pdpt = m.table();
  for (let p = 0; p < 0x400000; p += 0x1000) m.map64(pdpt, 2, p, p, 7n);
  m.map64(pdpt, 2, NP, 0, 0n);
  m.map64(pdpt, 2, NX, NX, 7n | (1n << 63n));
  m.map64(pdpt, 2, RSVD, RSVD, 7n | (1n << 40n));
  if (nxe) m.cpu.efer |= K.EFER_NXE;
  enablePae(m, pdpt);
  return m;
}

function paged4(): Machine {
  const m = new Machine().long64();
  const pml4 = m.table();
  for (let p = 0; p < 0x400000; p += 0x1000) m.map64(pml4, 3, p, p, 7n);
  m.map64(pml4, 3, NP, 0, 0n);
  m.map64(pml4, 3, RO, RO, 5n);
  m.map64(pml4, 3, NX, NX, 7n | (1n << 63n));
  m.map64(pml4, 3, RSVD, RSVD, 7n | (1n << 45n));
  m.cpu.efer |= K.EFER_NXE;
  m.cpu.cr3 = pml4;
  m.cpu.flushTlb(true);
  return m;
}

describe('paging: 32-bit', () => {
  it('reports P, W and U in the error code and the address in CR2', () => {
    assert.deepEqual(fault(paged32().m, ld(NP + 0x10)), pf(0, NP + 0x10));
    assert.deepEqual(fault(paged32().m, st(NP + 0x10)), pf(K.PFEC_W, NP + 0x10));
    assert.deepEqual(fault(paged32().m, st(NP + 4), 3), pf(K.PFEC_W | K.PFEC_U, NP + 4));
    assert.deepEqual(fault(paged32().m, ld(SUP + 8), 3), pf(K.PFEC_P | K.PFEC_U, SUP + 8));
    assert.deepEqual(fault(paged32().m, st(RO), 3), pf(K.PFEC_P | K.PFEC_W | K.PFEC_U, RO));
  });

  it('lets ring 0 write read-only pages only while CR0.WP is clear', () => {
    const a = paged32().m;
    assert.equal(fault(a, st(RO, 0x77)).vec, -1);
    assert.equal(a.r32(RO), 0x77);
    const b = paged32().m;
    b.cpu.cr0 |= K.CR0_WP;
    assert.deepEqual(fault(b, st(RO)), pf(K.PFEC_P | K.PFEC_W, RO));
  });

  it('reports RSVD for a 4 MiB PDE with bit 21 set', () => {
    const { m, pd } = paged32();
    m.cpu.cr4 |= K.CR4_PSE;
    m.w32(pd + 2 * 4, 0x800000 | (1 << 21) | 0x83);
    assert.deepEqual(fault(m, ld(0x800000)), pf(K.PFEC_P | K.PFEC_RSVD, 0x800000));
  });

  it('sets I/D for a fetch only when SMEP (or NX) is enabled', () => {
    assert.deepEqual(fault(paged32().m, jmp(NP)), pf(0, NP));
    const { m, pd } = paged32();
    m.map32(pd, CODE0, CODE0, 3); // ring-0 code on a supervisor page, or SMEP itself would fault
    m.cpu.cr4 |= K.CR4_SMEP;
    assert.deepEqual(fault(m, jmp(NP)), pf(K.PFEC_I, NP));
    const u = paged32().m;
    u.cpu.cr4 |= K.CR4_SMEP;
    assert.deepEqual(fault(u, jmp(NP)), pf(K.PFEC_P | K.PFEC_I, CODE0), 'SMEP: ring 0 fetching from a user page');
  });
});

describe('paging: PAE', () => {
  it('faults on a fetch from an NX page with I/D set, at ring 0 and ring 3', () => {
    assert.deepEqual(fault(paePaged(), jmp(NX)), pf(K.PFEC_P | K.PFEC_I, NX));
    assert.deepEqual(fault(paePaged(), jmp(NX), 3), pf(K.PFEC_P | K.PFEC_U | K.PFEC_I, NX));
    assert.equal(fault(paePaged(), ld(NX)).vec, -1, 'reads of an NX page are fine');
  });

  it('reports RSVD for physical-address bits beyond MAXPHYADDR and for XD without EFER.NXE', () => {
    assert.deepEqual(fault(paePaged(), ld(RSVD)), pf(K.PFEC_P | K.PFEC_RSVD, RSVD));
    assert.deepEqual(fault(paePaged(false), ld(NX)), pf(K.PFEC_P | K.PFEC_RSVD, NX));
  });

  it('reports not-present faults with the access type', () => {
    assert.deepEqual(fault(paePaged(), st(NP), 3), pf(K.PFEC_W | K.PFEC_U, NP));
    assert.deepEqual(fault(paePaged(), jmp(NP)), pf(K.PFEC_I, NP));
  });
});

describe('paging: 4-level', () => {
  it('faults on a missing PML4 entry and on high canonical addresses with the full CR2', () => {
    assert.deepEqual(fault(paged4(), ld64(0x8000000010n)), pf(0, 0x8000000010));
    assert.deepEqual(fault(paged4(), st64(0xFFFF800000000000n)), pf(K.PFEC_W, -(2 ** 47)));
  });

  it('reports NX, RSVD and WP faults', () => {
    assert.deepEqual(fault(paged4(), jmp64(BigInt(NX)), 3), pf(K.PFEC_P | K.PFEC_U | K.PFEC_I, NX));
    assert.deepEqual(fault(paged4(), ld64(BigInt(RSVD))), pf(K.PFEC_P | K.PFEC_RSVD, RSVD));
    assert.equal(fault(paged4(), st64(BigInt(RO))).vec, -1, 'WP clear: ring 0 may write');
    const m = paged4();
    m.cpu.cr0 |= K.CR0_WP;
    assert.deepEqual(fault(m, st64(BigInt(RO))), pf(K.PFEC_P | K.PFEC_W, RO));
    assert.deepEqual(fault(paged4(), st64(BigInt(RO)), 3), pf(K.PFEC_P | K.PFEC_W | K.PFEC_U, RO));
  });
});

describe('paging: global pages', () => {
  function run(pge: boolean): number[] {
    const { m, pd } = paged32();
    const G = 0x303000, N = 0x304000;
    m.map32(pd, G, G, 0x107);
    m.map32(pd, N, N, 7);
    m.w32(G, 0x1111); m.w32(N, 0x2222); m.w32(0x3A0000, 0xAAAA); m.w32(0x3B0000, 0xBBBB);
    const pt = (m.r32(pd) & ~0xFFF) >>> 0;
    if (pge) m.cpu.cr4 |= K.CR4_PGE;
    const code = [
      ...ld(G), // eax
      0x8B, 0x1D, ...le32(N), // mov ebx, [N]
      ...st(pt + (G >>> 12) * 4, 0x3A0000 | 0x107), // remap G without INVLPG
      ...st(pt + (N >>> 12) * 4, 0x3B0000 | 0x007),
      0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9, // mov ecx, cr3 ; mov cr3, ecx
      0x8B, 0x35, ...le32(G), // mov esi, [G]
      0x8B, 0x3D, ...le32(N), // mov edi, [N]
      0x0F, 0x01, 0x3D, ...le32(G), // invlpg [G]
      0x8B, 0x2D, ...le32(G), // mov ebp, [G]
    ];
    assert.equal(fault(m, code).vec, -1);
    const c = m.cpu;
    return [c.r[0], c.r[3], c.r[6], c.r[7], c.r[5]];
  }

  it('keeps a global translation across a CR3 reload but not across INVLPG', () => {
    assert.deepEqual(run(true), [0x1111, 0x2222, 0x1111, 0xBBBB, 0xAAAA]);
  });

  it('drops every translation on a CR3 reload when CR4.PGE is clear', () => {
    assert.deepEqual(run(false), [0x1111, 0x2222, 0xAAAA, 0xBBBB, 0xAAAA]);
  });
});
