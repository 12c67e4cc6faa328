import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DomainError, ErrorCode } from '@cim/kernel';
import { RequestMux, UnavailableError, errorReply } from '@cim/messaging';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';

const text = (value: string) => new TextEncoder().encode(value);

describe('RequestMux', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let mux: RequestMux;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
    nc = await connect({ servers: server.url });
    nc.subscribe('mux.echo', {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    nc.subscribe('mux.refuse', {
      callback: (_e, m) => {
        const reply = errorReply(ErrorCode.NOT_FOUND, 'nothing here');
        m.respond(reply.body, { headers: reply.headers });
      },
    });
    nc.subscribe('mux.silent', { callback: () => undefined });
    await nc.flush();
    mux = new RequestMux(nc, 300);
  });

  afterAll(async () => {
    mux.close();
    await nc.close();
    await server.stop();
  });

  it('matches many concurrent replies to their requests', async () => {
    const replies = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        mux.request('mux.echo', text(`m${i}`)),
      ),
    );
    expect(replies.map((r) => new TextDecoder().decode(r))).toEqual(
      Array.from({ length: 500 }, (_, i) => `m${i}`),
    );
  });

  it('calls back once per send, with the reply or the error', async () => {
    const outcome = (subject: string) =>
      new Promise<[Error | undefined, string | undefined]>((resolve) =>
        mux.send(subject, text('cb'), undefined, (error, data) =>
          resolve([
            error,
            data === undefined ? undefined : new TextDecoder().decode(data),
          ]),
        ),
      );
    expect(await outcome('mux.echo')).toEqual([undefined, 'cb']);
    const [refused] = await outcome('mux.refuse');
    expect(DomainError.is(refused) && refused.code).toBe(ErrorCode.NOT_FOUND);
    const [silent] = await outcome('mux.silent');
    expect(UnavailableError.is(silent)).toBe(true);
  });

  it('rejects with the error an error reply carries', async () => {
    const error = await mux
      .request('mux.refuse', text('x'))
      .catch((e: unknown) => e);
    expect(DomainError.is(error) && error.code).toBe(ErrorCode.NOT_FOUND);
  });

  it('rejects with UnavailableError when nobody listens', async () => {
    const error = await mux
      .request('mux.nobody', text('x'))
      .catch((e: unknown) => e);
    expect(UnavailableError.is(error)).toBe(true);
    expect((error as Error).message).toMatch(/no service is answering/);
  });

  it('rejects with UnavailableError when the answer does not come in time', async () => {
    const error = await mux
      .request('mux.silent', text('x'))
      .catch((e: unknown) => e);
    expect(UnavailableError.is(error)).toBe(true);
    expect((error as Error).message).toMatch(/did not answer in time/);
  });
});
