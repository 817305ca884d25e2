/**
 * Checks the VMX spec tables (src/cpu/vmx/spec) row by row against the reference checklist in
 * <repoRoot>/../shared/reference/vmx, and the decoders against hand-worked SDM examples.
 */

import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as spec from '../../../src/cpu/vmx/spec';

// ---------------------------------------------------------------------------------------------
// Reference files
// ---------------------------------------------------------------------------------------------

function findReferenceDir(): string {
  const fromEnv = process.env.VMX_REFERENCE_DIR;
  if (fromEnv && fs.existsSync(path.join(fromEnv, 'vmcs-fields.tsv'))) return fromEnv;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'shared', 'reference', 'vmx');
    if (fs.existsSync(path.join(candidate, 'vmcs-fields.tsv'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`VMX reference tables not found above ${__dirname} (expected <repoRoot>/../shared/reference/vmx); set VMX_REFERENCE_DIR`);
}

const REF_DIR = findReferenceDir();

function readRef(file: string): string {
  return fs.readFileSync(path.join(REF_DIR, file), 'utf8');
}

/** Comment lines (starting with #) of a TSV, joined. */
function tsvComments(file: string): string {
  return readRef(file).split(/\r?\n/).filter((l) => l.startsWith('#')).join('\n');
}

/** Rows of a TSV keyed by its header line (the first non-comment line). */
function readTsv(file: string): Record<string, string>[] {
  const lines = readRef(file).split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const header = lines[0].split('\t');
  return lines.slice(1).map((line) => {
    const cells = line.split('\t');
    const row: Record<string, string> = {};
    header.forEach((h, i) => (row[h] = (cells[i] ?? '').trim()));
    return row;
  });
}

function bitRange(s: string): { lo: number; hi: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(s.trim());
  if (!m) throw new Error(`bad bit range ${s}`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  return { lo: Math.min(a, b), hi: Math.max(a, b) };
}

/** First whitespace-separated token of a reference name cell ("MSR_IA32_FEAT_CTL (old: ...)" -> "MSR_IA32_FEAT_CTL"). */
function firstToken(s: string): string {
  return s.split(/\s+/)[0];
}

/** Field names with value/text of a decoded list, for compact assertions. */
function byName(fields: readonly spec.DecodedField[]): Record<string, spec.DecodedField> {
  const out: Record<string, spec.DecodedField> = {};
  for (const f of fields) out[f.name] = f;
  return out;
}

function texts(fields: readonly spec.DecodedField[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fields) out[f.name] = f.text;
  return out;
}

// ---------------------------------------------------------------------------------------------
// VMCS fields
// ---------------------------------------------------------------------------------------------

describe('VMX spec: VMCS fields vs reference/vmcs-fields.tsv', () => {
  const rows = readTsv('vmcs-fields.tsv');
  const typeOf: Record<string, spec.VmcsFieldType> = {
    control: 'control',
    'guest-state': 'guest',
    'host-state': 'host',
    'read-only data (exit-info)': 'exit-info',
  };

  it('reads the reference table', () => {
    assert.ok(rows.length >= 200, `only ${rows.length} rows parsed`);
    for (const r of rows) assert.match(r.encoding, /^0x[0-9A-F]{4}$/, r.name);
  });

  it('has every reference field with the same encoding, width, type and area', () => {
    for (const r of rows) {
      const hit = spec.fieldByName(r.name);
      assert.ok(hit, `missing field ${r.name}`);
      assert.equal(hit.high, false);
      const f = hit.field;
      assert.equal(f.encoding, parseInt(r.encoding, 16), `${r.name} encoding`);
      assert.equal(f.width, r.width, `${r.name} width`);
      assert.ok(typeOf[r.type], `unknown reference type ${r.type}`);
      assert.equal(f.type, typeOf[r.type], `${r.name} type`);
      assert.equal(f.area, r.area, `${r.name} area`);
      assert.ok(f.description.length > 0, `${r.name} has a description`);
    }
  });

  it('has no field the reference lacks', () => {
    const refNames = new Set(rows.map((r) => r.name));
    const extra = spec.VMCS_FIELDS.filter((f) => !refNames.has(f.name)).map((f) => f.name);
    assert.deepEqual(extra, []);
    assert.equal(spec.VMCS_FIELDS.length, rows.length);
  });

  it('derives width and type from the encoding bits (computed independently here)', () => {
    const widths = ['16', '64', '32', 'natural'];
    const types = ['control', 'exit-info', 'guest', 'host'];
    for (const f of spec.VMCS_FIELDS) {
      assert.equal(f.encoding & 1, 0, `${f.name} listed by FULL encoding`);
      assert.equal(f.encoding & 0x1000, 0, `${f.name} bit 12`);
      assert.equal(f.width, widths[(f.encoding >> 13) & 3], `${f.name} width bits`);
      assert.equal(f.type, types[(f.encoding >> 10) & 3], `${f.name} type bits`);
    }
  });

  it('resolves FULL and HIGH encodings', () => {
    for (const f of spec.VMCS_FIELDS) {
      const full = spec.fieldByEncoding(f.encoding);
      assert.ok(full && full.field === f && !full.high, `full ${f.name}`);
      const high = spec.fieldByEncoding(f.encoding | 1);
      if (f.width === '64') {
        assert.ok(high && high.field === f && high.high, `high ${f.name}`);
        const named = spec.fieldByName(`${f.name}_HIGH`);
        assert.ok(named && named.field === f && named.high, `${f.name}_HIGH`);
      } else {
        assert.equal(high, undefined, `access type 1 on ${f.width}-bit ${f.name} must be unsupported`);
        assert.equal(spec.fieldByName(`${f.name}_HIGH`), undefined);
      }
    }
    assert.equal(spec.fieldByEncoding(0x2001)?.field.name, 'IO_BITMAP_A');
    assert.equal(spec.fieldByEncoding(0x201b)?.field.name, 'EPT_POINTER');
    assert.equal(spec.fieldByEncoding(0x201b)?.high, true);
    assert.equal(spec.fieldByEncoding(0x681f), undefined, 'GUEST_RIP has no high half');
    assert.equal(spec.fieldByEncoding(0x4028), undefined, 'unused 32-bit control index');
    assert.equal(spec.fieldByName('NO_SUCH_FIELD'), undefined);
  });

  it('rejects malformed encodings (bits 31:15 or bit 12 set)', () => {
    assert.equal(spec.isValidEncoding(0x681e), true);
    assert.equal(spec.isValidEncoding(0x681f), true, 'well-formed even though unsupported');
    assert.equal(spec.isValidEncoding(0x781e), false, 'bit 12');
    assert.equal(spec.isValidEncoding(0x8000 | 0x681e), false, 'bit 15');
    assert.equal(spec.isValidEncoding(0x10000 | 0x4402), false, 'bit 16');
    assert.equal(spec.isValidEncoding(0x80004402), false, 'bit 31');
    assert.equal(spec.isValidEncoding(0x1_0000_4402n), false, 'bit 32 of a 64-bit register operand');
    assert.equal(spec.isValidEncoding(0x4402n), true);
    assert.equal(spec.isValidEncoding(-2), false);
    assert.equal(spec.isValidEncoding(1.5), false);
    assert.equal(spec.fieldByEncoding(0x781e), undefined);
    assert.equal(spec.fieldByEncoding(0x1_0000_681en), undefined);
    assert.equal(spec.fieldByEncoding(0x681en)?.field.name, 'GUEST_RIP');
  });

  it('decodes encodings into access type, index, type and width', () => {
    assert.deepEqual(spec.decodeEncoding(0x681e), { encoding: 0x681e, valid: true, accessType: 'full', index: 0x0f, type: 'guest', width: 'natural' });
    assert.deepEqual(spec.decodeEncoding(0x2001), { encoding: 0x2001, valid: true, accessType: 'high', index: 0, type: 'control', width: '64' });
    assert.deepEqual(spec.decodeEncoding(0x4402), { encoding: 0x4402, valid: true, accessType: 'full', index: 1, type: 'exit-info', width: '32' });
    assert.deepEqual(spec.decodeEncoding(0x0c0c), { encoding: 0x0c0c, valid: true, accessType: 'full', index: 6, type: 'host', width: '16' });
    for (const f of spec.VMCS_FIELDS) {
      const d = spec.decodeEncoding(f.encoding);
      assert.equal(spec.makeEncoding(d.width, d.type, d.index), f.encoding, f.name);
      assert.equal(spec.makeEncoding(d.width, d.type, d.index, 'high'), f.encoding | 1, f.name);
    }
  });

  it('reports the highest index for IA32_VMX_VMCS_ENUM', () => {
    const max = Math.max(...rows.map((r) => (parseInt(r.encoding, 16) >> 1) & 0x1ff));
    assert.equal(spec.VMCS_MAX_INDEX, max);
  });

  it('flags exactly the physical-address fields as pointers', () => {
    const pointers = spec.VMCS_FIELDS.filter((f) => f.pointer).map((f) => f.name).sort();
    assert.deepEqual(pointers, [
      'APIC_ACCESS_ADDR', 'EPTP_LIST_ADDRESS', 'EPT_POINTER', 'EXECUTIVE_VMCS_POINTER', 'GUEST_PHYSICAL_ADDRESS',
      'HIGH_PASID_DIRECTORY_ADDR', 'HLAT_POINTER', 'IO_BITMAP_A', 'IO_BITMAP_B', 'LOW_PASID_DIRECTORY_ADDR',
      'MSR_BITMAP', 'PID_POINTER_TABLE', 'PML_ADDRESS', 'POSTED_INTR_DESC_ADDR', 'SHARED_EPT_POINTER', 'SPPT_POINTER',
      'VE_INFORMATION_ADDRESS', 'VIRTUAL_APIC_PAGE_ADDR', 'VMCS_LINK_POINTER', 'VMREAD_BITMAP', 'VMWRITE_BITMAP',
      'VM_ENTRY_MSR_LOAD_ADDR', 'VM_EXIT_MSR_LOAD_ADDR', 'VM_EXIT_MSR_STORE_ADDR',
    ].sort());
    for (const name of ['XSS_EXIT_BITMAP', 'TSC_OFFSET', 'EOI_EXIT_BITMAP0', 'GUEST_CR3']) {
      assert.equal(spec.vmcsField(name).pointer, undefined, `${name} is a value, not an address`);
    }
  });

  it('groups fields by area and marks exit-information fields read-only', () => {
    const total = spec.VMCS_AREAS.reduce((n, a) => n + spec.fieldsInArea(a).length, 0);
    assert.equal(total, spec.VMCS_FIELDS.length);
    assert.equal(spec.fieldsInArea('vm-exit-information').length, rows.filter((r) => r.area === 'vm-exit-information').length);
    assert.equal(spec.isReadOnlyField(spec.vmcsField('VM_EXIT_REASON')), true);
    assert.equal(spec.isReadOnlyField(spec.vmcsField('GUEST_RIP')), false);
    assert.equal(spec.fieldEncoding('VM_INSTRUCTION_ERROR'), 0x4400);
    assert.throws(() => spec.vmcsField('NOPE'));
  });
});

// ---------------------------------------------------------------------------------------------
// Controls
// ---------------------------------------------------------------------------------------------

describe('VMX spec: controls vs reference/controls.tsv', () => {
  const rows = readTsv('controls.tsv');
  const comments = tsvComments('controls.tsv');

  it('reads the reference table', () => {
    assert.ok(rows.length >= 130, `only ${rows.length} rows parsed`);
  });

  it('has every reference control bit with the same name and default1 class', () => {
    for (const r of rows) {
      const vector = r.vector as spec.ControlVector;
      assert.ok(spec.CONTROL_VECTORS.includes(vector), `vector ${r.vector}`);
      const bit = Number(r.bit);
      assert.equal(parseInt(r.mask, 16), 2 ** bit, `reference mask of ${r.vector}.${bit}`);
      const c = spec.controlByBit(vector, bit);
      assert.ok(c, `missing ${r.vector} bit ${bit} (${r.meaning})`);
      assert.equal(c.default1, r.class === 'default1', `${c.name} default1`);
      const refName = firstToken(r.linux_name);
      if (refName !== '-') {
        assert.equal(c.name, refName, `${r.vector} bit ${bit} name`);
      }
      if (r.meaning === 'reserved') {
        assert.equal(c.reserved, true, `${c.name} reserved`);
      } else {
        assert.equal(c.reserved, undefined, `${c.name} not reserved`);
        assert.ok(c.sdmName.length > 0 && c.description.length > 0);
      }
      assert.equal(spec.controlMask(c.name), 2 ** bit >>> 0);
      assert.equal(spec.controlByName(c.name), c);
    }
  });

  it('has no control bit the reference lacks', () => {
    const ref = new Set(rows.map((r) => `${r.vector}.${r.bit}`));
    const extra = spec.ALL_CONTROLS.filter((c) => !ref.has(`${c.vector}.${c.bit}`)).map((c) => c.name);
    assert.deepEqual(extra, []);
    assert.equal(spec.ALL_CONTROLS.length, rows.length);
  });

  it('has the default1 masks of the reference rows and header', () => {
    for (const v of spec.CONTROL_VECTORS) {
      const fromRows = rows.filter((r) => r.vector === v && r.class === 'default1').reduce((m, r) => (m | parseInt(r.mask, 16)) >>> 0, 0);
      assert.equal(spec.DEFAULT1_MASKS[v], fromRows, `${v} default1 mask`);
    }
    // the header states the masks in words; parse them too
    const m = /default1 masks[^:]*: pin (0x[0-9A-F]+)[^;]*; proc1 (0x[0-9A-F]+)[^;]*;\s*exit (0x[0-9A-F]+)[^;]*; entry (0x[0-9A-F]+)/i.exec(
      comments.replace(/\n#\s*/g, ' '),
    );
    assert.ok(m, 'default1 masks in controls.tsv header');
    assert.equal(spec.DEFAULT1_MASKS.pin, parseInt(m[1], 16));
    assert.equal(spec.DEFAULT1_MASKS.proc1, parseInt(m[2], 16));
    assert.equal(spec.DEFAULT1_MASKS.exit, parseInt(m[3], 16));
    assert.equal(spec.DEFAULT1_MASKS.entry, parseInt(m[4], 16));
    assert.equal(spec.DEFAULT1_MASKS.pin, 0x16);
    assert.equal(spec.DEFAULT1_MASKS.proc1, 0x0401e172);
    assert.equal(spec.DEFAULT1_MASKS.exit, 0x00036dff);
    assert.equal(spec.DEFAULT1_MASKS.entry, 0x000011ff);
    assert.equal(spec.DEFAULT1_MASKS.proc2 | spec.DEFAULT1_MASKS.proc3 | spec.DEFAULT1_MASKS.exit2, 0);
  });

  it('maps each vector to the VMCS field the reference names', () => {
    const re = /(pin|proc1|proc2|proc3|exit|exit2|entry) = ([A-Z0-9_]+) \((0x[0-9A-F]+), (\d+)-bit/g;
    let count = 0;
    for (const m of comments.matchAll(re)) {
      const v = m[1] as spec.ControlVector;
      assert.equal(spec.CONTROL_VECTOR_FIELD[v], m[2], `${v} field`);
      assert.equal(spec.vmcsField(m[2]).encoding, parseInt(m[3], 16), `${v} encoding`);
      assert.equal(spec.CONTROL_VECTOR_INFO[v].width, Number(m[4]), `${v} width`);
      assert.equal(spec.vmcsField(m[2]).width, m[4], `${v} field width`);
      count++;
    }
    assert.equal(count, 7, 'all seven vectors described in the header');
    assert.deepEqual(spec.CONTROL_VECTOR_INFO.proc2.activatedBy, { vector: 'proc1', bit: 31 });
    assert.deepEqual(spec.CONTROL_VECTOR_INFO.proc3.activatedBy, { vector: 'proc1', bit: 17 });
    assert.deepEqual(spec.CONTROL_VECTOR_INFO.exit2.activatedBy, { vector: 'exit', bit: 31 });
    const caps = Object.fromEntries(spec.CONTROL_VECTORS.map((v) => [v, [spec.CONTROL_VECTOR_INFO[v].capabilityMsr, spec.CONTROL_VECTOR_INFO[v].trueCapabilityMsr]]));
    assert.deepEqual(caps, {
      pin: [0x481, 0x48d], proc1: [0x482, 0x48e], proc2: [0x48b, undefined], proc3: [0x492, undefined],
      exit: [0x483, 0x48f], exit2: [0x493, undefined], entry: [0x484, 0x490],
    });
  });

  it('looks controls up by name and decodes a control value', () => {
    assert.equal(spec.controlByName('CPU_BASED_HLT_EXITING')?.bit, 7);
    assert.equal(spec.controlByName('CPU_BASED_HLT_EXITING')?.vector, 'proc1');
    assert.equal(spec.controlByName('SECONDARY_EXEC_ENABLE_EPT')?.bit, 1);
    assert.equal(spec.controlByName('VM_ENTRY_IA32E_MODE')?.bit, 9);
    assert.equal(spec.controlMask('CPU_BASED_ACTIVATE_SECONDARY_CONTROLS'), 0x80000000);
    assert.equal(spec.controlByName('NOPE'), undefined);
    assert.throws(() => spec.controlMask('NOPE'));
    // HLT exiting + use I/O bitmaps + default1 bits + reserved bit 18
    const d = spec.decodeControls('proc1', 0x0401e172 | 0x80 | 0x02000000 | 0x40000);
    assert.deepEqual(d.undefinedBits, [18]);
    assert.ok(d.set.some((c) => c.name === 'CPU_BASED_HLT_EXITING'));
    assert.ok(d.set.some((c) => c.name === 'CPU_BASED_USE_IO_BITMAPS'));
    assert.equal(d.set.filter((c) => c.default1).length, 10);
    assert.deepEqual(spec.decodeControls('pin', 1n << 40n).undefinedBits, [40]);
  });
});

// ---------------------------------------------------------------------------------------------
// Exit reasons
// ---------------------------------------------------------------------------------------------

describe('VMX spec: exit reasons vs reference/exit-reasons.tsv', () => {
  const rows = readTsv('exit-reasons.tsv');
  const comments = tsvComments('exit-reasons.tsv');

  it('reads the reference table', () => {
    assert.equal(rows.length, 86);
  });

  it('has every reference reason with the same number and name', () => {
    for (const r of rows) {
      const n = Number(r.number);
      const e = spec.exitReasonByNumber(n);
      assert.ok(e, `missing exit reason ${n}`);
      assert.equal(e.number, n);
      if (r.linux_name.startsWith('EXIT_REASON_')) {
        assert.equal(e.name, r.linux_name, `reason ${n} name`);
        assert.equal(e.linux, true, `reason ${n} is a Linux constant`);
      } else {
        assert.equal(e.linux, false, `reason ${n} has no Linux constant`);
        assert.match(e.name, /^EXIT_REASON_[A-Z0-9_]+$/);
        const paren = /\(([^)]+)\)/.exec(r.linux_name);
        if (paren) assert.ok(e.sdmName.includes(firstToken(paren[1])), `reason ${n}: ${e.sdmName} vs ${paren[1]}`);
      }
      const reserved = /^reserved/.test(r.description);
      assert.equal(e.reserved === true, reserved, `reason ${n} reserved`);
      assert.equal(spec.exitReasonByName(e.name), e);
    }
    assert.equal(spec.EXIT_REASONS.length, rows.length);
    assert.equal(spec.MAX_EXIT_REASON, 85);
    assert.equal(spec.exitReasonByNumber(86), undefined);
    assert.equal(spec.exitReasonByName('CPUID')?.number, 10);
  });

  it('marks exactly the reasons the reference allows with bit 31 as entry failures', () => {
    const m = /only set with basic reasons ([\d, ]+)\)/.exec(comments);
    assert.ok(m, 'entry-failure reasons in header');
    const allowed = m[1].split(',').map((s) => Number(s.trim()));
    assert.deepEqual(allowed, [33, 34, 41]);
    assert.deepEqual(spec.EXIT_REASONS.filter((r) => r.entryFailure).map((r) => r.number), allowed);
  });

  it('has the exit-reason field bits of the reference header', () => {
    const failed = /FAILED_VMENTRY (0x[0-9a-fA-F]+)/.exec(comments);
    const enclave = /SGX_ENCLAVE_MODE (0x[0-9a-fA-F]+)/.exec(comments);
    assert.ok(failed && enclave);
    assert.equal(spec.EXIT_REASON_ENTRY_FAILURE, parseInt(failed[1], 16));
    assert.equal(spec.EXIT_REASON_ENCLAVE_MODE, parseInt(enclave[1], 16));
    assert.match(comments, /bit 28 pending MTF/);
    assert.equal(spec.EXIT_REASON_PENDING_MTF, 1 << 28);
    assert.match(comments, /bit 29 VM exit from VMX root/);
    assert.equal(spec.EXIT_REASON_FROM_VMX_ROOT, 1 << 29);
    assert.equal(spec.EXIT_REASON_BASIC_MASK, 0xffff);
    // bit 26 = bus lock detected (KVM union vmx_exit_reason; the reference lists 26:17 as reserved)
    assert.equal(spec.EXIT_REASON_BUS_LOCK_DETECTED, 1 << 26);
    const layoutBits = spec.EXIT_REASON_FIELD_LAYOUT.reduce((n, f) => n + f.hi - f.lo + 1, 0);
    assert.equal(layoutBits, 32);
  });

  it('decodes exit-reason values', () => {
    const d = spec.decodeExitReason(0x80000021);
    assert.equal(d.basic, 33);
    assert.equal(d.entryFailure, true);
    assert.equal(d.reason?.name, 'EXIT_REASON_INVALID_STATE');
    assert.equal(d.reservedBits, 0);
    assert.equal(spec.formatExitReason(0x80000021), 'VM-entry failure: EXIT_REASON_INVALID_STATE (33)');
    const io = spec.decodeExitReason(30);
    assert.equal(io.entryFailure, false);
    assert.equal(io.reason?.name, 'EXIT_REASON_IO_INSTRUCTION');
    assert.equal(spec.decodeExitReason(0x08000000 | 10).enclaveMode, true);
    assert.equal(spec.decodeExitReason(0x00010000 | 10).reservedBits, 0x10000);
    assert.equal(spec.makeExitReason(34, { entryFailure: true }), 0x80000022);
  });

  it('classifies reasons for debugger filters', () => {
    const cls = (n: number): spec.ExitReasonClass => spec.EXIT_REASONS[n].class;
    assert.equal(cls(0), 'exception');
    assert.equal(cls(1), 'interrupt');
    assert.equal(cls(2), 'triple-fault');
    assert.equal(cls(10), 'cpuid');
    assert.equal(cls(12), 'hlt');
    assert.equal(cls(18), 'vmcall');
    for (let n = 19; n <= 27; n++) assert.equal(cls(n), 'vmx-instruction', `reason ${n}`);
    assert.equal(cls(28), 'cr');
    assert.equal(cls(29), 'dr');
    assert.equal(cls(30), 'io');
    assert.equal(cls(31), 'msr');
    assert.equal(cls(32), 'msr');
    assert.equal(cls(33), 'entry-failure');
    assert.equal(cls(48), 'ept');
    assert.equal(cls(49), 'ept');
    assert.equal(cls(50), 'vmx-instruction');
    assert.equal(cls(53), 'vmx-instruction');
    const known = new Set(spec.EXIT_REASON_CLASSES.map((c) => c.id));
    for (const r of spec.EXIT_REASONS) assert.ok(known.has(r.class), `${r.name} class ${r.class}`);
    assert.deepEqual(spec.exitReasonsInClass('io').map((r) => r.number), [30]);
  });
});

// ---------------------------------------------------------------------------------------------
// VM-instruction errors
// ---------------------------------------------------------------------------------------------

describe('VMX spec: VM-instruction errors vs reference/instruction-errors.tsv', () => {
  const rows = readTsv('instruction-errors.tsv');

  it('has every reference error with the same number and name', () => {
    assert.equal(rows.length, 29);
    for (const r of rows) {
      const n = Number(r.number);
      const e = spec.instructionErrorByNumber(n);
      assert.ok(e, `missing error ${n}`);
      assert.equal(e.number, n);
      if (r.linux_name.startsWith('VMXERR_')) {
        assert.equal(e.name, r.linux_name, `error ${n} name`);
        assert.equal(e.linux, true);
      } else {
        assert.equal(e.linux, false, `error ${n} has no Linux name`);
      }
      assert.equal(e.reserved === true, r.meaning === 'reserved', `error ${n} reserved`);
      assert.equal(spec.instructionErrorByName(e.name), e);
    }
    assert.equal(spec.VM_INSTRUCTION_ERRORS.length, rows.length);
    assert.equal(spec.vmxErrorNumber('VMXERR_UNSUPPORTED_VMCS_COMPONENT'), 12);
    assert.equal(spec.vmxErrorNumber('VMXERR_ENTRY_INVALID_CONTROL_FIELD'), 7);
    assert.match(spec.formatInstructionError(12), /unsupported VMCS component/);
    assert.equal(spec.instructionErrorByNumber(29), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// MSRs
// ---------------------------------------------------------------------------------------------

describe('VMX spec: MSRs vs reference/msrs.tsv', () => {
  const rows = readTsv('msrs.tsv');
  const msrRows = rows.filter((r) => r.section === 'msr');
  const sectionMsr: Record<string, number> = { basic: 0x480, misc: 0x485, ept_vpid: 0x48c };

  it('has every reference MSR at the same index with the same Linux name, and no others', () => {
    assert.equal(msrRows.length, 21);
    for (const r of msrRows) {
      const index = parseInt(r.index, 16);
      const m = spec.msrByIndex(index);
      assert.ok(m, `missing MSR ${r.index}`);
      assert.equal(m.linuxName, firstToken(r.linux_name), `MSR ${r.index}`);
      assert.equal(spec.msrByName(m.linuxName), m);
      assert.equal(spec.msrByName(m.name), m);
      assert.ok(m.fields.length > 0);
    }
    assert.equal(spec.VMX_MSRS.length, msrRows.length);
    for (let i = 0x480; i <= 0x493; i++) assert.ok(spec.isVmxCapabilityMsr(i) && spec.msrByIndex(i), `0x${i.toString(16)}`);
    assert.equal(spec.isVmxCapabilityMsr(0x494), false);
    assert.equal(spec.msrByIndex(0x3a)?.name, 'IA32_FEATURE_CONTROL');
  });

  it('has every reference bit range of IA32_VMX_BASIC, IA32_VMX_MISC and IA32_VMX_EPT_VPID_CAP', () => {
    const layoutRows = rows.filter((r) => r.section in sectionMsr);
    assert.ok(layoutRows.length >= 45, `only ${layoutRows.length} layout rows`);
    for (const r of layoutRows) {
      const m = spec.msrByIndex(sectionMsr[r.section])!;
      const { lo, hi } = bitRange(r.index);
      const f = m.fields.find((x) => x.lo === lo && x.hi === hi);
      assert.ok(f, `${m.name} has no field ${hi}:${lo} (${r.meaning})`);
      const reserved = /^(reserved|always 0)/.test(r.meaning);
      assert.equal(f.reserved === true, reserved, `${m.name} ${hi}:${lo} reserved`);
      const linux = firstToken(r.linux_name);
      if (linux.startsWith('VMX_')) assert.equal(f.linuxName, linux, `${m.name} ${hi}:${lo} Linux name`);
    }
  });

  it('has the IA32_FEATURE_CONTROL bits the reference describes', () => {
    const meaning = msrRows.find((r) => parseInt(r.index, 16) === 0x3a)!.meaning;
    const fc = spec.msrByIndex(0x3a)!;
    const ranges = [...meaning.matchAll(/bits? (\d+(?::\d+)?) /g)].map((m) => bitRange(m[1]));
    assert.equal(ranges.length, 8);
    for (const { lo, hi } of ranges) {
      const f = fc.fields.find((x) => x.lo === lo && x.hi === hi);
      assert.ok(f && !f.reserved, `IA32_FEATURE_CONTROL ${hi}:${lo}`);
    }
    assert.equal(spec.msrField(0x3a, 'lock').lo, 0);
    assert.equal(spec.msrField(0x3a, 'vmxOutsideSmx').lo, 2);
  });

  it('describes the control-capability MSRs as allowed-0/allowed-1 or allowed-1 only', () => {
    for (const i of [0x481, 0x482, 0x483, 0x484, 0x48b, 0x48d, 0x48e, 0x48f, 0x490]) {
      assert.deepEqual(spec.msrByIndex(i)!.fields.map((f) => [f.name, f.lo, f.hi]), [['allowed0', 0, 31], ['allowed1', 32, 63]]);
    }
    for (const i of [0x492, 0x493]) assert.deepEqual(spec.msrByIndex(i)!.fields.map((f) => [f.name, f.lo, f.hi]), [['allowed1', 0, 63]]);
  });

  it('decodes an IA32_VMX_BASIC value', () => {
    const value = 4n | (0x400n << 32n) | (6n << 50n) | (1n << 54n) | (1n << 55n);
    const d = byName(spec.decodeMsr(0x480, value)!);
    assert.equal(d.vmcsRevisionId.value, 4);
    assert.equal(d.vmcsSize.value, 1024);
    assert.equal(d.vmcsSize.text, '1024');
    assert.equal(d.memoryType.text, '6 (WB)');
    assert.equal(d.insOutsInfo.text, 'yes');
    assert.equal(d.trueControls.text, 'yes');
    assert.equal(d.dualMonitor.text, 'no');
    assert.equal(d.zero31, undefined, 'reserved bits hidden while 0');
    const bad = byName(spec.decodeMsr(0x480, value | (1n << 31n))!);
    assert.match(bad.zero31.text, /reserved/);
    assert.equal(spec.decodeMsr(0x10, 0n), undefined);
    const misc = byName(spec.decodeMsr(0x485, 0x0000_0000_0040_01e5n)!);
    assert.equal(misc.preemptionTimerRate.value, 5);
    assert.equal(misc.storeEferLma.text, 'yes');
    assert.equal(misc.activityHlt.text, 'yes');
    assert.equal(misc.cr3TargetCount.value, 0x40);
  });
});

// ---------------------------------------------------------------------------------------------
// Qualification layouts vs exit-qualifications.md tables
// ---------------------------------------------------------------------------------------------

/** The "| bits | meaning |" table of a numbered section of exit-qualifications.md. */
function mdTable(md: string, sectionPrefix: string): { lo: number; hi: number; meaning: string }[] {
  const start = md.indexOf(`## ${sectionPrefix}`);
  assert.ok(start >= 0, `section ${sectionPrefix}`);
  const next = md.indexOf('\n## ', start + 3);
  const body = md.slice(start, next < 0 ? undefined : next);
  const out: { lo: number; hi: number; meaning: string }[] = [];
  for (const line of body.split('\n')) {
    const m = /^\|\s*(\d+(?::\d+)?)\s*\|\s*(.*?)\s*\|\s*$/.exec(line);
    if (m) out.push({ ...bitRange(m[1]), meaning: m[2] });
  }
  return out;
}

describe('VMX spec: qualification layouts vs reference/exit-qualifications.md', () => {
  const md = readRef('exit-qualifications.md');
  const cases: [string, readonly spec.BitField[], number][] = [
    ['1. I/O', spec.IO_QUALIFICATION_LAYOUT, 8],
    ['2. Control-register', spec.CR_ACCESS_QUALIFICATION_LAYOUT, 8],
    ['3. MOV DR', spec.MOV_DR_QUALIFICATION_LAYOUT, 6],
    ['4. EPT violation', spec.EPT_VIOLATION_QUALIFICATION_LAYOUT, 18],
    ['5. Task switch', spec.TASK_SWITCH_QUALIFICATION_LAYOUT, 4],
    ['7. VM-exit interruption', spec.EXIT_INTERRUPTION_INFO_LAYOUT, 7],
    ['8. IDT-vectoring', spec.IDT_VECTORING_INFO_LAYOUT, 7],
  ];
  for (const [section, layout, rowCount] of cases) {
    it(`matches every bit range of section ${section}`, () => {
      const table = mdTable(md, section);
      assert.equal(table.length, rowCount, `rows parsed from section ${section}`);
      for (const row of table) {
        const f = layout.find((x) => x.lo === row.lo && x.hi === row.hi);
        assert.ok(f, `${section}: no field for bits ${row.hi}:${row.lo} (${row.meaning})`);
        if (/^rsvd/.test(row.meaning)) assert.equal(f.reserved, true, `${section} ${row.hi}:${row.lo} reserved`);
        else if (/^undefined/.test(row.meaning)) assert.equal(f.ignored, true, `${section} ${row.hi}:${row.lo} undefined`);
        else assert.ok(!f.reserved && !f.ignored, `${section} ${row.hi}:${row.lo} is a real field`);
      }
      // and the layout has nothing the table lacks
      assert.equal(layout.length, table.length, `${section} field count`);
    });
  }

  it('matches the APIC-access access types and the #DB bits of section 6', () => {
    const s6 = md.slice(md.indexOf('## 6.'), md.indexOf('## 7.'));
    const apic = spec.APIC_ACCESS_QUALIFICATION_LAYOUT.find((f) => f.name === 'accessType')!;
    assert.deepEqual([apic.lo, apic.hi], [12, 15]);
    for (const m of s6.matchAll(/(\d+) (linear|guest-physical) [a-z ]+/g)) {
      const label = apic.values![Number(m[1])];
      assert.ok(label && label.startsWith(m[2]), `APIC access type ${m[1]} (${m[0]})`);
    }
    assert.match(s6, /bits 3:0 B3-B0, bit 13 BD, bit 14 BS, bit 16 RTM/);
    const db = spec.DEBUG_EXCEPTION_QUALIFICATION_LAYOUT;
    for (const [name, bit] of [['b0', 0], ['b3', 3], ['bd', 13], ['bs', 14], ['rtm', 16]] as const) {
      assert.equal(db.find((f) => f.name === name)!.lo, bit, name);
    }
    const m = /0 = default, 2 = PDPTE load failed, 3 = NMI injection[^,]*, 4 = invalid VMCS link pointer/.exec(s6);
    assert.ok(m);
    assert.deepEqual(Object.keys(spec.ENTRY_FAILURE_QUALIFICATIONS).map(Number), [0, 2, 3, 4]);
  });
});

// ---------------------------------------------------------------------------------------------
// Decoders on hand-worked examples
// ---------------------------------------------------------------------------------------------

describe('VMX spec: exit-qualification decoders', () => {
  it('I/O: out dx, al with DX = 0x80', () => {
    // size 0 (1 byte), direction 0 (OUT), not string, no REP, port in DX, port 0x0080 in bits 31:16
    const q = 0x0080_0000;
    assert.deepEqual(texts(spec.decodeIoQualification(q)), {
      size: '0 (1 byte)', direction: '0 (OUT)', string: 'no', rep: 'no', operandEncoding: '0 (DX)', port: '0x80',
    });
    assert.equal(byName(spec.decodeIoQualification(q)).port.value, 0x80);
    assert.equal(spec.ioQualificationMnemonic(q), 'out dx, al');
    assert.equal(spec.makeIoQualification({ size: 1, direction: 'out', string: false, rep: false, immediate: false, port: 0x80 }), q);
    assert.equal(spec.describeExitQualification(30, q), 'out dx, al (port 0x0080, 1 byte)');
  });

  it('I/O: rep outsb to port 0x3F8, in al, 0x60, in eax, dx', () => {
    // string (bit 4) + REP (bit 5), OUT, 1 byte, port 0x03F8
    const rep = 0x03f8_0030;
    const d = texts(spec.decodeIoQualification(rep));
    assert.equal(d.string, 'yes');
    assert.equal(d.rep, 'yes');
    assert.equal(d.direction, '0 (OUT)');
    assert.equal(d.port, '0x3F8');
    assert.equal(spec.ioQualificationMnemonic(rep), 'rep outsb');
    assert.deepEqual(spec.parseIoQualification(rep), { size: 1, direction: 'out', string: true, rep: true, immediate: false, port: 0x3f8 });
    // IN (bit 3), immediate operand (bit 6), port 0x60
    const inImm = 0x0060_0048;
    assert.equal(spec.ioQualificationMnemonic(inImm), 'in al, 0x60');
    assert.equal(spec.makeIoQualification(spec.parseIoQualification(inImm)), inImm);
    // size 3 (4 bytes), IN, port 0xCFC in DX
    const inDword = 0x0cfc_000b;
    assert.equal(texts(spec.decodeIoQualification(inDword)).size, '3 (4 bytes)');
    assert.equal(spec.ioQualificationMnemonic(inDword), 'in eax, dx');
    // reserved bits are reported
    assert.match(texts(spec.decodeIoQualification(0x0080_0080)).reserved7, /reserved bits 15:7 set/);
  });

  it('CR access: mov cr0, rax; mov cr4, rdx; mov rbx, cr3; mov cr8, r9; clts; lmsw', () => {
    const movCr0 = 0x0000_0000;
    assert.deepEqual(texts(spec.decodeCrAccessQualification(movCr0)), { controlRegister: '0 (CR0)', accessType: '0 (MOV to CR)', gpr: '0 (RAX)' });
    assert.equal(spec.crAccessMnemonic(movCr0), 'mov cr0, rax');
    assert.equal(spec.makeCrAccessQualification({ controlRegister: 0, accessType: 0, gpr: 0 }), movCr0);
    // CR4 (4), MOV to CR, RDX (2) in bits 11:8
    assert.equal(spec.crAccessMnemonic(0x204), 'mov cr4, rdx');
    assert.deepEqual(texts(spec.decodeCrAccessQualification(0x204)), { controlRegister: '4 (CR4)', accessType: '0 (MOV to CR)', gpr: '2 (RDX)' });
    // CR3, MOV from CR (bits 5:4 = 1), RBX (3)
    assert.equal(spec.makeCrAccessQualification({ controlRegister: 3, accessType: spec.CR_ACCESS_TYPE.MOV_FROM_CR, gpr: 3 }), 0x313);
    assert.equal(spec.crAccessMnemonic(0x313), 'mov rbx, cr3');
    assert.equal(spec.crAccessMnemonic(0x908), 'mov cr8, r9');
    assert.deepEqual(texts(spec.decodeCrAccessQualification(0x20)), { accessType: '2 (CLTS)' });
    assert.equal(spec.crAccessMnemonic(0x20), 'clts');
    // LMSW from memory (bit 6), source data 0x0011 in bits 31:16
    const lmsw = 0x0011_0070;
    assert.deepEqual(texts(spec.decodeCrAccessQualification(lmsw)), { accessType: '3 (LMSW)', lmswOperandType: '1 (memory)', lmswSourceData: '0x11' });
    assert.equal(spec.crAccessMnemonic(lmsw), 'lmsw 0x0011 (memory operand)');
    assert.equal(spec.makeCrAccessQualification({ accessType: 3, lmswMemory: true, lmswSourceData: 0x11 }), lmsw);
    assert.deepEqual(spec.parseCrAccessQualification(0x908), { controlRegister: 8, accessType: 0, lmswMemory: false, gpr: 9, lmswSourceData: 0 });
  });

  it('MOV DR: mov dr7, rax and mov rcx, dr6', () => {
    assert.deepEqual(texts(spec.decodeMovDrQualification(0x7)), { debugRegister: '7', direction: '0 (MOV to DR)', gpr: '0 (RAX)' });
    assert.equal(spec.movDrMnemonic(0x7), 'mov dr7, rax');
    const fromDr6 = 0x116; // DR6, bit 4 = from, RCX (1) in bits 11:8
    assert.deepEqual(texts(spec.decodeMovDrQualification(fromDr6)), { debugRegister: '6', direction: '1 (MOV from DR)', gpr: '1 (RCX)' });
    assert.equal(spec.movDrMnemonic(fromDr6), 'mov rcx, dr6');
    assert.equal(spec.makeMovDrQualification({ debugRegister: 6, direction: 'from', gpr: 1 }), fromDr6);
  });

  it('EPT violation: write to a read/execute page via the translated linear address; fetch from a not-present page', () => {
    // bits 1 (write), 3 (readable), 5 (executable), 7 (GLA valid), 8 (translated access)
    const q = 0x1aa;
    const d = texts(spec.decodeEptViolationQualification(q));
    assert.equal(d.read, 'no');
    assert.equal(d.write, 'yes');
    assert.equal(d.fetch, 'no');
    assert.equal(d.readable, 'yes');
    assert.equal(d.writable, 'no');
    assert.equal(d.executable, 'yes');
    assert.equal(d.linearAddressValid, 'yes');
    assert.equal(d.translatedAccess, '1 (access to the translated linear address)');
    assert.equal(d.nmiUnblocking, 'no');
    assert.equal(spec.makeEptViolationQualification({ write: true, readable: true, executable: true, linearAddressValid: true, translatedAccess: 1 }), q);
    assert.equal(spec.eptViolationSummary(q), 'data write to a readable, executable page (linear address valid, translated access)');
    const fetch = texts(spec.decodeEptViolationQualification(0x4));
    assert.equal(fetch.fetch, 'yes');
    assert.equal(fetch.linearAddressValid, 'no');
    assert.equal(fetch.translatedAccess, undefined, 'bit 8 not shown without bit 7');
    assert.equal(spec.eptViolationSummary(0x1004), 'instruction fetch to a not-present page (NMI unblocking due to IRET)');
  });

  it('task switch, APIC access and debug-exception qualifications', () => {
    // JMP (source 2 in bits 31:30) to TSS selector 0x28
    assert.deepEqual(texts(spec.decodeTaskSwitchQualification(0x8000_0028)), { selector: '0x28', source: '2 (JMP instruction)' });
    assert.equal(spec.makeTaskSwitchQualification(0x50, spec.TASK_SWITCH_SOURCE.TASK_GATE), 0xc000_0050);
    assert.equal(texts(spec.decodeTaskSwitchQualification(0xc000_0050)).source, '3 (task gate in the IDT)');
    // linear write (type 1) to the EOI register at offset 0xB0
    assert.deepEqual(texts(spec.decodeApicAccessQualification(0x10b0)), {
      offset: '0xB0', accessType: '1 (linear access for a data write during instruction execution)', asynchronous: 'no',
    });
    // single step: BS (bit 14)
    const bs = texts(spec.decodeDebugExceptionQualification(0x4000));
    assert.equal(bs.bs, 'yes');
    assert.equal(bs.b0, 'no');
    // B1 + BD
    const bd = texts(spec.decodeDebugExceptionQualification(0x2002));
    assert.deepEqual([bd.b0, bd.b1, bd.b2, bd.b3, bd.bd, bd.bs, bd.rtm], ['no', 'yes', 'no', 'no', 'yes', 'no', 'no']);
  });

  it('linear-address and displacement qualifications (INVLPG, #PF, INVEPT-style)', () => {
    const la = spec.decodeLinearAddressQualification(0xffff_8000_0000_1000n);
    assert.deepEqual(la.map((f) => [f.name, f.value, f.text]), [['linearAddress', 0xffff_8000_0000_1000n, '0xFFFF800000001000']]);
    const disp = spec.decodeDisplacementQualification(0xffff_ffff_ffff_fff8n);
    assert.deepEqual(disp.map((f) => [f.name, f.value, f.text]), [['displacement', -8n, '-0x8']]);
    assert.equal(spec.decodeDisplacementQualification(0x10).map((f) => f.text)[0], '+0x10');
  });

  it('dispatches by exit reason', () => {
    assert.deepEqual(spec.decodeExitQualification(30, 0x0080_0000), spec.decodeIoQualification(0x0080_0000));
    assert.deepEqual(spec.decodeExitQualification(28, 0x313), spec.decodeCrAccessQualification(0x313));
    assert.deepEqual(spec.decodeExitQualification(48, 0x1aa), spec.decodeEptViolationQualification(0x1aa));
    assert.deepEqual(spec.decodeExitQualification(14, 0x1000), spec.decodeLinearAddressQualification(0x1000));
    assert.deepEqual(spec.decodeExitQualification(0, 0x1000, { vector: 14 }), spec.decodeLinearAddressQualification(0x1000));
    assert.deepEqual(spec.decodeExitQualification(0, 0x4000, { vector: 1 }), spec.decodeDebugExceptionQualification(0x4000));
    assert.deepEqual(spec.decodeExitQualification(50, 0x20), spec.decodeDisplacementQualification(0x20));
    assert.deepEqual(texts(spec.decodeExitQualification(33, 4)), { code: '4 (invalid VMCS link pointer)' });
    assert.deepEqual(texts(spec.decodeExitQualification(34, 3)), { entryIndex: '3' });
    assert.deepEqual(spec.decodeExitQualification(49, 0), []);
    assert.deepEqual(spec.decodeExitQualification(10, 0), []);
    assert.equal(spec.describeExitQualification(28, 0), 'mov cr0, rax');
    assert.equal(spec.describeExitQualification(9, 0x8000_0028), 'selector=0x28, source=2 (JMP instruction)');
  });
});

describe('VMX spec: interruption and IDT-vectoring information', () => {
  it('decodes a #PF with error code (VM-exit interruption information)', () => {
    // valid (31), error code valid (11), type 3 hardware exception, vector 14
    const v = 0x8000_0b0e;
    assert.deepEqual(texts(spec.decodeInterruptionInfo('exit', v)), {
      vector: '14 (#PF)', type: '3 (hardware exception)', errorCodeValid: 'yes', nmiUnblocking: 'no', nestedException: 'no', valid: 'yes',
    });
    assert.equal(spec.makeInterruptionInfo({ vector: 14, type: spec.INTR_TYPE.HARDWARE_EXCEPTION, errorCodeValid: true }), v);
    assert.equal(spec.formatInterruptionInfo('exit', v), 'hardware exception 14 (#PF), error code valid');
    assert.deepEqual(spec.parseInterruptionInfo(v), { vector: 14, type: 3, errorCodeValid: true, nmiUnblocking: false, nestedException: false, valid: true });
  });

  it('decodes NMI, external interrupt, INT3, NMI unblocking and invalid values', () => {
    assert.deepEqual(texts(spec.decodeInterruptionInfo('exit', 0x8000_0202)).vector, '2 (NMI)');
    assert.deepEqual(texts(spec.decodeInterruptionInfo('exit', 0x8000_0202)).type, '2 (NMI)');
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_0020)).vector, '0x20');
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_0020)).type, '0 (external interrupt)');
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_0603)).vector, '3 (#BP)');
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_0603)).type, '6 (software exception)');
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_1b0e)).nmiUnblocking, 'yes');
    assert.equal(spec.formatInterruptionInfo('exit', 0x8000_1b0e), 'hardware exception 14 (#PF), error code valid, NMI unblocking due to IRET');
    assert.equal(spec.formatInterruptionInfo('exit', 0x0000_0b0e), 'not valid');
    // type 4 never appears on exit
    assert.equal(texts(spec.decodeInterruptionInfo('exit', 0x8000_0480)).type, '4 (unknown)');
  });

  it('decodes IDT-vectoring and VM-entry interruption information', () => {
    // INT 0x80 being delivered: software interrupt (type 4)
    const idt = texts(spec.decodeInterruptionInfo('idt-vectoring', 0x8000_0480));
    assert.equal(idt.type, '4 (software interrupt)');
    assert.equal(idt.vector, '0x80');
    assert.equal(idt.undefined12, undefined, 'bit 12 of IDT-vectoring info is undefined and not shown');
    assert.equal(texts(spec.decodeInterruptionInfo('idt-vectoring', 0x8000_1480)).undefined12, undefined);
    // pending MTF VM exit injection: type 7, vector 0
    const mtf = texts(spec.decodeInterruptionInfo('entry', 0x8000_0700));
    assert.equal(mtf.type, '7 (other event)');
    assert.equal(mtf.vector, '0 (pending MTF VM exit)');
    // #GP with deliver-error-code
    const gp = texts(spec.decodeInterruptionInfo('entry', 0x8000_0b0d));
    assert.equal(gp.deliverErrorCode, 'yes');
    assert.equal(gp.vector, '13 (#GP)');
    assert.match(texts(spec.decodeInterruptionInfo('entry', 0x8000_1b0d)).reserved12, /reserved/);
  });
});

describe('VMX spec: VM-exit instruction information', () => {
  it('maps exit reasons to layouts', () => {
    const kinds = Object.fromEntries([30, 19, 21, 22, 23, 25, 27, 46, 47, 50, 53, 58, 57, 61, 63, 10].map((n) => [n, spec.instructionInfoKindForExit(n)]));
    assert.deepEqual(kinds, {
      30: 'ins-outs', 19: 'vmx-memory', 21: 'vmx-memory', 22: 'vmx-memory', 23: 'vmread-vmwrite', 25: 'vmread-vmwrite',
      27: 'vmx-memory', 46: 'descriptor-table', 47: 'ldtr-tr', 50: 'invalidate', 53: 'invalidate', 58: 'invalidate',
      57: 'rdrand-rdseed', 61: 'rdrand-rdseed', 63: 'vmx-memory', 10: undefined,
    });
  });

  it('INS/OUTS: rep outsb with 32-bit addressing through DS', () => {
    // address size 1 (bits 9:7), segment DS = 3 (bits 17:15)
    const v = (1 << 7) | (3 << 15);
    assert.deepEqual(texts(spec.decodeInstructionInfo('ins-outs', v)), { addressSize: '1 (32-bit)', segment: '3 (DS)' });
    assert.equal(spec.makeInstructionInfo('ins-outs', { addressSize: 1, segment: 3 }), v);
  });

  it('VMREAD/VMWRITE: memory operand [rbx+rcx*8+disp] and register form', () => {
    // vmread [rbx+rcx*8+0x10], rdx: scaling 3, 64-bit addressing, memory, DS, index RCX, base RBX, reg2 RDX
    const mem = 3 | (2 << 7) | (3 << 15) | (1 << 18) | (3 << 23) | (2 << 28);
    assert.equal(mem, 0x2185_8103);
    assert.deepEqual(texts(spec.decodeInstructionInfo('vmread-vmwrite', mem)), {
      scaling: '3 (scale by 8)', addressSize: '2 (64-bit)', memReg: '0 (memory)', segment: '3 (DS)',
      indexReg: '1 (RCX)', indexInvalid: 'no', baseReg: '3 (RBX)', baseInvalid: 'no', reg2: '2 (RDX)',
    });
    // vmwrite rdx, rax: register form (bit 10), value register RAX in reg1, encoding register RDX in reg2
    const reg = (1 << 10) | (2 << 28);
    assert.deepEqual(texts(spec.decodeInstructionInfo('vmread-vmwrite', reg)), { reg1: '0 (RAX)', memReg: '1 (register)', reg2: '2 (RDX)' });
    assert.equal(spec.makeInstructionInfo('vmread-vmwrite', { memReg: 1, reg1: 0, reg2: 2 }), reg);
  });

  it('INVEPT/INVVPID/INVPCID: invept rax, [rsi] (no index register)', () => {
    const v = (2 << 7) | (3 << 15) | (1 << 22) | (6 << 23);
    assert.deepEqual(texts(spec.decodeInstructionInfo('invalidate', v)), {
      addressSize: '2 (64-bit)', segment: '3 (DS)', indexInvalid: 'yes', baseReg: '6 (RSI)', baseInvalid: 'no', reg2: '0 (RAX)',
    });
  });

  it('descriptor tables: lgdt [eax] with 32-bit operand size', () => {
    const v = (1 << 7) | (1 << 11) | (3 << 15) | (1 << 22) | (2 << 28);
    const d = texts(spec.decodeInstructionInfo('descriptor-table', v));
    assert.equal(d.instruction, '2 (LGDT)');
    assert.equal(d.operandSize, '1 (32-bit)');
    assert.equal(d.addressSize, '1 (32-bit)');
    assert.equal(d.baseReg, '0 (RAX)');
    assert.equal(d.indexReg, undefined);
    assert.equal(texts(spec.decodeInstructionInfo('descriptor-table', 3 << 28)).instruction, '3 (LIDT)');
    assert.equal(texts(spec.decodeInstructionInfo('descriptor-table', 0)).instruction, '0 (SGDT)');
  });

  it('LLDT/LTR/SLDT/STR: ltr ax (register) and sldt [mem]', () => {
    const ltr = (0 << 3) | (1 << 10) | (3 << 28);
    assert.deepEqual(texts(spec.decodeInstructionInfo('ldtr-tr', ltr)), { reg1: '0 (RAX)', memReg: '1 (register)', instruction: '3 (LTR)' });
    const sldt = (2 << 7) | (3 << 15) | (1 << 22) | (5 << 23);
    const d = texts(spec.decodeInstructionInfo('ldtr-tr', sldt));
    assert.equal(d.instruction, '0 (SLDT)');
    assert.equal(d.baseReg, '5 (RBP)');
    assert.equal(d.reg1, undefined, 'no register operand for the memory form');
  });

  it('RDRAND/RDSEED: rdseed r10 (64-bit)', () => {
    assert.deepEqual(texts(spec.decodeInstructionInfo('rdrand-rdseed', (10 << 3) | (2 << 11))), { destination: '10 (R10)', operandSize: '2 (64-bit)' });
    assert.deepEqual(texts(spec.decodeInstructionInfo('rdrand-rdseed', 1 << 11)), { destination: '0 (RAX)', operandSize: '1 (32-bit)' });
  });
});
