import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { DomainError, ErrorCode, methodSubject, show } from '@cim/kernel';
import { UnavailableError, request } from '@cim/messaging';
import {
  DocumentQueryService,
  GetContentRequestSchema,
  GetContentResponseSchema,
} from '@cim/proto/cim/document/v1/document_pb';
import type { GraphCommand } from '@cim/proto/cim/graph/v1/graph_pb';
import { boundByDeadline, type ServiceIo } from '@cim/service';
import { IMPORT_LIMITS } from './import-text.js';

/** How long one GetContent request may take before the import answers UNAVAILABLE, ms (less when its caller waits less). */
const CONTENT_TIMEOUT_MS = 5000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The graph service's `prepare`: an ImportGraph that names a content_cid gets
 * the text of that content from the document service (its GetContent query
 * over NATS; the graph service never reads the document domain's store) and
 * carries it in `content` to the pure decide. Both or neither of content and
 * content_cid, content over IMPORT_LIMITS.contentBytes, and bytes that are not
 * UTF-8 are VALIDATION_FAILED; an unknown CID is NOT_FOUND; no answer from
 * the document service is UNAVAILABLE. Every other command passes through in
 * the same turn, so commands keep their order.
 */
export function prepareGraphCommand(
  command: GraphCommand,
  io: ServiceIo,
  deadline: number | undefined,
): GraphCommand | Promise<GraphCommand> {
  const { body } = command;
  if (body.case !== 'importGraph' || body.value.contentCid === '') {
    return command;
  }
  const { contentCid, content } = body.value;
  if (content !== '') {
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      'set exactly one of content and content_cid',
    );
  }
  return fetchContent(io, contentCid, deadline).then((text) => {
    body.value.content = text;
    return command;
  });
}

/** Reads the whole content in as many GetContent ranges as the replies need. */
async function fetchContent(
  io: ServiceIo,
  contentCid: string,
  deadline: number | undefined,
): Promise<string> {
  const subject = methodSubject(DocumentQueryService.method.getContent);
  const limit = IMPORT_LIMITS.contentBytes;
  const parts: Uint8Array[] = [];
  let received = 0;
  let total: number | undefined;
  while (total === undefined || received < total) {
    const reply = await request(
      io.nc,
      subject,
      toBinary(
        GetContentRequestSchema,
        create(GetContentRequestSchema, {
          contentCid,
          offset: BigInt(received),
          length: BigInt(limit + 1 - received),
        }),
      ),
      { timeoutMs: boundByDeadline(CONTENT_TIMEOUT_MS, deadline) },
    ).catch((error: unknown) => {
      if (DomainError.is(error) && error.code === ErrorCode.NOT_FOUND) {
        throw new DomainError(
          ErrorCode.NOT_FOUND,
          `content_cid ${show(contentCid)} names no content the document service holds`,
          { cause: error },
        );
      }
      throw error;
    });
    const { data, totalSize } = fromBinary(GetContentResponseSchema, reply);
    total ??= Number(totalSize);
    if (total > limit) {
      throw new DomainError(
        ErrorCode.VALIDATION_FAILED,
        `the content of ${show(contentCid)} is ${total} bytes; an import reads at most ${limit}`,
        { details: { size: String(total), limit: String(limit) } },
      );
    }
    if (data.length === 0 && received < total) {
      throw new UnavailableError(
        `the document service answered no bytes for ${show(contentCid)} at offset ${received}`,
      );
    }
    parts.push(data);
    received += data.length;
  }
  try {
    return utf8.decode(concat(parts, received));
  } catch {
    // TextDecoder's only failure with `fatal`: a byte sequence that is not UTF-8.
    throw new DomainError(
      ErrorCode.VALIDATION_FAILED,
      `the content of ${show(contentCid)} is not UTF-8 text`,
    );
  }
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const all = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}
