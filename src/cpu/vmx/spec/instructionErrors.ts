/**
 * VM-instruction error numbers (SDM vol. 3C 31.4, Table 31-1), stored in VM_INSTRUCTION_ERROR (0x4400)
 * by VMfailValid. Names are Linux `enum vm_instruction_error_number`; the reserved numbers and 0 have
 * no Linux name and are named here in the same style.
 *
 * VMfailInvalid (no current VMCS) sets RFLAGS.CF and stores nothing; VMfailValid sets RFLAGS.ZF and
 * stores the error number; both clear the other arithmetic flags.
 */

export interface VmInstructionError {
  readonly number: number;
  readonly name: string;
  /** Linux defines `name`. */
  readonly linux: boolean;
  readonly description: string;
  readonly reserved?: true;
}

type Row = [number: number, name: string, linux: 0 | 1, description: string, reserved?: 'reserved'];

const ROWS: readonly Row[] = [
  [0, 'VMXERR_NO_ERROR', 0, 'No error (the field is not architecturally updated on success)'],
  [1, 'VMXERR_VMCALL_IN_VMX_ROOT_OPERATION', 1, 'VMCALL executed in VMX root operation'],
  [2, 'VMXERR_VMCLEAR_INVALID_ADDRESS', 1, 'VMCLEAR with invalid physical address'],
  [3, 'VMXERR_VMCLEAR_VMXON_POINTER', 1, 'VMCLEAR with VMXON pointer'],
  [4, 'VMXERR_VMLAUNCH_NONCLEAR_VMCS', 1, 'VMLAUNCH with non-clear VMCS'],
  [5, 'VMXERR_VMRESUME_NONLAUNCHED_VMCS', 1, 'VMRESUME with non-launched VMCS'],
  [6, 'VMXERR_VMRESUME_AFTER_VMXOFF', 1, 'VMRESUME after VMXOFF (VMXOFF and VMXON between VMLAUNCH and VMRESUME)'],
  [7, 'VMXERR_ENTRY_INVALID_CONTROL_FIELD', 1, 'VM entry with invalid control field(s)'],
  [8, 'VMXERR_ENTRY_INVALID_HOST_STATE_FIELD', 1, 'VM entry with invalid host-state field(s)'],
  [9, 'VMXERR_VMPTRLD_INVALID_ADDRESS', 1, 'VMPTRLD with invalid physical address'],
  [10, 'VMXERR_VMPTRLD_VMXON_POINTER', 1, 'VMPTRLD with VMXON pointer'],
  [11, 'VMXERR_VMPTRLD_INCORRECT_VMCS_REVISION_ID', 1, 'VMPTRLD with incorrect VMCS revision identifier'],
  [12, 'VMXERR_UNSUPPORTED_VMCS_COMPONENT', 1, 'VMREAD/VMWRITE from/to unsupported VMCS component'],
  [13, 'VMXERR_VMWRITE_READ_ONLY_VMCS_COMPONENT', 1, 'VMWRITE to read-only VMCS component'],
  [14, 'VMXERR_RESERVED_14', 0, 'Reserved', 'reserved'],
  [15, 'VMXERR_VMXON_IN_VMX_ROOT_OPERATION', 1, 'VMXON executed in VMX root operation'],
  [16, 'VMXERR_ENTRY_INVALID_EXECUTIVE_VMCS_POINTER', 1, 'VM entry with invalid executive-VMCS pointer'],
  [17, 'VMXERR_ENTRY_NONLAUNCHED_EXECUTIVE_VMCS', 1, 'VM entry with non-launched executive VMCS'],
  [18, 'VMXERR_ENTRY_EXECUTIVE_VMCS_POINTER_NOT_VMXON_POINTER', 1, 'VM entry with executive-VMCS pointer not VMXON pointer (when deactivating dual-monitor treatment)'],
  [19, 'VMXERR_VMCALL_NONCLEAR_VMCS', 1, 'VMCALL with non-clear VMCS (when activating dual-monitor treatment)'],
  [20, 'VMXERR_VMCALL_INVALID_VM_EXIT_CONTROL_FIELDS', 1, 'VMCALL with invalid VM-exit control fields'],
  [21, 'VMXERR_RESERVED_21', 0, 'Reserved', 'reserved'],
  [22, 'VMXERR_VMCALL_INCORRECT_MSEG_REVISION_ID', 1, 'VMCALL with incorrect MSEG revision identifier'],
  [23, 'VMXERR_VMXOFF_UNDER_DUAL_MONITOR_TREATMENT_OF_SMIS_AND_SMM', 1, 'VMXOFF under dual-monitor treatment of SMIs and SMM'],
  [24, 'VMXERR_VMCALL_INVALID_SMM_MONITOR_FEATURES', 1, 'VMCALL with invalid SMM-monitor features'],
  [25, 'VMXERR_ENTRY_INVALID_VM_EXECUTION_CONTROL_FIELDS_IN_EXECUTIVE_VMCS', 1, 'VM entry with invalid VM-execution control fields in executive VMCS'],
  [26, 'VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS', 1, 'VM entry with events blocked by MOV SS'],
  [27, 'VMXERR_RESERVED_27', 0, 'Reserved', 'reserved'],
  [28, 'VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID', 1, 'Invalid operand to INVEPT/INVVPID'],
];

/** Indexed by number (VM_INSTRUCTION_ERRORS[n].number === n). */
export const VM_INSTRUCTION_ERRORS: readonly VmInstructionError[] = Object.freeze(
  ROWS.map(([number, name, linux, description, reserved], index) => {
    if (number !== index) throw new Error(`instruction-error table out of order at ${number}`);
    return Object.freeze({ number, name, linux: linux === 1, description, ...(reserved ? { reserved: true as const } : {}) });
  }),
);

const BY_NAME = new Map<string, VmInstructionError>(VM_INSTRUCTION_ERRORS.map((e) => [e.name, e]));

export function instructionErrorByNumber(n: number): VmInstructionError | undefined {
  return VM_INSTRUCTION_ERRORS[n];
}

export function instructionErrorByName(name: string): VmInstructionError | undefined {
  return BY_NAME.get(name);
}

/** Error number by name, throwing when unknown (for code that names errors literally). */
export function vmxErrorNumber(name: string): number {
  const e = BY_NAME.get(name);
  if (!e) throw new Error(`unknown VM-instruction error ${name}`);
  return e.number;
}

export function formatInstructionError(n: number): string {
  const e = VM_INSTRUCTION_ERRORS[n];
  return e ? `VM-instruction error ${n}: ${e.description}` : `VM-instruction error ${n} (unknown)`;
}
