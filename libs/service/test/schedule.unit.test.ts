import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import {
  ArchiveLocationSchema,
  LocationCommandSchema,
  type LocationCommand,
} from '@cim/proto/cim/location/v1/location_pb';
import { commandRoutes } from '../src/bindings.js';
import type { Schedule } from '../src/definition.js';
import { dueCommands, scheduledCommandId } from '../src/schedule-runner.js';
import type { Rows } from '../src/types.js';

const routes = new Map(
  commandRoutes('location', LocationCommandSchema).map((route) => [
    route.caseName,
    route,
  ]),
);
const noRows: Rows<never> = new Map<string, never>();

/** Archives `ids` whenever it is asked, whatever the time. */
const archiving = (...ids: string[]): Schedule<LocationCommand, never> => ({
  name: 'expiry',
  everyMs: 1000,
  due: () =>
    ids.map((id) => ({
      key: id,
      body: {
        case: 'archive',
        value: create(ArchiveLocationSchema, { locationId: id }),
      },
    })),
});

describe('schedules', () => {
  describe('scheduledCommandId', () => {
    it('is the same for the same occurrence', () => {
      expect(scheduledCommandId('location', 'expiry', 'a')).toBe(
        scheduledCommandId('location', 'expiry', 'a'),
      );
    });
    it('differs by domain, schedule and key', () => {
      const ids = new Set([
        scheduledCommandId('location', 'expiry', 'a'),
        scheduledCommandId('location', 'expiry', 'b'),
        scheduledCommandId('location', 'other', 'a'),
        scheduledCommandId('graph', 'expiry', 'a'),
      ]);
      expect(ids.size).toBe(4);
    });
    it('is UUID-shaped', () => {
      expect(scheduledCommandId('location', 'expiry', 'a')).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    });
  });

  describe('dueCommands', () => {
    it('builds a root command of the service for each due occurrence', () => {
      const [job, ...rest] = dueCommands(
        'location',
        archiving('loc-1'),
        noRows,
        0,
        LocationCommandSchema,
        routes,
      );
      expect(rest).toEqual([]);
      const commandId = scheduledCommandId('location', 'expiry', 'loc-1');
      expect(job?.key).toBe('loc-1');
      expect(job?.aggregateId).toBe('loc-1');
      expect(job?.meta).toMatchObject({
        commandId,
        correlationId: commandId,
        causationId: commandId,
        actor: 'service:location',
      });
      expect(job?.command.meta).toBe(job?.meta);
      expect(job?.command.body).toMatchObject({
        case: 'archive',
        value: { locationId: 'loc-1' },
      });
    });
    it('passes the read model and the time to due', () => {
      const seen: Array<[Rows<number>, number]> = [];
      const rows: Rows<number> = new Map([['a', 1]]);
      dueCommands(
        'location',
        {
          name: 'probe',
          everyMs: 10,
          due: (given, nowMs) => {
            seen.push([given, nowMs]);
            return [];
          },
        },
        rows,
        1234,
        LocationCommandSchema,
        routes,
      );
      expect(seen).toEqual([[rows, 1234]]);
    });
    it('drops a body that is not one of the domain’s commands', () => {
      const jobs = dueCommands(
        'location',
        {
          name: 'empty',
          everyMs: 10,
          due: () => [{ key: 'k', body: { case: undefined } }],
        },
        noRows,
        0,
        LocationCommandSchema,
        routes,
      );
      expect(jobs).toEqual([]);
    });
  });
});
