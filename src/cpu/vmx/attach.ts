import { apicAccess, apicPendingWork } from './apicAccess';
import type { Cpu } from '../cpu';
import { setNonRootHooks } from '../cpu';
import * as K from '../constants';
import { setEventInterceptor } from '../interrupts';
import type { MsrRange } from '../msr';
import { setTaskSwitchInterceptor } from '../tasks';
import { VmxCapabilities, VmxModelSpec, vmxModel } from './capabilities';
import { installEpt } from './ept';
import { boundary, mtfBoundary, onEvent, onShutdown, onTaskSwitch } from './events';
import { leaveGuestDebug } from './mtf';
import { VMX_CAPABILITY_MSR_FIRST, VMX_CAPABILITY_MSR_LAST } from './spec';
import { NO_VMCS, Vmx } from './state';

/**
 * Gives a CPU the VMX capability of a model (by name, or a model object for tests): CPUID.1:ECX.VMX,
 * the capability MSRs, VMX state in `cpu.vmx`, and the core hooks for non-root operation.
 */
export interface AttachOptions {
  /** Set IA32_FEATURE_CONTROL to locked + VMX outside SMX, as firmware does before an OS runs. */
  lockFeatureControl?: boolean;
}

/** CPUID.1:ECX bit 5. */
const CPUID_VMX = 1 << 5;

export function attachVmx(cpu: Cpu, model: string | VmxModelSpec = 'default', opts: AttachOptions = {}): Vmx {
  const spec = typeof model === 'string' ? vmxModel(model) : model;
  const caps = new VmxCapabilities(spec);
  const v = new Vmx(caps);
  cpu.vmx = v;
  cpu.cpuid.leaf1Ecx |= CPUID_VMX;
  cpu.msrs.ranges.push(capabilityMsrs(cpu, caps));
  if (opts.lockFeatureControl) cpu.msrs.featureControl = 5n;
  installHooks();
  return v;
}

/** The core calls these only in non-root operation (and only the boundary check when VMX is attached). */
function installHooks(): void {
  setEventInterceptor(onEvent);
  setTaskSwitchInterceptor(onTaskSwitch);
  setNonRootHooks({ boundary, shutdown: onShutdown, mtf: mtfBoundary, apicAccess, apicPending: apicPendingWork });
  installEpt();
}

/** RDMSR of a capability MSR the model has; #GP for the others (they fall through to the MSR file) and on WRMSR. */
function capabilityMsrs(cpu: Cpu, caps: VmxCapabilities): MsrRange {
  return {
    owns: (index) => index >= VMX_CAPABILITY_MSR_FIRST && index <= VMX_CAPABILITY_MSR_LAST && caps.msrs.has(index),
    read: (index) => caps.msrs.get(index) ?? 0n,
    write: (index) => cpu.raise(K.EXC_GP, 0, `WRMSR to read-only VMX capability MSR 0x${index.toString(16)}`),
  };
}

/** Leaves VMX operation without touching memory (platform reset / INIT outside the guest's control). */
export function resetVmx(cpu: Cpu): void {
  const v = cpu.vmx as Vmx | null;
  if (!v) return;
  cpu.nonRoot = false;
  cpu.eptActive = false;
  cpu.apicPage = -1;
  cpu.apicPending = 0;
  leaveGuestDebug(cpu, v);
  v.inVmx = false;
  v.vmxonPtr = NO_VMCS;
  v.current = NO_VMCS;
  v.timerActive = false;
  v.lastEntryFailure = null;
}
