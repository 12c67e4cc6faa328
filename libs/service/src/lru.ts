interface Node<K, V> {
  readonly key: K;
  value: V;
  /** What `weigh` answered for the value when it was last set or reweighed. */
  weight: number;
  /** Towards the least recently used end. */
  older: Node<K, V> | undefined;
  /** Towards the most recently used end. */
  newer: Node<K, V> | undefined;
}

/** A bound on the summed weight of the entries, besides their number. */
export interface LruWeights<V> {
  /** Most total weight kept. */
  readonly max: number;
  /** An entry's weight, asked when it is set and when it is reweighed. */
  readonly weigh: (value: V) => number;
}

/**
 * A bounded map that forgets its least recently used entries: past
 * `capacity` entries, or past `weights.max` in summed weight. Reads refresh
 * an entry; `canEvict` may keep an entry that is still in use past the bound.
 * Entries sit in a doubly linked list in use order, so a read moves one node
 * instead of deleting and re-inserting a map key (commands read on every call).
 */
export class Lru<K, V> {
  private readonly map = new Map<K, Node<K, V>>();
  private oldest: Node<K, V> | undefined;
  private newest: Node<K, V> | undefined;
  private totalWeight = 0;

  constructor(
    private readonly capacity: number,
    private readonly canEvict: (value: V) => boolean = () => true,
    private readonly weights?: LruWeights<V>,
  ) {}

  get size(): number {
    return this.map.size;
  }

  /** The summed weight of the entries (0 without weights). */
  get weight(): number {
    return this.totalWeight;
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
      this.reweighNode(node);
      return;
    }
    const added: Node<K, V> = {
      key,
      value,
      weight: 0,
      older: this.newest,
      newer: undefined,
    };
    if (this.newest === undefined) this.oldest = added;
    else this.newest.newer = added;
    this.newest = added;
    this.map.set(key, added);
    this.reweighNode(added);
    if (this.map.size > this.capacity) this.evict();
  }

  /** Weighs an entry again, after its value changed in place, and forgets others if it outgrew the bound. */
  reweigh(key: K): void {
    const node = this.map.get(key);
    if (node !== undefined) this.reweighNode(node);
  }

  delete(key: K): void {
    const node = this.map.get(key);
    if (node !== undefined) this.remove(node);
  }

  clear(): void {
    this.map.clear();
    this.oldest = undefined;
    this.newest = undefined;
    this.totalWeight = 0;
  }

  private remove(node: Node<K, V>): void {
    this.map.delete(node.key);
    this.unlink(node);
    this.totalWeight -= node.weight;
  }

  private reweighNode(node: Node<K, V>): void {
    if (this.weights === undefined) return;
    const weight = this.weights.weigh(node.value);
    this.totalWeight += weight - node.weight;
    node.weight = weight;
    if (this.totalWeight > this.weights.max) this.evict();
  }

  private overBound(): boolean {
    return (
      this.map.size > this.capacity ||
      (this.weights !== undefined && this.totalWeight > this.weights.max)
    );
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
    let node = this.oldest;
    while (node !== undefined && this.overBound()) {
      const next = node.newer;
      if (this.canEvict(node.value)) this.remove(node);
      node = next;
    }
  }
}
