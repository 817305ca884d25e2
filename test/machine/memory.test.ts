import { strict as assert } from 'assert';
import { type MmioHandler, PhysicalMemory } from '../../src/machine/physicalMemory';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const FOUR_GIB = 0x1_0000_0000;

/** An MMIO handler that records its accesses and answers a fixed pattern. */
function recorder(answer = 0x12345678): MmioHandler & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    read(offset, size) {
      log.push(`r ${offset.toString(16)} ${size}`);
      return size === 4 ? answer : answer & (size === 2 ? 0xffff : 0xff);
    },
    write(offset, size, value) {
      log.push(`w ${offset.toString(16)} ${size} ${value.toString(16)}`);
    },
  };
}

function romImage(size: number): Uint8Array {
  const image = new Uint8Array(size);
  for (let i = 0; i < size; i++) image[i] = (i * 7 + (i >> 12)) & 0xff;
  return image;
}

describe('PhysicalMemory', () => {
  it('defaults to 256 MiB of RAM plus ROM capacity in one backing array', () => {
    const mem = new PhysicalMemory();
    assert.equal(mem.ramSize, 256 * MIB);
    assert.equal(mem.backing.length, 256 * MIB + 16 * MIB);
  });

  it('maps RAM directly: hostOffset is the page offset and reads see stores', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    assert.equal(mem.hostOffset(0x12345), 0x12000);
    assert.equal(mem.isReadOnly(0x12345), false);
    mem.write32(0x12345, 0xdeadbeef);
    assert.equal(mem.read32(0x12345), 0xdeadbeef);
    assert.deepEqual([...mem.backing.subarray(0x12345, 0x12349)], [0xef, 0xbe, 0xad, 0xde]);
    assert.equal(mem.read16(0x12347), 0xdead);
    assert.equal(mem.read8(0x12348), 0xde);
    mem.write64(0x2000, 0x0102030405060708n);
    assert.equal(mem.read64(0x2000), 0x0102030405060708n);
    assert.equal(mem.read32(0x2004), 0x01020304);
    // Beyond RAM (and below the ROM) nothing answers.
    assert.equal(mem.hostOffset(16 * MIB), -1);
  });

  it('leaves a PCI hole at 0xE0000000 and maps the rest of RAM from 4 GiB', () => {
    const mem = new PhysicalMemory({ ramSize: 0xe000_0000 + 64 * MIB });
    assert.equal(mem.lowRamSize, 0xe000_0000);
    assert.equal(mem.highRamSize, 64 * MIB);
    assert.equal(mem.hostOffset(0xe000_0000 - 1), 0xe000_0000 - 4096);
    assert.equal(mem.hostOffset(0xe000_0000), -1);
    assert.equal(mem.hostOffset(0xf000_0000), -1);
    assert.equal(mem.readSlow(0xe000_0000, 4), 0xffff_ffff);
    assert.equal(mem.hostOffset(FOUR_GIB), 0xe000_0000);
    assert.equal(mem.hostOffset(FOUR_GIB + 0x5123), 0xe000_5000);
    mem.write32(FOUR_GIB + 8, 0xcafef00d);
    assert.equal(mem.backing[0xe000_0008], 0x0d);
    assert.equal(mem.read32(FOUR_GIB + 8), 0xcafef00d);
    // The first byte past high RAM is unmapped again.
    assert.equal(mem.hostOffset(FOUR_GIB + 64 * MIB), -1);
    assert.equal(mem.read8(FOUR_GIB + 64 * MIB), 0xff);
  });

  it('reads all ones from unmapped space at every size and drops writes there', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    assert.equal(mem.readSlow(0x8000_0000, 1), 0xff);
    assert.equal(mem.readSlow(0x8000_0000, 2), 0xffff);
    assert.equal(mem.readSlow(0x8000_0000, 4), 0xffff_ffff);
    mem.writeSlow(0x8000_0000, 4, 0);
    assert.equal(mem.readSlow(0x8000_0000, 4), 0xffff_ffff);
    // An access straddling the end of RAM mixes RAM bytes and all-ones.
    mem.write16(16 * MIB - 2, 0x1234);
    assert.equal(mem.readSlow(16 * MIB - 2, 4), 0xffff_1234);
  });

  it('maps a ROM so it ends at 0xFFFFFFFF, read-only, and aliases its last 128 KiB below 1 MiB', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    const image = romImage(256 * 1024);
    mem.writeBytes(0xe0000, Uint8Array.of(0x55)); // RAM under the alias, before the ROM appears
    mem.mapRom(image);
    assert.equal(mem.romBase, FOUR_GIB - 256 * 1024);
    assert.equal(mem.read8(0xffff_fff0), image[image.length - 16]);
    assert.equal(mem.read32(FOUR_GIB - 256 * 1024), new DataView(image.buffer).getUint32(0, true));
    assert.ok(mem.isReadOnly(0xffff_f000));
    const off = mem.hostOffset(0xffff_fff0);
    assert.ok(off >= mem.ramSize, 'ROM lives after RAM in backing');
    assert.equal(mem.backing[off + 0xff0], image[image.length - 16]);
    // Legacy alias: the last 128 KiB at 0xE0000-0xFFFFF, shadowing RAM, read-only.
    for (const a of [0xe0000, 0xf0000, 0xffff0]) {
      assert.equal(mem.read8(a), image[image.length - (0x10_0000 - a)], `alias at ${a.toString(16)}`);
      assert.ok(mem.isReadOnly(a));
    }
    assert.equal(mem.hostOffset(0xffff0), mem.hostOffset(0xffff_fff0));
    assert.equal(mem.isReadOnly(0xdffff), false);
    // CPU-style stores to ROM vanish, both through the slow path and the convenience writers.
    const before = mem.read32(0xffff_fff0);
    mem.writeSlow(0xffff_fff0, 4, 0);
    mem.write32(0xffff_fff0, 0);
    mem.write8(0xffff0, 0);
    assert.equal(mem.read32(0xffff_fff0), before);
    // The loader path can write ROM, and the alias shows the same bytes.
    mem.writeBytes(0xffff_fff0, Uint8Array.of(0xea, 0x5b, 0xe0));
    assert.deepEqual([...mem.readBytes(0xffff0, 3)], [0xea, 0x5b, 0xe0]);
  });

  it('aliases a ROM smaller than 128 KiB whole, ending at 1 MiB, and pads odd sizes with 0xFF', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    mem.writeBytes(0xe0000, Uint8Array.of(0x55));
    const image = romImage(64 * 1024 - 100);
    mem.mapRom(image);
    assert.equal(mem.romBase, FOUR_GIB - 64 * 1024);
    assert.equal(mem.read8(FOUR_GIB - 64 * 1024), 0xff, 'padding reads as erased flash');
    assert.equal(mem.read8(FOUR_GIB - image.length), image[0]);
    assert.equal(mem.read8(0xf0000 + 100), image[0]);
    assert.equal(mem.read8(0xe0000), 0x55, 'RAM below a small alias stays RAM');
    assert.equal(mem.isReadOnly(0xe0000), false);
    // Mapping a larger ROM later replaces the old one and widens the alias.
    mem.mapRom(romImage(128 * 1024));
    assert.ok(mem.isReadOnly(0xe0000));
  });

  it('gives MMIO priority over RAM and ROM, including partial pages, and unmaps cleanly', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    mem.write32(0x3000, 0x11223344);
    mem.write8(0x4000, 0x99);
    const dev = recorder();
    const mapping = mem.mapMmio(0x3000, 0x1000, dev);
    assert.equal(mem.hostOffset(0x3000), -1);
    assert.equal(mem.readSlow(0x3008, 4), 0x12345678);
    mem.writeSlow(0x300c, 2, 0xbeef);
    assert.deepEqual(dev.log, ['r 8 4', 'w c 2 beef']);
    assert.equal(mem.read32(0x3000), 0x12345678, 'the convenience reader goes through MMIO too');
    mapping.unmap();
    assert.equal(mem.hostOffset(0x3000), 0x3000);
    assert.equal(mem.read32(0x3000), 0x11223344, 'the RAM underneath was untouched');

    // A 16-byte window inside a RAM page: the page leaves the fast path, its other bytes stay RAM.
    const small = recorder(0xabcdef01);
    mem.mapMmio(0x4010, 0x10, small);
    assert.equal(mem.hostOffset(0x4000), -1);
    assert.equal(mem.readSlow(0x4000, 1), 0x99);
    assert.equal(mem.readSlow(0x4010, 4), 0xabcdef01);
    mem.writeSlow(0x4000, 1, 0x42);
    assert.equal(mem.backing[0x4000], 0x42);
    assert.equal(mem.hostOffset(0x5000), 0x5000);

    // Over ROM, too.
    mem.mapRom(romImage(64 * 1024));
    const overRom = recorder(0x77);
    mem.mapMmio(0xffff_0000, 0x1000, overRom);
    assert.equal(mem.hostOffset(0xffff_0000), -1);
    assert.equal(mem.readSlow(0xffff_0004, 1), 0x77);
    assert.throws(() => mem.mapMmio(0x4000, 0x20, recorder()), /overlaps/);
  });

  it('tells listeners about layout changes and loader writes', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    const events: string[] = [];
    mem.addListener({
      layoutChanged: () => events.push('layout'),
      bytesWritten: (phys, length) => events.push(`wrote ${phys.toString(16)}+${length}`),
    });
    mem.writeBytes(0x1000, new Uint8Array(3));
    mem.mapMmio(0x8000, 0x1000, recorder()).unmap();
    mem.setA20(false);
    assert.deepEqual(events, ['wrote 1000+3', 'layout', 'layout', 'layout']);
  });

  it('masks address bit 20 on CPU accesses while A20 is off', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    mem.write8(0x0_0500, 0x11);
    mem.write8(0x10_0500, 0x22);
    assert.equal(mem.hostOffset(0x10_0500), 0x10_0000);
    mem.setA20(false);
    assert.equal(mem.a20Enabled, false);
    assert.equal(mem.hostOffset(0x10_0500), 0x0000);
    assert.equal(mem.readSlow(0x10_0500, 1), 0x11);
    assert.equal(mem.hostOffset(0x30_0000), 0x20_0000, 'only bit 20 is cleared');
    assert.equal(mem.read8(0x10_0500), 0x22, 'debugger/loader accessors see memory as it is');
    mem.setA20(true);
    assert.equal(mem.readSlow(0x10_0500, 1), 0x22);
  });

  it('copies byte ranges across RAM, MMIO and holes', () => {
    const mem = new PhysicalMemory({ ramSize: 16 * MIB });
    const data = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
    mem.writeBytes(0x7000 - 100, data);
    assert.deepEqual(mem.readBytes(0x7000 - 100, 10000), data);
    mem.mapMmio(0x9000, 0x1000, recorder(0xaa));
    const mixed = mem.readBytes(0x8fff, 2);
    assert.deepEqual([...mixed], [data[0x8fff - (0x7000 - 100)], 0xaa]);
    assert.deepEqual([...mem.readBytes(16 * MIB - 1, 2)], [0, 0xff]);
  });

  it('keeps a 4 GiB backing store cheap until pages are touched', () => {
    const rssBefore = process.memoryUsage().rss;
    const mem = new PhysicalMemory({ ramSize: 4 * GIB - 16 * MIB, romCapacity: 16 * MIB });
    assert.equal(mem.backing.length, 4 * GIB);
    mem.write32(3 * GIB, 0x01020304);
    mem.write32(FOUR_GIB + 100 * MIB, 0x05060708); // high RAM
    mem.mapRom(romImage(64 * 1024));
    assert.equal(mem.read32(3 * GIB), 0x01020304);
    assert.equal(mem.read32(FOUR_GIB + 100 * MIB), 0x05060708);
    assert.equal(mem.hostOffset(FOUR_GIB + 100 * MIB), 0xe000_0000 + 100 * MIB);
    const grown = process.memoryUsage().rss - rssBefore;
    assert.ok(grown < 256 * MIB, `RSS grew by ${Math.round(grown / MIB)} MiB`);
  });

  it('rejects RAM plus ROM capacity beyond what one Uint8Array can hold', () => {
    assert.throws(() => new PhysicalMemory({ ramSize: 4 * GIB }), /exceeds 4 GiB/);
    assert.throws(() => new PhysicalMemory({ ramSize: 1000 }), /multiple of 4 KiB/);
    const mem = new PhysicalMemory({ ramSize: 16 * MIB, romCapacity: 64 * 1024 });
    assert.throws(() => mem.mapRom(new Uint8Array(128 * 1024)), /exceeds the ROM capacity/);
  });
});
