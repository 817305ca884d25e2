/**
 * The VMCS inspector panel's model and message protocol: pure TypeScript, no `vscode` import
 * (unit-tested with plain mocha). The extension builds an `InspectorState` from `vmx/readVmcs`
 * responses, applies the webview's filter with `filterRows`, and diffs recorded stop snapshots with
 * `diffSnapshots`. The webview (media/inspector.js) only renders what it is sent.
 */
import {
  CONTROL_VECTORS, CONTROL_VECTOR_INFO, CONTROLS_BY_VECTOR, VMCS_AREAS, VMCS_AREA_TITLES,
  decodeExitQualification, decodeExitReason, formatExitReason,
  type ControlVector, type VmcsArea,
} from '../../cpu/vmx/spec';
import { decodeFieldValue, parseValue, type ReadVmcsEntry, type ReadVmcsResponse, type VmcsSnapshot } from '../vmcsTree/model';

// ---- state ----------------------------------------------------------------------------------------

export interface InspectorRow {
  name: string;
  area: VmcsArea | string;
  encoding: string;
  width: string;
  description: string;
  /** Hex text. */
  value: string;
  decoded: string;
  changed: boolean;
  /** Hex text of the value at the previous stop, when it changed. */
  previous?: string;
  nonZero: boolean;
  readOnly: boolean;
  pointer: boolean;
}

export type AllowedSetting = 'free' | 'fixed0' | 'fixed1' | 'unknown';

export interface ControlBitRow {
  name: string;
  bit: number;
  set: boolean;
  allowed: AllowedSetting;
  /** The current value breaks the allowed settings (only when they are known). */
  violates: boolean;
}

export interface ControlVectorRow {
  vector: ControlVector;
  title: string;
  field: string;
  value: string;
  /** Allowed-0 settings (bits that must be 1), hex, or null when the adapter does not send them. */
  allowed0: string | null;
  /** Allowed-1 settings (bits that may be 1), hex, or null when unknown. */
  allowed1: string | null;
  bits: ControlBitRow[];
}

export interface LastExit {
  raw: string;
  basic: number;
  name: string;
  entryFailure: boolean;
  qualification: string;
  qualificationFields: { name: string; text: string }[];
  guestRip: string;
  instructionLength: string;
  /** The stop's own description (the adapter's text), when this stop was the exit. */
  stopText?: string;
}

export interface SnapshotInfo {
  id: number;
  label: string;
  /** Number of VM exits the session had seen when this snapshot was taken (from vmx/exitHistory). */
  exitTotal?: number;
  pointer: string;
}

export interface InspectorState {
  status: 'no-session' | 'running' | 'stopped' | 'unavailable';
  message?: string;
  mode?: string;
  pointer?: string;
  launchState?: string;
  world?: string;
  areas: { id: string; title: string }[];
  /** All supported fields (the filter is applied separately). */
  rows: InspectorRow[];
  controls: ControlVectorRow[];
  /** false: the adapter does not send allowed settings yet; shown as unknown. */
  allowedKnown: boolean;
  lastExit?: LastExit;
  snapshots: SnapshotInfo[];
  /** Showing a recorded snapshot instead of the live stop. */
  viewing?: SnapshotInfo;
}

const hex = (v: bigint): string => '0x' + v.toString(16);
const u32 = (v: number | string): number => (typeof v === 'number' ? v >>> 0 : Number(parseValue(v) & 0xFFFFFFFFn));

export function currentEntry(resp: ReadVmcsResponse | undefined): ReadVmcsEntry | undefined {
  if (!resp) return undefined;
  return resp.vmcs.find((v) => v.current && v.available) ?? resp.vmcs.find((v) => v.available);
}

function valuesOf(entry: ReadVmcsEntry): VmcsSnapshot {
  return new Map((entry.fields ?? []).map((f) => [f.name, parseValue(f.value)]));
}

export function controlRows(entry: ReadVmcsEntry, all: VmcsSnapshot = valuesOf(entry)): ControlVectorRow[] {
  return CONTROL_VECTORS.filter((vec) => (entry.fields ?? []).some((f) => f.name === CONTROL_VECTOR_INFO[vec].field && f.supported)).map((vec) => {
    const info = CONTROL_VECTOR_INFO[vec];
    const value = all.get(info.field) ?? 0n;
    const caps = entry.controls?.[vec];
    const must1 = caps ? u32(caps.must1) : 0;
    const may1 = caps ? u32(caps.may1) : 0;
    const bits = CONTROLS_BY_VECTOR[vec].filter((c) => !c.reserved || ((value >> BigInt(c.bit)) & 1n) !== 0n).map((c): ControlBitRow => {
      const set = ((value >> BigInt(c.bit)) & 1n) !== 0n;
      let allowed: AllowedSetting = 'unknown';
      if (caps && c.bit < 32) {
        const m1 = ((must1 >>> c.bit) & 1) === 1;
        const ok1 = ((may1 >>> c.bit) & 1) === 1;
        allowed = m1 ? 'fixed1' : ok1 ? 'free' : 'fixed0';
      }
      const violates = (allowed === 'fixed1' && !set) || (allowed === 'fixed0' && set);
      return { name: c.name, bit: c.bit, set, allowed, violates };
    });
    return {
      vector: vec, title: info.title, field: info.field, value: hex(value),
      allowed0: caps ? hex(BigInt(must1)) : null, allowed1: caps ? hex(BigInt(may1)) : null, bits,
    };
  });
}

export function lastExitOf(all: VmcsSnapshot, stopText?: string): LastExit | undefined {
  const raw = all.get('VM_EXIT_REASON') ?? 0n;
  if (raw === 0n && !all.get('EXIT_QUALIFICATION')) return undefined;
  const d = decodeExitReason(raw);
  const q = all.get('EXIT_QUALIFICATION') ?? 0n;
  const intr = Number((all.get('VM_EXIT_INTR_INFO') ?? 0n) & 0xFFFFFFFFn);
  return {
    raw: hex(raw), basic: d.basic, name: formatExitReason(raw), entryFailure: d.entryFailure, qualification: hex(q),
    qualificationFields: decodeExitQualification(d.basic, q, intr >>> 31 ? { vector: intr & 0xFF } : {}).map((f) => ({ name: f.name, text: f.text })),
    guestRip: hex(all.get('GUEST_RIP') ?? 0n), instructionLength: hex(all.get('VM_EXIT_INSTRUCTION_LEN') ?? 0n),
    stopText: stopText && /VM exit|VM entry/i.test(stopText) ? stopText : undefined,
  };
}

export interface BuildInspectorInput {
  status: InspectorState['status'];
  resp?: ReadVmcsResponse;
  /** Values of the current VMCS at the previous stop (change marking). */
  previous?: VmcsSnapshot;
  stopText?: string;
  snapshots?: SnapshotInfo[];
  message?: string;
  viewing?: SnapshotInfo;
}

/** The whole panel state for one stop. */
export function buildInspectorState(input: BuildInspectorInput): InspectorState {
  const areas = VMCS_AREAS.map((a) => ({ id: a, title: VMCS_AREA_TITLES[a] }));
  const base: InspectorState = { status: input.status, message: input.message, mode: input.resp?.mode, areas, rows: [], controls: [], allowedKnown: false, snapshots: input.snapshots ?? [], viewing: input.viewing };
  if (input.status !== 'stopped') return base;
  const entry = currentEntry(input.resp);
  if (!entry || !entry.fields) {
    return { ...base, status: 'unavailable', message: input.resp?.vmcs[0]?.reason ?? input.message ?? 'The VMCS is not available' };
  }
  const all = valuesOf(entry);
  const rows = entry.fields.filter((f) => f.supported).map((f): InspectorRow => {
    const v = all.get(f.name) ?? 0n;
    const prev = input.previous?.get(f.name);
    const changed = prev !== undefined && prev !== v;
    return {
      name: f.name, area: f.area, encoding: f.encoding, width: f.width, description: f.description, value: hex(v),
      decoded: decodeFieldValue(f.name, v, all), changed, previous: changed ? hex(prev!) : undefined, nonZero: v !== 0n,
      readOnly: f.readOnly, pointer: f.pointer,
    };
  });
  return {
    ...base, pointer: entry.pointer, launchState: entry.launchState,
    world: entry.nonRoot ? 'VMX non-root' : entry.inVmx ? 'VMX root' : 'not in VMX operation',
    rows, controls: controlRows(entry, all), allowedKnown: !!entry.controls && Object.keys(entry.controls).length > 0,
    lastExit: lastExitOf(all, input.stopText),
  };
}

// ---- filter and search ----------------------------------------------------------------------------

export interface RowFilter {
  /** Area id, or '' / undefined for all. */
  area?: string;
  /** Case-insensitive; matches name, description, decoded meaning, encoding or hex value. `/re/` is a regular expression. */
  search?: string;
  onlyChanged?: boolean;
  onlyNonZero?: boolean;
}

export function searchMatcher(search: string | undefined): (row: InspectorRow) => boolean {
  const s = (search ?? '').trim();
  if (!s) return () => true;
  let re: RegExp | undefined;
  const m = /^\/(.+)\/([a-z]*)$/.exec(s);
  if (m) {
    try { re = new RegExp(m[1], m[2].includes('i') ? m[2] : m[2] + 'i'); } catch { re = undefined; }
  }
  const needle = s.toLowerCase();
  return (r) => {
    const hay = [r.name, r.description, r.decoded, r.encoding, r.value];
    return re ? hay.some((h) => re!.test(h)) : hay.some((h) => h.toLowerCase().includes(needle));
  };
}

export function filterRows(rows: readonly InspectorRow[], f: RowFilter): InspectorRow[] {
  const match = searchMatcher(f.search);
  return rows.filter((r) => (!f.area || r.area === f.area) && (!f.onlyChanged || r.changed) && (!f.onlyNonZero || r.nonZero) && match(r));
}

// ---- snapshots and diff ---------------------------------------------------------------------------

export interface StoredSnapshot extends SnapshotInfo {
  /** The VMCS as read (to show the snapshot in the panel). */
  entry: ReadVmcsEntry;
  mode?: string;
  values: VmcsSnapshot;
  areas: Map<string, string>;
}

/** VMCS snapshots taken at each stop (the adapter's vmx/exitHistory has no per-exit VMCS), bounded. */
export class SnapshotStore {
  private list: StoredSnapshot[] = [];
  private next = 1;
  constructor(readonly limit = 200) {}

  /** Records the current VMCS of a readVmcs response; returns the snapshot or undefined without a VMCS. */
  record(resp: ReadVmcsResponse, label: string, exitTotal?: number): StoredSnapshot | undefined {
    const entry = currentEntry(resp);
    if (!entry?.fields) return undefined;
    const s: StoredSnapshot = {
      id: this.next++, label, exitTotal, pointer: entry.pointer ?? '?', entry, mode: resp.mode,
      values: valuesOf(entry), areas: new Map(entry.fields.map((f) => [f.name, f.area])),
    };
    this.list.push(s);
    if (this.list.length > this.limit) this.list.splice(0, this.list.length - this.limit);
    return s;
  }

  /** The snapshot recorded before `id` (its change baseline). */
  before(id: number): StoredSnapshot | undefined {
    const k = this.list.findIndex((s) => s.id === id);
    return k > 0 ? this.list[k - 1] : undefined;
  }

  get(id: number): StoredSnapshot | undefined {
    return this.list.find((s) => s.id === id);
  }

  /** The snapshot taken at the first stop after VM exit number `index` (1-based, as vmx/exitHistory numbers them). */
  forExit(index: number): StoredSnapshot | undefined {
    return this.list.find((s) => s.exitTotal === index);
  }

  infos(): SnapshotInfo[] {
    return this.list.map(({ id, label, exitTotal, pointer }) => ({ id, label, exitTotal, pointer }));
  }

  clear(): void {
    this.list = [];
  }
}

export interface DiffRow {
  name: string;
  area: string;
  a: string;
  b: string;
  decodedA: string;
  decodedB: string;
}

export interface DiffResult {
  a: SnapshotInfo;
  b: SnapshotInfo;
  rows: DiffRow[];
  /** The two snapshots are of different VMCS regions. */
  differentVmcs: boolean;
}

/** The fields whose values differ between two snapshots, in area order. */
export function diffSnapshots(a: StoredSnapshot, b: StoredSnapshot): DiffResult {
  const names = new Set([...a.values.keys(), ...b.values.keys()]);
  const order = new Map<string, number>(VMCS_AREAS.map((x, k) => [x, k]));
  const rows: DiffRow[] = [];
  for (const name of names) {
    const va = a.values.get(name);
    const vb = b.values.get(name);
    if (va === vb) continue;
    rows.push({
      name, area: a.areas.get(name) ?? b.areas.get(name) ?? '',
      a: va === undefined ? '—' : hex(va), b: vb === undefined ? '—' : hex(vb),
      decodedA: va === undefined ? '' : decodeFieldValue(name, va, a.values), decodedB: vb === undefined ? '' : decodeFieldValue(name, vb, b.values),
    });
  }
  rows.sort((x, y) => (order.get(x.area) ?? 99) - (order.get(y.area) ?? 99));
  const info = ({ id, label, exitTotal, pointer }: StoredSnapshot): SnapshotInfo => ({ id, label, exitTotal, pointer });
  return { a: info(a), b: info(b), rows, differentVmcs: a.pointer !== b.pointer };
}

// ---- messages -------------------------------------------------------------------------------------

/** Extension → webview. */
export type ToWebview =
  | { type: 'state'; state: InspectorState; rows: InspectorRow[]; filter: RowFilter }
  | { type: 'rows'; rows: InspectorRow[]; filter: RowFilter }
  | { type: 'diff'; diff: DiffResult | null; error?: string };

/** A readVmcs-shaped response holding one recorded snapshot (to build the panel state from it). */
export function responseOf(s: StoredSnapshot): ReadVmcsResponse {
  return { mode: s.mode, vmcs: [s.entry] };
}

/** Webview → extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'filter'; filter: RowFilter }
  | { type: 'diff'; a: number; b: number }
  | { type: 'refresh' }
  | { type: 'live' }
  | { type: 'view'; snapshot: number }
  | { type: 'copy'; text: string };

/** Validates a message from the webview (it is untrusted input); undefined when malformed. */
export function parseFromWebview(m: unknown): FromWebview | undefined {
  if (!m || typeof m !== 'object') return undefined;
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'ready':
    case 'refresh':
    case 'live':
      return { type: o.type };
    case 'view':
      return Number.isInteger(o.snapshot) ? { type: 'view', snapshot: o.snapshot as number } : undefined;
    case 'filter': {
      const f = (o.filter && typeof o.filter === 'object' ? o.filter : {}) as Record<string, unknown>;
      return {
        type: 'filter',
        filter: {
          area: typeof f.area === 'string' ? f.area : undefined,
          search: typeof f.search === 'string' ? f.search.slice(0, 200) : undefined,
          onlyChanged: f.onlyChanged === true, onlyNonZero: f.onlyNonZero === true,
        },
      };
    }
    case 'diff':
      return Number.isInteger(o.a) && Number.isInteger(o.b) ? { type: 'diff', a: o.a as number, b: o.b as number } : undefined;
    case 'copy':
      return typeof o.text === 'string' ? { type: 'copy', text: o.text.slice(0, 100000) } : undefined;
  }
  return undefined;
}
