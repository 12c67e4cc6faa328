import { EARTH_RADIUS_M, haversineMetres } from './domain/geo.js';

/** A box in degrees, edges included; never crosses the antimeridian (callers split such boxes). */
interface Box {
  readonly south: number;
  readonly west: number;
  readonly north: number;
  readonly east: number;
}

/** One point found by a radius search. */
export interface NearbyPoint {
  readonly id: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly distanceM: number;
}

interface Leaf {
  readonly leaf: true;
  readonly ids: string[];
  readonly lats: number[];
  readonly lons: number[];
}

interface Branch {
  readonly leaf: false;
  /** South-west, south-east, north-west, north-east. */
  readonly children: [Node, Node, Node, Node];
  /** Points in the subtree. */
  count: number;
}

type Node = Leaf | Branch;

/** Points a leaf holds before it splits. */
const CAPACITY = 32;
/** A branch whose subtree shrinks to this many points becomes a leaf again. */
const MERGE_AT = CAPACITY / 2;
/** Splits stop here (360° / 2^28 ≈ 1.3e-6°, about 15 cm), so coincident points cannot split forever. */
const MAX_DEPTH = 28;
const RAD = Math.PI / 180;
/**
 * Radians added around a search cap's bounding box (≈ 0.6 m on the ground),
 * above the rounding error of the box and of haversine (which reaches about
 * 0.2 m near antipodes, where asin(√h) is ill-conditioned): a point the box
 * leaves out is farther than the radius by more than rounding could hide,
 * so a radius search finds exactly what a scan with haversineMetres finds.
 */
const PAD = 1e-7;

const newLeaf = (): Leaf => ({ leaf: true, ids: [], lats: [], lons: [] });

const WORLD: Box = { south: -90, west: -180, north: 90, east: 180 };

/**
 * A dynamic point quadtree over latitude and longitude: insert, move and
 * remove in O(depth), box searches that skip every quadrant outside the box
 * and take whole quadrants inside it without testing their points, and
 * radius searches that prefilter by the cap's bounding box (split at the
 * antimeridian, widened to every longitude near a pole) before measuring
 * haversine distances. Not a persistent structure: the read model owns one
 * per service instance.
 */
export class SpatialIndex {
  private root: Node = newLeaf();
  private readonly points = new Map<string, readonly [number, number]>();

  /** Points held. */
  get size(): number {
    return this.points.size;
  }

  /** The position of a point, [latitude, longitude], or undefined. */
  get(id: string): readonly [number, number] | undefined {
    return this.points.get(id);
  }

  /** Removes every point. */
  clear(): void {
    this.root = newLeaf();
    this.points.clear();
  }

  /** Adds a point, or moves it when the id is already held. Coordinates must be valid WGS84 degrees. */
  set(id: string, latitude: number, longitude: number): void {
    const held = this.points.get(id);
    if (held !== undefined) {
      if (held[0] === latitude && held[1] === longitude) return;
      this.delete(id);
    }
    this.points.set(id, [latitude, longitude]);
    this.insert(id, latitude, longitude);
  }

  /** Removes a point; false when it was not held. */
  delete(id: string): boolean {
    const held = this.points.get(id);
    if (held === undefined) return false;
    this.points.delete(id);
    const [lat, lon] = held;
    const path: Branch[] = [];
    let node = this.root;
    let { south, west, north, east } = WORLD;
    while (!node.leaf) {
      path.push(node);
      node.count--;
      const midLat = (south + north) / 2;
      const midLon = (west + east) / 2;
      const q = (lat >= midLat ? 2 : 0) + (lon >= midLon ? 1 : 0);
      if (q & 2) south = midLat;
      else north = midLat;
      if (q & 1) west = midLon;
      else east = midLon;
      node = node.children[q]!;
    }
    const at = node.ids.indexOf(id);
    const last = node.ids.length - 1;
    node.ids[at] = node.ids[last]!;
    node.lats[at] = node.lats[last]!;
    node.lons[at] = node.lons[last]!;
    node.ids.pop();
    node.lats.pop();
    node.lons.pop();
    // Collapse the highest branch that became small, so sparse regions stay shallow.
    for (let i = 0; i < path.length; i++) {
      const branch = path[i]!;
      if (branch.count > MERGE_AT) continue;
      const merged = newLeaf();
      collect(branch, merged);
      if (i === 0) this.root = merged;
      else {
        const parent = path[i - 1]!;
        parent.children[parent.children.indexOf(branch)] = merged;
      }
      break;
    }
    return true;
  }

  /**
   * Calls `visit` for every point inside the box, edges included. west > east
   * means the box crosses the antimeridian.
   */
  searchBox(
    south: number,
    west: number,
    north: number,
    east: number,
    visit: (id: string, latitude: number, longitude: number) => void,
  ): void {
    if (west <= east) {
      searchNode(this.root, WORLD, { south, west, north, east }, visit);
    } else {
      searchNode(this.root, WORLD, { south, west, north, east: 180 }, visit);
      searchNode(this.root, WORLD, { south, west: -180, north, east }, visit);
    }
  }

  /**
   * Every point within `radiusM` metres (haversine) of the centre, nearest
   * first, ties by id.
   */
  nearby(latitude: number, longitude: number, radiusM: number): NearbyPoint[] {
    const found: NearbyPoint[] = [];
    const visit = (id: string, lat: number, lon: number): void => {
      const distanceM = haversineMetres(latitude, longitude, lat, lon);
      if (distanceM <= radiusM)
        found.push({ id, latitude: lat, longitude: lon, distanceM });
    };
    for (const box of capBoxes(latitude, longitude, radiusM))
      searchNode(this.root, WORLD, box, visit);
    return found.sort(byDistance);
  }

  private insert(id: string, lat: number, lon: number): void {
    let parent: Branch | undefined;
    let quadrant = 0;
    let node = this.root;
    let depth = 0;
    let { south, west, north, east } = WORLD;
    while (!node.leaf) {
      node.count++;
      const midLat = (south + north) / 2;
      const midLon = (west + east) / 2;
      quadrant = (lat >= midLat ? 2 : 0) + (lon >= midLon ? 1 : 0);
      if (quadrant & 2) south = midLat;
      else north = midLat;
      if (quadrant & 1) west = midLon;
      else east = midLon;
      parent = node;
      node = node.children[quadrant]!;
      depth++;
    }
    node.ids.push(id);
    node.lats.push(lat);
    node.lons.push(lon);
    if (node.ids.length <= CAPACITY || depth >= MAX_DEPTH) return;
    const split = splitLeaf(node, { south, west, north, east });
    if (parent === undefined) this.root = split;
    else parent.children[quadrant] = split;
  }
}

function byDistance(a: NearbyPoint, b: NearbyPoint): number {
  return a.distanceM - b.distanceM || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function splitLeaf(leaf: Leaf, box: Box): Branch {
  const midLat = (box.south + box.north) / 2;
  const midLon = (box.west + box.east) / 2;
  const children: [Leaf, Leaf, Leaf, Leaf] = [
    newLeaf(),
    newLeaf(),
    newLeaf(),
    newLeaf(),
  ];
  for (let i = 0; i < leaf.ids.length; i++) {
    const lat = leaf.lats[i]!;
    const lon = leaf.lons[i]!;
    const child = children[(lat >= midLat ? 2 : 0) + (lon >= midLon ? 1 : 0)]!;
    child.ids.push(leaf.ids[i]!);
    child.lats.push(lat);
    child.lons.push(lon);
  }
  // A split that sends everything to one quadrant is split again on the next insert.
  return { leaf: false, children, count: leaf.ids.length };
}

function collect(node: Node, into: Leaf): void {
  if (node.leaf) {
    into.ids.push(...node.ids);
    into.lats.push(...node.lats);
    into.lons.push(...node.lons);
  } else {
    for (const child of node.children) collect(child, into);
  }
}

function visitAll(
  node: Node,
  visit: (id: string, latitude: number, longitude: number) => void,
): void {
  if (node.leaf) {
    for (let i = 0; i < node.ids.length; i++)
      visit(node.ids[i]!, node.lats[i]!, node.lons[i]!);
  } else {
    for (let i = 0; i < 4; i++) visitAll(node.children[i]!, visit);
  }
}

/** Visits the points of `node` (whose bounds are south..north × west..east) inside `box`. */
function searchNode(
  node: Node,
  bounds: Box,
  box: Box,
  visit: (id: string, latitude: number, longitude: number) => void,
): void {
  searchWithin(
    node,
    bounds.south,
    bounds.west,
    bounds.north,
    bounds.east,
    box,
    visit,
  );
}

// Bounds travel as numbers, not objects: a search visits many nodes and
// should allocate nothing per node.
function searchWithin(
  node: Node,
  south: number,
  west: number,
  north: number,
  east: number,
  box: Box,
  visit: (id: string, latitude: number, longitude: number) => void,
): void {
  if (
    north < box.south ||
    south > box.north ||
    east < box.west ||
    west > box.east
  ) {
    return;
  }
  if (
    box.south <= south &&
    north <= box.north &&
    box.west <= west &&
    east <= box.east
  ) {
    visitAll(node, visit);
    return;
  }
  if (node.leaf) {
    const { ids, lats, lons } = node;
    for (let i = 0; i < ids.length; i++) {
      const lat = lats[i]!;
      const lon = lons[i]!;
      if (
        lat >= box.south &&
        lat <= box.north &&
        lon >= box.west &&
        lon <= box.east
      )
        visit(ids[i]!, lat, lon);
    }
    return;
  }
  const midLat = (south + north) / 2;
  const midLon = (west + east) / 2;
  const { children } = node;
  searchWithin(children[0], south, west, midLat, midLon, box, visit);
  searchWithin(children[1], south, midLon, midLat, east, box, visit);
  searchWithin(children[2], midLat, west, north, midLon, box, visit);
  searchWithin(children[3], midLat, midLon, north, east, box, visit);
}

/**
 * Boxes that together cover every point within `radiusM` of the centre:
 * the spherical cap's latitude band, and its longitude span asin(sin δ /
 * cos φ) where the cap holds no pole (every longitude otherwise), split in
 * two where it crosses the antimeridian. Padded by PAD on every side.
 */
export function capBoxes(
  latitude: number,
  longitude: number,
  radiusM: number,
): Box[] {
  const delta = radiusM / EARTH_RADIUS_M;
  if (delta >= Math.PI) return [WORLD];
  const phi = latitude * RAD;
  const south = phi - delta - PAD;
  const north = phi + delta + PAD;
  const band = (west: number, east: number): Box => ({
    south: Math.max(-90, south / RAD),
    west,
    north: Math.min(90, north / RAD),
    east,
  });
  if (south <= -Math.PI / 2 || north >= Math.PI / 2) return [band(-180, 180)];
  const ratio = Math.sin(delta) / Math.cos(phi);
  // Near 1, asin amplifies rounding beyond PAD: take every longitude instead.
  if (!(ratio < 1 - 1e-9)) return [band(-180, 180)];
  const span = (Math.asin(ratio) + PAD) / RAD;
  if (span >= 180) return [band(-180, 180)];
  const west = longitude - span;
  const east = longitude + span;
  if (west < -180) return [band(west + 360, 180), band(-180, east)];
  if (east > 180) return [band(west, 180), band(-180, east - 360)];
  return [band(west, east)];
}
