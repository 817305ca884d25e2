import { parseNumberText } from './launchConfig';

/**
 * Expressions for watch, hover, the Debug Console and breakpoint conditions: a small
 * recursive-descent parser over C operators, evaluated in unsigned 64-bit arithmetic.
 *
 *   names      registers (rax, eax, al, rip, cs.base, cr0, zf...), symbols, and whatever the
 *              context adds (later: vmcs.FIELD, exit.reason)
 *   numbers    0x1f, 0b101, 0o17, 31, 1fh, 'A'
 *   operators  unary - ~ ! +; * / %; + -; << >>; < <= > >=; == !=; &; ^; |; &&; ||; ( )
 *   memory     byte [expr], word [expr], dword [expr], qword [expr] (linear addresses; `ptr` is
 *              accepted after the size); a plain [expr] reads the current mode's pointer size
 *
 * Errors name the column (1-based) where the problem is.
 */

export class ExpressionError extends Error {
  constructor(message: string, readonly column?: number) {
    super(column !== undefined ? `${message} (at column ${column})` : message);
  }
}

export type Expr =
  | { kind: 'num'; value: bigint; pos: number }
  | { kind: 'name'; name: string; pos: number }
  | { kind: 'unary'; op: string; arg: Expr; pos: number }
  | { kind: 'bin'; op: string; left: Expr; right: Expr; pos: number }
  | { kind: 'mem'; size: number | undefined; addr: Expr; pos: number };

export interface EvalContext {
  /** Value of a name, or undefined when nothing is called that. */
  lookup(name: string): bigint | undefined;
  /** Reads `size` bytes (little-endian) at a linear address; throws an Error when unreadable. */
  readMemory(address: bigint, size: number): bigint;
  /** Pointer size in bytes for a plain [expr]. */
  pointerSize(): number;
}

export interface AssignContext extends EvalContext {
  assignName(name: string, value: bigint): void;
  writeMemory(address: bigint, size: number, value: bigint): void;
}

const M64 = (1n << 64n) - 1n;
const SIZES: Record<string, number> = { byte: 1, word: 2, dword: 4, qword: 8 };

interface Token {
  t: 'num' | 'id' | 'op' | 'end';
  v: string;
  n?: bigint;
  pos: number;
}

const OPS = ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '+', '-', '*', '/', '%', '&', '|', '^', '~', '!', '<', '>', '(', ')', '[', ']'];

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    const pos = i + 1;
    if (/[0-9]/.test(c)) {
      let j = i;
      while (j < src.length && /[0-9a-zA-Z_]/.test(src[j])) j++;
      const text = src.slice(i, j);
      const n = parseNumberText(text);
      if (n === undefined) throw new ExpressionError(`'${text}' is not a number (use 0x.. for hex, 0b.. binary, 0o.. octal, or a trailing h)`, pos);
      out.push({ t: 'num', v: text, n, pos });
      i = j;
      continue;
    }
    if (c === "'") {
      const end = src.indexOf("'", i + 1);
      if (end < 0 || end - i - 1 < 1 || end - i - 1 > 8) throw new ExpressionError('a character constant is 1 to 8 characters between single quotes', pos);
      let n = 0n;
      for (let k = end - 1; k > i; k--) n = (n << 8n) | BigInt(src.charCodeAt(k) & 0xFF);
      out.push({ t: 'num', v: src.slice(i, end + 1), n, pos });
      i = end + 1;
      continue;
    }
    if (/[A-Za-z_.@?]/.test(c)) {
      let j = i;
      while (j < src.length && /[A-Za-z0-9_.@?$#]/.test(src[j])) j++;
      out.push({ t: 'id', v: src.slice(i, j), pos });
      i = j;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected character '${c}'`, pos);
    out.push({ t: 'op', v: op, pos });
    i += op.length;
  }
  out.push({ t: 'end', v: '', pos: src.length + 1 });
  return out;
}

const LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

/** Parses an expression; throws ExpressionError with the column of the problem. */
export function parseExpression(src: string): Expr {
  if (src.trim() === '') throw new ExpressionError('empty expression');
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const expect = (v: string, what: string) => {
    const t = toks[p];
    if (t.t !== 'op' || t.v !== v) throw new ExpressionError(`expected '${v}' ${what}${t.t === 'end' ? ' but the expression ended' : `, found '${t.v}'`}`, t.pos);
    p++;
  };
  const binary = (level: number): Expr => {
    if (level === LEVELS.length) return unary();
    let left = binary(level + 1);
    for (;;) {
      const t = peek();
      if (t.t !== 'op' || !LEVELS[level].includes(t.v)) return left;
      p++;
      const right = binary(level + 1);
      left = { kind: 'bin', op: t.v, left, right, pos: t.pos };
    }
  };
  const unary = (): Expr => {
    const t = peek();
    if (t.t === 'op' && ['-', '~', '!', '+'].includes(t.v)) {
      p++;
      return { kind: 'unary', op: t.v, arg: unary(), pos: t.pos };
    }
    return primary();
  };
  const memory = (size: number | undefined, pos: number): Expr => {
    expect('[', size === undefined ? '' : 'after the operand size');
    const addr = binary(0);
    expect(']', 'to close the memory reference');
    return { kind: 'mem', size, addr, pos };
  };
  const primary = (): Expr => {
    const t = peek();
    if (t.t === 'num') { p++; return { kind: 'num', value: t.n! & M64, pos: t.pos }; }
    if (t.t === 'id') {
      p++;
      const size = SIZES[t.v.toLowerCase()];
      if (size !== undefined && (peek().v === '[' || peek().v.toLowerCase() === 'ptr')) {
        if (peek().v.toLowerCase() === 'ptr') p++;
        return memory(size, t.pos);
      }
      return { kind: 'name', name: t.v, pos: t.pos };
    }
    if (t.t === 'op' && t.v === '(') {
      p++;
      const e = binary(0);
      expect(')', 'to close the parenthesis');
      return e;
    }
    if (t.t === 'op' && t.v === '[') return memory(undefined, t.pos);
    if (t.t === 'end') throw new ExpressionError('the expression ended where a value was expected', t.pos);
    throw new ExpressionError(`expected a value, found '${t.v}'`, t.pos);
  };
  const e = binary(0);
  const rest = peek();
  if (rest.t !== 'end') throw new ExpressionError(`unexpected '${rest.v}' after the end of the expression`, rest.pos);
  return e;
}

function truth(v: bigint): bigint {
  return v !== 0n ? 1n : 0n;
}

export function evaluateAst(e: Expr, ctx: EvalContext): bigint {
  switch (e.kind) {
    case 'num': return e.value;
    case 'name': {
      const v = ctx.lookup(e.name);
      if (v === undefined) throw new ExpressionError(`unknown name '${e.name}' (not a register or symbol)`, e.pos);
      return v & M64;
    }
    case 'mem': {
      const size = e.size ?? ctx.pointerSize();
      const addr = evaluateAst(e.addr, ctx);
      try {
        return ctx.readMemory(addr, size);
      } catch (err) {
        throw new ExpressionError(`cannot read ${size} bytes at 0x${addr.toString(16)}: ${(err as Error).message}`, e.pos);
      }
    }
    case 'unary': {
      const a = evaluateAst(e.arg, ctx);
      switch (e.op) {
        case '-': return (-a) & M64;
        case '~': return ~a & M64;
        case '!': return a === 0n ? 1n : 0n;
        default: return a;
      }
    }
    case 'bin': {
      if (e.op === '&&') return evaluateAst(e.left, ctx) === 0n ? 0n : truth(evaluateAst(e.right, ctx));
      if (e.op === '||') return evaluateAst(e.left, ctx) !== 0n ? 1n : truth(evaluateAst(e.right, ctx));
      const a = evaluateAst(e.left, ctx);
      const b = evaluateAst(e.right, ctx);
      switch (e.op) {
        case '+': return (a + b) & M64;
        case '-': return (a - b) & M64;
        case '*': return (a * b) & M64;
        case '/': if (b === 0n) throw new ExpressionError('division by zero', e.pos); return a / b;
        case '%': if (b === 0n) throw new ExpressionError('division by zero', e.pos); return a % b;
        case '<<': return b >= 64n ? 0n : (a << b) & M64;
        case '>>': return b >= 64n ? 0n : a >> b;
        case '&': return a & b;
        case '|': return a | b;
        case '^': return a ^ b;
        case '==': return a === b ? 1n : 0n;
        case '!=': return a !== b ? 1n : 0n;
        case '<': return a < b ? 1n : 0n;
        case '<=': return a <= b ? 1n : 0n;
        case '>': return a > b ? 1n : 0n;
        case '>=': return a >= b ? 1n : 0n;
      }
      throw new ExpressionError(`unknown operator '${e.op}'`, e.pos);
    }
  }
}

export function evaluate(src: string, ctx: EvalContext): bigint {
  return evaluateAst(parseExpression(src), ctx);
}

/** Assigns to a register/name or a memory reference: the targets of setExpression. */
export function assign(src: string, value: bigint, ctx: AssignContext): void {
  const e = parseExpression(src);
  if (e.kind === 'name') {
    ctx.assignName(e.name, value & M64);
    return;
  }
  if (e.kind === 'mem') {
    const size = e.size ?? ctx.pointerSize();
    const addr = evaluateAst(e.addr, ctx);
    const max = size === 8 ? M64 : (1n << BigInt(size * 8)) - 1n;
    if ((value & M64) > max) throw new ExpressionError(`0x${value.toString(16)} does not fit in ${size} byte${size > 1 ? 's' : ''}`);
    ctx.writeMemory(addr, size, value & max);
    return;
  }
  throw new ExpressionError('only a register, a writable name or a memory reference such as dword [0x1000] can be assigned to', 1);
}

/** The names an expression mentions (for completions and "what does this depend on"). */
export function namesIn(e: Expr, out: string[] = []): string[] {
  switch (e.kind) {
    case 'name': out.push(e.name); break;
    case 'mem': namesIn(e.addr, out); break;
    case 'unary': namesIn(e.arg, out); break;
    case 'bin': namesIn(e.left, out); namesIn(e.right, out); break;
  }
  return out;
}
