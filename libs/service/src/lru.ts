interface Node<K, V> {
  readonly key: K;
  value: V;
  /** Towards the least recently used end. */
  older: Node<K, V> | undefined;
  /** Towards the most recently used end. */
  newer: Node<K, V> | undefined;
}

/**
 * A bounded map that forgets its least recently used entries. Reads refresh
 * an entry; `canEvict` may keep an entry that is still in use past the bound.
 * Entries sit in a doubly linked list in use order, so a read moves one node
 * instead of deleting and re-inserting a map key (commands read on every call).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, Node<K, V>>();
  private oldest: Node<K, V> | undefined;
  private newest: Node<K, V> | undefined;

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

  /** The value of `key`, without refreshing it. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  get(key: K): V | undefined {
    const node = this.map.get(key);
    if (node === undefined) return undefined;
    this.touch(node);
    return node.value;
  }

  set(key: K, value: V): void {
    const node = this.map.get(key);
    if (node !== undefined) {
      node.value = value;
      this.touch(node);
      return;
    }
    const added: Node<K, V> = {
      key,
      value,
      older: this.newest,
      newer: undefined,
    };
    if (this.newest === undefined) this.oldest = added;
    else this.newest.newer = added;
    this.newest = added;
    this.map.set(key, added);
    if (this.map.size > this.capacity) this.evict();
  }

  delete(key: K): void {
    const node = this.map.get(key);
    if (node === undefined) return;
    this.map.delete(key);
    this.unlink(node);
  }

  clear(): void {
    this.map.clear();
    this.oldest = undefined;
    this.newest = undefined;
  }

  /** Makes `node` the most recently used. */
  private touch(node: Node<K, V>): void {
    if (node === this.newest) return;
    this.unlink(node);
    node.older = this.newest;
    node.newer = undefined;
    this.newest!.newer = node;
    this.newest = node;
  }

  private unlink(node: Node<K, V>): void {
    if (node.older === undefined) this.oldest = node.newer;
    else node.older.newer = node.newer;
    if (node.newer === undefined) this.newest = node.older;
    else node.newer.older = node.older;
    node.older = undefined;
    node.newer = undefined;
  }

  private evict(): void {
    let excess = this.map.size - this.capacity;
    let node = this.oldest;
    while (excess > 0 && node !== undefined) {
      const next = node.newer;
      if (this.canEvict(node.value)) {
        this.map.delete(node.key);
        this.unlink(node);
        excess--;
      }
      node = next;
    }
  }
}
