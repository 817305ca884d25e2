/**
 * One interrupt request wire from a device to the interrupt controllers. `true` means asserted
 * (ISA lines are active high; the controllers decide whether they see an edge or a level). The
 * machine binds each device's line to `InterruptRouter.setIrq(n, level)`, so devices never know
 * which controller, or how many, listen.
 */
export type IrqLine = (asserted: boolean) => void;

/** A line nobody listens to: for devices built without interrupt wiring (tests, headless probes). */
export const NO_IRQ: IrqLine = () => {};
