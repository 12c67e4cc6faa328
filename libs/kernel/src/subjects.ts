import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { isSubjectToken } from './subject-token.js';

/** What a request subject carries: a command changes state, a query reads it. */
export type RequestKind = 'cmd' | 'qry';

/** `cim.<domain>.cmd.<Name>`: request/reply, answered by the domain's queue group. */
export function commandSubject(domain: string, name: string): string {
  return `cim.${domain}.cmd.${name}`;
}

/** `cim.<domain>.qry.<Name>`: request/reply, answered by the domain's queue group. */
export function querySubject(domain: string, name: string): string {
  return `cim.${domain}.qry.${name}`;
}

/** `cim.<domain>.evt.<aggregateId>`: one message per commit. */
export function eventSubject(domain: string, aggregateId: string): string {
  return `cim.${domain}.evt.${aggregateId}`;
}

/** Every commit subject of a domain. */
export function eventWildcard(domain: string): string {
  return `cim.${domain}.evt.>`;
}

/** Signed checkpoints over ranges of a domain's commits. */
export function checkpointSubject(domain: string): string {
  return `cim.${domain}.chk`;
}

/** The JetStream stream that holds a domain's commits and checkpoints. */
export function streamName(domain: string): string {
  return `CIM_${domain.toUpperCase()}`;
}

/**
 * Where a domain's stream lives in the sharded topology: on its own leaf-node
 * server, in the JetStream domain named after the domain. Clients elsewhere
 * reach it through that JetStream domain's API prefix.
 */
export function shardDomain(domain: string): string {
  return domain;
}

/** The JetStream domain of the hub server in the sharded topology. */
export const HUB_JETSTREAM_DOMAIN = 'hub';

/** The queue group every instance of a domain's service joins. */
export function queueGroup(domain: string): string {
  return `cim-${domain}`;
}

/** The aggregate id a commit subject names, or undefined for other subjects. */
export function aggregateIdOf(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 4 && parts[2] === 'evt' ? parts[3] : undefined;
}

const SERVICE_NAME =
  /^cim\.([a-z][a-z0-9]*)\.v\d+\.[A-Za-z]+(Command|Query)Service$/;

/**
 * Derives domain and kind from a generated service descriptor
 * (`cim.graph.v1.GraphCommandService` → graph, cmd). Subjects are never typed by hand.
 */
export function serviceRoute(service: DescService): {
  domain: string;
  kind: RequestKind;
} {
  const match = SERVICE_NAME.exec(service.typeName);
  if (match === null) {
    throw new Error(
      `${service.typeName} is not a cim.<domain>.v<n>.<X>CommandService or QueryService`,
    );
  }
  return { domain: match[1]!, kind: match[2] === 'Command' ? 'cmd' : 'qry' };
}

/** The NATS subject that serves one RPC of a command or query service. */
export function methodSubject(method: DescMethod): string {
  const { domain, kind } = serviceRoute(method.parent);
  return kind === 'cmd'
    ? commandSubject(domain, method.name)
    : querySubject(domain, method.name);
}

/** Checks a domain name before it is used in subjects and stream names. */
export function assertDomainName(domain: string): void {
  if (!/^[a-z][a-z0-9]*$/.test(domain) || !isSubjectToken(domain)) {
    throw new Error(
      `domain name must be lower-case letters and digits: ${JSON.stringify(domain)}`,
    );
  }
}
