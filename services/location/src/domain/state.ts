import type {
  Address,
  Coordinates,
  LocationType,
  VirtualLocation,
} from '@cim/proto/cim/location/v1/location_pb';

/** What a location that exists holds, whatever its status. */
export interface LocationData {
  readonly locationId: string;
  readonly name: string;
  readonly locationType: LocationType;
  readonly address: Address | undefined;
  readonly coordinates: Coordinates | undefined;
  readonly virtual: VirtualLocation | undefined;
  /** Empty for a root. */
  readonly parentId: string;
  readonly metadata: ReadonlyMap<string, string>;
  /** Events folded so far: the aggregate version this state stands for. */
  readonly version: number;
}

/**
 * The location aggregate, by status; archived is terminal. Plain data and a
 * Map, so it survives the runtime's structured-clone snapshots as is, and
 * every event costs O(1) (metadata is bounded at 256 entries).
 */
export type LocationState =
  | { readonly status: 'absent' }
  | (LocationData & { readonly status: 'active' })
  | (LocationData & { readonly status: 'archived' });

/** A location that exists: every status but absent. */
export type PresentLocation = Exclude<
  LocationState,
  { readonly status: 'absent' }
>;

const ABSENT: LocationState = { status: 'absent' };

/** The state before the first event. */
export const initialState = (): LocationState => ABSENT;
