/**
 * Gives equal strings one instance. A structured clone read back with
 * node:v8 (a snapshot) holds a separate copy of a string for every place it
 * was written: an id kept as a map key, in a sorted index and in its record
 * comes back as three strings where the live read model had one. Interning
 * a snapshot's rows as they load keeps a restarted service's heap the size
 * it was before the restart.
 */
export class StringInterner {
  private readonly strings = new Map<string, string>();

  /** The instance of `value` seen first. */
  intern(value: string): string {
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    this.strings.set(value, value);
    return value;
  }

  /**
   * Interns, in place, every string inside `value`: array elements, the
   * property values of plain objects, Map keys and values, Set members.
   * Objects reached twice are walked once (shared objects and cycles stay as
   * they are); other class instances, typed arrays and dates are left alone.
   * Answers `value`, interned itself when it is a string.
   */
  internAll<T>(value: T): T {
    return this.walk(value, new Set()) as T;
  }

  private walk(value: unknown, seen: Set<object>): unknown {
    if (typeof value === 'string') return this.intern(value);
    if (typeof value !== 'object' || value === null || seen.has(value))
      return value;
    seen.add(value);
    // Tags, not instanceof: node:v8 builds the objects it reads in its own realm.
    switch (Object.prototype.toString.call(value)) {
      case '[object Array]': {
        const array = value as unknown[];
        for (let i = 0; i < array.length; i++)
          array[i] = this.walk(array[i], seen);
        break;
      }
      case '[object Map]': {
        const map = value as Map<unknown, unknown>;
        const entries = [...map];
        map.clear();
        for (const [k, v] of entries)
          map.set(this.walk(k, seen), this.walk(v, seen));
        break;
      }
      case '[object Set]': {
        const set = value as Set<unknown>;
        const members = [...set];
        set.clear();
        for (const m of members) set.add(this.walk(m, seen));
        break;
      }
      case '[object Object]':
        if (isPlainObject(value)) {
          const record = value as Record<string, unknown>;
          for (const key of Object.keys(record))
            record[key] = this.walk(record[key], seen);
        }
        break;
    }
    return value;
  }
}

/** An object literal's kind, in any realm: its prototype is an Object.prototype, or null. */
function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto === null || Object.getPrototypeOf(proto) === null;
}
