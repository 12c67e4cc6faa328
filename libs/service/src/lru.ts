/**
 * A bounded map that forgets its least recently used entries. Reads refresh
 * an entry; `canEvict` may keep an entry that is still in use past the bound.
 */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    private readonly capacity: number,
    private readonly canEvict: (value: V) => boolean = () => true,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** Whether `key` is present, without refreshing it. */
  has(key: K): boolean {
    return this.map.has(key);
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.evict();
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  private evict(): void {
    let excess = this.map.size - this.capacity;
    for (const [key, value] of this.map) {
      if (excess <= 0) return;
      if (this.canEvict(value)) {
        this.map.delete(key);
        excess--;
      }
    }
  }
}
