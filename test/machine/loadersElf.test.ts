import { strict as assert } from 'assert';
import { elfLoadPlan, elfSectionData, LoadError, parseElf } from '../../src/machine/loaders';
import { fixture, getU32, setU16, setU32, setU64 } from '../fixtures/loaders/fixtures';

const MIB = 1024 * 1024;

/** Asserts `fn` throws a LoadError whose message matches every pattern. */
function throwsLoadError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LoadError, `expected LoadError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

describe('ELF loader', () => {
  describe('ELF32 (elf32.elf: code at 1 MiB, data + bss on the next page)', () => {
    const bytes = fixture('elf32.elf');

    it('parses the header and the PT_LOAD segments', () => {
      const elf = parseElf(bytes);
      assert.equal(elf.header.elfClass, 32);
      assert.equal(elf.header.machine, 3);
      assert.equal(elf.header.entry, 0x100000n);
      const loads = elf.segments.filter((s) => s.type === 1);
      assert.equal(loads.length, 2);
      assert.deepEqual(
        loads.map((s) => [s.paddr, s.offset, s.filesz, s.memsz]),
        [
          [0x100000n, 0x1000, 0x1b, 0x1bn],
          [0x101000n, 0x2000, 0x12, 0x1020n],
        ],
      );
    });

    it('lists sections with name, address, offset and size', () => {
      const elf = parseElf(bytes);
      const byName = new Map(elf.sections.map((s) => [s.name, s]));
      for (const name of ['.text', '.data', '.bss', '.symtab', '.strtab', '.shstrtab']) {
        assert.ok(byName.has(name), name);
      }
      const data = byName.get('.data')!;
      assert.equal(data.addr, 0x101000n);
      assert.equal(data.offset, 0x2000);
      assert.equal(data.size, 0x12);
      assert.equal(byName.get('.bss')!.size, 0x1000);
      assert.deepEqual([...elfSectionData(bytes, data).subarray(0, 4)], [0x78, 0x56, 0x34, 0x12]);
      assert.equal(elfSectionData(bytes, byName.get('.bss')!).length, 0);
    });

    it('reads typed, sized and untyped symbols, sorted by address', () => {
      const { symbols } = parseElf(bytes);
      const find = (name: string) => symbols.find((s) => s.name === name);
      assert.deepEqual(find('_start'), { name: '_start', address: 0x100000n, size: 23, kind: 'func' });
      assert.deepEqual(find('add_two'), { name: 'add_two', address: 0x100017n, size: 4, kind: 'func' });
      assert.deepEqual(find('counter'), { name: 'counter', address: 0x101000n, size: 4, kind: 'object' });
      assert.deepEqual(find('greeting'), { name: 'greeting', address: 0x101004n, size: 0, kind: 'other' });
      assert.equal(find('stack_top')?.address, 0x102020n);
      assert.ok(symbols.every((s) => s.name !== ''), 'no nameless (section/file) symbols');
      const addresses = symbols.map((s) => s.address);
      assert.deepEqual(addresses, [...addresses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    });

    it('plans each segment at its physical address, zero-filling the bss', () => {
      const plan = elfLoadPlan(bytes, { ramBytes: 16 * MIB });
      assert.equal(plan.format, 'elf');
      assert.deepEqual(
        plan.chunks.map((c) => [c.label, c.phys, c.data.length]),
        [
          ['segment 0', 0x100000, 0x1b],
          ['segment 1', 0x101000, 0x1020],
        ],
      );
      assert.deepEqual(plan.chunks[0].data, bytes.subarray(0x1000, 0x101b));
      const data = plan.chunks[1].data;
      assert.deepEqual(data.subarray(0, 0x12), bytes.subarray(0x2000, 0x2012));
      // The file continues with the symbol table right after .data; none of it may leak into the bss.
      assert.ok(bytes.subarray(0x2012, 0x2100).some((b) => b !== 0));
      assert.ok(data.subarray(0x12).every((b) => b === 0));
      assert.deepEqual(plan.entry, { kind: 'protected', eip: 0x100000 });
      assert.equal(plan.rom, undefined);
    });

    it('falls back to p_vaddr when p_paddr is 0, with a note', () => {
      const patched = bytes.slice();
      const phoff = parseElf(bytes).header.phoff;
      setU32(patched, phoff + 32 + 12, 0); // program header 1 p_paddr
      const plan = elfLoadPlan(patched);
      assert.equal(plan.chunks[1].phys, 0x101000);
      assert.ok(plan.notes.some((n) => /segment 1: p_paddr is 0/.test(n)), plan.notes.join('\n'));
    });

    it('translates an entry at a link address to its physical address (higher-half kernels)', () => {
      const patched = bytes.slice();
      const phoff = parseElf(bytes).header.phoff;
      setU32(patched, phoff + 8, 0xc0100000); // program header 0 p_vaddr
      setU32(patched, 24, 0xc0100000); // e_entry
      const plan = elfLoadPlan(patched);
      assert.deepEqual(plan.entry, { kind: 'protected', eip: 0x100000 });
      assert.ok(plan.notes.some((n) => /link address/.test(n)));
    });

    it('resolves extended section numbering (e_shnum 0, count in section header 0)', () => {
      const patched = bytes.slice();
      const shoff = getU32(bytes, 32);
      setU16(patched, 48, 0); // e_shnum
      setU32(patched, shoff + 20, 7); // section header 0 sh_size
      assert.deepEqual(parseElf(patched).sections, parseElf(bytes).sections);
    });

    it('honours mode and entry overrides', () => {
      assert.deepEqual(elfLoadPlan(bytes, { mode: 'long' }).entry, { kind: 'long', rip: 0x100000n });
      assert.deepEqual(elfLoadPlan(bytes, { entry: 0x100017 }).entry, { kind: 'protected', eip: 0x100017 });
      throwsLoadError(() => elfLoadPlan(bytes, { mode: 'real' }), /beyond the 1 MiB/);
    });
  });

  describe('ELF64 (elf64.elf: x86-64 at 2 MiB)', () => {
    const bytes = fixture('elf64.elf');

    it('starts EM_X86_64 images in long mode', () => {
      const plan = elfLoadPlan(bytes);
      assert.deepEqual(plan.entry, { kind: 'long', rip: 0x200000n });
      assert.deepEqual(
        plan.chunks.map((c) => [c.phys, c.data.length]),
        [
          [0x200000, 0x30],
          [0x201000, 0x2018],
        ],
      );
      assert.ok(plan.chunks[1].data.subarray(8).every((b) => b === 0));
    });

    it('reads ELF64 symbols and leaves out absolute (equ) symbols', () => {
      const { symbols } = parseElf(bytes);
      const find = (name: string) => symbols.find((s) => s.name === name);
      assert.deepEqual(find('checksum'), { name: 'checksum', address: 0x200022n, size: 14, kind: 'func' });
      assert.deepEqual(find('table'), { name: 'table', address: 0x201000n, size: 8, kind: 'object' });
      assert.deepEqual(find('result'), { name: 'result', address: 0x201010n, size: 8, kind: 'object' });
      assert.equal(find('table.len'), undefined);
    });

    it('starts an EM_386 ELF64 in protected mode unless its entry is above 4 GiB', () => {
      const patched = bytes.slice();
      setU16(patched, 18, 3); // e_machine = EM_386
      assert.deepEqual(elfLoadPlan(patched).entry, { kind: 'protected', eip: 0x200000 });
      setU64(patched, 24, 0x1_0000_0000n);
      assert.deepEqual(elfLoadPlan(patched).entry, { kind: 'long', rip: 0x1_0000_0000n });
    });

    it('refuses a non-canonical long-mode entry', () => {
      const patched = bytes.slice();
      setU64(patched, 24, 0x0000_8000_0000_0000n);
      throwsLoadError(() => elfLoadPlan(patched), /not canonical/);
    });
  });

  describe('ELF64 PIE (elf64-pie.elf: ET_DYN with .dynsym)', () => {
    const bytes = fixture('elf64-pie.elf');

    it('accepts ET_DYN with a note and merges .dynsym without duplicates', () => {
      const plan = elfLoadPlan(bytes);
      assert.ok(plan.notes.some((n) => /ET_DYN/.test(n)));
      assert.equal(plan.symbols.filter((s) => s.name === 'checksum').length, 1);
      assert.ok(plan.symbols.some((s) => s.name === '_edata'), 'symbols only in .dynsym are kept too');
      assert.equal(parseElf(bytes).sections.filter((s) => s.name === '.dynsym').length, 1);
    });
  });

  describe('bad input', () => {
    const bytes = fixture('elf32.elf');
    const phoff = 52;

    it('truncated ELF header', () => {
      throwsLoadError(() => parseElf(bytes.slice(0, 30)), /ELF32 header truncated/, /0x1e bytes/);
      throwsLoadError(() => parseElf(bytes.slice(0, 10)), /e_ident truncated/);
    });

    it('not an ELF file', () => {
      throwsLoadError(() => parseElf(new Uint8Array(64)), /not an ELF image/, /offset 0/);
    });

    it('bad class, big-endian, ET_REL', () => {
      const cls = bytes.slice();
      cls[4] = 3;
      throwsLoadError(() => parseElf(cls), /EI_CLASS/, /offset 4/);
      const be = bytes.slice();
      be[5] = 2;
      throwsLoadError(() => parseElf(be), /EI_DATA/, /little-endian/);
      const rel = bytes.slice();
      setU16(rel, 16, 1);
      throwsLoadError(() => parseElf(rel), /e_type is 1/, /relocatable/);
    });

    it('wrong machine', () => {
      const arm = bytes.slice();
      setU16(arm, 18, 40);
      throwsLoadError(() => parseElf(arm), /e_machine is 40/, /EM_386/);
    });

    it('program header table out of bounds', () => {
      const patched = bytes.slice();
      setU32(patched, 28, bytes.length - 16); // e_phoff
      throwsLoadError(() => parseElf(patched), /program header table out of bounds/, /e_phoff/, /e_phnum 3/);
    });

    it('segment contents out of bounds', () => {
      const patched = bytes.slice();
      setU32(patched, phoff + 32 + 4, 0xfffff000); // program header 1 p_offset
      throwsLoadError(() => parseElf(patched), /program header 1/, /p_offset 0xfffff000/, /past the end of the file/);
    });

    it('p_filesz larger than p_memsz', () => {
      const patched = bytes.slice();
      setU32(patched, phoff + 20, 4); // program header 0 p_memsz
      throwsLoadError(() => parseElf(patched), /program header 0/, /p_filesz 0x1b exceeds p_memsz 0x4/);
    });

    it('section contents out of bounds', () => {
      const patched = bytes.slice();
      const shoff = getU32(bytes, 32);
      setU32(patched, shoff + 4 * 40 + 20, 0x100000); // section header 4 (.symtab) sh_size
      throwsLoadError(() => parseElf(patched), /section header 4/, /sh_size 0x100000/);
    });

    it('symbol name outside the string table', () => {
      const patched = bytes.slice();
      const symtab = parseElf(bytes).sections.find((s) => s.name === '.symtab')!;
      setU32(patched, symtab.offset + 16 * 6, 0x7fffffff); // symbol 6 st_name
      throwsLoadError(() => parseElf(patched), /symbol 6 st_name/, /outside its string table/);
    });

    it('segment larger than RAM, refused before allocating it', () => {
      const patched = bytes.slice();
      setU32(patched, phoff + 32 + 20, 0xf0000000); // program header 1 p_memsz
      throwsLoadError(
        () => elfLoadPlan(patched, { ramBytes: 16 * MIB }),
        /image does not fit: segment 1 at 0x101000 \+ 0xf0000000 bytes exceeds RAM of 16 MiB/,
      );
    });

    it('no loadable segment', () => {
      const patched = bytes.slice();
      setU32(patched, phoff, 0); // program header 0 p_type = PT_NULL
      setU32(patched, phoff + 32, 0);
      throwsLoadError(() => elfLoadPlan(patched), /no PT_LOAD segment/);
    });
  });
});
