import {
  LocationCommandSchema,
  LocationEventSchema,
  LocationQueryService,
} from '@cim/proto/cim/location/v1/location_pb';
import { defineService, type ServiceDefinition } from '@cim/service';
import { locationDecider } from './domain/index.js';
import { prepareCommand } from './prepare.js';
import { locationQueries } from './queries.js';
import { verifyHierarchyReaction } from './reactions.js';
import { LocationReadModel } from './read-model.js';

/**
 * The location domain service: a value; `start()` runs an instance. Each
 * instance gets its own read model, which the projection keeps indexed, the
 * queries read and `prepare` consults for facts about other locations.
 */
export const locationService: ServiceDefinition = defineService(() => {
  const model = new LocationReadModel();
  return {
    domain: 'location',
    decider: locationDecider,
    schemas: { command: LocationCommandSchema, event: LocationEventSchema },
    projection: model.project,
    queries: {
      service: LocationQueryService,
      handlers: (rows) => locationQueries(model.bind(rows)),
    },
    prepare: (command, io, deadline) =>
      prepareCommand(command, model, io, deadline),
    reactions: [verifyHierarchyReaction],
  };
});
