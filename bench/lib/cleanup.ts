/**
 * What a benchmark run has to undo (the references it started, the bench stack, its work folder), registered as the
 * run goes and undone once, in reverse order, whether the run ends, fails or is interrupted.
 */
export class CleanupStack {
  readonly #steps: { name: string; undo: () => Promise<void> }[] = [];
  readonly #log: (line: string) => void;
  #closed: Promise<void> | undefined;

  constructor(log: (line: string) => void) {
    this.#log = log;
  }

  /** Registers a step; `name` says in the log what failed when it does. */
  defer(name: string, undo: () => Promise<void>): void {
    if (this.#closed) throw new Error(`cleanup already closed; cannot add "${name}"`);
    this.#steps.push({ name, undo });
  }

  /** Undoes every step, the last registered first, each in its own try so one failure skips none; idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#undoAll();
    return this.#closed;
  }

  async #undoAll(): Promise<void> {
    for (const step of [...this.#steps].reverse()) {
      try {
        await step.undo();
      } catch (error) {
        this.#log(`cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}
