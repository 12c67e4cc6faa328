import { create, type Message } from '@bufbuild/protobuf';
import {
  CreateDocumentFromCidSchema,
  DocumentEventSchema,
  type DocumentCommand,
  type DocumentEvent,
} from '@cim/proto/cim/document/v1/document_pb';
import type { Reaction } from '@cim/service';

/**
 * DocumentForked → CreateDocumentFromCid for the fork: a reaction of the
 * document service to its own events, because a command changes one
 * aggregate and a fork is a second one. The fork starts from the source's
 * head and metadata, is owned by whoever forked, and links derived_from the
 * source. Redelivery is harmless: the command id derives from the event id,
 * and a second create is refused with ALREADY_EXISTS.
 */
export const forkReaction: Reaction<DocumentCommand> = {
  name: 'fork',
  source: { domain: 'document', event: DocumentEventSchema },
  events: ['DocumentForked'],
  react(message: Message): ReadonlyArray<DocumentCommand['body']> {
    const { body } = message as DocumentEvent;
    if (body.case !== 'forked') return [];
    const forked = body.value;
    return [
      {
        case: 'createFromCid',
        value: create(CreateDocumentFromCidSchema, {
          documentId: forked.forkId,
          contentCid: forked.contentCid,
          title: forked.title,
          tags: forked.tags,
          description: forked.description,
          documentType: forked.documentType,
          mimeType: forked.mimeType,
          filename: forked.filename,
          language: forked.language,
          confidentiality: forked.confidentiality,
          ...(forked.processing && { processing: forked.processing }),
          forkedFrom: {
            documentId: forked.documentId,
            contentCid: forked.contentCid,
            forkedBy: forked.forkedBy,
          },
        }),
      },
    ];
  },
};
