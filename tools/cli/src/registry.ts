import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { serviceRoute, type RequestKind } from '@cim/kernel';
import { domainServices } from '@cim/gateway';

/** Finds the RPC `name` of a domain's command or query service. */
export function findMethod(
  domain: string,
  kind: RequestKind,
  name: string,
): DescMethod {
  const service = servicesOf(domain).find((s) => serviceRoute(s).kind === kind);
  if (service === undefined)
    throw new UsageError(
      `unknown domain ${JSON.stringify(domain)}; known: ${domains().join(', ')}`,
    );
  const method = service.methods.find((m) => m.name === name);
  if (method === undefined) {
    const known = service.methods.map((m) => m.name).join(', ');
    throw new UsageError(
      `${domain} has no ${kind === 'cmd' ? 'command' : 'query'} ${name}; known: ${known}`,
    );
  }
  return method;
}

/** Every domain the fleet serves. */
export function domains(): string[] {
  return [...new Set(domainServices.map((s) => serviceRoute(s).domain))];
}

function servicesOf(domain: string): DescService[] {
  return domainServices.filter((s) => serviceRoute(s).domain === domain);
}

/** A mistake in how the CLI was called; exits with status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
