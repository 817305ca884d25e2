import { Machine, type MachineOptions } from './machine';
import { loadImage, type LoadOptions } from './loaders';
import type { LoadPlan } from './loaders/loadPlan';

/**
 * Builds a machine and places an image in it: what the CLI's `run` and the debug adapter's launch
 * both do before the first instruction. Anything wrong with the image or the options throws the
 * loaders' LoadError (the caller words it for its user); nothing here touches files.
 */

export interface BootOptions extends MachineOptions, Omit<LoadOptions, 'ramBytes'> {}

export interface BootedMachine {
  machine: Machine;
  plan: LoadPlan;
}

export function bootMachine(image: Uint8Array, opts: BootOptions): BootedMachine {
  const machine = new Machine(opts);
  const plan = loadImage(image, {
    format: opts.format,
    loadAddress: opts.loadAddress,
    entry: opts.entry,
    mode: opts.mode,
    ramBytes: machine.ramBytes,
    cmdline: opts.cmdline,
    modules: opts.modules,
  });
  machine.load(plan);
  return { machine, plan };
}
