import {
  CONTROL_VECTOR_INFO, VMCS_AREAS, VMCS_AREA_TITLES, VMCS_FIELDS, decodeControls, describeExitQualification,
  formatExitReason, formatInterruptionInfo, type ControlVector,
} from '../../cpu/vmx/spec';
import type { VmcsCache } from '../../cpu/vmx/vmcs';
import { slotOfEncoding } from '../../cpu/vmx/vmcs';
import type { Vmx } from '../../cpu/vmx/state';
import { MONITOR_VECTORS } from './controls';

/**
 * Words for VM exits and the VMCS, all from the spec tables (src/cpu/vmx/spec): exit-reason names,
 * qualification decoders, control-bit names, field names and areas. Nothing here keeps a table.
 */

const hex = (v: number | bigint) => (typeof v === 'bigint' ? '0x' + v.toString(16) : v < 0 ? '0x' + BigInt.asUintN(64, BigInt(v)).toString(16) : '0x' + v.toString(16));

/** "EXIT_REASON_IO_INSTRUCTION (30): out dx, al (port 0x0080, 1 byte)". */
export function describeExit(reason: number, qualification: number | bigint): string {
  const r = formatExitReason(reason >>> 0);
  const q = describeExitQualification(reason & 0xFFFF, BigInt.asUintN(64, BigInt(qualification)));
  return q ? `${r}: ${q}` : r;
}

/** One `--trace-exits` line. */
export function traceLine(index: number, reason: number, qualification: number, guestRip: number, intrInfo: number): string {
  const extra = intrInfo < 0 || intrInfo >>> 31 ? `; ${formatInterruptionInfo('exit', intrInfo >>> 0)}` : '';
  return `vmexit #${index} rip=${hex(guestRip)} ${describeExit(reason, qualification)}${extra}`;
}

function fieldValue(d: VmcsCache, slot: number): bigint {
  return d.big(slot);
}

/**
 * The VMCS as text (`--dump-vmcs`): the configuration (revision id, VMCS size, the five control vectors
 * with their set bits by name), then every supported field grouped by area, like KVM's dump_vmcs().
 */
export function dumpVmcs(v: Vmx, vmcsSize: number): string {
  const d = v.vmcs;
  const out: string[] = [];
  out.push(`VMCS revision id 0x${v.caps.revisionId.toString(16)}, VMCS region size ${vmcsSize} bytes, CPU model '${v.caps.spec.name}'`);
  for (const vec of MONITOR_VECTORS) {
    const info = CONTROL_VECTOR_INFO[vec as ControlVector];
    const enc = VMCS_FIELDS.find((f) => f.name === info.field);
    const slot = enc ? slotOfEncoding(enc.encoding) : -1;
    const val = slot >= 0 && v.caps.fieldSupported[slot] ? d.u32(slot) : 0;
    const set = decodeControls(vec as ControlVector, val).set.map((c) => c.name);
    out.push(`  ${info.title} (${info.field}) = 0x${val.toString(16).padStart(8, '0')}: ${set.length ? set.join(' ') : '(none)'}`);
  }
  for (const area of VMCS_AREAS) {
    out.push(`${VMCS_AREA_TITLES[area]}:`);
    VMCS_FIELDS.forEach((f, k) => {
      if (f.area !== area || !v.caps.fieldSupported[k]) return;
      const val = fieldValue(d, k);
      let text = `0x${val.toString(16)}`;
      if (f.name === 'VM_EXIT_REASON') text += ` (${formatExitReason(val)})`;
      else if (f.name === 'EXIT_QUALIFICATION' && d.u32(slotOfEncoding(VMCS_FIELDS.find((x) => x.name === 'VM_EXIT_REASON')!.encoding)) !== 0) {
        const reason = d.u32(slotOfEncoding(VMCS_FIELDS.find((x) => x.name === 'VM_EXIT_REASON')!.encoding));
        const q = describeExitQualification(reason & 0xFFFF, val);
        if (q) text += ` (${q})`;
      } else if ((f.name === 'VM_EXIT_INTR_INFO' || f.name === 'IDT_VECTORING_INFO_FIELD' || f.name === 'VM_ENTRY_INTR_INFO_FIELD') && val >> 31n) {
        text += ` (${formatInterruptionInfo(f.name === 'VM_ENTRY_INTR_INFO_FIELD' ? 'entry' : f.name === 'VM_EXIT_INTR_INFO' ? 'exit' : 'idt-vectoring', val)})`;
      }
      out.push(`  ${f.name.padEnd(34)} ${text}`);
    });
  }
  return out.join('\n') + '\n';
}

export { hex };
