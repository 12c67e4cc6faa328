import { describe, expect, it } from '@jest/globals';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DomainError, ErrorCode } from '@cim/kernel';
import {
  DocumentStatus,
  DocumentType,
  MergeStrategy,
  SearchDocumentsRequestSchema,
  StoredContentSchema,
} from '@cim/proto/cim/document/v1/document_pb';
import type { ServiceIo } from '@cim/service';
import { deciderSpec } from '@cim/testing';
import { documentDecider } from '../src/domain/index.js';
import { TERM_LIMITS, isTextualMimeType } from '../src/domain/rules.js';
import type { ContentStores } from '../src/prepare.js';
import { documentQueries } from '../src/queries.js';
import { SearchIndex } from '../src/search-index.js';
import { extractTerms, termsOfText, words } from '../src/text-terms.js';
import {
  CID_A,
  CID_B,
  CID_C,
  OWNER,
  cmd,
  evt,
  projectAll,
  rowsOf,
  stored,
} from './fixtures.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const terms = (text: string) => termsOfText(text);

describe('words', () => {
  it('lower-cases and splits on punctuation and spaces', () => {
    expect(words('Hello, WORLD! Foo-bar_baz (qux) 3.14')).toEqual([
      'hello',
      'world',
      'foo',
      'bar',
      'baz',
      'qux',
      '3',
      '14',
    ]);
  });

  it('keeps letters of any script, with their marks', () => {
    expect(words('Grüße aus Köln — Ελληνικά, русский; हिन्दी')).toEqual([
      'grüße',
      'aus',
      'köln',
      'ελληνικά',
      'русский',
      'हिन्दी',
    ]);
  });

  it('normalises compatibility forms (NFKC) and combining sequences', () => {
    // Full-width letters, the "fi" ligature and e + combining acute.
    expect(words('ＡＢＣ ﬁle cafe\u0301')).toEqual(['abc', 'file', 'café']);
    expect(words('café')).toEqual(words('cafe\u0301'));
  });

  it('keeps apostrophes inside words, typographic or not', () => {
    expect(words("O'Brien's dog’s 'quoted'")).toEqual([
      "o'brien's",
      "dog's",
      'quoted',
    ]);
  });

  it('makes each Han, Hiragana or Katakana character a word', () => {
    // The prolonged sound mark (ー) is of no single script: a letter on its own.
    expect(words('東京タワー abc')).toEqual([
      '東',
      '京',
      'タ',
      'ワ',
      'ー',
      'abc',
    ]);
  });

  it(`drops words longer than ${TERM_LIMITS.termLength} characters`, () => {
    const long = 'x'.repeat(TERM_LIMITS.termLength + 1);
    const fits = 'y'.repeat(TERM_LIMITS.termLength);
    expect(words(`${long} ${fits} z`)).toEqual([fits, 'z']);
  });

  it('finds nothing in punctuation, symbols and emoji', () => {
    expect(words(' ... --- !? 🚀 ++ ')).toEqual([]);
  });
});

describe('termsOfText', () => {
  it('counts distinct terms in order of first occurrence', () => {
    expect(terms('the cat and THE hat. The end')).toEqual({
      terms: ['the', 'cat', 'and', 'hat', 'end'],
      counts: [3, 1, 1, 1, 1],
      length: 7,
      truncated: false,
    });
  });

  it(`keeps at most ${TERM_LIMITS.terms} distinct terms but counts every word`, () => {
    const many = Array.from(
      { length: TERM_LIMITS.terms + 5 },
      (_, i) => `w${i}`,
    );
    const result = terms(`${many.join(' ')} w0 w${TERM_LIMITS.terms + 1}`);
    expect(result.terms).toHaveLength(TERM_LIMITS.terms);
    expect(result.terms[0]).toBe('w0');
    expect(result.counts[0]).toBe(2);
    expect(result.length).toBe(TERM_LIMITS.terms + 7);
    expect(result.truncated).toBe(true);
  });
});

describe('extractTerms', () => {
  it('extracts terms from UTF-8 text', () => {
    expect(extractTerms(utf8('Über alles, über ALLES'))).toEqual({
      terms: ['über', 'alles'],
      counts: [2, 2],
      length: 4,
      truncated: false,
    });
  });

  it('ignores a byte order mark', () => {
    expect(extractTerms(utf8('\uFEFFhello'))?.terms).toEqual(['hello']);
  });

  it('finds no text in bytes that are not UTF-8 or hold NUL', () => {
    expect(extractTerms(new Uint8Array([0xff, 0xfe, 0x41]))).toBeUndefined();
    expect(extractTerms(utf8('text\u0000more'))).toBeUndefined();
  });

  it('finds no text where there is no word', () => {
    expect(extractTerms(utf8('  --  '))).toBeUndefined();
  });

  it(`reads only the first ${TERM_LIMITS.bytes} bytes, dropping a word or character cut there`, () => {
    // "é" is two bytes: the limit falls inside the last one.
    const head = 'a '.repeat((TERM_LIMITS.bytes - 2) / 2);
    const bytes = utf8(`${head}é tail words`);
    expect(bytes.length).toBeGreaterThan(TERM_LIMITS.bytes);
    const result = extractTerms(bytes);
    expect(result?.terms).toEqual(['a']);
    expect(result?.truncated).toBe(true);
    const cutWord = extractTerms(utf8(`${head}bcd`));
    expect(cutWord?.terms).toEqual(['a']);
  });
});

describe('isTextualMimeType', () => {
  it.each([
    'text/plain',
    'text/markdown; charset=utf-8',
    'TEXT/HTML',
    'application/json',
    'application/ld+json',
    'application/atom+xml',
    'application/x-yaml',
  ])('indexes %s', (mime) => expect(isTextualMimeType(mime)).toBe(true));

  it.each([
    '',
    'application/octet-stream',
    'application/pdf',
    'image/svg',
    'video/mp4',
  ])('does not index %s', (mime) =>
    expect(isTextualMimeType(mime)).toBe(false),
  );
});

describe('SearchIndex', () => {
  const counts = (text: string) => {
    const t = terms(text);
    return {
      map: new Map(t.terms.map((term, i) => [term, t.counts[i]!])),
      length: t.length,
    };
  };
  const put = (index: SearchIndex, id: string, text: string) => {
    const { map, length } = counts(text);
    index.put(id, map, length);
  };

  it('needs every term to match', () => {
    const index = new SearchIndex();
    put(index, 'a', 'red apple');
    put(index, 'b', 'green apple');
    put(index, 'c', 'red car');
    expect(index.search(['red', 'apple']).map((h) => h.id)).toEqual(['a']);
    expect(
      index
        .search(['apple'])
        .map((h) => h.id)
        .sort(),
    ).toEqual(['a', 'b']);
    expect(index.search(['red', 'banana'])).toEqual([]);
    expect(index.search([])).toEqual([]);
  });

  it('ranks more occurrences higher, with saturation, and shorter documents higher', () => {
    const index = new SearchIndex();
    put(index, 'once', 'search engine filler filler filler filler');
    put(index, 'thrice', 'search search search engine filler filler');
    put(index, 'short', 'search');
    put(index, 'other', 'nothing here at all');
    const hits = index.search(['search']);
    expect(hits.map((h) => h.id)).toEqual(['short', 'thrice', 'once']);
    const [short, thrice, once] = hits.map((h) => h.score);
    expect(thrice! / once!).toBeLessThan(3); // tf saturates
    expect(short).toBeGreaterThan(thrice!);
  });

  it('weighs rare terms more (idf) and breaks ties by id', () => {
    const index = new SearchIndex();
    put(index, 'b', 'common rare');
    put(index, 'a', 'common common');
    put(index, 'c', 'common other');
    put(index, 'd', 'common other');
    const rare = index.search(['rare'])[0]!.score;
    const common = index.search(['common']).find((h) => h.id === 'b')!.score;
    expect(rare).toBeGreaterThan(common);
    expect(index.search(['other']).map((h) => h.id)).toEqual(['c', 'd']);
  });

  it('scores with BM25: idf · tf·(k1+1) / (tf + k1·(1 − b + b·len/avg))', () => {
    const index = new SearchIndex();
    put(index, 'x', 'alpha beta');
    put(index, 'y', 'gamma delta epsilon zeta');
    const [hit] = index.search(['alpha']);
    const idf = Math.log(1 + (2 - 1 + 0.5) / (1 + 0.5));
    const norm = 1.2 * (1 - 0.75 + (0.75 * 2) / 3);
    expect(hit!.score).toBeCloseTo((idf * 2.2) / (1 + norm), 12);
  });

  it('follows a re-indexed or removed document', () => {
    const index = new SearchIndex();
    put(index, 'a', 'old words');
    put(index, 'a', 'new words');
    expect(index.search(['old'])).toEqual([]);
    expect(index.search(['new']).map((h) => h.id)).toEqual(['a']);
    expect(index.frequency('old')).toBe(0);
    index.remove('a');
    expect(index.search(['words'])).toEqual([]);
    expect(index.size).toBe(0);
  });

  it('applies the filter', () => {
    const index = new SearchIndex();
    put(index, 'a', 'word');
    put(index, 'b', 'word');
    expect(index.search(['word'], (id) => id === 'b').map((h) => h.id)).toEqual(
      ['b'],
    );
  });
});

const given = deciderSpec(documentDecider);
const TEXT = {
  terms: ['hello', 'world'],
  counts: [2, 1],
  length: 3,
  truncated: false,
};

describe('document decider: search terms', () => {
  it('records the terms of ingested text content', () => {
    given([])
      .when(cmd.ingest({ stored: [{ ...stored(CID_A), text: TEXT }] }))
      .then([evt.ingested({ text: TEXT })]);
  });

  it('records no terms when the MIME type is not textual', () => {
    given([])
      .when(
        cmd.ingest({
          hints: { title: 'Plan', mimeType: 'application/octet-stream' },
          stored: [{ ...stored(CID_A), text: TEXT }],
        }),
      )
      .then([evt.ingested({ mimeType: 'application/octet-stream' })]);
  });

  it('records the terms of content a document is created from', () => {
    given([])
      .when(cmd.createFromCid({ stored: [{ ...stored(CID_A), text: TEXT }] }))
      .then([evt.createdFromCid({ text: TEXT })]);
  });

  it('records the terms of the new head on edit, merge and rollback', () => {
    const created = [evt.ingested()];
    given(created)
      .when(cmd.edit({ stored: [{ ...stored(CID_B, 10n), text: TEXT }] }))
      .then([evt.successorCreated({ text: TEXT }), evt.edited()]);
    given(created)
      .when(
        cmd.merge({
          stored: [{ ...stored(CID_B, 10n), text: TEXT }, stored(CID_C, 11n)],
        }),
      )
      .then([evt.merged({ text: TEXT })]);
    given([...created, evt.successorCreated(), evt.edited()])
      .when(cmd.rollback(CID_A))
      .then([evt.rolledBack()]);
    const rollback = cmd.rollback(CID_A);
    if (rollback.body.case === 'rollback') {
      rollback.body.value.stored = [
        create(StoredContentSchema, { ...stored(CID_A), text: TEXT }),
      ];
    }
    given([...created, evt.successorCreated(), evt.edited()])
      .when(rollback)
      .then([evt.rolledBack({ text: TEXT })]);
  });

  it('records no terms for an OURS merge, which keeps the head', () => {
    given([evt.ingested()])
      .when(
        cmd.merge({
          strategy: MergeStrategy.OURS,
          stored: [{ ...stored(CID_B, 10n), text: TEXT }],
        }),
      )
      .then([
        evt.merged({
          strategy: MergeStrategy.OURS,
          resultCid: CID_A,
          sizeBytes: 9n,
          version: { major: 1, minor: 0, patch: 0 },
        }),
      ]);
  });

  it('rejects terms that break the bounds with VALIDATION_FAILED', () => {
    const bad = [
      { ...TEXT, counts: [1] },
      { ...TEXT, terms: ['', 'x'] },
      { ...TEXT, terms: ['x', 'x'] },
      { ...TEXT, counts: [0, 1] },
      {
        terms: Array.from({ length: TERM_LIMITS.terms + 1 }, (_, i) => `t${i}`),
        counts: Array.from({ length: TERM_LIMITS.terms + 1 }, () => 1),
        length: 1,
        truncated: true,
      },
    ];
    for (const text of bad) {
      given([])
        .when(cmd.ingest({ stored: [{ ...stored(CID_A), text }] }))
        .thenRejects(ErrorCode.VALIDATION_FAILED);
    }
  });
});

describe('projection: search terms', () => {
  it('keeps the head content terms and follows new heads', () => {
    const row = projectAll([evt.ingested({ text: TEXT })])!;
    expect(row.text).toEqual({
      terms: ['hello', 'world'],
      counts: [2, 1],
      length: 3,
    });
    const edited = projectAll(
      [
        evt.successorCreated({
          text: { terms: ['bye'], counts: [1], length: 1 },
        }),
      ],
      row,
    )!;
    expect(edited.text?.terms).toEqual(['bye']);
    const binary = projectAll([evt.rolledBack({ fromCid: CID_B })], edited)!;
    expect(binary.text).toBeUndefined();
    const ours = projectAll(
      [evt.merged({ resultCid: binary.headCid, text: TEXT })],
      binary,
    )!;
    expect(ours.text).toBeUndefined();
  });
});

describe('SearchDocuments query', () => {
  const doc = (
    id: string,
    text: string,
    extra: Parameters<typeof projectAll>[0] = [],
    fields: Parameters<typeof evt.ingested>[0] = {},
  ) =>
    projectAll(
      [
        evt.ingested({
          documentId: id,
          title: `Doc ${id}`,
          text: terms(text),
          ...fields,
        }),
        ...extra,
      ].map((e) => {
        const value = e.body.value as { documentId: string } | undefined;
        if (value !== undefined) value.documentId = id;
        return e;
      }),
    )!;
  const noStore = {
    for: () => Promise.reject(new Error('no content store in unit tests')),
  } as unknown as ContentStores;
  const io = { log: { warn: () => undefined } } as unknown as ServiceIo;

  const rows = rowsOf(
    doc('d1', 'The quick brown fox jumps over the lazy dog'),
    doc('d2', 'A quick brown dog, a quick brown dog!', [], {
      tags: ['pets'],
      documentType: DocumentType.NOTE,
    }),
    doc('d3', 'Quick brown foxes are archived here', [evt.archived()]),
    doc('d4', 'brown paper, quick and private', [evt.shared(['user:bob'])], {
      owner: 'user:carol',
    }),
  );
  const handlers = documentQueries({ maxContentBytes: 1024 }, noStore)(
    rows,
    io,
  );
  const search = (
    f: Exclude<
      MessageInitShape<typeof SearchDocumentsRequestSchema>,
      { $typeName: string }
    >,
  ) =>
    handlers.searchDocuments(create(SearchDocumentsRequestSchema, f), {
      position: 1n,
    }) as {
      hits: { documentId: string; title: string; score: number }[];
      page: { nextPageToken: string; totalSize: bigint };
    };
  const ids = (f: Parameters<typeof search>[0]) =>
    search(f).hits.map((h) => h.documentId);

  it('answers documents holding every term, best first, archived ones left out', () => {
    const result = search({ query: 'Quick BROWN' });
    expect(result.hits.map((h) => h.documentId)).toEqual(['d2', 'd4', 'd1']);
    expect(result.hits[0]).toMatchObject({ title: 'Doc d2' });
    expect(result.hits[0]!.score).toBeGreaterThan(result.hits[1]!.score);
    expect(result.page.totalSize).toBe(3n);
    expect(ids({ query: 'quick dog' })).toEqual(['d2', 'd1']);
    expect(ids({ query: 'unicorn quick' })).toEqual([]);
  });

  it('finds documents by title words too', () => {
    expect(ids({ query: 'doc d4' })).toEqual(['d4']);
  });

  it('includes archived documents when asked', () => {
    expect(ids({ query: 'foxes', includeArchived: true })).toEqual(['d3']);
    expect(ids({ query: 'foxes', status: DocumentStatus.ARCHIVED })).toEqual([
      'd3',
    ]);
    expect(ids({ query: 'foxes' })).toEqual([]);
  });

  it('filters by type, tag, owner, status and reader', () => {
    expect(ids({ query: 'quick', documentType: DocumentType.NOTE })).toEqual([
      'd2',
    ]);
    expect(ids({ query: 'quick', tag: 'pets' })).toEqual(['d2']);
    expect(ids({ query: 'quick', owner: 'user:carol' })).toEqual(['d4']);
    expect(ids({ query: 'quick', status: DocumentStatus.PUBLISHED })).toEqual(
      [],
    );
    expect(ids({ query: 'quick', principal: 'user:bob' })).toEqual(['d4']);
    expect(ids({ query: 'quick', principal: OWNER })).toEqual(['d2', 'd1']);
  });

  it('pages through the ranking with tokens', () => {
    const first = search({ query: 'quick brown', page: { pageSize: 2 } });
    expect(first.hits.map((h) => h.documentId)).toEqual(['d2', 'd4']);
    expect(first.page.totalSize).toBe(3n);
    const second = search({
      query: 'quick brown',
      page: { pageSize: 2, pageToken: first.page.nextPageToken },
    });
    expect(second.hits.map((h) => h.documentId)).toEqual(['d1']);
    expect(second.page.nextPageToken).toBe('');
  });

  it.each([
    ['a blank query', { query: '   ' }],
    ['a query without words', { query: '?! --' }],
    ['a query over 1000 characters', { query: 'a'.repeat(1001) }],
    [
      'more than 16 distinct terms',
      { query: Array.from({ length: 17 }, (_, i) => `w${i}`).join(' ') },
    ],
    ['a bad page token', { query: 'quick', page: { pageToken: 'nope' } }],
    ['an unknown status', { query: 'quick', status: 99 as DocumentStatus }],
    ['an unknown type', { query: 'quick', documentType: 99 as DocumentType }],
    ['a blank principal', { query: 'quick', principal: ' ' }],
  ])('rejects %s with VALIDATION_FAILED', (_, request) => {
    let caught: unknown;
    try {
      search(request);
    } catch (error) {
      caught = error;
    }
    expect(DomainError.is(caught) && caught.code).toBe(
      ErrorCode.VALIDATION_FAILED,
    );
  });

  it('follows a document whose head changes', () => {
    const local = rowsOf(doc('e1', 'first version text'));
    const q = documentQueries({ maxContentBytes: 1024 }, noStore)(local, io);
    const find = (query: string, position: bigint) =>
      (
        q.searchDocuments(create(SearchDocumentsRequestSchema, { query }), {
          position,
        }) as { hits: { documentId: string }[] }
      ).hits.map((h) => h.documentId);
    expect(find('first', 1n)).toEqual(['e1']);
    local.set(
      'e1',
      projectAll(
        [
          evt.successorCreated({
            documentId: 'e1',
            text: terms('second version'),
          }),
        ],
        local.get('e1'),
      )!,
    );
    expect(find('first', 2n)).toEqual([]);
    expect(find('second', 2n)).toEqual(['e1']);
  });
});
