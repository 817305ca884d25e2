/**
 * The 8042 keyboard controller at 0x60 (data) and 0x64 (status/command), modelled only as far as
 * firmware uses it without a keyboard: the A20 gate and CPU reset through the output port, the
 * self-tests, and the command byte. The input buffer is always empty (status bit 1 clear), because
 * the controller handles each byte at once; firmware that spins on it never waits.
 *
 * No keyboard or mouse is attached: bytes written to 0x60 for the keyboard get the answers a present
 * but idle keyboard gives (0xFA ACK, plus 0xAA after a reset), so probing code does not hang.
 */
import type { PortDevice, PortRegistry } from '../portBus';
import type { A20Gate } from './a20Gate';
import { type IrqLine, NO_IRQ } from './irqLine';

export interface Kbc8042Options {
  a20: A20Gate;
  /** CPU reset through the output port (command 0xFE, or bit 0 written as 0). */
  onReset?: () => void;
  /** IRQ1, raised while keyboard data waits and the command byte enables it. */
  irq?: IrqLine;
}

// Status register bits.
const STATUS_OBF = 0x01;
const STATUS_SYSTEM = 0x04; // set once the self-test passed (always, here)
const STATUS_COMMAND = 0x08; // last write was to 0x64

const CMD_BYTE_KBD_INT = 0x01;
const MAX_OUTPUT = 16;

export class Kbc8042 implements PortDevice {
  private readonly a20: A20Gate;
  private readonly onReset?: () => void;
  private readonly irq: IrqLine;
  /** Controller command byte: keyboard interrupt on, system flag, translation on (PC default). */
  private commandByte = 0x45;
  private readonly output: number[] = [];
  /** The command waiting for its data byte on 0x60, or 0. */
  private pendingCommand = 0;
  private lastWasCommand = false;
  private irqLevel = false;

  constructor(options: Kbc8042Options) {
    this.a20 = options.a20;
    this.onReset = options.onReset;
    this.irq = options.irq ?? NO_IRQ;
  }

  attach(bus: PortRegistry): void {
    bus.register(0x60, 1, this);
    bus.register(0x64, 1, this);
  }

  in(port: number, _size: number): number {
    if (port === 0x64) {
      return (this.output.length > 0 ? STATUS_OBF : 0) | STATUS_SYSTEM | (this.lastWasCommand ? STATUS_COMMAND : 0);
    }
    const value = this.output.length > 0 ? (this.output.shift() as number) : 0;
    this.updateIrq();
    return value;
  }

  out(port: number, _size: number, value: number): void {
    value &= 0xff;
    if (port === 0x64) {
      this.lastWasCommand = true;
      this.command(value);
    } else {
      this.lastWasCommand = false;
      this.data(value);
    }
    // Bound the queue: a guest that writes 0xD2 forever without reading must not grow it forever.
    if (this.output.length > MAX_OUTPUT) this.output.splice(0, this.output.length - MAX_OUTPUT);
    this.updateIrq();
  }

  /** The output port as it reads back: bit 0 = not in reset, bit 1 = A20. */
  private outputPort(): number {
    return 0x01 | (this.a20.enabled ? 0x02 : 0);
  }

  private command(cmd: number): void {
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x20: // read command byte
        this.output.push(this.commandByte);
        return;
      case 0x60: // write command byte
      case 0xd1: // write output port
      case 0xd2: // write keyboard output buffer
        this.pendingCommand = cmd;
        return;
      case 0xa7: // disable mouse port
      case 0xa8: // enable mouse port
      case 0xad: // disable keyboard
      case 0xae: // enable keyboard
        return;
      case 0xa9: // mouse interface test: 0 = OK
      case 0xab: // keyboard interface test: 0 = OK
        this.output.push(0x00);
        return;
      case 0xaa: // controller self-test
        this.output.push(0x55);
        return;
      case 0xd0: // read output port
        this.output.push(this.outputPort());
        return;
      case 0xdd: // A20 off (HP Vectra extension, widely supported)
        this.a20.set(false);
        return;
      case 0xdf: // A20 on
        this.a20.set(true);
        return;
    }
    // 0xF0-0xFF pulse output-port lines low for 6 us; bit 0 of the command selects the reset line.
    if (cmd >= 0xf0 && !(cmd & 1)) this.onReset?.();
  }

  private data(value: number): void {
    const cmd = this.pendingCommand;
    this.pendingCommand = 0;
    switch (cmd) {
      case 0x60:
        this.commandByte = value;
        return;
      case 0xd1:
        this.a20.set((value & 0x02) !== 0);
        if (!(value & 0x01)) this.onReset?.(); // bit 0 drives the CPU's reset line, active low
        return;
      case 0xd2:
        this.output.push(value);
        return;
    }
    this.keyboardCommand(value);
  }

  /** A byte for the (idle) keyboard. */
  private keyboardCommand(value: number): void {
    switch (value) {
      case 0xff: // reset: ACK, then self-test passed
        this.output.push(0xfa, 0xaa);
        return;
      case 0xf2: // identify: ACK, MF2 keyboard
        this.output.push(0xfa, 0xab, 0x83);
        return;
      case 0xee: // echo
        this.output.push(0xee);
        return;
      default:
        this.output.push(0xfa);
    }
  }

  private updateIrq(): void {
    const level = this.output.length > 0 && (this.commandByte & CMD_BYTE_KBD_INT) !== 0;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq(level);
    }
  }
}
