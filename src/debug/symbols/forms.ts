import * as C from './dwarfConstants';
import { hex } from './errors';
import { DwarfReader } from './reader';

/** What the encoding of an attribute value depends on: the unit's header. */
export interface FormContext {
  addressSize: number;
  format64: boolean;
  /** The unit's DWARF version (DW_FORM_ref_addr is address-sized in version 2). */
  version: number;
}

/** An attribute value, decoded just enough to be interpreted by the caller. */
export type FormValue =
  | { kind: 'uint'; value: bigint }
  | { kind: 'sint'; value: number }
  | { kind: 'addr'; value: bigint }
  | { kind: 'addrx'; index: number }
  | { kind: 'string'; value: string }
  | { kind: 'strp'; offset: number; section: '.debug_str' | '.debug_line_str' }
  | { kind: 'strx'; index: number }
  | { kind: 'ref'; offset: number; unitRelative: boolean }
  | { kind: 'secoff'; value: number }
  | { kind: 'rnglistx'; index: number }
  | { kind: 'block'; bytes: Uint8Array }
  | { kind: 'flag'; value: boolean }
  | { kind: 'other' };

const OTHER: FormValue = { kind: 'other' };

function formName(form: number): string {
  return `DW_FORM ${hex(form)}`;
}

/** Advances past a value of `form` without decoding it (the fast path of the DIE walk). */
export function skipForm(r: DwarfReader, form: number, ctx: FormContext, what: string): void {
  switch (form) {
    case C.DW_FORM_flag_present:
    case C.DW_FORM_implicit_const:
      return;
    case C.DW_FORM_data1:
    case C.DW_FORM_ref1:
    case C.DW_FORM_flag:
    case C.DW_FORM_strx1:
    case C.DW_FORM_addrx1:
      return r.skip(1, what);
    case C.DW_FORM_data2:
    case C.DW_FORM_ref2:
    case C.DW_FORM_strx2:
    case C.DW_FORM_addrx2:
      return r.skip(2, what);
    case C.DW_FORM_strx3:
    case C.DW_FORM_addrx3:
      return r.skip(3, what);
    case C.DW_FORM_data4:
    case C.DW_FORM_ref4:
    case C.DW_FORM_ref_sup4:
    case C.DW_FORM_strx4:
    case C.DW_FORM_addrx4:
      return r.skip(4, what);
    case C.DW_FORM_data8:
    case C.DW_FORM_ref8:
    case C.DW_FORM_ref_sig8:
    case C.DW_FORM_ref_sup8:
      return r.skip(8, what);
    case C.DW_FORM_data16:
      return r.skip(16, what);
    case C.DW_FORM_addr:
      return r.skip(ctx.addressSize, what);
    case C.DW_FORM_ref_addr:
      return r.skip(ctx.version <= 2 ? ctx.addressSize : ctx.format64 ? 8 : 4, what);
    case C.DW_FORM_strp:
    case C.DW_FORM_line_strp:
    case C.DW_FORM_sec_offset:
    case C.DW_FORM_strp_sup:
    case C.DW_FORM_GNU_ref_alt:
    case C.DW_FORM_GNU_strp_alt:
      return r.skip(ctx.format64 ? 8 : 4, what);
    case C.DW_FORM_sdata:
    case C.DW_FORM_udata:
    case C.DW_FORM_ref_udata:
    case C.DW_FORM_strx:
    case C.DW_FORM_addrx:
    case C.DW_FORM_loclistx:
    case C.DW_FORM_rnglistx:
    case C.DW_FORM_GNU_addr_index:
    case C.DW_FORM_GNU_str_index:
      return r.skipLeb(what);
    case C.DW_FORM_string: {
      const nul = r.bytes.indexOf(0, r.pos);
      if (nul < 0 || nul >= r.end) r.cstring(what); // throws with the right message
      r.pos = nul + 1;
      return;
    }
    case C.DW_FORM_block1:
      return r.skip(r.u8(what), what);
    case C.DW_FORM_block2:
      return r.skip(r.u16(what), what);
    case C.DW_FORM_block4:
      return r.skip(r.u32(what), what);
    case C.DW_FORM_block:
    case C.DW_FORM_exprloc:
      return r.skip(r.uleb(what), what);
    case C.DW_FORM_indirect: {
      const actual = r.uleb(what);
      if (actual === C.DW_FORM_indirect) r.fail(`${what}: DW_FORM_indirect names DW_FORM_indirect`);
      return skipForm(r, actual, ctx, what);
    }
    default:
      return r.fail(`${what}: unknown attribute form ${formName(form)}`);
  }
}

/** Reads a value of `form`. `implicitConst` is the value stored in the abbreviation for DW_FORM_implicit_const. */
export function readForm(
  r: DwarfReader, form: number, ctx: FormContext, what: string, implicitConst = 0,
): FormValue {
  switch (form) {
    case C.DW_FORM_addr:
      return { kind: 'addr', value: r.address(ctx.addressSize, what) };
    case C.DW_FORM_data1:
      return { kind: 'uint', value: BigInt(r.u8(what)) };
    case C.DW_FORM_data2:
      return { kind: 'uint', value: BigInt(r.u16(what)) };
    case C.DW_FORM_data4:
      return { kind: 'uint', value: BigInt(r.u32(what)) };
    case C.DW_FORM_data8:
      return { kind: 'uint', value: r.u64(what) };
    case C.DW_FORM_udata:
      return { kind: 'uint', value: r.ulebBig(what) };
    case C.DW_FORM_sdata:
      return { kind: 'sint', value: r.sleb(what) };
    case C.DW_FORM_implicit_const:
      return { kind: 'sint', value: implicitConst };
    case C.DW_FORM_flag:
      return { kind: 'flag', value: r.u8(what) !== 0 };
    case C.DW_FORM_flag_present:
      return { kind: 'flag', value: true };
    case C.DW_FORM_string:
      return { kind: 'string', value: r.cstring(what) };
    case C.DW_FORM_strp:
      return { kind: 'strp', offset: r.offset(ctx.format64, what), section: '.debug_str' };
    case C.DW_FORM_line_strp:
      return { kind: 'strp', offset: r.offset(ctx.format64, what), section: '.debug_line_str' };
    case C.DW_FORM_strx:
    case C.DW_FORM_GNU_str_index:
      return { kind: 'strx', index: r.uleb(what) };
    case C.DW_FORM_strx1:
      return { kind: 'strx', index: r.u8(what) };
    case C.DW_FORM_strx2:
      return { kind: 'strx', index: r.u16(what) };
    case C.DW_FORM_strx3:
      return { kind: 'strx', index: r.u24(what) };
    case C.DW_FORM_strx4:
      return { kind: 'strx', index: r.u32(what) };
    case C.DW_FORM_addrx:
    case C.DW_FORM_GNU_addr_index:
      return { kind: 'addrx', index: r.uleb(what) };
    case C.DW_FORM_addrx1:
      return { kind: 'addrx', index: r.u8(what) };
    case C.DW_FORM_addrx2:
      return { kind: 'addrx', index: r.u16(what) };
    case C.DW_FORM_addrx3:
      return { kind: 'addrx', index: r.u24(what) };
    case C.DW_FORM_addrx4:
      return { kind: 'addrx', index: r.u32(what) };
    case C.DW_FORM_sec_offset:
      return { kind: 'secoff', value: r.offset(ctx.format64, what) };
    case C.DW_FORM_rnglistx:
      return { kind: 'rnglistx', index: r.uleb(what) };
    case C.DW_FORM_ref1:
      return { kind: 'ref', offset: r.u8(what), unitRelative: true };
    case C.DW_FORM_ref2:
      return { kind: 'ref', offset: r.u16(what), unitRelative: true };
    case C.DW_FORM_ref4:
      return { kind: 'ref', offset: r.u32(what), unitRelative: true };
    case C.DW_FORM_ref8:
      return { kind: 'ref', offset: r.u64n(what), unitRelative: true };
    case C.DW_FORM_ref_udata:
      return { kind: 'ref', offset: r.uleb(what), unitRelative: true };
    case C.DW_FORM_ref_addr: {
      const size = ctx.version <= 2 ? ctx.addressSize : ctx.format64 ? 8 : 4;
      const offset = size === 8 ? r.u64n(what) : size === 4 ? r.u32(what) : Number(r.address(size, what));
      return { kind: 'ref', offset, unitRelative: false };
    }
    case C.DW_FORM_block1:
      return { kind: 'block', bytes: r.bytesOf(r.u8(what), what) };
    case C.DW_FORM_block2:
      return { kind: 'block', bytes: r.bytesOf(r.u16(what), what) };
    case C.DW_FORM_block4:
      return { kind: 'block', bytes: r.bytesOf(r.u32(what), what) };
    case C.DW_FORM_block:
    case C.DW_FORM_exprloc:
      return { kind: 'block', bytes: r.bytesOf(r.uleb(what), what) };
    case C.DW_FORM_data16:
      return { kind: 'block', bytes: r.bytesOf(16, what) };
    case C.DW_FORM_indirect: {
      const actual = r.uleb(what);
      if (actual === C.DW_FORM_indirect) r.fail(`${what}: DW_FORM_indirect names DW_FORM_indirect`);
      return readForm(r, actual, ctx, what, implicitConst);
    }
    default:
      skipForm(r, form, ctx, what);
      return OTHER;
  }
}

/** A constant-class value as a bigint (data*, udata, sdata, implicit_const), else undefined. */
export function constantOf(v: FormValue): bigint | undefined {
  if (v.kind === 'uint') return v.value;
  if (v.kind === 'sint') return BigInt(v.value);
  return undefined;
}
