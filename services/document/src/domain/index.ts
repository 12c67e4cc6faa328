import type { Decider } from '@cim/kernel';
import type {
  DocumentCommand,
  DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import { decide } from './decide.js';
import { evolve } from './evolve.js';
import { initialState, type DocumentState } from './state.js';

/** The document aggregate: metadata, CID history, lifecycle and sharing of one document (domains.md §2.3). */
export const documentDecider: Decider<
  DocumentState,
  DocumentCommand,
  DocumentEvent
> = {
  initialState,
  decide,
  evolve,
};

export { reviveDocumentState } from './state.js';
export type {
  DocumentData,
  DocumentState,
  PresentDocument,
  StageOutcome,
} from './state.js';
export {
  Multicodec,
  decodeBase32,
  decodeVarint,
  encodeBase32,
  encodeVarint,
  formatCid,
  isContentCid,
  parseCid,
  rawSha256Cid,
} from './cid.js';
export type { ParsedCid } from './cid.js';
