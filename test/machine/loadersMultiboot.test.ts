import { strict as assert } from 'assert';
import {
  findMultibootHeader, LoadError, multibootLoadPlan, MULTIBOOT_BOOTLOADER_MAGIC, MULTIBOOT_HEADER_MAGIC,
} from '../../src/machine/loaders';
import { applyPlan, fixture, getCString, getU32, getU64, setU32 } from '../fixtures/loaders/fixtures';

const MIB = 1024 * 1024;

function throwsLoadError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LoadError, `expected LoadError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

/** multiboot-aout.bin has its header at file offset 8; field offsets below are from the spec. */
const AOUT_HEADER = 8;

/** Rewrites the a.out-kludge kernel's flags (fixing the checksum) and/or its address fields. */
function patchAout(
  fields: { flags?: number; headerAddr?: number; loadAddr?: number; loadEnd?: number; bssEnd?: number; entry?: number },
): Uint8Array {
  const bytes = fixture('multiboot-aout.bin');
  const at = AOUT_HEADER;
  if (fields.flags !== undefined) {
    setU32(bytes, at + 4, fields.flags);
    setU32(bytes, at + 8, -(MULTIBOOT_HEADER_MAGIC + fields.flags));
  }
  const slots: [number | undefined, number][] = [
    [fields.headerAddr, 12], [fields.loadAddr, 16], [fields.loadEnd, 20], [fields.bssEnd, 24], [fields.entry, 28],
  ];
  for (const [value, offset] of slots) if (value !== undefined) setU32(bytes, at + offset, value);
  return bytes;
}

describe('multiboot loader', () => {
  it('finds the header: 4-aligned, in the first 8 KiB, with a valid checksum', () => {
    assert.deepEqual(findMultibootHeader(fixture('multiboot-elf.elf')), {
      offset: 0x1000, flags: 3, checksum: 0xe4524ffb,
    });
    assert.equal(findMultibootHeader(fixture('multiboot-aout.bin'))?.offset, AOUT_HEADER);
    assert.equal(findMultibootHeader(fixture('elf32.elf')), undefined);
    const beyond = new Uint8Array(8192 + 64);
    setU32(beyond, 8192, MULTIBOOT_HEADER_MAGIC);
    setU32(beyond, 8200, -MULTIBOOT_HEADER_MAGIC);
    assert.equal(findMultibootHeader(beyond), undefined);
  });

  describe('ELF kernel (multiboot-elf.elf) with a command line and two modules', () => {
    const ramBytes = 32 * MIB;
    const moduleA = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
    const moduleB = new TextEncoder().encode('0123456789');
    const plan = multibootLoadPlan(fixture('multiboot-elf.elf'), {
      ramBytes,
      cmdline: 'console=ttyS0 debug',
      modules: [
        { name: 'initrd.img', bytes: moduleA },
        { name: 'config.txt', bytes: moduleB },
      ],
    });
    const ram = applyPlan(plan, ramBytes);
    const info = plan.entry.kind === 'protected' ? plan.entry.regs?.ebx ?? -1 : -1;

    it('loads the kernel by its program headers and starts it as multiboot says', () => {
      assert.equal(plan.format, 'multiboot');
      assert.deepEqual(plan.entry, {
        kind: 'protected', eip: 0x100010, regs: { eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: 0x9000 },
      });
      assert.deepEqual(
        plan.chunks.map((c) => [c.label, c.phys, c.data.length]),
        [
          ['segment 0', 0x100000, 0x2b],
          ['segment 1', 0x101000, 0x4004],
          ['module 0: initrd.img', 0x106000, 5000],
          ['module 1: config.txt', 0x108000, 10],
          ['multiboot information', 0x9000, plan.chunks[4].data.length],
        ],
      );
      assert.ok(plan.chunks[1].data.every((b) => b === 0), 'bss zero-filled');
      assert.ok(plan.symbols.some((s) => s.name === '_start' && s.address === 0x100010n));
    });

    it('fills in the information structure', () => {
      const flags = getU32(ram, info);
      for (const bit of [0, 2, 3, 6, 9]) assert.ok(flags & (1 << bit), `flags bit ${bit}`);
      assert.equal(flags & (1 << 11 | 1 << 12), 0, 'no VBE or framebuffer information');
      assert.equal(getU32(ram, info + 4), 639); // mem_lower in KiB
      assert.equal(getU32(ram, info + 8), (ramBytes - MIB) / 1024); // mem_upper in KiB
      assert.equal(getCString(ram, getU32(ram, info + 16)), 'console=ttyS0 debug');
      assert.equal(getCString(ram, getU32(ram, info + 64)), 'vmx-debug');
    });

    it('lists the modules page-aligned after the kernel', () => {
      assert.equal(getU32(ram, info + 20), 2);
      const list = getU32(ram, info + 24);
      const entries = [0, 1].map((i) => [0, 4, 8, 12].map((o) => getU32(ram, list + i * 16 + o)));
      assert.deepEqual(entries[0].slice(0, 2), [0x106000, 0x106000 + 5000]);
      assert.deepEqual(entries[1].slice(0, 2), [0x108000, 0x10800a]);
      assert.equal(getCString(ram, entries[0][2]), 'initrd.img');
      assert.equal(getCString(ram, entries[1][2]), 'config.txt');
      assert.deepEqual(ram.subarray(0x106000, 0x106000 + 5000), moduleA);
      assert.deepEqual(ram.subarray(0x108000, 0x10800a), moduleB);
    });

    it('provides an e820-style memory map', () => {
      const length = getU32(ram, info + 44);
      const addr = getU32(ram, info + 48);
      const entries: [number, bigint, bigint, number][] = [];
      for (let at = addr; at < addr + length; at += getU32(ram, at) + 4) {
        entries.push([getU32(ram, at), getU64(ram, at + 4), getU64(ram, at + 12), getU32(ram, at + 20)]);
      }
      assert.deepEqual(entries, [
        [20, 0n, 0x9fc00n, 1],
        [20, 0x9fc00n, 0x400n, 2],
        [20, 0xf0000n, 0x10000n, 2],
        [20, 0x100000n, BigInt(ramBytes - MIB), 1],
      ]);
    });
  });

  describe('address-field kernel (multiboot-aout.bin, flag 16)', () => {
    it('loads from header_addr/load_addr and zero-fills up to bss_end_addr', () => {
      const bytes = fixture('multiboot-aout.bin');
      const plan = multibootLoadPlan(bytes, { ramBytes: 8 * MIB });
      const kernel = plan.chunks[0];
      assert.equal(kernel.label, 'image');
      assert.equal(kernel.phys, 0x200000);
      assert.equal(kernel.data.length, 0x3040);
      assert.deepEqual(kernel.data.subarray(0, bytes.length), bytes);
      assert.ok(kernel.data.subarray(bytes.length).every((b) => b === 0));
      assert.deepEqual(plan.entry, { kind: 'protected', eip: 0x200028, regs: { eax: 0x2badb002, ebx: 0x9000 } });
      const ram = applyPlan(plan, 8 * MIB);
      assert.equal(getU32(ram, 0x9000 + 20), 0, 'mods_count');
      assert.equal(getCString(ram, getU32(ram, 0x9000 + 16)), '', 'empty command line');
    });

    it('moves the information block when the kernel occupies 0x9000', () => {
      const bytes = patchAout({ headerAddr: 0x8008, loadAddr: 0x8000, loadEnd: 0x8040, bssEnd: 0xb040, entry: 0x8028 });
      const plan = multibootLoadPlan(bytes, { ramBytes: 8 * MIB });
      assert.deepEqual(plan.entry, { kind: 'protected', eip: 0x8028, regs: { eax: 0x2badb002, ebx: 0xc000 } });
      assert.ok(plan.notes.some((n) => /placed after the modules at 0xc000/.test(n)), plan.notes.join('\n'));
    });

    it('notes a video-mode request and boots anyway', () => {
      const plan = multibootLoadPlan(patchAout({ flags: (1 << 16) | (1 << 2) }), { ramBytes: 8 * MIB });
      assert.ok(plan.notes.some((n) => /video mode/.test(n) && /no display/.test(n)), plan.notes.join('\n'));
    });

    it('refuses inconsistent address fields', () => {
      const plan = (fields: Parameters<typeof patchAout>[0]) => () =>
        multibootLoadPlan(patchAout(fields), { ramBytes: 8 * MIB });
      throwsLoadError(plan({ loadAddr: 0x200010 }), /load_addr 0x200010 is above header_addr/);
      throwsLoadError(plan({ loadAddr: 0x1ff000 }), /before the start of the file/);
      throwsLoadError(plan({ loadEnd: 0x200100 }), /load_end_addr 0x200100/, /past the end of the file/);
      throwsLoadError(plan({ bssEnd: 0x200020 }), /bss_end_addr 0x200020 is below/);
    });
  });

  describe('bad input', () => {
    it('bad checksum', () => {
      const bytes = fixture('multiboot-elf.elf');
      setU32(bytes, 0x1000 + 8, 0x12345678);
      throwsLoadError(
        () => multibootLoadPlan(bytes, { ramBytes: 8 * MIB }),
        /file offset 0x1000 has a bad checksum/,
        /must be 0/,
      );
    });

    it('no header at all', () => {
      throwsLoadError(() => multibootLoadPlan(new Uint8Array(1024), { ramBytes: 8 * MIB }), /no multiboot header/);
    });

    it('unknown required feature bits', () => {
      const bytes = patchAout({ flags: (1 << 16) | (1 << 3) });
      throwsLoadError(() => multibootLoadPlan(bytes, { ramBytes: 8 * MIB }), /bit 3/, /refuse/);
    });

    it('flag 16 clear on a non-ELF image', () => {
      throwsLoadError(() => multibootLoadPlan(patchAout({ flags: 0 }), { ramBytes: 8 * MIB }), /must be ELF/);
    });

    it('image larger than RAM: modules', () => {
      throwsLoadError(
        () =>
          multibootLoadPlan(fixture('multiboot-elf.elf'), {
            ramBytes: 2 * MIB,
            modules: [{ name: 'big', bytes: new Uint8Array(MIB) }],
          }),
        /image larger than RAM/, /1 module\(s\) \(0x100000 bytes\)/, /RAM is 2 MiB/,
      );
    });

    it('image larger than RAM: kernel bss', () => {
      throwsLoadError(
        () => multibootLoadPlan(patchAout({ bssEnd: 0x1200000 }), { ramBytes: 16 * MIB }),
        /image larger than RAM: kernel image at 0x200000 needs 0x1000000 bytes/, /RAM is 16 MiB/,
      );
    });

    it('RAM too small for multiboot', () => {
      throwsLoadError(() => multibootLoadPlan(fixture('multiboot-elf.elf'), { ramBytes: MIB }), /above 1 MiB/);
    });
  });
});
