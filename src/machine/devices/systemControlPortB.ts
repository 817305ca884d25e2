/**
 * Port 0x61, "system control port B" / NMI status and control. Firmware and OS loaders time short
 * delays with it: they gate PIT channel 2 through bit 0 and poll bit 5 (channel 2's OUT), or count
 * toggles of bit 4 (the DRAM refresh request, every 15.085 us). Both are derived from the PIT clock,
 * so such delays take a fixed number of instructions.
 *
 *   bit 0  R/W  GATE2 (PIT channel 2 gate)
 *   bit 1  R/W  speaker data enable (no audio is produced)
 *   bit 2  R/W  parity-check NMI disable (stored)
 *   bit 3  R/W  channel-check NMI disable (stored)
 *   bit 4  R    refresh toggle
 *   bit 5  R    OUT2
 *   bit 6  R    IOCHK (always 0)
 *   bit 7  R    parity error (always 0)
 */
import { type Clock, INSTRUCTIONS_PER_PIT_TICK } from '../clock';
import type { PortDevice, PortRegistry } from '../portBus';
import type { Pit8254 } from './pit8254';

/** PIT ticks per refresh toggle: 15.085 us at 1.193182 MHz is 18 ticks. */
export const PIT_TICKS_PER_REFRESH_TOGGLE = 18;

export interface SystemControlPortBOptions {
  clock: Clock;
  pit: Pit8254;
}

export class SystemControlPortB implements PortDevice {
  private readonly clock: Clock;
  private readonly pit: Pit8254;
  private control = 0;

  constructor(options: SystemControlPortBOptions) {
    this.clock = options.clock;
    this.pit = options.pit;
  }

  attach(bus: PortRegistry): void {
    bus.register(0x61, 1, this);
  }

  in(_port: number, _size: number): number {
    const tick = Math.floor(this.clock.instructions() / INSTRUCTIONS_PER_PIT_TICK);
    const refresh = Math.floor(tick / PIT_TICKS_PER_REFRESH_TOGGLE) & 1;
    return (this.control & 0x0f) | (refresh << 4) | (this.pit.outputLevel(2) ? 0x20 : 0);
  }

  out(_port: number, _size: number, value: number): void {
    this.control = value & 0x0f;
    this.pit.setGate(2, (value & 1) !== 0);
  }
}
