/**
 * Counts events over a sliding window: how many happened in the last
 * `windowMs`, in whole seconds, rounded so that it never counts fewer. One
 * counter per second in a ring; adding costs a clock read and an increment.
 */
export class RecentCount {
  private readonly perSecond: Float64Array;
  /** The second the newest counter is for. */
  private second = -Infinity;

  constructor(
    windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // The current, partial second plus every whole second the window reaches back.
    this.perSecond = new Float64Array(Math.ceil(windowMs / 1000) + 1);
  }

  add(): void {
    this.advance();
    this.perSecond[this.second % this.perSecond.length]! += 1;
  }

  /** Events added within the window that ends now. */
  total(): number {
    this.advance();
    let sum = 0;
    for (const count of this.perSecond) sum += count;
    return sum;
  }

  private advance(): void {
    const second = Math.floor(this.now() / 1000);
    // A clock that steps back keeps counting into the newest second.
    if (second <= this.second) return;
    const n = this.perSecond.length;
    if (second - this.second >= n) this.perSecond.fill(0);
    else
      for (let s = this.second + 1; s <= second; s++) this.perSecond[s % n] = 0;
    this.second = second;
  }
}
