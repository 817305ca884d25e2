import {
  CONTROL_VECTOR_INFO, CONTROLS_BY_VECTOR, IA32_VMX_BASIC, controlByBit, controlMask, type ControlVector,
} from '../../cpu/vmx/spec';
import { vectorOf } from './config';

/**
 * Final control values, derived the way KVM's setup_vmcs_config() / adjust_vmx_controls() do: for each
 * vector, the bits the monitor requires and the bits it would like, checked against the allowed-0 and
 * allowed-1 settings of the capability MSRs (the TRUE_ forms when IA32_VMX_BASIC[55] says they exist).
 * A required bit the CPU does not allow is an error naming that bit and MSR; an optional one is dropped
 * and reported. Bits the CPU requires (allowed-0 = 1, e.g. default1 bits) are set whatever was asked.
 */

/** The five vectors a VMCS of this monitor uses, in dump order. */
export const MONITOR_VECTORS: readonly ControlVector[] = ['pin', 'proc1', 'proc2', 'exit', 'entry'];

export interface ControlRequest {
  required: Set<string>;
  optional: Set<string>;
}

export interface DerivedControls {
  values: Record<ControlVector, number>;
  /** Optional controls the CPU model does not allow (KVM drops them silently; we say so). */
  dropped: string[];
  /** Bits set only because the CPU requires them (allowed-0 = 1). */
  forced: string[];
  /** Which MSR each vector was checked against (name for messages). */
  msrs: Record<string, string>;
}

export class ControlError extends Error {}

/** Reads an MSR of the CPU (a capability MSR the model lacks reads as absent). */
export type MsrReader = (index: number) => bigint | undefined;

function msrName(index: number): string {
  const names: Record<number, string> = {
    0x481: 'IA32_VMX_PINBASED_CTLS', 0x482: 'IA32_VMX_PROCBASED_CTLS', 0x483: 'IA32_VMX_EXIT_CTLS', 0x484: 'IA32_VMX_ENTRY_CTLS',
    0x48b: 'IA32_VMX_PROCBASED_CTLS2', 0x48d: 'IA32_VMX_TRUE_PINBASED_CTLS', 0x48e: 'IA32_VMX_TRUE_PROCBASED_CTLS',
    0x48f: 'IA32_VMX_TRUE_EXIT_CTLS', 0x490: 'IA32_VMX_TRUE_ENTRY_CTLS',
  };
  return names[index] ?? `MSR 0x${index.toString(16)}`;
}

export function newRequest(): Record<ControlVector, ControlRequest> {
  const r = {} as Record<ControlVector, ControlRequest>;
  for (const v of Object.keys(CONTROL_VECTOR_INFO) as ControlVector[]) r[v] = { required: new Set(), optional: new Set() };
  return r;
}

export function requireControl(req: Record<ControlVector, ControlRequest>, name: string): void {
  const v = vectorOf(name);
  req[v].optional.delete(name);
  req[v].required.add(name);
}

export function preferControl(req: Record<ControlVector, ControlRequest>, name: string): void {
  const v = vectorOf(name);
  if (!req[v].required.has(name)) req[v].optional.add(name);
}

export function dropControl(req: Record<ControlVector, ControlRequest>, name: string): void {
  const v = vectorOf(name);
  req[v].required.delete(name);
  req[v].optional.delete(name);
}

/** adjust_vmx_controls() for every vector the monitor uses. */
export function deriveControls(req: Record<ControlVector, ControlRequest>, readMsr: MsrReader, modelName: string): DerivedControls {
  const basic = readMsr(IA32_VMX_BASIC) ?? 0n;
  const useTrue = ((basic >> 55n) & 1n) === 1n;
  const out: DerivedControls = { values: { pin: 0, proc1: 0, proc2: 0, proc3: 0, exit: 0, exit2: 0, entry: 0 }, dropped: [], forced: [], msrs: {} };
  for (const vec of MONITOR_VECTORS) {
    const info = CONTROL_VECTOR_INFO[vec];
    const r = req[vec];
    let msr = useTrue && info.trueCapabilityMsr !== undefined ? info.trueCapabilityMsr : info.capabilityMsr;
    let cap = readMsr(msr);
    if (vec === 'proc2' && (out.values.proc1 & controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS')) === 0) {
      // no secondary controls on this model: the vector does not exist; required bits in it cannot be had
      cap = undefined;
    }
    out.msrs[vec] = msrName(msr);
    const allowed0 = cap === undefined ? 0 : Number(cap & 0xFFFFFFFFn) >>> 0;
    const allowed1 = cap === undefined ? 0 : Number(cap >> 32n) >>> 0;
    let want = 0;
    for (const name of r.required) {
      const m = controlMask(name);
      if ((allowed1 & m) === 0) {
        const why = cap === undefined
          ? `${info.title} are not available (${vec === 'proc2' ? 'CPU_BASED_ACTIVATE_SECONDARY_CONTROLS is not allowed' : msrName(msr) + ' is absent'})`
          : `${msrName(msr)} allowed-1 bit ${Math.log2(m)} is 0`;
        throw new ControlError(`required VMX control ${name} is not supported by CPU model '${modelName}' (${why})`);
      }
      want |= m;
    }
    for (const name of r.optional) {
      const m = controlMask(name);
      if ((allowed1 & m) === 0) out.dropped.push(name);
      else want |= m;
    }
    for (let bit = 0; bit < 32; bit++) {
      const m = (1 << bit) >>> 0;
      if (allowed0 & m && !(want & m)) {
        const c = controlByBit(vec, bit);
        out.forced.push(c ? c.name : `${vec} bit ${bit}`);
      }
    }
    out.values[vec] = ((want & allowed1) | allowed0) >>> 0;
    msr = 0;
  }
  // "activate secondary controls" without any secondary bit is pointless: drop it (KVM keeps it; harmless either way)
  void CONTROLS_BY_VECTOR;
  return out;
}
