import { isSubjectToken } from '@cim/kernel';
import type { LocationCommand } from '@cim/proto/cim/location/v1/location_pb';
import type { ServiceIo } from '@cim/service';
import type { LocationReadModel } from './read-model.js';

/**
 * Fills the facts a command needs about other locations from the read model,
 * so that `decide` stays pure and sees one aggregate: the parent's ancestry
 * for DefineLocation and SetParentLocation, live children for
 * ArchiveLocation, and the location's own link with its parent's ancestry
 * for VerifyLocationHierarchy (after waiting for observed_version). Facts a
 * client sent are always replaced.
 *
 * Before reading them, the read model catches up with the stream as it was
 * when the command arrived (`io.settled`), so a command sees every change
 * acknowledged before it, whichever instance wrote it; DefineLocation and
 * SetParentLocation that name parent_min_version wait for that version of
 * the parent instead. Changes decided at the same time are not seen: two
 * re-parentings decided at once can each pass their check and together
 * close a cycle. VerifyLocationHierarchy, sent by the service after every
 * ParentLocationSet, breaks such a cycle afterwards, and the queries report
 * a cycle and never loop while it lasts.
 */
export async function prepareCommand(
  command: LocationCommand,
  model: LocationReadModel,
  io: Pick<ServiceIo, 'settled' | 'reached'>,
  /** The command's caller's deadline: no wait outlasts it. */
  deadline?: number,
): Promise<LocationCommand> {
  const { body } = command;
  switch (body.case) {
    case 'define':
    case 'setParent': {
      const { value } = body;
      // No parent, or an id decide refuses anyway: nothing to look up or wait for.
      if (!isSubjectToken(value.parentId)) {
        value.parentFacts = undefined;
        return command;
      }
      if (value.parentMinVersion > 0n)
        await io.reached(value.parentId, value.parentMinVersion, deadline);
      else await io.settled(deadline);
      value.parentFacts = model.parentFacts(value.parentId);
      return command;
    }
    case 'archive':
      await io.settled(deadline);
      body.value.children = model.childFacts(body.value.locationId);
      return command;
    case 'verifyHierarchy': {
      const { value } = body;
      await io.reached(value.locationId, value.observedVersion, deadline);
      value.self = model.selfLink(value.locationId);
      value.parentFacts =
        value.self === undefined || value.self.parentId === ''
          ? undefined
          : model.parentFacts(value.self.parentId);
      return command;
    }
    case 'update':
    case 'removeParent':
    case 'addMetadata':
    case 'validateContext':
    case undefined:
      return command;
  }
}
