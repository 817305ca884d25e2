import type { Cpu } from '../cpu';
import * as F from '../flags';
import { VM_INSTRUCTION_ERROR } from './slots';
import type { Vmx } from './state';

/**
 * The three outcomes of a VMX instruction (SDM 31.2 "Conventions"): VMsucceed clears CF PF AF ZF SF
 * OF; VMfailInvalid sets CF and clears the others; VMfailValid(n) sets ZF, clears the others and
 * stores n in VM_INSTRUCTION_ERROR of the current VMCS.
 */

/**
 * Sets exactly the six arithmetic flags, the ones the lazy-flags scheme may hold unevaluated:
 * nothing else changes, so neither their evaluation nor setFlags' side effects are needed.
 */
function setArith(c: Cpu, bits: number): void {
  c.flags = (c.flags & ~F.ARITH) | bits;
  c.lzOp = 0;
}

export function vmSucceed(c: Cpu): void {
  setArith(c, 0);
}

export function vmFailInvalid(c: Cpu): void {
  setArith(c, F.CF);
}

export function vmFailValid(c: Cpu, v: Vmx, error: number): void {
  setArith(c, F.ZF);
  v.vmcs.set(VM_INSTRUCTION_ERROR, error, 0);
}

/** VMfail(n): VMfailValid(n) when there is a current VMCS, else VMfailInvalid. */
export function vmFail(c: Cpu, v: Vmx, error: number): void {
  if (v.hasCurrent) vmFailValid(c, v, error);
  else vmFailInvalid(c);
}
