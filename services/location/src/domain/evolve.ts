import {
  LocationType,
  type LocationEvent,
  type LocationUpdated,
} from '@cim/proto/cim/location/v1/location_pb';
import type { LocationData, LocationState, PresentLocation } from './state.js';

/**
 * Folds one event into the state. Total: an event that does not fit the
 * state (or comes from a newer schema) changes nothing but the version.
 */
export function evolve(
  state: LocationState,
  { body }: LocationEvent,
): LocationState {
  if (body.case === 'defined') {
    if (state.status !== 'absent') return counted(state);
    const { value } = body;
    return {
      status: 'active',
      locationId: value.locationId,
      name: value.name,
      locationType: value.locationType,
      address: value.address,
      coordinates: value.coordinates,
      virtual: value.virtual,
      parentId: value.parentId,
      metadata: new Map(Object.entries(value.metadata)),
      version: 1,
    };
  }
  if (state.status === 'absent') return state;
  switch (body.case) {
    case 'updated':
      return counted({ ...state, ...updated(state, body.value) });
    case 'parentSet':
      return counted({ ...state, parentId: body.value.parentId });
    case 'parentRemoved':
      return counted({ ...state, parentId: '' });
    case 'metadataAdded': {
      const metadata = new Map(state.metadata);
      for (const [key, value] of Object.entries(body.value.entries))
        metadata.set(key, value);
      return counted({ ...state, metadata });
    }
    case 'archived':
      return counted({ ...state, status: 'archived' });
    case 'validated':
    case undefined:
      // Nothing to change but the version, which every event advances.
      return counted(state);
  }
}

function counted(state: PresentLocation): PresentLocation {
  return { ...state, version: state.version + 1 };
}

/** The attributes an update changes (shared with the projection). */
export function updated(
  current: Pick<
    LocationData,
    'name' | 'locationType' | 'address' | 'coordinates' | 'virtual'
  >,
  change: LocationUpdated,
): Pick<
  LocationData,
  'name' | 'locationType' | 'address' | 'coordinates' | 'virtual'
> {
  return {
    name: change.name ?? current.name,
    locationType:
      change.locationType === LocationType.UNSPECIFIED
        ? current.locationType
        : change.locationType,
    address: change.addressCleared
      ? undefined
      : (change.address ?? current.address),
    coordinates: change.coordinatesCleared
      ? undefined
      : (change.coordinates ?? current.coordinates),
    virtual: change.virtualCleared
      ? undefined
      : (change.virtual ?? current.virtual),
  };
}
