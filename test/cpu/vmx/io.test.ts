/**
 * I/O-instruction exits (exit reason 30), SDM 26.1.3 to the letter: "use I/O bitmaps" wins over
 * "unconditional I/O exiting", bitmap A covers 0000-7FFF and B 8000-FFFF, a multi-byte access exits if
 * any of its ports' bits is set, an access wrapping past FFFF always exits, string and REP forms set
 * their qualification bits, linear address and instruction information.
 */
import { strict as assert } from 'assert';
import { controlMask, parseIoQualification } from '../../../src/cpu/vmx/spec';
import { Fields, GUEST_CODE, IO_BITMAP_A, IO_BITMAP_B, VmxHost } from './harness';

const UNCOND = controlMask('CPU_BASED_UNCOND_IO_EXITING') >>> 0;
const BITMAPS = controlMask('CPU_BASED_USE_IO_BITMAPS') >>> 0;
const P1 = 'CPU_BASED_VM_EXEC_CONTROL';

const movDx = (port: number) => [0x66, 0xBA, port & 0xFF, port >> 8]; // mov dx, imm16
const CPUID = [0x0F, 0xA2];

function setPortBit(h: VmxHost, port: number): void {
  const base = port < 0x8000 ? IO_BITMAP_A : IO_BITMAP_B;
  const q = port & 0x7FFF;
  h.cpu.physWrite(base + (q >> 3), 1, h.cpu.physRead(base + (q >> 3), 1) | (1 << (q & 7)));
}

function controls(h: VmxHost, bits: number, ports: number[] = []): (f: Fields) => void {
  for (const p of ports) setPortBit(h, p);
  return (f) => {
    f.set(P1, (f.get(P1) ?? 0n) | BigInt(bits));
    f.set('IO_BITMAP_A', BigInt(IO_BITMAP_A));
    f.set('IO_BITMAP_B', BigInt(IO_BITMAP_B));
  };
}

describe('VMX: I/O instruction exits', () => {
  it('unconditional I/O exiting: OUT imm8 exits with the exact qualification', () => {
    const h = new VmxHost();
    h.exitOn([0xB0, 0x42, 0xE6, 0x80], controls(h, UNCOND), 30);
    assert.equal(h.qualification(), 0x00800040n); // port 0x80, immediate, OUT, 1 byte
    assert.deepEqual(parseIoQualification(h.qualification()), { size: 1, direction: 'out', string: false, rep: false, immediate: true, port: 0x80 });
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(h.ports.writes.length, 0, 'the OUT did not happen');
  });

  it('both control bits: the (empty) bitmaps win over unconditional exiting', () => {
    const h = new VmxHost();
    h.exitOn([0xE6, 0x80, ...CPUID], controls(h, UNCOND | BITMAPS), 10);
    assert.deepEqual(h.ports.writes.map((w) => w.port), [0x80]);
  });

  it('neither bit: I/O never exits', () => {
    const h = new VmxHost();
    h.exitOn([...movDx(0x3F8), 0xEE, ...CPUID], () => undefined, 10);
    assert.deepEqual(h.ports.writes.map((w) => w.port), [0x3F8]);
  });

  it('bitmap A: port 0x80 set exits, 0x81 does not', () => {
    const h = new VmxHost();
    h.exitOn([0xE6, 0x81, 0xE6, 0x80], controls(h, BITMAPS, [0x80]), 30);
    assert.equal(h.field('GUEST_RIP'), BigInt(GUEST_CODE + 2));
    assert.equal(h.qualification() >> 16n, 0x80n);
  });

  it('bitmap B: IN EAX, DX at 0xC000 exits with IN, DX, 4 bytes', () => {
    const h = new VmxHost();
    h.exitOn([...movDx(0xC000), 0xED], controls(h, BITMAPS, [0xC000]), 30);
    assert.equal(h.qualification(), (0xC000n << 16n) | 0x0Bn);
  });

  it('boundary 0x7FFF/0x8000: a 2-byte OUT at 0x7FFF exits on the bit of 0x8000 in bitmap B', () => {
    const h = new VmxHost();
    h.exitOn([...movDx(0x7FFF), 0x66, 0xEF], controls(h, BITMAPS, [0x8000]), 30);
    assert.equal(h.qualification(), BigInt((0x7FFF << 16) | 1));
  });

  it('boundary: a 4-byte IN at 0x7FFE exits on 0x8001; without that bit it does not', () => {
    const h = new VmxHost();
    h.exitOn([...movDx(0x7FFE), 0xED], controls(h, BITMAPS, [0x8001]), 30);
    const g = new VmxHost();
    g.exitOn([...movDx(0x7FFE), 0xED, ...CPUID], controls(g, BITMAPS, [0x8002]), 10);
  });

  it('an access wrapping past 0xFFFF always exits with bitmaps', () => {
    const h = new VmxHost();
    h.exitOn([...movDx(0xFFFF), 0x66, 0xEF], controls(h, BITMAPS), 30);
    assert.equal(h.qualification() >> 16n, 0xFFFFn);
    const g = new VmxHost();
    g.exitOn([...movDx(0xFFFE), 0xED], controls(g, BITMAPS), 30);
    // a 1-byte access at 0xFFFF does not wrap
    const k = new VmxHost();
    k.exitOn([...movDx(0xFFFF), 0xEE, ...CPUID], controls(k, BITMAPS), 10);
  });

  it('REP OUTSB: string + REP bits, linear address of DS:RSI, instruction information', () => {
    const h = new VmxHost();
    // mov esi, 0x60000 ; mov ecx, 4 ; mov dx, 0x3F8 ; rep outsb
    h.exitOn([0xBE, 0x00, 0x00, 0x06, 0x00, 0xB9, 4, 0, 0, 0, ...movDx(0x3F8), 0xF3, 0x6E], controls(h, UNCOND), 30);
    assert.equal(h.qualification(), BigInt((0x3F8 << 16) | 0x30));
    assert.equal(h.field('GUEST_LINEAR_ADDRESS'), 0x60000n);
    assert.equal(h.field('VMX_INSTRUCTION_INFO'), BigInt((2 << 7) | (3 << 15)), '64-bit address size, DS');
    assert.equal(h.field('VM_EXIT_INSTRUCTION_LEN'), 2n);
    assert.equal(h.cpu.r[1], 4, 'no iteration ran');
  });

  it('INSW: string, IN, 2 bytes, linear address ES:RDI', () => {
    const h = new VmxHost();
    // mov edi, 0x61000 ; mov dx, 0x9000 ; insw
    h.exitOn([0xBF, 0x00, 0x10, 0x06, 0x00, ...movDx(0x9000), 0x66, 0x6D], controls(h, BITMAPS, [0x9001]), 30);
    assert.equal(h.qualification(), (0x9000n << 16n) | 0x19n);
    assert.equal(h.field('GUEST_LINEAR_ADDRESS'), 0x61000n);
    assert.equal(h.field('VMX_INSTRUCTION_INFO'), BigInt(2 << 7), 'ES');
  });

  it('core2-no-ug (IA32_VMX_BASIC[54] = 0) does not write instruction information for OUTS', () => {
    const h = new VmxHost({ model: 'core2-no-ug' });
    h.exitOn([...movDx(0x3F8), 0x6E], controls(h, UNCOND), 30);
    assert.equal(h.field('VMX_INSTRUCTION_INFO'), 0n);
  });

  it('port 0x80 loop: passed through by the bitmap (KVM before 2017) vs exiting every time (unconditional)', () => {
    const loop = [0xE6, 0x80, 0xEB, 0xFC]; // out 0x80, al ; jmp back
    const pass = new VmxHost();
    pass.guest(loop);
    const f = pass.validFields();
    controls(pass, BITMAPS, [0x3F8])(f);
    pass.launch(f);
    assert.ok(pass.cpu.nonRoot, 'still in the guest when the budget runs out');
    assert.ok(pass.ports.writes.length > 1000);
    const ex = new VmxHost();
    ex.exitOn(loop, controls(ex, UNCOND), 30);
    assert.equal(ex.ports.writes.length, 0);
    // the host resumes past the OUT a few times: every iteration exits
    for (let n = 0; n < 5; n++) {
      const rip = ex.field('GUEST_RIP') + ex.field('VM_EXIT_INSTRUCTION_LEN');
      ex.run([0x48, 0xB8, ...u64(0x681En), 0x48, 0xBA, ...u64(rip), 0x0F, 0x79, 0xC2, 0x0F, 0x01, 0xC3]);
      assert.ok(ex.atHostExit());
      assert.equal(ex.exitReason(), 30);
      assert.equal(ex.field('GUEST_RIP'), BigInt(GUEST_CODE));
    }
    assert.equal(ex.ports.writes.length, 0);
  });
});

function u64(v: bigint): number[] {
  const out: number[] = [];
  for (let k = 0n; k < 8n; k++) out.push(Number((v >> (8n * k)) & 0xFFn));
  return out;
}
