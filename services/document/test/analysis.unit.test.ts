import { describe, expect, it } from '@jest/globals';
import {
  DocumentType,
  EntityKind,
} from '@cim/proto/cim/document/v1/document_pb';
import { classifyText } from '../src/analysis/classify.js';
import { extractEntities } from '../src/analysis/entities.js';
import { byteOffsets } from '../src/analysis/offsets.js';
import { sentences, summarize } from '../src/analysis/summary.js';
import { ANALYSIS_LIMITS } from '../src/domain/analysis.js';

const bytesBefore = (text: string, part: string) =>
  Buffer.byteLength(text.slice(0, text.indexOf(part)));

const MIB = 1024 * 1024;

describe('byteOffsets', () => {
  it('counts UTF-8 bytes of one-, two-, three- and four-byte characters', () => {
    const text = 'aé€😀b';
    expect(byteOffsets(text, [0, 1, 2, 3, 5])).toEqual([0, 1, 3, 6, 10]);
  });
});

describe('extractEntities', () => {
  const kinds = (text: string) =>
    extractEntities(text).entities.map((e) => [EntityKind[e.kind], e.text]);

  // Each of these took minutes for a mebibyte while the patterns had open
  // repetitions (every start retried over the whole run); bounded, they take
  // a few milliseconds, and the names around them are still found.
  it.each([
    ['hyphenated capitals', 'Ab-'],
    ['apostrophes', "Ab'"],
    ['an address that never ends', 'a@b-'],
  ])('reads a mebibyte of %s in one pass', (_, unit) => {
    const text = `Ada Lovelace ${unit.repeat(Math.floor(MIB / unit.length))} Grace Hopper`;
    expect(
      kinds(text)
        .filter(([kind]) => kind === 'NAME')
        .map(([, name]) => name),
    ).toEqual(['Ada Lovelace', 'Grace Hopper']);
  });

  it('finds e-mail addresses, URLs, ISO dates, phone numbers and names', () => {
    expect(
      kinds(
        'Ada Lovelace (ada@example.com) filed on 2024-02-29T10:00Z, see https://example.com/q3?x=1. Call +44 20 7946 0958.',
      ),
    ).toEqual([
      ['NAME', 'Ada Lovelace'],
      ['EMAIL', 'ada@example.com'],
      ['DATE', '2024-02-29'],
      ['URL', 'https://example.com/q3?x=1'],
      ['PHONE', '+44 20 7946 0958'],
    ]);
  });
  it('counts each distinct entity once, e-mail addresses case-insensitively, keeping the first spelling and offset', () => {
    const text =
      'Ask Ada@Example.com, then ada@example.com; Grace Hopper met Grace Hopper.';
    expect(extractEntities(text).entities).toEqual([
      {
        kind: EntityKind.EMAIL,
        text: 'Ada@Example.com',
        count: 2,
        firstOffset: 4,
      },
      {
        kind: EntityKind.NAME,
        text: 'Grace Hopper',
        count: 2,
        firstOffset: text.indexOf('Grace'),
      },
    ]);
  });
  it('gives first offsets in UTF-8 bytes', () => {
    const text = 'Zoë wrote — see zoe@example.org';
    const [entity] = extractEntities(text).entities;
    expect(entity?.firstOffset).toBe(bytesBefore(text, 'zoe@'));
  });
  it('refuses impossible dates and plain runs of numbers', () => {
    expect(
      kinds(
        'Not 2023-02-29, 2024-13-01, a score of 12 34, 1999 or 192.168.10.1.',
      ),
    ).toEqual([]);
  });
  it('accepts leap days and common phone formats', () => {
    expect(kinds('2024-02-29 555-123-4567 (555) 123-4567')).toEqual([
      ['DATE', '2024-02-29'],
      ['PHONE', '555-123-4567'],
      ['PHONE', '(555) 123-4567'],
    ]);
  });
  it('drops sentence words before a name, keeps particles inside it, and needs two words', () => {
    expect(
      kinds('The Board met. When Ludwig van Beethoven came, Paris was quiet.'),
    ).toEqual([['NAME', 'Ludwig van Beethoven']]);
  });
  it('leaves an address inside a URL to the URL and trailing punctuation out of it', () => {
    expect(kinds('(https://example.com/u?to=ada@example.com).')).toEqual([
      ['URL', 'https://example.com/u?to=ada@example.com'],
    ]);
  });
  it(`keeps the first ${ANALYSIS_LIMITS.entities} entities by offset and says more were found`, () => {
    const text = Array.from(
      { length: ANALYSIS_LIMITS.entities + 5 },
      (_, i) => `user${i}@example.com`,
    ).join(' ');
    const found = extractEntities(text);
    expect(found.entities).toHaveLength(ANALYSIS_LIMITS.entities);
    expect(found.entities[0]?.text).toBe('user0@example.com');
    expect(found.truncated).toBe(true);
  });
  it('finds nothing in text without entities', () => {
    expect(extractEntities('nothing to see here')).toEqual({
      entities: [],
      truncated: false,
    });
  });
});

describe('sentences', () => {
  it('splits at end punctuation and blank lines, not after abbreviations or initials', () => {
    expect(
      sentences(
        'Title\n\nDr. Smith met J. Doe, e.g. at noon. Was it late?  Yes!\n"Quoted." End',
      ).map((s) => s.text),
    ).toEqual([
      'Title',
      'Dr. Smith met J. Doe, e.g. at noon.',
      'Was it late?',
      'Yes!',
      '"Quoted."',
      'End',
    ]);
  });
});

describe('summarize', () => {
  const text = [
    'Revenue grew strongly this quarter.',
    'The weather was mild.',
    'Revenue growth came from new revenue streams.',
    'Lunch was served at noon.',
  ].join(' ');

  it('reads a mebibyte of end marks in one pass, and the sentences around them', () => {
    // Tried from every mark, such a run cost a scan to its end per mark (an hour for this much).
    const summary = summarize(`${text} ${'.'.repeat(MIB)}x`, 4);
    expect(summary.sentenceCount).toBe(5);
    expect(summary.sentences[0]?.text).toBe(
      'Revenue grew strongly this quarter.',
    );
  });

  it('keeps the highest-scoring sentences in their original order, with byte offsets', () => {
    const summary = summarize(text, 2);
    expect(summary.sentenceCount).toBe(4);
    expect(summary.sentences.map((s) => s.text)).toEqual([
      'Revenue grew strongly this quarter.',
      'Revenue growth came from new revenue streams.',
    ]);
    expect(summary.sentences.map((s) => s.offset)).toEqual([
      0,
      bytesBefore(text, 'Revenue growth'),
    ]);
    expect(summary.sentences[1]!.score).toBeGreaterThan(
      summary.sentences[0]!.score,
    );
  });
  it('is deterministic and gives ties to the earlier sentence', () => {
    const same = 'Alpha beta. Alpha beta. Alpha beta.';
    expect(summarize(same, 1).sentences.map((s) => s.offset)).toEqual([0]);
    expect(summarize(text, 3)).toEqual(summarize(text, 3));
  });
  it('collapses white space and cuts long sentences at a word boundary', () => {
    const long = `${'word '.repeat(200)}end.`;
    const [sentence] = summarize(`Short\n  one. ${long}`, 2).sentences;
    expect(sentence?.text).toBe('Short one.');
    const [, cut] = summarize(`Short one. ${long}`, 2).sentences;
    expect(cut!.text.length).toBeLessThanOrEqual(
      ANALYSIS_LIMITS.sentenceText + 1,
    );
    expect(cut!.text.endsWith('word…')).toBe(true);
  });
  it('summarises text without sentences as nothing', () => {
    expect(summarize(' \n ', 3)).toEqual({ sentences: [], sentenceCount: 0 });
  });
});

describe('classifyText', () => {
  it('takes the document type whose lexicon shows the most distinct keywords', () => {
    const contract =
      'This Agreement is made between the parties. Whereas the Supplier shall deliver, termination and liability follow the governing law.';
    expect(classifyText(contract)).toMatchObject({
      documentType: DocumentType.CONTRACT,
      rule: 'lexicon:contract',
      confidence: 0.95,
    });
  });
  it('labels topics with two or more keywords, best first, at most three', () => {
    const text =
      'Revenue and profit beat the budget. The software server and database moved to the cloud. Patients got treatment.';
    expect(classifyText(text).topics).toEqual([
      {
        label: 'technology',
        confidence: 0.57,
        keywords: ['software', 'server', 'database', 'cloud'],
      },
      {
        label: 'finance',
        confidence: 0.5,
        keywords: ['revenue', 'profit', 'budget'],
      },
      { label: 'health', confidence: 0.4, keywords: ['patients', 'treatment'] },
    ]);
  });
  it('calls short unclaimed text a note and longer text text', () => {
    expect(classifyText('Buy milk.')).toEqual({
      documentType: DocumentType.NOTE,
      confidence: 0.5,
      rule: 'length:note',
      topics: [],
    });
    expect(classifyText('word '.repeat(200))).toMatchObject({
      documentType: DocumentType.TEXT,
      rule: 'default:text',
    });
  });
  it('reads words case- and form-insensitively', () => {
    expect(
      classifyText('EXECUTIVE SUMMARY. Findings, Results, Recommendations.'),
    ).toMatchObject({
      documentType: DocumentType.REPORT,
      rule: 'lexicon:report',
    });
  });
});
