/**
 * Pending debug exceptions: what a VM exit saves in GUEST_PENDING_DBG_EXCEPTIONS (SDM 28.3.4) and
 * how a VM entry delivers them (SDM 27.7.3): a #DB through the guest IDT with DR6 updated, or an
 * exception VM exit with the bits in the qualification and DR6 untouched.
 */
import { strict as assert } from 'assert';
import { controlMask } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, GUEST_STACK, SCRATCH, VmxHost, asm, enc } from './harness';

const ctl = (n: string) => BigInt(controlMask(n) >>> 0);
const P1 = 'CPU_BASED_VM_EXEC_CONTROL';
const or = (f: Fields, n: string, v: bigint) => f.set(n, (f.get(n) ?? 0n) | v);
const G = GUEST_CODE;
const IDT = 0x4C000;
const HANDLER = G + 0x100;
const FRAME_RIP = GUEST_STACK - 40;
const FRAME_RFLAGS = GUEST_STACK - 24;
const CPUID = [0x0F, 0xA2];
const NOP = 0x90;
const BS = 0x4000n;
const PDE = 'GUEST_PENDING_DBG_EXCEPTIONS';

function gate(h: VmxHost, vec: number, handler: number): void {
  h.poke(IDT + vec * 16, [handler & 0xFF, (handler >> 8) & 0xFF, 8, 0, 0, 0x8E, (handler >> 16) & 0xFF, (handler >>> 24) & 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
}

/** Guest IDT with a #DB handler that exits with CPUID. */
function idt(h: VmxHost, f: Fields): void {
  f.set('GUEST_IDTR_BASE', BigInt(IDT));
  f.set('GUEST_IDTR_LIMIT', 0xFFFn);
  gate(h, 1, HANDLER);
  h.poke(HANDLER, CPUID);
}


/** The exit is a #DB exception exit (through the exception bitmap) at `rip` with this qualification. */
function assertDbExit(h: VmxHost, rip: number, qual: bigint): void {
  assert.equal(h.exitReason(), 0, `exit reason ${h.exitReason()}`);
  assert.equal(h.field('VM_EXIT_INTR_INFO'), 0x80000301n, '#DB, hardware exception');
  assert.equal(h.qualification(), qual, 'qualification: B0-B3 and BS of the #DB');
  assert.equal(h.field('GUEST_RIP'), BigInt(rip));
  assert.equal(h.field(PDE), 0n, 'an exit caused by the #DB itself saves none pending');
}

// mov eax, 0x10 ; pushfq ; or qword [rsp], 0x100 ; popfq (TF = 1 from here on, no trap for POPF) ;
// mov ss, eax ; cpuid ; nop ; cpuid
const TF_ON = [0xB8, 0x10, 0x00, 0x00, 0x00, 0x9C, 0x48, 0x81, 0x0C, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9D];
const MOV_SS_CPUID = [...TF_ON, 0x8E, 0xD0, ...CPUID, NOP, ...CPUID];
const AT_CPUID = G + TF_ON.length + 2;

describe('VMX: pending debug exceptions', () => {
  it('VM exit in the MOV SS shadow saves the single-step trap of MOV SS (BS) with blocking by MOV SS', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn(MOV_SS_CPUID, () => undefined, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(AT_CPUID));
    assert.equal(h.field('GUEST_INTERRUPTIBILITY_INFO'), 2n, 'blocking by MOV SS');
    assert.equal(h.field(PDE), BS);
    assert.equal(h.field('GUEST_RFLAGS') & 0x100n, 0x100n, 'TF');
    assert.equal(h.cpu.dr[6] >>> 0, dr6, 'DR6 waits for the #DB');
    // without TF nothing is pending
    const n = new VmxHost();
    n.exitOn([0xB8, 0x10, 0x00, 0x00, 0x00, 0x8E, 0xD0, ...CPUID], () => undefined, 10);
    assert.equal(n.field('GUEST_INTERRUPTIBILITY_INFO'), 2n);
    assert.equal(n.field(PDE), 0n);
  });

  it('VMRESUME with the saved state: MOV SS blocking holds the #DB for one instruction, then it exits (bitmap)', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn(MOV_SS_CPUID, (f) => f.set('EXCEPTION_BITMAP', 1n << 1n), 10);
    // the VMM skips the CPUID, keeps the blocking and adds a data breakpoint (B0, enabled) to BS
    h.resumeWith([['GUEST_RIP', BigInt(AT_CPUID + 2)], [PDE, BS | 0x1001n]]);
    // one #DB after the NOP: the NOP's own single step merges with what the entry held back
    assertDbExit(h, AT_CPUID + 3, BS | 0x1n);
    assert.equal(h.cpu.dr[6] >>> 0, dr6, 'a #DB that exits does not write DR6');
    assert.equal(h.field('GUEST_INTERRUPTIBILITY_INFO'), 0n);
  });

  it('VMRESUME without blocking: the #DB comes before the first instruction', () => {
    const h = new VmxHost();
    h.exitOn(MOV_SS_CPUID, (f) => f.set('EXCEPTION_BITMAP', 1n << 1n), 10);
    h.resumeWith([['GUEST_RIP', BigInt(AT_CPUID + 2)], ['GUEST_INTERRUPTIBILITY_INFO', 0n]]);
    assertDbExit(h, AT_CPUID + 2, BS);
  });

  it('entry with BS pending delivers a #DB through the guest IDT and sets DR6.BS', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([NOP, ...CPUID], (f) => { idt(h, f); f.set(PDE, BS); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER), 'the handler\'s CPUID exited');
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G, 'a trap before the first instruction');
    assert.equal(h.cpu.dr[6] >>> 0, (dr6 | 0x4000) >>> 0);
    assert.equal(h.field(PDE), 0n);
  });

  it('entry with a data breakpoint pending (B1 + enabled breakpoint): DR6.B1, not bit 12', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([NOP, ...CPUID], (f) => { idt(h, f); f.set(PDE, 0x1002n); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER));
    assert.equal(h.cpu.dr[6] >>> 0, (dr6 | 0x2) >>> 0);
  });

  it('entry with #DB in the exception bitmap: exception exit with B0-B3 and BS as qualification, DR6 untouched', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([NOP], (f) => { f.set(PDE, 0x5002n); f.set('EXCEPTION_BITMAP', 1n << 1n); }, 0);
    assertDbExit(h, G, 0x4002n);
    assert.equal(h.cpu.dr[6] >>> 0, dr6);
  });

  it('entry into the HLT state with BS pending (TF = 1): the #DB wakes the guest; as an exit it saves HLT', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([NOP], (f) => { idt(h, f); f.set('GUEST_RFLAGS', 0x102n); f.set('GUEST_ACTIVITY_STATE', 1n); f.set(PDE, BS); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER), 'the #DB handler ran');
    assert.equal(h.field('GUEST_ACTIVITY_STATE'), 0n);
    assert.equal(h.cpu.physRead(FRAME_RIP, 4) >>> 0, G);
    assert.equal(h.cpu.dr[6] >>> 0, (dr6 | 0x4000) >>> 0);
    const x = new VmxHost();
    x.exitOn([NOP], (f) => { f.set('GUEST_RFLAGS', 0x102n); f.set('GUEST_ACTIVITY_STATE', 1n); f.set(PDE, BS); f.set('EXCEPTION_BITMAP', 1n << 1n); }, 0);
    assertDbExit(x, G, BS);
    assert.equal(x.field('GUEST_ACTIVITY_STATE'), 1n, 'the exit happened in the HLT state');
  });

  it('B0-B3 without BS or the enabled-breakpoint bit are not valid: nothing is delivered', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([...CPUID], (f) => { f.set(PDE, 0x1n); f.set('EXCEPTION_BITMAP', 1n << 1n); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(G));
    assert.equal(h.cpu.dr[6] >>> 0, dr6);
    assert.equal(h.field(PDE), 0n);
  });

  it('void for an injected external interrupt; after an injected INT3 under MOV SS blocking the #DB follows its delivery', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    gate(h, 0x30, HANDLER + 0x10);
    h.poke(HANDLER + 0x10, CPUID);
    h.exitOn([NOP], (f) => { idt(h, f); f.set('GUEST_RFLAGS', 0x202n); f.set(PDE, BS); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000030n); }, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(HANDLER + 0x10), 'the interrupt handler ran, no #DB');
    assert.equal(h.cpu.dr[6] >>> 0, dr6);
    // INT3 (software exception, length 1) injected with blocking by MOV SS and TF = 1 (BS is then required)
    const b = new VmxHost();
    gate(b, 3, HANDLER + 0x20);
    b.poke(HANDLER + 0x20, CPUID);
    b.exitOn([0xCC], (f) => {
      idt(b, f);
      f.set('GUEST_RFLAGS', 0x102n);
      f.set('GUEST_INTERRUPTIBILITY_INFO', 2n);
      f.set(PDE, BS);
      f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000603n);
      f.set('VM_ENTRY_INSTRUCTION_LEN', 1n);
      f.set('EXCEPTION_BITMAP', 1n << 1n);
    }, 0);
    assertDbExit(b, HANDLER + 0x20, BS);
    assert.equal(b.field('IDT_VECTORING_INFO_FIELD'), 0n, '#BP was delivered completely');
    assert.equal(b.cpu.physRead(FRAME_RIP, 4) >>> 0, G + 1, '#BP frame: after the INT3');
    assert.equal(b.cpu.physRead(FRAME_RFLAGS, 4) & 0x100, 0x100, '#BP frame keeps TF');
  });

  it('a pending MTF VM exit outranks it and saves it back; MTF with TF saves the single-step trap', () => {
    const h = new VmxHost();
    const dr6 = h.cpu.dr[6] >>> 0;
    h.exitOn([NOP], (f) => { f.set(PDE, BS); f.set('VM_ENTRY_INTR_INFO_FIELD', 0x80000700n); }, 37);
    assert.equal(h.field('GUEST_RIP'), BigInt(G));
    assert.equal(h.field(PDE), BS);
    assert.equal(h.cpu.dr[6] >>> 0, dr6);
    // TF = 1 with MTF: the MTF VM exit comes first, the step trap of the NOP stays pending
    const t = new VmxHost();
    t.exitOn([NOP, NOP], (f) => { idt(t, f); f.set('GUEST_RFLAGS', 0x102n); or(f, P1, ctl('CPU_BASED_MONITOR_TRAP_FLAG')); }, 37);
    assert.equal(t.field('GUEST_RIP'), BigInt(G + 1));
    assert.equal(t.field(PDE), BS);
    assert.equal(t.field('GUEST_INTERRUPTIBILITY_INFO'), 0n);
    assert.equal(t.cpu.dr[6] >>> 0, dr6, 'not delivered yet');
    // resuming delivers the #DB, and the MTF VM exit follows before the handler's first instruction
    t.resumeWith();
    assert.equal(t.exitReason(), 37);
    assert.equal(t.field('GUEST_RIP'), BigInt(HANDLER));
    assert.equal(t.field(PDE), 0n);
    assert.equal(t.cpu.dr[6] >>> 0, (dr6 | 0x4000) >>> 0);
    assert.equal(t.cpu.physRead(FRAME_RIP, 4) >>> 0, G + 1);
  });

  it('a data breakpoint hit by MOV SS is held and saved with bit 12 when the next instruction exits', () => {
    const h = new VmxHost();
    const data = SCRATCH + 0x900;
    h.cpu.physWrite(data, 2, 0x10);
    h.cpu.dr[0] = data;
    const dr6 = h.cpu.dr[6] >>> 0;
    // DR7: L0, R/W0 = 11 (read or write), LEN0 = 01 (2 bytes)
    const dr7 = 0x400 | 1 | (3 << 16) | (1 << 18);
    // mov ebx, dr7 value ; mov dr7, rbx ; mov ss, [data] ; cpuid
    const code = [0xBB, dr7 & 0xFF, (dr7 >> 8) & 0xFF, (dr7 >> 16) & 0xFF, 0, 0x0F, 0x23, 0xFB,
      0x8E, 0x14, 0x25, data & 0xFF, (data >> 8) & 0xFF, (data >> 16) & 0xFF, 0, ...CPUID];
    h.exitOn(code, () => undefined, 10);
    assert.equal(h.field('GUEST_RIP'), BigInt(G + 15));
    assert.equal(h.field('GUEST_INTERRUPTIBILITY_INFO'), 2n);
    assert.equal(h.field(PDE), 0x1001n, 'B0 and enabled breakpoint');
    assert.equal(h.cpu.dr[6] >>> 0, dr6);
  });
});
