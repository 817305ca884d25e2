import { strict as assert } from 'assert';
import { Uart16550 } from '../../src/machine/devices/uart16550';
import { PortBus } from '../../src/machine/portBus';

const COM1 = 0x3f8;
const THR = COM1;
const IER = COM1 + 1;
const IIR = COM1 + 2;
const FCR = COM1 + 2;
const LCR = COM1 + 3;
const MCR = COM1 + 4;
const LSR = COM1 + 5;
const MSR = COM1 + 6;
const SCR = COM1 + 7;

function setup() {
  const bus = new PortBus();
  const output: number[] = [];
  const irq: boolean[] = [];
  const uart = new Uart16550({ irq: (level) => irq.push(level), onOutput: (bytes) => output.push(...bytes) });
  uart.attach(bus);
  return { bus, uart, output, irq };
}

describe('UART 16550 (COM1)', () => {
  it('sends THR writes to onOutput at once and always reports the transmitter ready', () => {
    const { bus, output } = setup();
    assert.equal(bus.in(LSR, 1) & 0x60, 0x60, 'THRE and TEMT');
    for (const c of 'Hi\n') bus.out(THR, 1, c.charCodeAt(0));
    assert.equal(Buffer.from(output).toString(), 'Hi\n');
    assert.equal(bus.in(LSR, 1), 0x60);
  });

  it('queues pushed input: LSR.DR until the last byte is read from RBR', () => {
    const { bus, uart } = setup();
    assert.equal(bus.in(LSR, 1) & 1, 0);
    uart.pushInput('ok');
    uart.pushInput(Uint8Array.of(0xff));
    assert.equal(bus.in(LSR, 1) & 1, 1);
    assert.equal(bus.in(THR, 1), 0x6f);
    assert.equal(bus.in(THR, 1), 0x6b);
    assert.equal(bus.in(LSR, 1) & 1, 1);
    assert.equal(bus.in(THR, 1), 0xff);
    assert.equal(bus.in(LSR, 1) & 1, 0);
  });

  it('exposes the divisor latch behind LCR.DLAB and keeps IER separate', () => {
    const { bus, output } = setup();
    bus.out(IER, 1, 0x00);
    bus.out(LCR, 1, 0x83);
    bus.out(THR, 1, 0x01); // DLL: 115200 baud
    bus.out(IER, 1, 0x00); // DLM
    assert.equal(bus.in(THR, 1), 0x01);
    assert.equal(bus.in(IER, 1), 0x00);
    bus.out(LCR, 1, 0x03);
    assert.equal(bus.in(LCR, 1), 0x03);
    assert.equal(output.length, 0, 'divisor writes are not output');
    bus.out(IER, 1, 0x05);
    assert.equal(bus.in(IER, 1), 0x05);
    bus.out(LCR, 1, 0x83);
    assert.equal(bus.in(THR, 1), 0x01, 'DLL survived');
  });

  it('raises the received-data interrupt when enabled and drops it when the data is read', () => {
    const { bus, uart, irq } = setup();
    assert.equal(bus.in(IIR, 1), 0x01, 'no interrupt pending');
    uart.pushInput('x');
    assert.deepEqual(irq, [], 'IER is still zero');
    bus.out(IER, 1, 0x01);
    assert.deepEqual(irq, [true]);
    assert.equal(bus.in(IIR, 1), 0x04);
    assert.equal(bus.in(THR, 1), 0x78);
    assert.deepEqual(irq, [true, false]);
    assert.equal(bus.in(IIR, 1), 0x01);
  });

  it('raises THR-empty when enabled, clears it by reading IIR and raises it again after a write', () => {
    const { bus, irq } = setup();
    bus.out(IER, 1, 0x02);
    assert.deepEqual(irq, [true]);
    assert.equal(bus.in(IIR, 1), 0x02);
    assert.deepEqual(irq, [true, false]);
    assert.equal(bus.in(IIR, 1), 0x01);
    bus.out(THR, 1, 0x41);
    assert.deepEqual(irq, [true, false, true]);
  });

  it('ranks received data above THR empty in IIR', () => {
    const { bus, uart } = setup();
    bus.out(IER, 1, 0x03);
    uart.pushInput('a');
    assert.equal(bus.in(IIR, 1), 0x04);
    bus.in(THR, 1);
    assert.equal(bus.in(IIR, 1), 0x02);
  });

  it('reports FIFO mode in IIR bits 7:6 and clears the receiver on FCR', () => {
    const { bus, uart } = setup();
    bus.out(FCR, 1, 0x07);
    assert.equal(bus.in(IIR, 1), 0xc1);
    uart.pushInput('abc');
    bus.out(FCR, 1, 0x03);
    assert.equal(bus.in(LSR, 1) & 1, 0);
    assert.equal(uart.inputPending, 0);
  });

  it('loops THR back to RBR and MCR to MSR in loopback mode', () => {
    const { bus, output } = setup();
    bus.out(MCR, 1, 0x10 | 0x0b); // loop, DTR, RTS, OUT2
    bus.out(THR, 1, 0x5a);
    assert.deepEqual(output, []);
    assert.equal(bus.in(LSR, 1) & 1, 1);
    assert.equal(bus.in(THR, 1), 0x5a);
    const msr = bus.in(MSR, 1);
    assert.equal(msr & 0xf0, 0x10 | 0x20 | 0x80, 'CTS, DSR, DCD from RTS, DTR, OUT2');
    assert.equal(bus.in(MSR, 1) & 0x0f, 0, 'delta bits clear on read');
    assert.equal(bus.in(MCR, 1), 0x1b);
    bus.out(MCR, 1, 0x00);
    bus.out(THR, 1, 0x5b);
    assert.deepEqual(output, [0x5b]);
  });

  it('keeps the scratch register', () => {
    const { bus } = setup();
    bus.out(SCR, 1, 0xa5);
    assert.equal(bus.in(SCR, 1), 0xa5);
  });
});
