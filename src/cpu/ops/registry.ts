import type { Handler } from '../block';
import type { Cpu } from '../cpu';
import type { Instr } from '../block';
import { EXC_UD } from '../constants';

/**
 * Handlers by name. Instruction-group modules register themselves here; the decoder looks names
 * up once per decoded instruction (never on the hot path), so groups stay in their own files.
 */
export const handlers: Record<string, Handler> = Object.create(null);

export function def(name: string, fn: Handler): void {
  if (handlers[name]) throw new Error(`handler ${name} registered twice`);
  handlers[name] = fn;
}

export function defAll(table: Record<string, Handler>): void {
  for (const [k, v] of Object.entries(table)) def(k, v);
}

/** #UD: the opcode is undefined or not emulated on this CPU model. */
export function ud(c: Cpu, _i: Instr): void {
  c.raise(EXC_UD, -1, 'invalid or unsupported opcode');
}

/** Every name the decoder may ask for, recorded so a test can check that each one exists. */
export const requested = new Set<string>();

export function h(name: string): Handler {
  requested.add(name);
  return handlers[name] ?? ud;
}
