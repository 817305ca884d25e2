import { strict as assert } from 'assert';
import { BYTE, DWORD, type PortDevice, PortBus, WORD } from '../../src/machine/portBus';

/** A device that answers port-derived values and logs every access it sees. */
function logger(accessSizes?: number): PortDevice & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    accessSizes,
    in(port, size) {
      log.push(`in ${port.toString(16)}/${size}`);
      return size === 1 ? port & 0xff : size === 2 ? 0xa000 | (port & 0xff) : 0xb000_0000 | (port & 0xff);
    },
    out(port, size, value) {
      log.push(`out ${port.toString(16)}/${size}=${value.toString(16)}`);
    },
  };
}

describe('PortBus', () => {
  it('reads all ones from unclaimed ports at every size and ignores writes', () => {
    const bus = new PortBus();
    assert.equal(bus.in(0x1234, 1), 0xff);
    assert.equal(bus.in(0x1234, 2), 0xffff);
    assert.equal(bus.in(0x1234, 4), 0xffff_ffff);
    bus.out(0x1234, 4, 0);
    assert.equal(bus.in(0x1234, 4), 0xffff_ffff);
    assert.equal(bus.isClaimed(0x1234), false);
  });

  it('dispatches byte accesses to the owner with the absolute port number', () => {
    const bus = new PortBus();
    const dev = logger();
    bus.register(0x3f8, 8, dev);
    assert.equal(bus.in(0x3fd, 1), 0xfd);
    bus.out(0x3f8, 1, 0x41);
    assert.deepEqual(dev.log, ['in 3fd/1', 'out 3f8/1=41']);
  });

  it('splits word and dword accesses to a byte-only device into byte accesses', () => {
    const bus = new PortBus();
    const dev = logger();
    bus.register(0x70, 2, dev);
    assert.equal(bus.in(0x70, 2), 0x7170);
    bus.out(0x70, 2, 0x1234);
    assert.deepEqual(dev.log, ['in 70/1', 'in 71/1', 'out 70/1=34', 'out 71/1=12']);
    // A dword from the same base runs into unclaimed ports, which contribute all-ones bytes.
    assert.equal(bus.in(0x70, 4), 0xffff_7170);
  });

  it('hands whole accesses to devices that accept the size', () => {
    const bus = new PortBus();
    const dev = logger(BYTE | WORD | DWORD);
    bus.register(0xcf8, 8, dev);
    assert.equal(bus.in(0xcf8, 4), 0xb000_00f8);
    assert.equal(bus.in(0xcfc, 2), 0xa0fc);
    bus.out(0xcf8, 4, 0x8000_0000);
    assert.deepEqual(dev.log, ['in cf8/4', 'in cfc/2', 'out cf8/4=80000000']);
  });

  it('splits a dword for a word-only device byte by byte, and still serves its byte reads', () => {
    const bus = new PortBus();
    const dev = logger(WORD);
    bus.register(0x100, 4, dev);
    assert.equal(bus.in(0x100, 2), 0xa000);
    assert.equal(bus.in(0x101, 1), 0x01);
    assert.equal(bus.in(0x100, 4), 0x03020100);
  });

  it('refuses overlapping claims and wraps at port 0xFFFF', () => {
    const bus = new PortBus();
    bus.register(0x60, 1, logger());
    assert.throws(() => bus.register(0x5f, 2, logger()), /already claimed/);
    assert.throws(() => bus.register(0xffff, 2, logger()), /bad port range/);
    const top = logger();
    bus.register(0xffff, 1, top);
    const bottom = logger();
    bus.register(0x0000, 1, bottom);
    assert.equal(bus.in(0xffff, 2), 0x00ff);
    assert.deepEqual(top.log, ['in ffff/1']);
    assert.deepEqual(bottom.log, ['in 0/1']);
  });
});
