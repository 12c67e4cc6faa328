import { describe, expect, it } from '@jest/globals';
import { recordingLogger } from '@cim/testing';
import { Admission, queuedPerAggregate } from '../src/admission.js';

describe('Admission', () => {
  it('admits up to the request limit and again once a request is answered', () => {
    const { log } = recordingLogger();
    const admission = new Admission({ maxRequests: 3, maxBytes: 1000 }, log);
    expect([1, 2, 3, 4].map(() => admission.admit(10))).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(admission.inFlight).toEqual({ requests: 3, bytes: 30 });
    admission.release(10);
    expect(admission.admit(10)).toBe(true);
    expect(admission.admit(10)).toBe(false);
  });

  it('bounds the summed bytes, but always admits a request when none is in flight', () => {
    const { log } = recordingLogger();
    const admission = new Admission({ maxRequests: 100, maxBytes: 100 }, log);
    expect(admission.admit(60)).toBe(true);
    expect(admission.admit(41)).toBe(false);
    expect(admission.admit(40)).toBe(true);
    admission.release(60);
    admission.release(40);
    expect(admission.inFlight).toEqual({ requests: 0, bytes: 0 });
    // Larger than the whole bound: refusing it would refuse it forever.
    expect(admission.admit(5000)).toBe(true);
    expect(admission.admit(1)).toBe(false);
  });

  it('logs an overload once, then once a minute, and its end once the load has halved', () => {
    let now = 1_000;
    const { log, lines } = recordingLogger();
    const admission = new Admission(
      { maxRequests: 4, maxBytes: 1_000_000 },
      log,
      () => now,
    );
    for (let i = 0; i < 4; i++) admission.admit(1);
    for (let i = 0; i < 100; i++) expect(admission.admit(1)).toBe(false);
    now += 30_000;
    // Under sustained overload every answer lets one request in: still one spell.
    admission.release(1);
    expect(admission.admit(1)).toBe(true);
    expect(admission.admit(1)).toBe(false);
    now += 30_000;
    expect(admission.admit(1)).toBe(false);
    expect(lines.map((l) => [l['msg'], l['refused']])).toEqual([
      ['overloaded: refusing requests with UNAVAILABLE', 1],
      ['still overloaded: refusing requests with UNAVAILABLE', 102],
    ]);
    expect(lines[0]).toMatchObject({
      level: 40,
      inFlight: 4,
      maxRequests: 4,
    });
    admission.release(1);
    admission.release(1);
    admission.release(1);
    now += 5_000;
    expect(admission.admit(1)).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      level: 30,
      msg: 'taking requests again after overload',
      refused: 102,
      lastedMs: 65_000,
    });
    expect(lines).toHaveLength(3);
  });

  it('lets a quarter of what it admits, and at least one, wait for one aggregate', () => {
    expect(queuedPerAggregate({ maxRequests: 4096, maxBytes: 1 })).toBe(1024);
    expect(queuedPerAggregate({ maxRequests: 10, maxBytes: 1 })).toBe(2);
    expect(queuedPerAggregate({ maxRequests: 3, maxBytes: 1 })).toBe(1);
  });
});
