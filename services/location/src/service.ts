import {
  LocationCommandSchema,
  LocationEventSchema,
  LocationQueryService,
} from '@cim/proto/cim/location/v1/location_pb';
import {
  defineService,
  ephemeralKeyring,
  type Keyring,
  type ServiceDefinition,
} from '@cim/service';
import { locationDecider } from './domain/index.js';
import { prepareCommand } from './prepare.js';
import { locationQueries } from './queries.js';
import { verifyHierarchyReaction } from './reactions.js';
import { LocationReadModel } from './read-model.js';

/**
 * The location domain service: a value; `start()` runs an instance. Each
 * instance gets its own read model, which the projection keeps indexed, the
 * queries read and `prepare` consults for facts about other locations. The
 * runtime hands the rows to the query factory only, so the definition is
 * made per start; like defineService, it keeps one development keyring for
 * every start in this process that brings none, so instances and restarts
 * accept each other's commits.
 */
export const locationService: ServiceDefinition = defineLocationService();

function defineLocationService(): ServiceDefinition {
  let developmentKeyring: Keyring | undefined;
  return {
    domain: 'location',
    start: (options) => {
      const model = new LocationReadModel();
      return defineService({
        domain: 'location',
        decider: locationDecider,
        schemas: { command: LocationCommandSchema, event: LocationEventSchema },
        projection: model.project,
        queries: {
          service: LocationQueryService,
          handlers: (rows) => locationQueries(model.bind(rows)),
        },
        prepare: (command) => prepareCommand(command, model),
        reactions: [verifyHierarchyReaction],
      }).start({
        ...options,
        keyring: options.keyring ?? (developmentKeyring ??= ephemeralKeyring()),
      });
    },
  };
}
