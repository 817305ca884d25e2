import { strict as assert } from 'assert';
import type { Cpu } from '../../src/cpu/cpu';
import type { Machine } from '../../src/machine/machine';
import { ExecutionHistory, type HistoryRecord } from '../../src/debug/history';
import { GuestMemory } from '../../src/debug/memory';
import { makeCpu } from './snippet';

/** A snippet CPU (test/support/snippet.ts) recording into an execution history, without a machine or adapter. */
export function historyRig(bits: 32 | 64, capacity = 1 << 12): { cpu: Cpu; hist: ExecutionHistory } {
  const { cpu } = makeCpu(bits);
  const writeBytes = (phys: number, b: Uint8Array) => { for (let k = 0; k < b.length; k++) cpu.physWrite(phys + k, 1, b[k]); };
  const mem = new GuestMemory({ cpu, memory: { writeBytes } } as unknown as Machine);
  const hist = new ExecutionHistory(capacity, cpu, mem);
  cpu.observer = hist;
  cpu.singleStepChanged();
  return { cpu, hist };
}

/** Steps back until the instruction at `rip` is undone; returns its record. */
export function backTo(hist: ExecutionHistory, rip: number): HistoryRecord {
  hist.finish();
  for (;;) {
    const rec = hist.popAndRestore();
    assert.ok(rec, `0x${rip.toString(16)} is not in the history`);
    if (rec.rip === rip) return rec;
  }
}
