/**
 * The VMX spec tables: the one source of truth for VMX metadata (DESIGN.md, "One source of truth for VMX metadata").
 * VMREAD/VMWRITE, the entry checks, VM exits, the DAP VMCS scope, the tree view, the inspector panel,
 * dump files and tests read these; nothing else in the project keeps its own copy.
 */

export * from './encoding';
export * from './fields';
export * from './controls';
export * from './exitReasons';
export * from './instructionErrors';
export * from './msrs';
export * from './bits';
export * from './operands';
export * from './qualifications';
export * from './interruptionInfo';
export * from './instructionInfo';
