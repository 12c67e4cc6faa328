import { FailureSpell, type Logger } from '@cim/observability';

/** How much client work one service instance holds at once. */
export interface AdmissionLimits {
  /** Requests (commands and queries from clients) taken and not yet answered. */
  readonly maxRequests: number;
  /** Their summed payload bytes. */
  readonly maxBytes: number;
}

/** CIM_MAX_IN_FLIGHT and CIM_MAX_IN_FLIGHT_BYTES when unset. */
export const DEFAULT_ADMISSION: AdmissionLimits = {
  maxRequests: 4096,
  maxBytes: 256 * 1024 * 1024,
};

/** Commands that may wait for one aggregate: a quarter of what the instance admits, so one hot aggregate leaves room for the rest. */
export function queuedPerAggregate(limits: AdmissionLimits): number {
  return Math.max(1, Math.floor(limits.maxRequests / 4));
}

/** A shed request is logged when shedding starts, then at most this often while it lasts. */
const REMIND_EVERY_MS = 60_000;

/**
 * Load shedding at the door. Past its limits an instance answers a client
 * request at once with UNAVAILABLE instead of queueing it: a burst larger
 * than the service can take then costs a quick refusal per request, not
 * memory and latency for every request behind it (a million AddNode sent at
 * once otherwise held 2.3 GB and answered the last after three minutes,
 * long after its caller had given up). Nothing of a refused request is
 * applied, so retrying it, with the same command id, is safe. One request
 * is always admitted when none is in flight, however large.
 */
export class Admission {
  private requests = 0;
  private bytes = 0;
  private readonly spell: FailureSpell;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly log: Logger,
    now: () => number = Date.now,
  ) {
    this.spell = new FailureSpell(REMIND_EVERY_MS, now);
  }

  /** Requests in flight and their summed bytes. */
  get inFlight(): { readonly requests: number; readonly bytes: number } {
    return { requests: this.requests, bytes: this.bytes };
  }

  /** Takes a request of `size` bytes, or answers false: the caller refuses it. */
  admit(size: number): boolean {
    if (
      this.requests > 0 &&
      (this.requests >= this.limits.maxRequests ||
        this.bytes + size > this.limits.maxBytes)
    ) {
      this.shed();
      return false;
    }
    this.requests++;
    this.bytes += size;
    // Ended once the load is well below the limits, so that a sustained
    // overload, which admits one request per answer, is one spell.
    if (
      this.spell.ongoing &&
      this.requests <= this.limits.maxRequests / 2 &&
      this.bytes <= this.limits.maxBytes / 2
    )
      this.recovered();
    return true;
  }

  /** Gives back what `admit(size)` took, once its request is answered. */
  release(size: number): void {
    this.requests--;
    this.bytes -= size;
  }

  private shed(): void {
    const { log, failures, lastedMs } = this.spell.failed();
    if (!log) return;
    this.log.warn(
      {
        inFlight: this.requests,
        inFlightBytes: this.bytes,
        ...this.limits,
        refused: failures,
        lastedMs,
      },
      lastedMs === 0
        ? 'overloaded: refusing requests with UNAVAILABLE'
        : 'still overloaded: refusing requests with UNAVAILABLE',
    );
  }

  private recovered(): void {
    const ended = this.spell.succeeded();
    if (ended === undefined) return;
    this.log.info(
      { refused: ended.failures, lastedMs: ended.lastedMs },
      'taking requests again after overload',
    );
  }
}
