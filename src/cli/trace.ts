import type { Cpu, StepObserver } from '../cpu/cpu';
import * as K from '../cpu/constants';
import { peekTranslate } from '../cpu/paging';
import { disassembleOne } from '../debug/disassembler';

/**
 * `--trace`: one line per instruction before it executes — instruction count, CS:RIP, linear
 * address, bytes and NASM disassembly. Reads code without side effects (no A/D bits, no faults), so
 * tracing never changes what the guest does.
 */
export class Tracer implements StepObserver {
  private buf: string[] = [];
  private readonly code = new Uint8Array(15);

  constructor(private readonly write: (text: string) => void) {}

  beforeInstruction(cpu: Cpu, lin: number): void {
    let n = 0;
    for (; n < 15; n++) {
      const l = cpu.mode64 ? lin + n : (lin + n) >>> 0;
      const phys = peekTranslate(cpu, l);
      if (phys < 0) break;
      const host = cpu.bus.hostOffset(phys);
      this.code[n] = host >= 0 ? cpu.mem[host + (phys % 4096)] : 0xFF;
    }
    const bits = cpu.bits as 16 | 32 | 64;
    const rip = cpu.rip;
    const d = disassembleOne(this.code.subarray(0, n), BigInt(Math.trunc(rip)), bits);
    const bytes = Array.from(d.bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const cs = cpu.segSel[K.SEG_CS].toString(16).padStart(4, '0');
    const ripText = (rip < 0 ? BigInt.asUintN(64, BigInt(rip)) : BigInt(rip)).toString(16).padStart(bits === 64 ? 16 : bits === 32 ? 8 : 4, '0');
    const linText = (lin < 0 ? BigInt.asUintN(64, BigInt(lin)) : BigInt(lin)).toString(16);
    this.buf.push(`${cpu.icount} ${cs}:${ripText} ${linText} ${bytes.padEnd(30)} ${d.text}\n`);
    if (this.buf.length >= 4096) this.flush();
  }

  flush(): void {
    if (this.buf.length) this.write(this.buf.join(''));
    this.buf = [];
  }
}
