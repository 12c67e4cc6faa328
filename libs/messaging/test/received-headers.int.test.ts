import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Header, forEachHeader, type ReceivedMessage } from '@cim/messaging';
// Which path forEachHeader takes is an internal matter; the pin below needs to see it.
import { readsRawHeaders } from '../src/received-headers.js';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import {
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/nats-core';
import { Svcm, type ServiceMsg } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';

/** Every header line as forEachHeader visits it. */
function visited(message: ReceivedMessage): [string, string][] {
  const lines: [string, string][] = [];
  forEachHeader(message, (name, value) => lines.push([name, value]));
  return lines;
}

/** Every header line as nats.js decodes it. */
function decoded(h: MsgHdrs | undefined): [string, string][] {
  const lines: [string, string][] = [];
  for (const [name, values] of h ?? []) {
    for (const value of values) lines.push([name, value]);
  }
  return lines;
}

describe('forEachHeader', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: false });
    nc = await connect({ servers: server.url });
  });

  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  /** Publishes `h` and resolves with the message as a subscriber receives it. */
  async function receive(h: MsgHdrs | undefined): Promise<Msg> {
    const subject = createInbox();
    const received = new Promise<Msg>((resolve) => {
      nc.subscribe(subject, { max: 1, callback: (_, m) => resolve(m) });
    });
    nc.publish(subject, new Uint8Array([7]), h ? { headers: h } : {});
    return received;
  }

  const cases: [string, () => MsgHdrs | undefined][] = [
    ['no headers', () => undefined],
    [
      'command metadata',
      () => {
        const h = headers();
        h.set(Header.commandId, '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
        h.set(Header.actor, 'user:ada');
        h.set(Header.expectedVersion, '12');
        return h;
      },
    ],
    [
      'a name sent twice, UTF-8, spaces and colons in values',
      () => {
        const h = headers();
        h.append(Header.actor, '  grüße: ünïcode  ');
        h.append(Header.actor, 'second');
        h.set(
          'traceparent',
          '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        );
        h.set('X-Empty', '');
        h.set('X-Edges', '\u3000 tabbed\t');
        return h;
      },
    ],
  ];

  it.each(cases)(
    'visits what nats.js decodes, reading the bytes itself (%s)',
    async (_name, make) => {
      const msg = await receive(make());
      // Pins @nats-io/nats-core 3.4: the header bytes are at hand before msg.headers is read.
      expect(readsRawHeaders(msg)).toBe(true);
      const ours = visited(msg);
      expect(ours).toEqual(decoded(msg.headers));
    },
  );

  it('falls back to the decoded headers once they have been read, and to nothing without them', async () => {
    const h = headers();
    h.set(Header.correlationId, 'c-1');
    const msg = await receive(h);
    expect(msg.headers?.get(Header.correlationId)).toBe('c-1');
    expect(readsRawHeaders(msg)).toBe(false);
    expect(visited(msg)).toEqual([[Header.correlationId, 'c-1']]);
    expect(visited({})).toEqual([]);
  });

  it('reads the request wrapped in a micro-service message', async () => {
    let resolveSeen!: (lines: [string, string][]) => void;
    const seen = new Promise<[string, string][]>((r) => (resolveSeen = r));
    const service = await new Svcm(nc).add({
      name: 'headers-test',
      version: '0.0.1',
    });
    service.addEndpoint('echo', {
      subject: 'headers.test.echo',
      handler: (_, m: ServiceMsg) => {
        expect(readsRawHeaders(m)).toBe(true);
        resolveSeen(visited(m));
        m.respond(new Uint8Array(0));
      },
    });
    await nc.flush();
    const h = headers();
    h.set(Header.commandId, 'id-9');
    await nc.request('headers.test.echo', new Uint8Array(0), {
      headers: h,
      timeout: 5000,
    });
    expect(await seen).toEqual([[Header.commandId, 'id-9']]);
    await service.stop();
  });
});
