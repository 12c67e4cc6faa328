import { describe, expect, it } from '@jest/globals';
import {
  aggregateIdOf,
  assertDomainName,
  checkpointSubject,
  commandSubject,
  eventSubject,
  eventWildcard,
  isSubjectToken,
  methodSubject,
  querySubject,
  queueGroup,
  serviceRoute,
  streamName,
} from '@cim/kernel';
import {
  GraphCommandService,
  GraphQueryService,
} from '@cim/proto/cim/graph/v1/graph_pb';
import { Health } from '@cim/proto/grpc/health/v1/health_pb';

describe('subjects', () => {
  describe('when naming a domain', () => {
    it('builds the command subject', () => {
      expect(commandSubject('graph', 'CreateGraph')).toBe(
        'cim.graph.cmd.CreateGraph',
      );
    });

    it('builds the query subject', () => {
      expect(querySubject('graph', 'GraphInfo')).toBe(
        'cim.graph.qry.GraphInfo',
      );
    });

    it('builds the event subject of one aggregate', () => {
      expect(eventSubject('graph', 'g-1')).toBe('cim.graph.evt.g-1');
    });

    it('builds the event wildcard and the checkpoint subject', () => {
      expect(eventWildcard('graph')).toBe('cim.graph.evt.>');
      expect(checkpointSubject('graph')).toBe('cim.graph.chk');
    });

    it('names the stream in upper case', () => {
      expect(streamName('graph')).toBe('CIM_GRAPH');
      expect(streamName('conceptualspaces')).toBe('CIM_CONCEPTUALSPACES');
    });

    it('names the queue group', () => {
      expect(queueGroup('graph')).toBe('cim-graph');
    });
  });
});

describe('aggregateIdOf', () => {
  describe('when the subject is a commit subject', () => {
    it('returns the aggregate id', () => {
      expect(aggregateIdOf('cim.graph.evt.g-1')).toBe('g-1');
      expect(aggregateIdOf(eventSubject('graph', 'x_Y-9'))).toBe('x_Y-9');
    });
  });

  describe('when the subject is not a commit subject', () => {
    it.each([
      ['a checkpoint', 'cim.graph.chk'],
      ['a command', 'cim.graph.cmd.CreateGraph'],
      ['a query', 'cim.graph.qry.GraphInfo'],
      ['too long', 'cim.graph.evt.g-1.extra'],
      ['too short', 'cim.graph.evt'],
      ['empty', ''],
    ])('returns undefined for %s', (_label, subject) => {
      expect(aggregateIdOf(subject)).toBeUndefined();
    });
  });
});

describe('serviceRoute', () => {
  describe('when given a generated command service', () => {
    it('derives the domain and cmd', () => {
      expect(serviceRoute(GraphCommandService)).toEqual({
        domain: 'graph',
        kind: 'cmd',
      });
    });
  });

  describe('when given a generated query service', () => {
    it('derives the domain and qry', () => {
      expect(serviceRoute(GraphQueryService)).toEqual({
        domain: 'graph',
        kind: 'qry',
      });
    });
  });

  describe('when given a service outside the cim.<domain>.v<n> scheme', () => {
    it('throws naming the service', () => {
      expect(() => serviceRoute(Health)).toThrow('grpc.health.v1.Health');
    });
  });
});

describe('methodSubject', () => {
  describe('when given a command RPC', () => {
    it('answers the command subject named after the method', () => {
      expect(methodSubject(GraphCommandService.method.createGraph)).toBe(
        'cim.graph.cmd.CreateGraph',
      );
    });

    it('gives every command RPC its own subject', () => {
      const subjects = GraphCommandService.methods.map(methodSubject);
      expect(new Set(subjects).size).toBe(GraphCommandService.methods.length);
      for (const [i, method] of GraphCommandService.methods.entries())
        expect(subjects[i]).toBe(commandSubject('graph', method.name));
    });
  });

  describe('when given a query RPC', () => {
    it('answers the query subject named after the method', () => {
      expect(methodSubject(GraphQueryService.method.graphInfo)).toBe(
        'cim.graph.qry.GraphInfo',
      );
    });
  });

  describe('when given an RPC of a non-CIM service', () => {
    it('throws', () => {
      expect(() => methodSubject(Health.method.check)).toThrow(
        'grpc.health.v1.Health',
      );
    });
  });
});

describe('assertDomainName', () => {
  describe('when the name is lower-case letters and digits', () => {
    it.each(['graph', 'conceptualspaces', 'v2'])('accepts %s', (name) => {
      expect(() => assertDomainName(name)).not.toThrow();
    });
  });

  describe('when the name does not fit', () => {
    it.each([
      ['empty', ''],
      ['upper case', 'Graph'],
      ['a leading digit', '2graph'],
      ['a dot', 'gra.ph'],
      ['a wildcard', 'graph*'],
      ['a space', 'gra ph'],
      ['an underscore', 'gra_ph'],
      ['a hyphen', 'gra-ph'],
      ['129 characters', 'g'.repeat(129)],
    ])('rejects a name with %s', (_label, name) => {
      expect(() => assertDomainName(name)).toThrow(
        `domain name must be lower-case letters and digits: ${JSON.stringify(name)}`,
      );
    });
  });
});

describe('isSubjectToken', () => {
  describe('when the value can stand as one token', () => {
    it.each([
      ['letters', 'graph'],
      ['digits, hyphens and underscores', 'A-b_9'],
      ['a UUID', '01941b2c-3d4e-7f00-8a1b-2c3d4e5f6a7b'],
      ['one character', 'x'],
      ['128 characters', 'a'.repeat(128)],
    ])('accepts %s', (_label, value) => {
      expect(isSubjectToken(value)).toBe(true);
    });
  });

  describe('when the value cannot', () => {
    it.each([
      ['empty', ''],
      ['a dot', 'a.b'],
      ['a trailing dot', 'a.'],
      ['the * wildcard', '*'],
      ['the > wildcard', '>'],
      ['a wildcard inside', 'a*b'],
      ['a space', 'a b'],
      ['a tab', 'a\tb'],
      ['a newline', 'a\n'],
      ['a non-ASCII letter', 'grüße'],
      ['129 characters', 'a'.repeat(129)],
    ])('rejects %s', (_label, value) => {
      expect(isSubjectToken(value)).toBe(false);
    });
  });
});
