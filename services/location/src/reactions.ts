import { create } from '@bufbuild/protobuf';
import {
  LocationEventSchema,
  VerifyLocationHierarchySchema,
  type LocationCommand,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import type { ForeignEventMeta, Reaction } from '@cim/service';

/**
 * After every ParentLocationSet, the service checks its own hierarchy:
 * VerifyLocationHierarchy for the re-parented location, to be decided once
 * the read model holds the version the event made. Its command id derives
 * from the event id, so a redelivered event is checked once.
 */
export const verifyHierarchyReaction: Reaction<LocationCommand> = {
  name: 'verify-hierarchy',
  source: { domain: 'location', event: LocationEventSchema },
  events: ['ParentLocationSet'],
  react: (event, meta: ForeignEventMeta) => {
    const { body } = event as LocationEvent;
    if (body.case !== 'parentSet') return [];
    return [
      {
        case: 'verifyHierarchy',
        value: create(VerifyLocationHierarchySchema, {
          locationId: body.value.locationId || meta.aggregateId,
          observedVersion: meta.version,
        }),
      },
    ];
  },
};
