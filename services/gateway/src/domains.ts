import type { DescFile, DescService } from '@bufbuild/protobuf';
import { file_cim_conceptualspaces_v1_conceptualspaces } from '@cim/proto/cim/conceptualspaces/v1/conceptualspaces_pb';
import { file_cim_document_v1_document } from '@cim/proto/cim/document/v1/document_pb';
import { file_cim_graph_v1_graph } from '@cim/proto/cim/graph/v1/graph_pb';
import { file_cim_location_v1_location } from '@cim/proto/cim/location/v1/location_pb';
import { file_cim_workflow_v1_workflow } from '@cim/proto/cim/workflow/v1/workflow_pb';

/** The proto file of every domain the gateway serves; a new domain is one entry here. */
export const domainFiles: readonly DescFile[] = [
  file_cim_conceptualspaces_v1_conceptualspaces,
  file_cim_document_v1_document,
  file_cim_graph_v1_graph,
  file_cim_location_v1_location,
  file_cim_workflow_v1_workflow,
];

/** Every command and query service those files declare; a new RPC needs no gateway code. */
export const domainServices: readonly DescService[] = domainFiles.flatMap(
  (file) => file.services,
);
