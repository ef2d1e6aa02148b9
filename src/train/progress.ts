/** Progress lines on long work: at most one every `everySeconds`, with throughput and ETA. */
export class Progress {
  private readonly start = performance.now();
  private last = performance.now();

  constructor(
    private readonly total: number,
    private readonly everySeconds: number,
    private readonly log: (msg: string) => void,
  ) {}

  due(done: number): boolean {
    return done === this.total || (this.everySeconds > 0 && performance.now() - this.last >= this.everySeconds * 1000);
  }

  report(done: number, detail: string, samples: number): void {
    const now = performance.now();
    this.last = now;
    const secs = (now - this.start) / 1000;
    const eta = done < this.total ? ` eta ${formatSeconds((secs / done) * (this.total - done))}` : '';
    this.log(`step ${done}/${this.total} ${detail} | ${Math.round(samples / secs).toLocaleString('en')} samples/s${eta}`);
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
