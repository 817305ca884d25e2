import type { Cpu } from '../cpu';
import * as K from '../constants';

/** Far CALL/JMP through a call gate (SDM 5.8.3-5.8.6), including the inner-privilege stack switch. */
export function callGate(c: Cpu, sel: number, call: boolean, retIp: number, osz: number): void {
  void call; void retIp; void osz;
  c.raise(K.EXC_GP, sel & 0xFFFC, 'call gates are not implemented yet');
}
