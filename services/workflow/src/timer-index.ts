import { SortedIndex, type SortedMap } from '@cim/kernel';
import type { Rows } from '@cim/service';
import type { WorkflowRow } from './projection.js';

/** One armed timer: workflow, step, and when it is due (Unix ms). */
export type ArmedTimer = readonly [
  workflowId: string,
  stepId: string,
  dueAtMs: number,
];

/** Digits of a due time in an index key: Unix ms fit in 16 until the year 318857. */
const DUE_DIGITS = 16;

/**
 * Every workflow's armed timers (the `timers` of its row) in due order, so
 * that the timer schedule visits only timers that are due instead of every
 * workflow on every tick. The projection tells it each row's timers before
 * and after a fold; rows it never saw (loaded from a snapshot) are read once,
 * on the first look for due timers.
 */
export class TimerIndex {
  /** By due time, then workflow and step. */
  private readonly byDue = SortedIndex.empty<ArmedTimer>();
  /** The index key of each armed timer, by workflow and step. */
  private readonly keys = new Map<string, string>();
  private seeded = false;

  /** Follows one fold: the workflow's timers were `before` and are now `after`. */
  update(
    workflowId: string,
    before: SortedMap<number> | undefined,
    after: SortedMap<number> | undefined,
  ): void {
    if (before === after) return;
    if (before !== undefined) {
      for (const [stepId, dueAtMs] of before.entries())
        if (after?.get(stepId) !== dueAtMs) this.remove(workflowId, stepId);
    }
    if (after !== undefined) {
      for (const [stepId, dueAtMs] of after.entries())
        this.add(workflowId, stepId, dueAtMs);
    }
  }

  /** The armed timers due at `nowMs`, earliest first; `rows` are read once, the first time. */
  *due(rows: Rows<WorkflowRow>, nowMs: number): Generator<ArmedTimer> {
    if (!this.seeded) {
      for (const [workflowId, row] of rows.entries())
        this.update(workflowId, undefined, row.timers);
      this.seeded = true;
    }
    for (const timer of this.byDue.values()) {
      if (timer[2] > nowMs) return;
      yield timer;
    }
  }

  /** Armed timers held. */
  get size(): number {
    return this.keys.size;
  }

  private add(workflowId: string, stepId: string, dueAtMs: number): void {
    const id = `${workflowId}\u0000${stepId}`;
    const key = `${String(Math.max(0, Math.floor(dueAtMs))).padStart(DUE_DIGITS, '0')}\u0000${id}`;
    const held = this.keys.get(id);
    if (held === key) return;
    if (held !== undefined) this.byDue.delete(held);
    this.keys.set(id, key);
    this.byDue.set(key, [workflowId, stepId, dueAtMs]);
  }

  private remove(workflowId: string, stepId: string): void {
    const id = `${workflowId}\u0000${stepId}`;
    const held = this.keys.get(id);
    if (held === undefined) return;
    this.keys.delete(id);
    this.byDue.delete(held);
  }
}
