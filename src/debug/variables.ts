import type { Cpu } from '../cpu/cpu';
import type { GuestMemory } from './memory';
import { hexAddr } from './memory';
import {
  describeAr, FLAG_BITS, findRegister, generalRegisterNames, readMsr, RegisterError, SEGMENTS, SHOWN_MSRS, writeMsr,
} from './registers';

/**
 * Scopes and their variables. The session asks each registered ScopeProvider whether it applies
 * to a frame and lists those that do; a provider answers for a tree of nodes addressed by a path
 * string it chooses. Registers is the first provider; VMCS and "Last VM exit" register the same way
 * later.
 */

export interface ScopeContext {
  cpu: Cpu;
  memory: GuestMemory;
  /** Evaluates an expression (for setVariable values such as "rax + 4"). */
  evaluate(expression: string): bigint;
}

export interface VariableNode {
  name: string;
  value: string;
  /** Path of the node's children for this provider; undefined for a leaf. */
  children?: string;
  evaluateName?: string;
  memoryReference?: string;
  type?: string;
  readOnly?: boolean;
}

export interface ScopeProvider {
  readonly name: string;
  readonly presentationHint?: 'arguments' | 'locals' | 'registers';
  readonly expensive: boolean;
  applies(ctx: ScopeContext, frameIndex: number): boolean;
  /** Children of `path` ('' is the scope itself). */
  children(ctx: ScopeContext, path: string, hex: boolean): VariableNode[];
  /** Sets the child `name` of `path`; returns the node as it reads afterwards. Throws with a reason. */
  set?(ctx: ScopeContext, path: string, name: string, value: string, hex: boolean): VariableNode;
}

/** Formats a register value: zero-padded hex to the register width, or decimal. */
export function formatValue(v: bigint, bits: number, hex: boolean): string {
  if (!hex) return v.toString(10);
  const digits = Math.max(1, Math.ceil(Math.min(bits, 64) / 4));
  return '0x' + v.toString(16).padStart(digits, '0');
}

interface Leaf {
  /** Display name. */
  name: string;
  /** Register table name (expressions), when the node is a register. */
  reg?: string;
  msr?: number;
  children?: string;
  summary?: (cpu: Cpu) => string;
}

function segLeaves(seg: string): Leaf[] {
  return [
    { name: 'selector', reg: seg },
    { name: 'base', reg: `${seg}.base` },
    { name: 'limit', reg: `${seg}.limit` },
    { name: 'attributes', reg: `${seg}.attr`, summary: (cpu) => describeAr(cpu.segAr[segIndex(seg)]) },
  ];
}

function segIndex(seg: string): number {
  return [...SEGMENTS, 'ldtr', 'tr'].indexOf(seg);
}

export class RegistersScope implements ScopeProvider {
  readonly name = 'Registers';
  readonly presentationHint = 'registers' as const;
  readonly expensive = false;

  applies(): boolean {
    return true;
  }

  private leaves(cpu: Cpu, path: string): Leaf[] {
    if (path === '') {
      const regs: Leaf[] = generalRegisterNames(cpu).map((r) => ({ name: r, reg: r }));
      regs.push({ name: cpu.mode64 ? 'rip' : 'eip', reg: cpu.mode64 ? 'rip' : 'eip' });
      regs.push({ name: cpu.mode64 ? 'rflags' : 'eflags', reg: cpu.mode64 ? 'rflags' : 'eflags', children: 'flags' });
      for (const s of SEGMENTS) regs.push({ name: s, reg: s, children: `seg:${s}` });
      regs.push({ name: 'Control registers', children: 'control' });
      regs.push({ name: 'Debug registers', children: 'debug' });
      regs.push({ name: 'Descriptor tables', children: 'tables' });
      regs.push({ name: 'MSRs', children: 'msrs' });
      return regs;
    }
    if (path === 'flags') return FLAG_BITS.map(([n]) => ({ name: n.toUpperCase(), reg: n }));
    if (path.startsWith('seg:')) return segLeaves(path.slice(4));
    if (path === 'control') return ['cr0', 'cr2', 'cr3', 'cr4', 'cr8', 'xcr0', 'efer'].map((r) => ({ name: r, reg: r }));
    if (path === 'debug') return ['dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7'].map((r) => ({ name: r, reg: r }));
    if (path === 'tables') {
      return [
        { name: 'gdtr', children: 'dt:gdtr', summary: (c) => `base ${hexAddr(c.gdtrBase)} limit 0x${c.gdtrLimit.toString(16)}` },
        { name: 'idtr', children: 'dt:idtr', summary: (c) => `base ${hexAddr(c.idtrBase)} limit 0x${c.idtrLimit.toString(16)}` },
        { name: 'ldtr', reg: 'ldtr', children: 'seg:ldtr' },
        { name: 'tr', reg: 'tr', children: 'seg:tr' },
      ];
    }
    if (path.startsWith('dt:')) {
      const t = path.slice(3);
      return [{ name: 'base', reg: `${t}.base` }, { name: 'limit', reg: `${t}.limit` }];
    }
    if (path === 'msrs') return SHOWN_MSRS.map((m) => ({ name: m.name, msr: m.index }));
    return [];
  }

  private node(ctx: ScopeContext, leaf: Leaf, hex: boolean): VariableNode | undefined {
    const cpu = ctx.cpu;
    if (leaf.msr !== undefined) {
      const v = readMsr(cpu, leaf.msr);
      if (v === undefined) return undefined;
      return { name: leaf.name, value: formatValue(v, 64, hex), type: `MSR 0x${leaf.msr.toString(16)}` };
    }
    if (leaf.reg) {
      const def = findRegister(leaf.reg)!;
      const v = def.read(cpu);
      let value = formatValue(v, def.bits, hex && def.bits > 1);
      if (leaf.summary) value += `  (${leaf.summary(cpu)})`;
      return {
        name: leaf.name,
        value,
        children: leaf.children,
        evaluateName: def.name,
        memoryReference: def.pointer ? hexAddr(v) : undefined,
        type: `${def.bits}-bit register`,
        readOnly: !def.write,
      };
    }
    return { name: leaf.name, value: leaf.summary ? leaf.summary(cpu) : '', children: leaf.children, readOnly: true };
  }

  children(ctx: ScopeContext, path: string, hex: boolean): VariableNode[] {
    const out: VariableNode[] = [];
    for (const leaf of this.leaves(ctx.cpu, path)) {
      const n = this.node(ctx, leaf, hex);
      if (n) out.push(n);
    }
    return out;
  }

  set(ctx: ScopeContext, path: string, name: string, value: string, hex: boolean): VariableNode {
    const leaf = this.leaves(ctx.cpu, path).find((l) => l.name === name);
    if (!leaf || (!leaf.reg && leaf.msr === undefined)) throw new RegisterError(`'${name}' cannot be set`);
    const v = ctx.evaluate(value);
    if (leaf.msr !== undefined) {
      writeMsr(ctx.cpu, leaf.name, leaf.msr, v);
      if (leaf.msr === 0xC0000080) ctx.cpu.updateMode();
    } else {
      const def = findRegister(leaf.reg!)!;
      if (!def.write) throw new RegisterError(`${def.name} is read-only`);
      def.write(ctx.cpu, v);
    }
    return this.node(ctx, leaf, hex)!;
  }
}
