import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode, errorCodeName, uuidv7 } from '@cim/kernel';
import {
  Header,
  UnavailableError,
  connectNats,
  errorReply,
  errorReplyFor,
  request,
} from '@cim/messaging';
import { freePort, startNatsServer, type NatsServerHandle } from '@cim/testing';
import {
  headers as natsHeaders,
  type Msg,
  type NatsConnection,
} from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

/** The rejection a promise ends with; fails the test when it resolves. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error))
    throw new Error(
      `expected a rejection with an Error, got ${String(outcome)}`,
    );
  return outcome;
}

const DOMAIN_CODES = [
  ErrorCode.VALIDATION_FAILED,
  ErrorCode.NOT_FOUND,
  ErrorCode.ALREADY_EXISTS,
  ErrorCode.INVALID_TRANSITION,
  ErrorCode.BUSINESS_RULE_VIOLATION,
  ErrorCode.CONCURRENCY_CONFLICT,
  ErrorCode.UNAUTHORIZED,
] as const;

describe('request', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  // A subject prefix per file run, so responders never meet another file's requests.
  const prefix = `msgtest.${uuidv7()}`;

  /** Answers every request on `subject` with `answer(msg)`; returns the subscription's stopper. */
  function respond(subject: string, answer: (msg: Msg) => void): () => void {
    const sub = nc.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) answer(msg);
      },
    });
    return () => sub.unsubscribe();
  }

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  describe('when the responder answers', () => {
    it('resolves with the reply bytes', async () => {
      const subject = `${prefix}.echo`;
      const stop = respond(subject, (msg) =>
        msg.respond(utf8(`echo ${text(msg.data)}`)),
      );
      await nc.flush();
      try {
        expect(text(await request(nc, subject, utf8('hi')))).toBe('echo hi');
      } finally {
        stop();
      }
    });

    it('delivers headers given as a record', async () => {
      const subject = `${prefix}.headers`;
      const stop = respond(subject, (msg) =>
        msg.respond(
          utf8(
            JSON.stringify({
              commandId: msg.headers?.get(Header.commandId),
              actor: msg.headers?.get(Header.actor),
            }),
          ),
        ),
      );
      await nc.flush();
      try {
        const commandId = uuidv7();
        const reply = await request(nc, subject, new Uint8Array(), {
          headers: { [Header.commandId]: commandId, [Header.actor]: 'user:t' },
        });
        expect(JSON.parse(text(reply))).toEqual({
          commandId,
          actor: 'user:t',
        });
      } finally {
        stop();
      }
    });

    it('says how long it waits in Cim-Timeout-Ms, unless its headers say or are NATS headers', async () => {
      const subject = `${prefix}.timeout`;
      const stop = respond(subject, (msg) =>
        msg.respond(utf8(msg.headers?.get(Header.timeout) ?? 'none')),
      );
      await nc.flush();
      const told = async (options: Parameters<typeof request>[3]) =>
        text(await request(nc, subject, new Uint8Array(), options));
      try {
        expect(await told({})).toBe('5000');
        expect(await told({ timeoutMs: 1234 })).toBe('1234');
        expect(
          await told({ headers: { [Header.actor]: 'user:t' }, timeoutMs: 900 }),
        ).toBe('900');
        expect(await told({ headers: { [Header.timeout]: '50' } })).toBe('50');
        // NATS headers are the caller's own object, sent as given.
        expect(await told({ headers: natsHeaders() })).toBe('none');
      } finally {
        stop();
      }
    });

    it('delivers headers given as NATS headers', async () => {
      const subject = `${prefix}.msghdrs`;
      const stop = respond(subject, (msg) =>
        msg.respond(utf8(msg.headers?.get('traceparent') ?? '')),
      );
      await nc.flush();
      try {
        const h = natsHeaders();
        h.set(
          'traceparent',
          '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        );
        const reply = await request(nc, subject, new Uint8Array(), {
          headers: h,
        });
        expect(text(reply)).toBe(
          '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        );
      } finally {
        stop();
      }
    });
  });

  describe('when the responder answers with errorReply', () => {
    const answering = (code: ErrorCode, message: string, details = {}) => {
      const subject = `${prefix}.err.${errorCodeName(code)}`;
      const { headers, body } = errorReply(code, message, details);
      const stop = respond(subject, (msg) => msg.respond(body, { headers }));
      return { subject, stop };
    };

    it.each(DOMAIN_CODES.map((code) => [errorCodeName(code), code] as const))(
      'rejects with a DomainError carrying %s, its message and details',
      async (_name, code) => {
        const { subject, stop } = answering(code, 'graph g-1 says no', {
          graphId: 'g-1',
        });
        await nc.flush();
        try {
          const error = await rejectionOf(
            request(nc, subject, new Uint8Array()),
          );
          expect(DomainError.is(error)).toBe(true);
          expect(error).toMatchObject({
            name: 'DomainError',
            code,
            message: 'graph g-1 says no',
            details: { graphId: 'g-1' },
          });
        } finally {
          stop();
        }
      },
    );

    it('rejects UNAVAILABLE with a retryable UnavailableError', async () => {
      const { subject, stop } = answering(
        ErrorCode.UNAVAILABLE,
        'the store is down',
      );
      await nc.flush();
      try {
        const error = await rejectionOf(request(nc, subject, new Uint8Array()));
        expect(UnavailableError.is(error)).toBe(true);
        expect(DomainError.is(error)).toBe(false);
        expect(error).toMatchObject({
          code: ErrorCode.UNAVAILABLE,
          retryable: true,
          message: 'the store is down',
        });
      } finally {
        stop();
      }
    });

    it.each([
      ['INTERNAL', ErrorCode.INTERNAL],
      ['UNSPECIFIED', ErrorCode.UNSPECIFIED],
    ] as const)(
      'rejects %s with a RemoteError whose code is INTERNAL',
      async (_name, code) => {
        const { subject, stop } = answering(code, 'it broke');
        await nc.flush();
        try {
          const error = await rejectionOf(
            request(nc, subject, new Uint8Array()),
          );
          expect(DomainError.is(error)).toBe(false);
          expect(UnavailableError.is(error)).toBe(false);
          expect(error).toMatchObject({
            name: 'RemoteError',
            code: ErrorCode.INTERNAL,
            message: 'it broke',
          });
        } finally {
          stop();
        }
      },
    );

    it('carries the code and a one-line message in the micro-service headers', async () => {
      const { headers } = errorReply(ErrorCode.NOT_FOUND, 'no graph\ng-1');
      expect(headers.get(Header.errorCode)).toBe(String(ErrorCode.NOT_FOUND));
      expect(headers.get(Header.errorMessage)).toBe('NOT_FOUND: no graph g-1');
    });
  });

  describe('when the responder answers with errorReplyFor', () => {
    const answeringFor = (suffix: string, error: unknown) => {
      const subject = `${prefix}.errfor.${suffix}`;
      const { headers, body } = errorReplyFor(error);
      return {
        subject,
        stop: respond(subject, (msg) => msg.respond(body, { headers })),
      };
    };

    it('keeps a DomainError as it was thrown', async () => {
      const { subject, stop } = answeringFor(
        'domain',
        new DomainError(ErrorCode.INVALID_TRANSITION, 'archived', {
          details: { status: 'archived' },
        }),
      );
      await nc.flush();
      try {
        const error = await rejectionOf(request(nc, subject, new Uint8Array()));
        expect(error).toMatchObject({
          name: 'DomainError',
          code: ErrorCode.INVALID_TRANSITION,
          message: 'archived',
          details: { status: 'archived' },
        });
      } finally {
        stop();
      }
    });

    it('hides any other error behind a generic INTERNAL message', async () => {
      const { subject, stop } = answeringFor(
        'other',
        new Error('secret connection string'),
      );
      await nc.flush();
      try {
        const error = await rejectionOf(request(nc, subject, new Uint8Array()));
        expect(error).toMatchObject({
          name: 'RemoteError',
          code: ErrorCode.INTERNAL,
          message: 'internal error',
        });
      } finally {
        stop();
      }
    });
  });

  describe('when a non-CIM micro service answers with respondError', () => {
    it('rejects with a RemoteError carrying the header message', async () => {
      const subject = `${prefix}.micro`;
      const service = await new Svcm(nc).add({
        name: 'msgtest',
        version: '0.0.1',
      });
      service.addEndpoint('overloaded', {
        subject,
        handler: (_error, msg) => msg.respondError(503, 'overloaded'),
      });
      await nc.flush();
      try {
        const error = await rejectionOf(request(nc, subject, new Uint8Array()));
        expect(error).toMatchObject({
          name: 'RemoteError',
          code: ErrorCode.INTERNAL,
          message: 'overloaded',
        });
      } finally {
        await service.stop();
      }
    });
  });

  describe('when an error reply carries a body that is not an Error message', () => {
    it('rejects with a RemoteError carrying the header message', async () => {
      const subject = `${prefix}.garbage`;
      const stop = respond(subject, (msg) => {
        const headers = natsHeaders();
        headers.set(Header.errorCode, '500');
        headers.set(Header.errorMessage, 'broken body');
        msg.respond(Uint8Array.of(0xff), { headers });
      });
      await nc.flush();
      try {
        const error = await rejectionOf(request(nc, subject, new Uint8Array()));
        expect(error).toMatchObject({
          name: 'RemoteError',
          code: ErrorCode.INTERNAL,
          message: 'broken body',
        });
      } finally {
        stop();
      }
    });
  });

  describe('when no responder listens on the subject', () => {
    it('rejects with UnavailableError saying no service is answering', async () => {
      const subject = `${prefix}.nobody`;
      const error = await rejectionOf(request(nc, subject, new Uint8Array()));
      expect(UnavailableError.is(error)).toBe(true);
      expect(error.message).toBe(`${subject}: no service is answering`);
      expect((error as UnavailableError).code).toBe(ErrorCode.UNAVAILABLE);
    });
  });

  describe('when the responder never answers', () => {
    it('rejects with UnavailableError after timeoutMs', async () => {
      const subject = `${prefix}.silent`;
      const stop = respond(subject, () => undefined);
      await nc.flush();
      try {
        const error = await rejectionOf(
          request(nc, subject, new Uint8Array(), { timeoutMs: 200 }),
        );
        expect(UnavailableError.is(error)).toBe(true);
        expect(error.message).toBe(
          `${subject}: the service did not answer in time`,
        );
      } finally {
        stop();
      }
    });
  });

  describe('when the connection is closed', () => {
    it('rejects with UnavailableError saying the bus is unreachable', async () => {
      const closed = await connect({ servers: server.url });
      await closed.close();
      const subject = `${prefix}.closed`;
      const error = await rejectionOf(
        request(closed, subject, new Uint8Array()),
      );
      expect(UnavailableError.is(error)).toBe(true);
      expect(error.message).toBe(`${subject}: the message bus is unreachable`);
    });
  });
});

describe('connectNats', () => {
  describe('when a server listens at the URL', () => {
    it('connects with the given name', async () => {
      const server = await startNatsServer({ jetstream: false });
      try {
        const nc = await connectNats({ url: server.url, name: 'cim-msgtest' });
        try {
          expect(nc.isClosed()).toBe(false);
          expect(nc.info?.server_name).toBe(server.name);
        } finally {
          await nc.close();
        }
      } finally {
        await server.stop();
      }
    });
  });

  describe('when nothing listens at the URL', () => {
    it('fails with a message naming the URL', async () => {
      const url = `nats://127.0.0.1:${await freePort()}`;
      const error = await rejectionOf(
        connectNats({ url, name: 'cim-msgtest' }),
      );
      expect(error.message).toMatch(
        new RegExp(
          `^cannot connect to NATS at ${url.replaceAll('.', '\\.')}: `,
        ),
      );
      expect(error.cause).toBeDefined();
    });
  });
});
