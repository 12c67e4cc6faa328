import { ConceptualspacesQueryService } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { countCommits, sendQuery, streamPosition } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';

const qry = ConceptualspacesQueryService.method;

/**
 * A space as stored and as answered: its commits, SpaceInfo and
 * ListConcepts, read once the read model holds every commit stored so far.
 * Equal before and after something means it changed nothing.
 */
export async function spaceState(
  nc: NatsConnection,
  conceptualspacesId: string,
) {
  const minPosition = await streamPosition(nc, 'conceptualspaces');
  return {
    messages: await countCommits(nc, 'conceptualspaces', conceptualspacesId),
    info: await sendQuery(
      nc,
      qry.spaceInfo,
      { conceptualspacesId },
      { minPosition },
    ),
    concepts: await sendQuery(
      nc,
      qry.listConcepts,
      { conceptualspacesId },
      { minPosition },
    ),
  };
}
