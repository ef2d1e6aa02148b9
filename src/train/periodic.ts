/**
 * What falls due every K steps: evaluations, drift checks, checkpoints and metrics records. They fall due on
 * their step but run at the first step after it where the strategy says the ranks meet with identical replicas
 * (every step, except between local SGD's averaging points, where no rank waits for another).
 */
export type PeriodicWork = 'eval' | 'check' | 'save' | 'metrics';

export class Periodic {
  private readonly due: Record<PeriodicWork, boolean> = { eval: false, check: false, save: false, metrics: false };

  constructor(private readonly every: Record<PeriodicWork, number>) {}

  /** Marks what falls due after `step` (1-based); metrics fall due after the last step too. */
  tick(step: number, last: boolean): void {
    for (const work of ['eval', 'check', 'save', 'metrics'] as const) {
      if (this.every[work] > 0 && step % this.every[work] === 0) this.due[work] = true;
    }
    if (last) this.due.metrics = true;
  }

  /** Whether `work` is due and may run now; when so, it is no longer due. */
  take(work: PeriodicWork, now: boolean): boolean {
    if (!this.due[work] || !now) return false;
    this.due[work] = false;
    return true;
  }
}
