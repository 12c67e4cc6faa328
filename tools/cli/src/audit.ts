import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { querySubject, type VerifyReport } from '@cim/kernel';
import { request } from '@cim/messaging';
import {
  HistoryRequestSchema,
  HistoryResponseSchema,
  type HistoryEntry,
} from '@cim/proto/cim/common/v1/integrity_pb';
import { verifyDomain } from '@cim/service';
import type { NatsConnection } from '@nats-io/nats-core';
import { domains, UsageError } from './registry.js';

function requireDomain(domain: string): void {
  if (!domains().includes(domain))
    throw new UsageError(
      `unknown domain ${JSON.stringify(domain)}; known: ${domains().join(', ')}`,
    );
}

/** Every commit of an aggregate, oldest first, through the domain's History query. */
export async function auditTrail(
  nc: NatsConnection,
  domain: string,
  aggregateId: string,
): Promise<HistoryEntry[]> {
  requireDomain(domain);
  const entries: HistoryEntry[] = [];
  let pageToken = '';
  do {
    const reply = await request(
      nc,
      querySubject(domain, 'History'),
      toBinary(
        HistoryRequestSchema,
        create(HistoryRequestSchema, {
          aggregateId,
          page: { pageSize: 500, pageToken },
        }),
      ),
    );
    const page = fromBinary(HistoryResponseSchema, reply);
    entries.push(...page.entries);
    pageToken = page.page?.nextPageToken ?? '';
  } while (pageToken !== '');
  return entries;
}

/** The audit trail as lines a person reads: who did what, when, at which version. */
export function formatAudit(entries: readonly HistoryEntry[]): string {
  const lines: string[] = [];
  for (const e of entries) {
    const at =
      e.occurredAt === undefined
        ? '-'
        : timestampDate(e.occurredAt).toISOString();
    lines.push(
      `v${e.version}  ${at}  ${e.actor || '-'}  command ${e.commandId}  (seq ${e.streamSequence})`,
    );
    if (e.correlationId !== e.commandId)
      lines.push(
        `    correlation ${e.correlationId}  causation ${e.causationId}`,
      );
    for (const event of e.events)
      lines.push(`    ${event.eventType} ${event.json}`);
  }
  return lines.join('\n');
}

/** Verifies a domain's stream, drawing a progress bar on a terminal. */
export async function verify(
  nc: NatsConnection,
  domain: string,
  aggregate: string | undefined,
  jetStreamDomain?: string,
): Promise<VerifyReport> {
  requireDomain(domain);
  const tty = process.stderr.isTTY;
  const report = await verifyDomain(nc, domain, {
    ...(aggregate === undefined ? {} : { aggregate }),
    ...(jetStreamDomain === undefined ? {} : { jetStreamDomain }),
    onProgress: (done, total) => {
      if (!tty || total === 0) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      process.stderr.write(
        `\rverifying ${domain} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
      );
    },
  });
  if (tty) process.stderr.write('\n');
  return report;
}

/** The verification report as lines a person reads. */
export function formatReport(report: VerifyReport): string {
  const lines = [
    `${report.domain}: ${report.commits} commits of ${report.aggregates} aggregates, ${report.checkpoints} checkpoints`,
    report.unsealed.commits === 0
      ? 'every commit is sealed by a signed checkpoint'
      : `unsealed tail: ${report.unsealed.commits} commits (seq ${report.unsealed.fromSeq}..${report.unsealed.toSeq}) not yet covered by a checkpoint`,
    ...report.findings.map((f) => `${f.kind} at seq ${f.seq}: ${f.message}`),
    report.clean ? 'clean' : `${report.findings.length} problems found`,
  ];
  return lines.join('\n');
}
