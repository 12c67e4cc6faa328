import { describe, expect, it } from '@jest/globals';
import { create } from '@bufbuild/protobuf';
import { ErrorCode } from '@cim/kernel';
import { PageRequestSchema } from '@cim/proto/cim/common/v1/paging_pb';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  SortedRowIds,
  decodeCursor,
  encodeCursor,
  pageSize,
  readPage,
  rejectPageToken,
  takePage,
  type Rows,
} from '@cim/service';

/** Matches a thrown DomainError VALIDATION_FAILED for a page token. */
const badToken = expect.objectContaining({
  name: 'DomainError',
  code: ErrorCode.VALIDATION_FAILED,
  message: expect.stringMatching(
    /^page_token ".*" is not a token this query issued$/,
  ),
});

const page = (pageSize: number, pageToken = '') =>
  create(PageRequestSchema, { pageSize, pageToken });

function rowsOf<Row>(map: Map<string, Row>): Rows<Row> {
  return {
    get: (id) => map.get(id),
    get size() {
      return map.size;
    },
    values: () => map.values(),
    entries: () => map.entries(),
  };
}

const BAD_TOKENS = [
  'garbage!',
  'Zm9v',
  encodeCursor('g-1').slice(0, -1) + '*',
  Buffer.from('k:a.b').toString('base64url'),
  Buffer.from('d:1:a').toString('base64url'),
  Buffer.from('k:').toString('base64url'),
];

describe('encodeCursor and decodeCursor', () => {
  it.each(['g-1', 'g-1_x', 'A', 'x'.repeat(128)])('round-trips %j', (key) => {
    expect(decodeCursor(encodeCursor(key))).toBe(key);
  });

  it('makes url-safe tokens that do not show the key as is', () => {
    const token = encodeCursor('g-1');
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(token).not.toContain('g-1');
  });

  it.each(BAD_TOKENS)(
    'rejects the token %j with VALIDATION_FAILED',
    (token) => {
      expect(() => decodeCursor(token)).toThrow(badToken);
    },
  );

  it('checks the key with the predicate it is given', () => {
    const token = encodeCursor('w-1:s-1');
    expect(() => decodeCursor(token)).toThrow(badToken);
    expect(decodeCursor(token, (key) => key.includes(':'))).toBe('w-1:s-1');
    expect(() => decodeCursor(encodeCursor('g-1'), () => false)).toThrow(
      badToken,
    );
  });

  it('rejectPageToken throws VALIDATION_FAILED naming the token', () => {
    expect(() => rejectPageToken('abc')).toThrow(badToken);
    expect(() => rejectPageToken('abc')).toThrow(
      'page_token "abc" is not a token this query issued',
    );
  });
});

describe('pageSize and readPage', () => {
  it('defaults a missing request or size 0 to DEFAULT_PAGE_SIZE', () => {
    expect(DEFAULT_PAGE_SIZE).toBe(50);
    expect(pageSize(undefined)).toBe(DEFAULT_PAGE_SIZE);
    expect(pageSize(page(0))).toBe(DEFAULT_PAGE_SIZE);
    expect(readPage(undefined)).toEqual({
      size: DEFAULT_PAGE_SIZE,
      after: undefined,
    });
  });

  it('keeps a size up to MAX_PAGE_SIZE and caps a larger one', () => {
    expect(MAX_PAGE_SIZE).toBe(500);
    expect(pageSize(page(1))).toBe(1);
    expect(pageSize(page(MAX_PAGE_SIZE))).toBe(MAX_PAGE_SIZE);
    expect(pageSize(page(MAX_PAGE_SIZE + 1))).toBe(MAX_PAGE_SIZE);
    expect(pageSize(page(2 ** 32 - 1))).toBe(MAX_PAGE_SIZE);
  });

  it('decodes the token into the key a page starts after', () => {
    expect(readPage(page(7, encodeCursor('g-3')))).toEqual({
      size: 7,
      after: 'g-3',
    });
  });

  it.each(BAD_TOKENS)(
    'rejects the token %j with VALIDATION_FAILED',
    (token) => {
      expect(() => readPage(page(0, token))).toThrow(badToken);
    },
  );

  it('passes its predicate on to decodeCursor', () => {
    const token = encodeCursor('w-1:s-1');
    expect(readPage(page(0, token), (key) => key.includes(':')).after).toBe(
      'w-1:s-1',
    );
  });
});

describe('takePage', () => {
  const entries = (...keys: string[]) =>
    keys.map((key, i) => [key, i] as const);

  it('takes at most size entries, rendered, and a token for the next page', () => {
    const { items, info } = takePage(
      entries('a', 'b', 'c'),
      { size: 2 },
      3,
      (value, key) => `${key}=${value}`,
    );
    expect(items).toEqual(['a=0', 'b=1']);
    expect(info).toEqual({ nextPageToken: encodeCursor('b'), totalSize: 3n });
  });

  it('answers no next token when the entries end within the page', () => {
    for (const keys of [['a', 'b'], ['a'], []]) {
      const { items, info } = takePage(
        entries(...keys),
        { size: 2 },
        9,
        (value) => value,
      );
      expect(items).toHaveLength(keys.length);
      expect(info).toEqual({ nextPageToken: '', totalSize: 9n });
    }
  });

  it('pages through all entries with the tokens it issues', () => {
    const all = entries('a', 'b', 'c', 'd', 'e');
    const seen: string[] = [];
    let token = '';
    do {
      const window = readPage(page(2, token));
      const after = window.after;
      const { items, info } = takePage(
        all.filter(([key]) => after === undefined || key > after),
        window,
        all.length,
        (_, key) => key,
      );
      seen.push(...items);
      token = info.nextPageToken ?? '';
    } while (token !== '');
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('makes the next token with the cursor it is given', () => {
    const { info } = takePage(
      entries('a', 'b'),
      { size: 1 },
      2,
      (value) => value,
      (value, key) => `${key}@${value}`,
    );
    expect(info.nextPageToken).toBe('a@0');
  });

  it('reads no further than one entry past the page', () => {
    let read = 0;
    function* counted(): Generator<[string, number]> {
      for (let i = 0; i < 100; i++) {
        read++;
        yield [`k${i}`, i];
      }
    }
    takePage(counted(), { size: 3 }, 100, (value) => value);
    expect(read).toBe(4);
  });
});

describe('SortedRowIds', () => {
  it('lists the row ids in code-unit order as rows arrive', () => {
    const map = new Map<string, number>([
      ['b', 1],
      ['a', 2],
    ]);
    const index = new SortedRowIds(rowsOf(map));
    expect(index.sorted()).toEqual(['a', 'b']);
    map.set('Z', 3);
    map.set('ab', 4);
    expect(index.sorted()).toEqual(['Z', 'a', 'ab', 'b']);
  });

  it('leaves an array it handed out unchanged when rows arrive', () => {
    const map = new Map<string, number>([['b', 1]]);
    const index = new SortedRowIds(rowsOf(map));
    const before = index.sorted();
    map.set('a', 2);
    expect(index.sorted()).toEqual(['a', 'b']);
    expect(before).toEqual(['b']);
  });

  it('starts over when the rows were replaced by fewer', () => {
    const map = new Map<string, number>([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    const index = new SortedRowIds(rowsOf(map));
    expect(index.sorted()).toEqual(['a', 'b', 'c']);
    map.clear();
    map.set('x', 1);
    expect(index.sorted()).toEqual(['x']);
  });
});
