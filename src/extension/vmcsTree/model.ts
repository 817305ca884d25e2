/**
 * The VMCS tree's model: pure TypeScript, no `vscode` import (unit-tested with plain mocha).
 * Input: the body of the adapter's `vmx/readVmcs` custom request (src/debug/README.md). Output: VMCS →
 * six areas → fields → control bits / decoded sub-fields, each node with label, description and tooltip,
 * and change marking against the previous stop. All VMX metadata comes from the spec tables.
 */
import {
  CONTROL_VECTORS, CONTROL_VECTOR_INFO, CONTROLS_BY_VECTOR, VMCS_AREAS, VMCS_AREA_TITLES,
  decodeExitQualification, decodeExitReason, decodeInstructionInfo, decodeInterruptionInfo, describeExitQualification,
  formatExitReason, formatInstructionError, formatInterruptionInfo, instructionInfoKindForExit,
  type ControlVector, type DecodedField, type VmcsArea,
} from '../../cpu/vmx/spec';

/** One field of a `vmx/readVmcs` VMCS entry, as the adapter sends it. */
export interface ReadVmcsField {
  name: string;
  encoding: string;
  area: string;
  width: string;
  description: string;
  value: string;
  pointer: boolean;
  readOnly: boolean;
  supported: boolean;
}

export interface ReadVmcsEntry {
  available: boolean;
  reason?: string;
  pointer?: string;
  current?: boolean;
  launchState?: string;
  inVmx?: boolean;
  nonRoot?: boolean;
  fields?: ReadVmcsField[];
  /**
   * Allowed settings per control vector, if the adapter sends them (it does not yet): `must1` = bits the
   * capability MSR forces to 1 (allowed-0 = 0), `may1` = bits that may be 1 (allowed-1 = 1).
   */
  controls?: Partial<Record<ControlVector, { must1: number | string; may1: number | string }>>;
}

export interface ReadVmcsResponse {
  mode?: string;
  vmcs: ReadVmcsEntry[];
}

export type VmcsNode = VmcsRootNode | AreaNode | FieldNode | BitNode | DecodedNode | MessageNode;

interface NodeBase {
  /** Stable across stops (expansion state survives a refresh). */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  changed?: boolean;
  children?: VmcsNode[];
}

export interface MessageNode extends NodeBase { kind: 'message' }
export interface VmcsRootNode extends NodeBase { kind: 'vmcs'; pointer?: string; current: boolean; children: VmcsNode[] }
export interface AreaNode extends NodeBase { kind: 'area'; area: VmcsArea; changedCount: number; children: FieldNode[] }
export interface FieldNode extends NodeBase {
  kind: 'field';
  vmcsPointer?: string;
  field: ReadVmcsField;
  value: bigint;
  /** Value at the previous stop, when it differed. */
  previous?: bigint;
  /** Decoded meaning (the description of the tree item, after the hex value). */
  decoded: string;
}
export interface BitNode extends NodeBase {
  kind: 'bit';
  vector: ControlVector;
  field: string;
  bit: number;
  set: boolean;
  /** false: the capability MSRs fix this bit; undefined: the allowed settings are unknown. */
  changeable?: boolean;
}
export interface DecodedNode extends NodeBase { kind: 'decoded' }

const VECTOR_OF_FIELD = new Map<string, ControlVector>(CONTROL_VECTORS.map((v) => [CONTROL_VECTOR_INFO[v].field, v]));

export function parseValue(text: string): bigint {
  try {
    return BigInt(text);
  } catch {
    return 0n;
  }
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

function num(v: number | string): number {
  return typeof v === 'number' ? v >>> 0 : Number(parseValue(v) & 0xFFFFFFFFn);
}

/** Values of one VMCS by field name, for change marking. */
export type VmcsSnapshot = Map<string, bigint>;
/** Snapshots of every VMCS by pointer. */
export type Snapshots = Map<string, VmcsSnapshot>;

export function snapshot(resp: ReadVmcsResponse): Snapshots {
  const out: Snapshots = new Map();
  for (const v of resp.vmcs) {
    if (!v.available || !v.fields) continue;
    out.set(v.pointer ?? '?', new Map(v.fields.map((f) => [f.name, parseValue(f.value)])));
  }
  return out;
}

/** What a field's value means, in one line ('' when the hex value says it all). */
export function decodeFieldValue(name: string, value: bigint, all: VmcsSnapshot): string {
  const vec = VECTOR_OF_FIELD.get(name);
  if (vec) {
    const set = CONTROLS_BY_VECTOR[vec].filter((c) => !c.reserved && ((value >> BigInt(c.bit)) & 1n) !== 0n).map((c) => c.name);
    return set.length ? set.join(' ') : 'none';
  }
  const reason = Number((all.get('VM_EXIT_REASON') ?? 0n) & 0xFFFFn);
  switch (name) {
    case 'VM_EXIT_REASON': return formatExitReason(value);
    case 'EXIT_QUALIFICATION': return all.get('VM_EXIT_REASON') ? describeExitQualification(reason, value) : '';
    case 'VM_INSTRUCTION_ERROR': return value ? formatInstructionError(Number(value)) : '';
    case 'VM_EXIT_INTR_INFO': return value >> 31n ? formatInterruptionInfo('exit', value) : '';
    case 'IDT_VECTORING_INFO_FIELD': return value >> 31n ? formatInterruptionInfo('idt-vectoring', value) : '';
    case 'VM_ENTRY_INTR_INFO_FIELD': return value >> 31n ? formatInterruptionInfo('entry', value) : '';
  }
  return '';
}

function decodedChildren(id: string, name: string, value: bigint, all: VmcsSnapshot): DecodedNode[] | undefined {
  const reason = Number((all.get('VM_EXIT_REASON') ?? 0n) & 0xFFFFn);
  let list: DecodedField[] | undefined;
  switch (name) {
    case 'VM_EXIT_REASON': {
      const d = decodeExitReason(value);
      const nodes: DecodedNode[] = [
        { kind: 'decoded', id: `${id}/basic`, label: 'basic', description: `${d.basic}${d.reason ? ` ${d.reason.name}` : ''}`, tooltip: d.reason?.description },
        { kind: 'decoded', id: `${id}/class`, label: 'class', description: d.reason?.class ?? 'unknown' },
        { kind: 'decoded', id: `${id}/entryFailure`, label: 'entry failure', description: d.entryFailure ? 'yes' : 'no' },
      ];
      return nodes;
    }
    case 'EXIT_QUALIFICATION': {
      if (!all.get('VM_EXIT_REASON')) return undefined;
      const intr = Number((all.get('VM_EXIT_INTR_INFO') ?? 0n) & 0xFFFFFFFFn);
      list = decodeExitQualification(reason, value, intr >>> 31 ? { vector: intr & 0xFF } : {});
      break;
    }
    case 'VM_EXIT_INTR_INFO': list = decodeInterruptionInfo('exit', value); break;
    case 'IDT_VECTORING_INFO_FIELD': list = decodeInterruptionInfo('idt-vectoring', value); break;
    case 'VM_ENTRY_INTR_INFO_FIELD': list = decodeInterruptionInfo('entry', value); break;
    case 'VMX_INSTRUCTION_INFO': {
      const kind = instructionInfoKindForExit(reason);
      if (kind) list = decodeInstructionInfo(kind, value);
      break;
    }
  }
  if (!list || !list.length) return undefined;
  return list.map((d) => ({ kind: 'decoded', id: `${id}/${d.name}`, label: d.name, description: d.text, tooltip: d.description }));
}

function bitNodes(id: string, entry: ReadVmcsEntry, vec: ControlVector, field: string, value: bigint, prev: bigint | undefined): BitNode[] {
  const caps = entry.controls?.[vec];
  const must1 = caps ? num(caps.must1) : 0;
  const may1 = caps ? num(caps.may1) : 0;
  return CONTROLS_BY_VECTOR[vec]
    .filter((c) => !c.reserved || ((value >> BigInt(c.bit)) & 1n) !== 0n)
    .map((c) => {
      const set = ((value >> BigInt(c.bit)) & 1n) !== 0n;
      const was = prev === undefined ? undefined : ((prev >> BigInt(c.bit)) & 1n) !== 0n;
      const changeable = caps ? c.bit < 32 && ((must1 >>> c.bit) & 1) === 0 && ((may1 >>> c.bit) & 1) === 1 : undefined;
      const fixed = changeable === false ? ` (fixed to ${((must1 >>> c.bit) & 1) ? 1 : 0} by the capability MSRs)` : '';
      return {
        kind: 'bit', id: `${id}/${c.name}`, label: c.name, vector: vec, field, bit: c.bit, set, changeable,
        changed: was !== undefined && was !== set,
        description: `${set ? '1' : '0'}${changeable === false ? ' (fixed)' : ''}`,
        tooltip: `${c.sdmName}: bit ${c.bit} of ${field}${fixed}\n${c.description}`,
      };
    });
}

export interface BuildOptions {
  /** Hide fields the CPU model does not support (default true). */
  hideUnsupported?: boolean;
}

/** The tree for one `vmx/readVmcs` response, marking what changed since `previous` (the last stop's snapshots). */
export function buildVmcsTree(resp: ReadVmcsResponse, previous?: Snapshots, opts: BuildOptions = {}): VmcsNode[] {
  const hide = opts.hideUnsupported ?? true;
  if (!resp.vmcs.length) return [{ kind: 'message', id: 'none', label: 'No VMCS' }];
  return resp.vmcs.map((entry, k): VmcsNode => {
    if (!entry.available || !entry.fields) {
      return { kind: 'message', id: `vmcs${k}`, label: entry.reason ?? 'The VMCS is not available' };
    }
    const ptr = entry.pointer ?? '?';
    const id = `vmcs:${ptr}`;
    const all: VmcsSnapshot = new Map(entry.fields.map((f) => [f.name, parseValue(f.value)]));
    const before = previous?.get(ptr);
    const areas: AreaNode[] = VMCS_AREAS.map((area) => {
      const areaId = `${id}/${area}`;
      const fields = entry.fields!.filter((f) => f.area === area && (f.supported || !hide)).map((f): FieldNode => {
        const value = all.get(f.name) ?? 0n;
        const prev = before?.get(f.name);
        const changed = prev !== undefined && prev !== value;
        const fid = `${areaId}/${f.name}`;
        const decoded = decodeFieldValue(f.name, value, all);
        const vec = VECTOR_OF_FIELD.get(f.name);
        const children: VmcsNode[] | undefined = vec ? bitNodes(fid, entry, vec, f.name, value, prev) : decodedChildren(fid, f.name, value, all);
        const flags = [f.readOnly ? 'read-only' : '', f.pointer ? 'pointer' : '', f.supported ? '' : 'not supported by this CPU model'].filter(Boolean);
        return {
          kind: 'field', id: fid, label: f.name, field: f, value, vmcsPointer: entry.pointer, decoded, changed,
          previous: changed ? prev : undefined,
          description: `${hex(value)}${decoded ? `  ${decoded}` : ''}`,
          tooltip: `${f.name} (encoding ${f.encoding}, ${f.width === 'natural' ? 'natural width' : `${f.width}-bit`}${flags.length ? `, ${flags.join(', ')}` : ''})\n${f.description}` +
            `\nvalue ${hex(value)}${changed ? `, was ${hex(prev!)} at the previous stop` : ''}`,
          children,
        };
      });
      const changedCount = fields.filter((f) => f.changed).length;
      return {
        kind: 'area', id: areaId, area, label: VMCS_AREA_TITLES[area], changedCount, changed: changedCount > 0,
        description: `${fields.length} fields${changedCount ? `, ${changedCount} changed` : ''}`, children: fields,
      };
    });
    const state = [entry.current ? 'current' : '', entry.launchState ?? ''].filter(Boolean).join(', ');
    return {
      kind: 'vmcs', id, label: `VMCS ${ptr}`, pointer: entry.pointer, current: entry.current === true,
      description: state, changed: areas.some((a) => a.changed),
      tooltip: `VMCS region at ${ptr}${state ? ` (${state})` : ''}\n${entry.nonRoot ? 'VMX non-root operation' : entry.inVmx ? 'VMX root operation' : 'not in VMX operation'}`,
      children: areas,
    };
  });
}

/** The VMCS as text, in the format of `vmx-debug run --dump-vmcs` (area headings, then `  NAME  0xVALUE (decoded)`). */
export function vmcsToText(resp: ReadVmcsResponse): string {
  const out: string[] = [];
  for (const entry of resp.vmcs) {
    if (!entry.available || !entry.fields) continue;
    out.push(`VMCS ${entry.pointer ?? '?'}${entry.launchState ? `, ${entry.launchState}` : ''}`);
    const all: VmcsSnapshot = new Map(entry.fields.map((f) => [f.name, parseValue(f.value)]));
    for (const area of VMCS_AREAS) {
      out.push(`${VMCS_AREA_TITLES[area]}:`);
      for (const f of entry.fields) {
        if (f.area !== area || !f.supported) continue;
        const v = all.get(f.name) ?? 0n;
        const d = decodeFieldValue(f.name, v, all);
        out.push(`  ${f.name.padEnd(34)} ${hex(v)}${d && !VECTOR_OF_FIELD.has(f.name) ? ` (${d})` : ''}`);
      }
    }
  }
  return out.join('\n') + '\n';
}
