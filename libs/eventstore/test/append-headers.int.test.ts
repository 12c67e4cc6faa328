import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startNatsServer, type NatsServerHandle } from '@cim/testing';
import {
  createInbox,
  headers,
  type Msg,
  type NatsConnection,
} from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { AppendHeaders } from '../src/append-headers.js';

describe('AppendHeaders', () => {
  it('encodes byte for byte what nats.js headers encode', () => {
    const ours = new AppendHeaders('0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 42);
    ours.append('Nats-Batch-Id', 'abc7');
    ours.append('Nats-Batch-Sequence', '3');
    const theirs = headers();
    theirs.append('Nats-Msg-Id', '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b');
    theirs.append('Nats-Expected-Last-Subject-Sequence', '42');
    theirs.append('Nats-Batch-Id', 'abc7');
    theirs.append('Nats-Batch-Sequence', '3');
    // What publish sends: the headers object's encode(), which MsgHdrs does not declare.
    const encoded = (theirs as unknown as { encode(): Uint8Array }).encode();
    expect(Buffer.from(ours.encode())).toEqual(Buffer.from(encoded));
  });

  it('deletes every header of a name and keeps the others in order', () => {
    const h = new AppendHeaders('id-1', 0);
    h.append('Nats-Batch-Id', 'b1');
    h.append('Nats-Batch-Commit', '1');
    h.delete('Nats-Batch-Id');
    h.delete('Nats-Batch-Commit');
    expect(new TextDecoder().decode(h.encode())).toBe(
      'NATS/1.0\r\nNats-Msg-Id: id-1\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\r\n',
    );
  });

  it('refuses a value with a line break, which would end the header block', () => {
    expect(() => new AppendHeaders('a\r\nNats-Rollup: all', 0)).toThrow(
      /line break/,
    );
    const h = new AppendHeaders('ok', 0);
    expect(() => h.append('Nats-Batch-Id', 'x\ny')).toThrow(/line break/);
  });

  // Pins @nats-io/nats-core 3.4: publish asks its headers only to encode().
  // If an upgrade reads more of them, this fails before any append does.
  describe('published through nats.js to a real server', () => {
    let server: NatsServerHandle;
    let nc: NatsConnection;

    beforeAll(async () => {
      server = await startNatsServer();
      nc = await connect({ servers: server.url });
    });

    afterAll(async () => {
      await nc.close();
      await server.stop();
    });

    it('arrives with every header as nats.js decodes it', async () => {
      const subject = createInbox();
      const received = new Promise<Msg>((resolve) => {
        nc.subscribe(subject, { max: 1, callback: (_, msg) => resolve(msg) });
      });
      const h = new AppendHeaders('cmd-7', 9);
      h.append('Nats-Batch-Commit', '1');
      nc.publish(subject, new Uint8Array([1, 2, 3]), {
        headers: h.forPublish(),
      });
      const msg = await received;
      expect(msg.headers?.get('Nats-Msg-Id')).toBe('cmd-7');
      expect(msg.headers?.get('Nats-Expected-Last-Subject-Sequence')).toBe('9');
      expect(msg.headers?.get('Nats-Batch-Commit')).toBe('1');
      expect([...msg.data]).toEqual([1, 2, 3]);
    });
  });
});
