import { ConfigError } from '@cim/service';
import { DEFAULT_MAX_CONTENT_BYTES } from './prepare.js';

/** Upper bound on CIM_DOCUMENT_MAX_BYTES: 1 GiB. */
const MAX_CONTENT_LIMIT = 1024 * 1024 * 1024;

/**
 * CIM_DOCUMENT_MAX_BYTES: the largest content IngestDocumentContent accepts,
 * in bytes, 1 to 1 GiB; default 16 MiB. A request must also fit the NATS
 * server's max_payload (1 MiB unless configured; `npm start` uses 8 MB), so
 * the effective limit is the smaller of the two. Throws ConfigError for
 * anything else.
 */
export function maxContentBytesFrom(
  env: Readonly<Record<string, string | undefined>>,
): number {
  const raw = env['CIM_DOCUMENT_MAX_BYTES'];
  if (raw === undefined || raw === '') return DEFAULT_MAX_CONTENT_BYTES;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > MAX_CONTENT_LIMIT) {
    throw new ConfigError(
      `CIM_DOCUMENT_MAX_BYTES must be an integer from 1 to ${MAX_CONTENT_LIMIT}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}
