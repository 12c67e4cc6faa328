import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { ErrorCode } from '@cim/kernel';
import {
  ChildFactsSchema,
  LocationType,
  NetworkType,
  ParentRemovalCause,
  RiskSeverity,
  ValidationResult,
  type LocationEvent,
} from '@cim/proto/cim/location/v1/location_pb';
import { deciderSpec } from '@cim/testing';
import { locationDecider } from '../src/domain/index.js';
import {
  LOCATION_ID,
  address,
  cmd,
  coords,
  evt,
  facts,
  link,
  rootParent,
  stateOf,
  virtualSite,
} from './fixtures.js';

const given = deciderSpec(locationDecider);

const validated = (events: readonly LocationEvent[]) => {
  const body = events[0]?.body;
  if (body?.case !== 'validated') throw new Error('expected LocationValidated');
  return body.value;
};

describe('location decider', () => {
  describe('when the location does not exist', () => {
    it('defines a physical location', () => {
      given([]).when(cmd.define()).then([evt.defined()]);
    });

    it('spells an empty coordinate system WGS84', () => {
      given([])
        .when(
          cmd.define({ coordinates: coords(52.52, 13.405, { system: '' }) }),
        )
        .then([evt.defined()]);
    });

    it('defines a virtual location with virtual details only', () => {
      const virtual = virtualSite();
      given([])
        .when(
          cmd.define({
            locationType: LocationType.VIRTUAL,
            address: undefined,
            coordinates: undefined,
            virtual,
          }),
        )
        .then([
          evt.defined({
            locationType: LocationType.VIRTUAL,
            address: undefined,
            coordinates: undefined,
            virtual,
          }),
        ]);
    });

    it('defines a logical location with a representative point', () => {
      given([])
        .when(
          cmd.define({
            locationType: LocationType.LOGICAL,
            address: undefined,
          }),
        )
        .then([
          evt.defined({
            locationType: LocationType.LOGICAL,
            address: undefined,
          }),
        ]);
    });

    it('defines a hybrid location with an address and virtual details', () => {
      const virtual = virtualSite({
        kind: { case: 'meetingRoom', value: { platform: 'Jitsi' } },
      });
      given([])
        .when(cmd.define({ locationType: LocationType.HYBRID, virtual }))
        .then([evt.defined({ locationType: LocationType.HYBRID, virtual })]);
    });

    it('defines a location under a known parent, with metadata', () => {
      given([])
        .when(
          cmd.define({
            parentId: 'campus',
            parentFacts: rootParent('campus'),
            metadata: { floor: '3' },
          }),
        )
        .then([evt.defined({ parentId: 'campus', metadata: { floor: '3' } })]);
    });

    it.each([
      ['a blank name', { name: '  ' }],
      ['an unspecified type', { locationType: LocationType.UNSPECIFIED }],
      ['an unknown type', { locationType: 99 as LocationType }],
      ['a blank address part', { address: address({ locality: ' ' }) }],
      [
        'an oversize address part',
        { address: address({ street1: 'x'.repeat(201) }) },
      ],
      ['a latitude above 90', { coordinates: coords(90.0001, 0) }],
      ['a latitude below -90', { coordinates: coords(-91, 0) }],
      ['a longitude beyond 180', { coordinates: coords(0, 180.5) }],
      ['a NaN latitude', { coordinates: coords(Number.NaN, 0) }],
      [
        'another coordinate system',
        { coordinates: coords(1, 1, { system: 'ETRS89' }) },
      ],
      [
        'an infinite altitude',
        { coordinates: coords(1, 1, { altitude: Infinity }) },
      ],
      [
        'a physical location with neither address nor coordinates',
        { address: undefined, coordinates: undefined },
      ],
      ['virtual details on a physical location', { virtual: virtualSite() }],
      ['a blank metadata key', { metadata: { ' ': 'x' } }],
      ['an oversize metadata value', { metadata: { k: 'v'.repeat(1001) } }],
      ['itself as parent', { parentId: LOCATION_ID }],
      ['a parent id that is not a token', { parentId: 'a.b' }],
    ])('rejects Define with %s with VALIDATION_FAILED', (_, fields) => {
      given([])
        .when(cmd.define(fields))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });

    it.each([
      ['an address', { address: address(), coordinates: undefined }],
      ['coordinates', { address: undefined, coordinates: coords() }],
      ['no virtual details', { address: undefined, coordinates: undefined }],
    ])(
      'rejects Define of a virtual location with %s with VALIDATION_FAILED',
      (_, fields) => {
        given([])
          .when(cmd.define({ locationType: LocationType.VIRTUAL, ...fields }))
          .thenRejects(ErrorCode.VALIDATION_FAILED);
      },
    );

    it.each([
      ['no kind', virtualSite({ kind: { case: undefined } })],
      ['a blank primary identifier', virtualSite({ primaryIdentifier: '' })],
      ['a relative URL', virtualSite({ urls: ['/status'] })],
      [
        'a malformed IP address',
        virtualSite({ ipAddresses: [{ address: '300.1.1.1' }] }),
      ],
      [
        'port 0',
        virtualSite({ ipAddresses: [{ address: '::1', ports: [0] }] }),
      ],
      [
        'a blank cloud provider',
        virtualSite({
          kind: { case: 'cloudService', value: { provider: '' } },
        }),
      ],
    ])(
      'rejects virtual details with %s with VALIDATION_FAILED',
      (_, virtual) => {
        given([])
          .when(
            cmd.define({
              locationType: LocationType.VIRTUAL,
              address: undefined,
              coordinates: undefined,
              virtual,
            }),
          )
          .thenRejects(ErrorCode.VALIDATION_FAILED);
      },
    );

    it('rejects Define under an unknown parent with NOT_FOUND', () => {
      given([])
        .when(cmd.define({ parentId: 'campus', parentFacts: facts() }))
        .thenRejects(ErrorCode.NOT_FOUND, /campus/);
    });

    it('rejects Define under a parent the service did not look up with NOT_FOUND', () => {
      given([])
        .when(cmd.define({ parentId: 'campus' }))
        .thenRejects(ErrorCode.NOT_FOUND);
    });

    it('rejects Define under an archived parent with BUSINESS_RULE_VIOLATION', () => {
      given([])
        .when(
          cmd.define({
            parentId: 'campus',
            parentFacts: facts(link('campus', '', 0, true)),
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /archived/);
    });

    it('rejects Define under a 256-link ancestry with BUSINESS_RULE_VIOLATION', () => {
      const chain = Array.from({ length: 256 }, (_, i) =>
        link(`p${i}`, i === 255 ? '' : `p${i + 1}`, i + 1),
      );
      given([])
        .when(cmd.define({ parentId: 'p0', parentFacts: facts(...chain) }))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /deeper/);
      given([])
        .when(
          cmd.define({
            parentId: 'p0',
            parentFacts: facts(...chain.slice(0, 255)),
          }),
        )
        .then([evt.defined({ parentId: 'p0' })]);
    });

    it.each([
      ['Update', cmd.update({ name: 'x' })],
      ['SetParent', cmd.setParent('campus', rootParent('campus'))],
      ['RemoveParent', cmd.removeParent()],
      ['AddMetadata', cmd.addMetadata({ k: 'v' })],
      ['Archive', cmd.archive()],
      ['ValidateContext', cmd.validateContext({ country: 'DE' })],
      ['VerifyHierarchy', cmd.verifyHierarchy()],
    ])('rejects %s with NOT_FOUND', (_, command) => {
      given([]).when(command).thenRejects(ErrorCode.NOT_FOUND);
    });

    it('rejects a command without a body with VALIDATION_FAILED', () => {
      given([]).when(cmd.empty()).thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('when the location is active', () => {
    const defined = [evt.defined()];

    it('rejects Define with ALREADY_EXISTS', () => {
      given(defined).when(cmd.define()).thenRejects(ErrorCode.ALREADY_EXISTS);
    });

    it('renames it with a reason', () => {
      given(defined)
        .when(cmd.update({ name: 'HQ', reason: 'rebranding' }))
        .then([evt.updated({ name: 'HQ', reason: 'rebranding' })]);
    });

    it('moves its coordinates', () => {
      given(defined)
        .when(
          cmd.update({
            coordinates: coords(48.8566, 2.3522, { system: 'wgs84' }),
          }),
        )
        .then([evt.updated({ coordinates: coords(48.8566, 2.3522) })]);
    });

    it('clears the address while coordinates remain', () => {
      given(defined)
        .when(cmd.update({ clearAddress: true }))
        .then([evt.updated({ addressCleared: true })]);
    });

    it('turns into a virtual location when the physical attributes go', () => {
      const virtual = virtualSite();
      given(defined)
        .when(
          cmd.update({
            locationType: LocationType.VIRTUAL,
            clearAddress: true,
            clearCoordinates: true,
            virtual,
          }),
        )
        .then([
          evt.updated({
            locationType: LocationType.VIRTUAL,
            addressCleared: true,
            coordinatesCleared: true,
            virtual,
          }),
        ]);
    });

    it.each([
      ['nothing to change', {}],
      [
        'an address both set and cleared',
        { address: address(), clearAddress: true },
      ],
      ['a blank name', { name: '' }],
      ['an unknown type', { locationType: 42 as LocationType }],
      ['a longitude of -181', { coordinates: coords(0, -181) }],
      ['an oversize reason', { name: 'x', reason: 'r'.repeat(1001) }],
    ])('rejects Update with %s with VALIDATION_FAILED', (_, fields) => {
      given(defined)
        .when(cmd.update(fields))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });

    it.each([
      ['virtual details on a physical location', { virtual: virtualSite() }],
      [
        'neither address nor coordinates left',
        { clearAddress: true, clearCoordinates: true },
      ],
      [
        'a change to virtual that keeps the address',
        {
          locationType: LocationType.VIRTUAL,
          virtual: virtualSite(),
          clearCoordinates: true,
        },
      ],
    ])('rejects Update with %s with BUSINESS_RULE_VIOLATION', (_, fields) => {
      given(defined)
        .when(cmd.update(fields))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
    });

    it('sets a parent', () => {
      given(defined)
        .when(cmd.setParent('campus', rootParent('campus')))
        .then([evt.parentSet('campus')]);
    });

    it('moves to another parent, naming the previous one', () => {
      given([...defined, evt.parentSet('campus')])
        .when(
          cmd.setParent(
            'annex',
            facts(link('annex', 'campus', 7), link('campus')),
          ),
        )
        .then([evt.parentSet('annex', 'campus')]);
    });

    it('rejects SetParent to itself with VALIDATION_FAILED', () => {
      given(defined)
        .when(cmd.setParent(LOCATION_ID, rootParent(LOCATION_ID)))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });

    it('rejects SetParent with an empty parent id with VALIDATION_FAILED', () => {
      given(defined)
        .when(cmd.setParent(''))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });

    it('rejects SetParent to the current parent with INVALID_TRANSITION', () => {
      given([...defined, evt.parentSet('campus')])
        .when(cmd.setParent('campus', rootParent('campus')))
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });

    it('rejects SetParent to an unknown parent with NOT_FOUND', () => {
      given(defined)
        .when(cmd.setParent('ghost', facts()))
        .thenRejects(ErrorCode.NOT_FOUND);
    });

    it('rejects SetParent to an archived parent with BUSINESS_RULE_VIOLATION', () => {
      given(defined)
        .when(cmd.setParent('campus', facts(link('campus', '', 0, true))))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /archived/);
    });

    it('rejects SetParent below one of its own descendants with BUSINESS_RULE_VIOLATION', () => {
      // room → floor → loc-1: making room the parent of loc-1 closes loc-1 → room → floor → loc-1.
      given(defined)
        .when(
          cmd.setParent(
            'room',
            facts(
              link('room', 'floor', 5),
              link('floor', LOCATION_ID, 4),
              link(LOCATION_ID),
            ),
          ),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /cycle/);
    });

    it('rejects SetParent under a hierarchy that already holds a cycle with BUSINESS_RULE_VIOLATION', () => {
      given(defined)
        .when(cmd.setParent('a', facts(link('a', 'b', 3), link('b', 'a', 4))))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /holds a cycle/);
    });

    it('rejects RemoveParent without a parent with INVALID_TRANSITION', () => {
      given(defined)
        .when(cmd.removeParent())
        .thenRejects(ErrorCode.INVALID_TRANSITION);
    });

    it('removes its parent', () => {
      given([...defined, evt.parentSet('campus')])
        .when(cmd.removeParent())
        .then([evt.parentRemoved('campus')]);
    });

    it('adds metadata', () => {
      given(defined)
        .when(cmd.addMetadata({ floor: '3', wing: 'B' }))
        .then([evt.metadataAdded({ floor: '3', wing: 'B' })]);
    });

    it.each([
      ['no entries', {}],
      ['a blank key', { '': 'x' }],
      ['an oversize key', { ['k'.repeat(129)]: 'x' }],
    ])('rejects AddMetadata with %s with VALIDATION_FAILED', (_, entries) => {
      given(defined)
        .when(cmd.addMetadata(entries))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });

    it('rejects AddMetadata beyond 256 entries in all with BUSINESS_RULE_VIOLATION', () => {
      const entries = (from: number, count: number) =>
        Object.fromEntries(
          Array.from({ length: count }, (_, i) => [`k${from + i}`, 'v']),
        );
      given([...defined, evt.metadataAdded(entries(0, 200))])
        .when(cmd.addMetadata(entries(200, 57)))
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION);
      // Replacing existing keys does not grow the map.
      given([...defined, evt.metadataAdded(entries(0, 256))])
        .when(cmd.addMetadata(entries(0, 10)))
        .then([evt.metadataAdded(entries(0, 10))]);
    });

    it('archives it with a reason', () => {
      given(defined)
        .when(cmd.archive({ reason: 'closed' }))
        .then([evt.archived('closed')]);
    });

    it('rejects Archive with live children with BUSINESS_RULE_VIOLATION', () => {
      given(defined)
        .when(
          cmd.archive({
            children: create(ChildFactsSchema, {
              liveCount: 2n,
              sampleIds: ['a', 'b'],
            }),
          }),
        )
        .thenRejects(ErrorCode.BUSINESS_RULE_VIOLATION, /"a", "b"/);
    });

    it('rejects Archive with an oversize reason with VALIDATION_FAILED', () => {
      given(defined)
        .when(cmd.archive({ reason: 'r'.repeat(1001) }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    });
  });

  describe('when a context is validated', () => {
    const site = [
      evt.defined({
        locationType: LocationType.HYBRID,
        virtual: virtualSite({
          ipAddresses: [
            { address: '2001:db8::1', ports: [443] },
            { address: '192.0.2.10' },
          ],
        }),
      }),
    ];
    const near = coords(52.5201, 13.4051);

    it('records VALID for a context that matches, with its distance', () => {
      const [event] = given(site)
        .when(
          cmd.validateContext({
            ip: '2001:0DB8:0:0::1',
            coordinates: near,
            country: 'de',
            networkType: NetworkType.WIRED,
            deviceId: 'laptop-7',
          }),
        )
        .events();
      const value = validated([event!]);
      expect(value).toMatchObject({
        result: ValidationResult.VALID,
        riskIndicators: [],
        ip: '2001:db8:0:0:0:0:0:1',
        country: 'de',
        toleranceM: 1000,
      });
      expect(value.distanceM).toBeGreaterThan(0);
      expect(value.distanceM).toBeLessThan(20);
    });

    it('records INVALID for coordinates beyond the tolerance', () => {
      const value = validated(
        given(site)
          .when(
            cmd.validateContext({
              coordinates: coords(48.8566, 2.3522),
              deviceId: 'd',
              toleranceM: 5000,
            }),
          )
          .events(),
      );
      expect(value.result).toBe(ValidationResult.INVALID);
      expect(value.riskIndicators.map((r) => [r.code, r.severity])).toEqual([
        ['coordinates_far', RiskSeverity.HIGH],
      ]);
      // Berlin to Paris is about 878 km.
      expect(value.distanceM! / 1000).toBeCloseTo(877.5, 0);
    });

    it('records INVALID for another country', () => {
      const value = validated(
        given(site)
          .when(cmd.validateContext({ country: 'FR', deviceId: 'd' }))
          .events(),
      );
      expect(value.result).toBe(ValidationResult.INVALID);
      expect(value.riskIndicators[0]?.code).toBe('country_mismatch');
    });

    it('records SUSPICIOUS for an IP the location does not list, or a VPN', () => {
      for (const context of [
        { ip: '198.51.100.7', deviceId: 'd' },
        { country: 'DE', networkType: NetworkType.VPN, deviceId: 'd' },
      ]) {
        const value = validated(
          given(site).when(cmd.validateContext(context)).events(),
        );
        expect(value.result).toBe(ValidationResult.SUSPICIOUS);
      }
    });

    it('records INVALID for Tor', () => {
      const value = validated(
        given(site)
          .when(
            cmd.validateContext({
              country: 'DE',
              networkType: NetworkType.TOR,
              deviceId: 'd',
            }),
          )
          .events(),
      );
      expect(value.result).toBe(ValidationResult.INVALID);
      expect(value.riskIndicators[0]?.code).toBe('anonymizing_network');
    });

    it('records VALID with low indicators for what cannot be checked', () => {
      const value = validated(
        given([evt.defined({ address: undefined })])
          .when(cmd.validateContext({ ip: '192.0.2.1', country: 'DE' }))
          .events(),
      );
      expect(value.result).toBe(ValidationResult.VALID);
      expect(value.riskIndicators.map((r) => r.code)).toEqual([
        'country_unverifiable',
        'ip_unverifiable',
        'unknown_device',
      ]);
    });

    it.each([
      ['an empty context', {}],
      ['a malformed IP', { ip: '10.0.0.256' }],
      ['an IPv6 address with two ::', { ip: '1::2::3' }],
      ['invalid coordinates', { coordinates: coords(95, 0) }],
      ['a zero tolerance', { country: 'DE', toleranceM: 0 }],
      [
        'an unknown network type',
        { country: 'DE', networkType: 77 as NetworkType },
      ],
    ])(
      'rejects ValidateContext with %s with VALIDATION_FAILED',
      (_, fields) => {
        given(site)
          .when(cmd.validateContext(fields))
          .thenRejects(ErrorCode.VALIDATION_FAILED);
      },
    );
  });

  describe('when the hierarchy is verified', () => {
    const child = [evt.defined(), evt.parentSet('b')];

    it('removes the parent link that closed a cycle', () => {
      // loc-1 → b → c → loc-1, and loc-1's link is the latest (sequence 9).
      given(child)
        .when(
          cmd.verifyHierarchy({
            self: link(LOCATION_ID, 'b', 9),
            parentFacts: facts(
              link('b', 'c', 5),
              link('c', LOCATION_ID, 7),
              link(LOCATION_ID, 'b', 9),
            ),
          }),
        )
        .then([
          evt.parentRemoved('b', {
            cause: ParentRemovalCause.CYCLE,
            cycle: [LOCATION_ID, 'b', 'c'],
          }),
        ]);
    });

    it('leaves a cycle whose latest link is another location’s to that location', () => {
      given(child)
        .when(
          cmd.verifyHierarchy({
            self: link(LOCATION_ID, 'b', 5),
            parentFacts: facts(
              link('b', LOCATION_ID, 9),
              link(LOCATION_ID, 'b', 5),
            ),
          }),
        )
        .thenNothing();
    });

    it('decides nothing without a cycle', () => {
      given(child)
        .when(
          cmd.verifyHierarchy({
            self: link(LOCATION_ID, 'b', 5),
            parentFacts: facts(link('b')),
          }),
        )
        .thenNothing();
    });

    it('decides nothing when the read model holds another parent', () => {
      given(child)
        .when(
          cmd.verifyHierarchy({
            self: link(LOCATION_ID, 'x', 9),
            parentFacts: facts(
              link('x', LOCATION_ID, 3),
              link(LOCATION_ID, 'x', 9),
            ),
          }),
        )
        .thenNothing();
    });

    it('decides nothing for a root', () => {
      given([evt.defined()])
        .when(cmd.verifyHierarchy({ self: link(LOCATION_ID) }))
        .thenNothing();
    });

    describe('on a state older than the version it was sent for (a stale cache)', () => {
      const cycleFacts = {
        observedVersion: 2n,
        self: link(LOCATION_ID, 'b', 9),
        parentFacts: facts(
          link('b', LOCATION_ID, 5),
          link(LOCATION_ID, 'b', 9),
        ),
      };
      const removal = evt.parentRemoved('b', {
        cause: ParentRemovalCause.CYCLE,
        cycle: [LOCATION_ID, 'b'],
      });

      it('decides from the read model’s facts, so that the append conflicts and it is decided again', () => {
        given([evt.defined()])
          .when(cmd.verifyHierarchy(cycleFacts))
          .then([removal]);
        given([]).when(cmd.verifyHierarchy(cycleFacts)).then([removal]);
      });

      it('decides nothing when the facts show no cycle', () => {
        given([evt.defined()])
          .when(
            cmd.verifyHierarchy({
              ...cycleFacts,
              parentFacts: facts(link('b')),
            }),
          )
          .thenNothing();
      });

      it('rejects VerifyHierarchy of a location the read model holds archived with INVALID_TRANSITION', () => {
        given([evt.defined()])
          .when(
            cmd.verifyHierarchy({
              ...cycleFacts,
              self: link(LOCATION_ID, 'b', 9, true),
            }),
          )
          .thenRejects(ErrorCode.INVALID_TRANSITION);
      });

      it('checks the current state once it has caught up', () => {
        // The same command on the state the stream holds: the link is there.
        given([evt.defined(), evt.parentSet('b')])
          .when(cmd.verifyHierarchy(cycleFacts))
          .then([removal]);
        // ... or already moved on to another parent: nothing to do.
        given([evt.defined(), evt.parentSet('b'), evt.parentSet('c', 'b')])
          .when(cmd.verifyHierarchy(cycleFacts))
          .thenNothing();
      });
    });
  });

  describe('when the location is archived', () => {
    const archived = [evt.defined(), evt.archived()];

    it.each([
      ['Define', 'ALREADY_EXISTS', cmd.define(), ErrorCode.ALREADY_EXISTS],
      [
        'Update',
        'INVALID_TRANSITION',
        cmd.update({ name: 'x' }),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'SetParent',
        'INVALID_TRANSITION',
        cmd.setParent('campus', rootParent('campus')),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'RemoveParent',
        'INVALID_TRANSITION',
        cmd.removeParent(),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'AddMetadata',
        'INVALID_TRANSITION',
        cmd.addMetadata({ k: 'v' }),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'Archive',
        'INVALID_TRANSITION',
        cmd.archive(),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'ValidateContext',
        'INVALID_TRANSITION',
        cmd.validateContext({ country: 'DE' }),
        ErrorCode.INVALID_TRANSITION,
      ],
      [
        'VerifyHierarchy',
        'INVALID_TRANSITION',
        cmd.verifyHierarchy(),
        ErrorCode.INVALID_TRANSITION,
      ],
    ])('rejects %s with %s', (_, _name, command, code) => {
      given(archived).when(command).thenRejects(code);
    });
  });

  describe('evolve', () => {
    it('ignores events from a newer schema and events before LocationDefined', () => {
      const state = stateOf([evt.defined()]);
      expect(locationDecider.evolve(state, evt.unknown())).toEqual({
        ...state,
        version: 2,
      });
      expect(stateOf([evt.archived(), evt.parentSet('x')])).toEqual({
        status: 'absent',
      });
    });

    it('folds every event into the state', () => {
      const state = stateOf([
        evt.defined({ metadata: { a: '1' } }),
        evt.updated({ name: 'HQ', addressCleared: true }),
        evt.parentSet('campus'),
        evt.metadataAdded({ a: '2', b: '3' }),
        evt.validated(),
        evt.archived(),
      ]);
      expect(state).toMatchObject({
        status: 'archived',
        version: 6,
        name: 'HQ',
        address: undefined,
        parentId: 'campus',
        metadata: new Map([
          ['a', '2'],
          ['b', '3'],
        ]),
      });
      expect(
        stateOf([evt.defined(), evt.parentSet('c'), evt.parentRemoved('c')]),
      ).toMatchObject({
        parentId: '',
      });
    });
  });
});
