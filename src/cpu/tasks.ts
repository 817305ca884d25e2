import type { Cpu } from './cpu';
import * as K from './constants';

/** Why a task switch happens (SDM 7.3): decides busy-bit and NT/back-link handling. */
export const TASK_JMP = 0;
export const TASK_CALL = 1;
export const TASK_IRET = 2;
export const TASK_INT = 3;

/**
 * Hardware task switch (SDM 7.3). `ret` is the EIP saved in the old TSS; `err` an error code to
 * push on the new task's stack (-1 for none).
 */
export function taskSwitch(c: Cpu, sel: number, reason: number, ret: number, err: number): void {
  void reason; void ret; void err;
  c.raise(K.EXC_GP, sel & 0xFFFC, 'hardware task switching is not implemented yet');
}
