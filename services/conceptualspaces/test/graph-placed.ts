import { DomainError, ErrorCode } from '@cim/kernel';
import {
  ConceptualspacesQueryService,
  type GraphFeaturesResponse,
} from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { eventually, sendQuery } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { GRAPH_SPACE_ID } from '../src/reactions.js';

/** Resolves with the graph space's features of `graphId` once they reflect its `version`. */
export function graphPlacedAt(
  nc: NatsConnection,
  graphId: string,
  version: bigint,
): Promise<GraphFeaturesResponse> {
  return eventually(async () => {
    const features = await sendQuery(
      nc,
      ConceptualspacesQueryService.method.graphFeatures,
      { conceptualspacesId: GRAPH_SPACE_ID, graphId },
    ).catch((e: unknown) => {
      // NOT_FOUND until the space and the graph's first change exist.
      if (DomainError.is(e) && e.code === ErrorCode.NOT_FOUND) return undefined;
      throw e;
    });
    return features?.appliedGraphVersion === version ? features : undefined;
  }, `graph ${graphId} at version ${version}`);
}
