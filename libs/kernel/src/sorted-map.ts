// A persistent (immutable) ordered map from strings to values: a
// weight-balanced tree with Adams' balance (delta 3, ratio 2, the parameters
// Haskell's Data.Map uses and Straka proved correct). An update copies only
// the O(log n) nodes on one root-to-leaf path and shares the rest, so a state
// that holds such maps can be evolved event by event without copying a whole
// graph, and every earlier state stays valid and unchanged. Depth stays
// below 2·log2(n), so the recursive update functions are safe for any size.
// The class holds its tree in a plain property (not a #private field) so that
// a structured clone keeps the tree and `SortedMap.revive` can restore it.

interface TreeNode<V> {
  readonly key: string;
  readonly value: V;
  readonly size: number;
  readonly left: Tree<V>;
  readonly right: Tree<V>;
}

type Tree<V> = TreeNode<V> | undefined;

const DELTA = 3;
const RATIO = 2;

const sizeOf = <V>(tree: Tree<V>): number =>
  tree === undefined ? 0 : tree.size;

function node<V>(
  key: string,
  value: V,
  left: Tree<V>,
  right: Tree<V>,
): TreeNode<V> {
  return { key, value, size: sizeOf(left) + sizeOf(right) + 1, left, right };
}

function rotateLeft<V>(
  key: string,
  value: V,
  left: Tree<V>,
  right: TreeNode<V>,
): TreeNode<V> {
  const { left: rl, right: rr } = right;
  if (rl !== undefined && sizeOf(rl) >= RATIO * sizeOf(rr)) {
    return node(
      rl.key,
      rl.value,
      node(key, value, left, rl.left),
      node(right.key, right.value, rl.right, rr),
    );
  }
  return node(right.key, right.value, node(key, value, left, rl), rr);
}

function rotateRight<V>(
  key: string,
  value: V,
  left: TreeNode<V>,
  right: Tree<V>,
): TreeNode<V> {
  const { left: ll, right: lr } = left;
  if (lr !== undefined && sizeOf(lr) >= RATIO * sizeOf(ll)) {
    return node(
      lr.key,
      lr.value,
      node(left.key, left.value, ll, lr.left),
      node(key, value, lr.right, right),
    );
  }
  return node(left.key, left.value, ll, node(key, value, lr, right));
}

function balance<V>(
  key: string,
  value: V,
  left: Tree<V>,
  right: Tree<V>,
): TreeNode<V> {
  const sl = sizeOf(left);
  const sr = sizeOf(right);
  if (sl + sr > 1) {
    if (right !== undefined && sr > DELTA * sl) {
      return rotateLeft(key, value, left, right);
    }
    if (left !== undefined && sl > DELTA * sr) {
      return rotateRight(key, value, left, right);
    }
  }
  return node(key, value, left, right);
}

function insert<V>(tree: Tree<V>, key: string, value: V): TreeNode<V> {
  if (tree === undefined) return node(key, value, undefined, undefined);
  if (key < tree.key) {
    return balance(
      tree.key,
      tree.value,
      insert(tree.left, key, value),
      tree.right,
    );
  }
  if (key > tree.key) {
    return balance(
      tree.key,
      tree.value,
      tree.left,
      insert(tree.right, key, value),
    );
  }
  return tree.value === value ? tree : node(key, value, tree.left, tree.right);
}

function popMin<V>(tree: TreeNode<V>): { min: TreeNode<V>; rest: Tree<V> } {
  if (tree.left === undefined) return { min: tree, rest: tree.right };
  const { min, rest } = popMin(tree.left);
  return { min, rest: balance(tree.key, tree.value, rest, tree.right) };
}

function popMax<V>(tree: TreeNode<V>): { max: TreeNode<V>; rest: Tree<V> } {
  if (tree.right === undefined) return { max: tree, rest: tree.left };
  const { max, rest } = popMax(tree.right);
  return { max, rest: balance(tree.key, tree.value, tree.left, rest) };
}

function glue<V>(left: Tree<V>, right: Tree<V>): Tree<V> {
  if (left === undefined) return right;
  if (right === undefined) return left;
  if (left.size > right.size) {
    const { max, rest } = popMax(left);
    return balance(max.key, max.value, rest, right);
  }
  const { min, rest } = popMin(right);
  return balance(min.key, min.value, left, rest);
}

function remove<V>(tree: Tree<V>, key: string): Tree<V> {
  if (tree === undefined) return undefined;
  if (key < tree.key) {
    const left = remove(tree.left, key);
    return left === tree.left
      ? tree
      : balance(tree.key, tree.value, left, tree.right);
  }
  if (key > tree.key) {
    const right = remove(tree.right, key);
    return right === tree.right
      ? tree
      : balance(tree.key, tree.value, tree.left, right);
  }
  return glue(tree.left, tree.right);
}

function mapTree<V>(tree: Tree<V>, value: (cloned: V) => V): Tree<V> {
  if (tree === undefined) return undefined;
  return {
    key: tree.key,
    value: value(tree.value),
    size: tree.size,
    left: mapTree(tree.left, value),
    right: mapTree(tree.right, value),
  };
}

/**
 * An immutable map with string keys kept in code-unit order. `set` and
 * `delete` return a new map in O(log n) and leave the receiver unchanged;
 * iteration is in key order and can start after a given key.
 */
export class SortedMap<V> {
  private constructor(private readonly root: Tree<V>) {}

  /** The empty map. */
  static empty<V>(): SortedMap<V> {
    return new SortedMap<V>(undefined);
  }

  /** A map holding the given entries; later duplicates win. */
  static of<V>(entries: Iterable<readonly [string, V]>): SortedMap<V> {
    let root: Tree<V>;
    for (const [key, value] of entries) root = insert(root, key, value);
    return new SortedMap(root);
  }

  /**
   * Restores a map from its structured clone (a node:v8 snapshot keeps the
   * tree but not the class), reviving each value with `value` when given. The
   * tree keeps its shape: O(1) without `value`, O(n) with it.
   */
  static revive<V>(cloned: unknown, value?: (cloned: V) => V): SortedMap<V> {
    const root = (cloned as { readonly root: Tree<V> }).root;
    return new SortedMap(value === undefined ? root : mapTree(root, value));
  }

  /** Number of entries, O(1). */
  get size(): number {
    return sizeOf(this.root);
  }

  get(key: string): V | undefined {
    let tree = this.root;
    while (tree !== undefined) {
      if (key < tree.key) tree = tree.left;
      else if (key > tree.key) tree = tree.right;
      else return tree.value;
    }
    return undefined;
  }

  has(key: string): boolean {
    let tree = this.root;
    while (tree !== undefined) {
      if (key < tree.key) tree = tree.left;
      else if (key > tree.key) tree = tree.right;
      else return true;
    }
    return false;
  }

  /** The map with `key` bound to `value`; the receiver itself when nothing changes. */
  set(key: string, value: V): SortedMap<V> {
    const root = insert(this.root, key, value);
    return root === this.root ? this : new SortedMap(root);
  }

  /** The map without `key`; the receiver itself when the key is absent. */
  delete(key: string): SortedMap<V> {
    const root = remove(this.root, key);
    return root === this.root ? this : new SortedMap(root);
  }

  /** Entries in key order, starting after `after` (exclusive) when given. */
  *entries(after?: string): Generator<[string, V], void, undefined> {
    const stack: TreeNode<V>[] = [];
    let tree = this.root;
    while (tree !== undefined) {
      if (after === undefined || tree.key > after) {
        stack.push(tree);
        tree = tree.left;
      } else {
        tree = tree.right;
      }
    }
    for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
      yield [top.key, top.value];
      for (let next = top.right; next !== undefined; next = next.left) {
        stack.push(next);
      }
    }
  }

  /** Keys in order, starting after `after` (exclusive) when given. */
  *keys(after?: string): Generator<string, void, undefined> {
    for (const [key] of this.entries(after)) yield key;
  }

  /** Values in key order, starting after `after` (exclusive) when given. */
  *values(after?: string): Generator<V, void, undefined> {
    for (const [, value] of this.entries(after)) yield value;
  }

  [Symbol.iterator](): Generator<[string, V], void, undefined> {
    return this.entries();
  }
}
