import { EntityKind } from '@cim/proto/cim/document/v1/document_pb';
import { ANALYSIS_LIMITS } from '../domain/analysis.js';
import { byteOffsets } from './offsets.js';

/** One distinct entity: its first spelling, how often it occurs, and where first (UTF-8 byte offset). */
export interface FoundEntity {
  readonly kind: EntityKind;
  readonly text: string;
  readonly count: number;
  readonly firstOffset: number;
}

/** The entities of a text, by first offset, and whether some were left out. */
export interface FoundEntities {
  readonly entities: FoundEntity[];
  readonly truncated: boolean;
}

/**
 * A capitalised word: an upper-case letter, then lower-case letters (O'Brien,
 * Jean-Luc), and a whole word: a longer one is no part of a name. Every
 * repetition is bounded: with an open `+` or `*` here, text such as
 * "Ab-Ab-Ab-…" with no name after it makes the engine retry every start over
 * the whole run, quadratic in the text (minutes for 1 MiB).
 */
const CAPITALISED = String.raw`\p{Lu}[\p{Ll}\p{M}]{1,40}(?:['’-]\p{Lu}?[\p{Ll}\p{M}]{1,40}){0,3}(?!['’-]?[\p{L}\p{M}])`;
/** Lower-case particles allowed inside a name (Ludwig van Beethoven). */
const PARTICLE = '(?:van|von|der|den|de|del|da|di|du|la|le)';

/**
 * The patterns, in priority order: a character claimed by an earlier kind is
 * not part of a later one (an address inside a URL is the URL's).
 */
const PATTERNS: ReadonlyArray<readonly [EntityKind, RegExp]> = [
  [EntityKind.URL, /\bhttps?:\/\/[^\s<>"'`{}|\\^[\]]+/giu],
  [
    EntityKind.EMAIL,
    // Bounded as addresses are (64 characters before the @, labels of 63, a top-level domain of 24).
    /(?<![\p{L}\p{N}._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![\p{L}\p{N}])/gu,
  ],
  [EntityKind.DATE, /(?<![\p{L}\p{N}])(\d{4})-(\d{2})-(\d{2})(?![\p{N}])/gu],
  [
    EntityKind.PHONE,
    /(?<![\p{L}\p{N}+])(?:\+\d{1,3}[ -]?)?(?:\(\d{1,4}\)[ -]?)?\d{2,4}(?:[ -]\d{2,4}){1,4}(?![\p{L}\p{N}])/gu,
  ],
  [
    EntityKind.NAME,
    new RegExp(
      String.raw`(?<![\p{L}\p{N}])${CAPITALISED}(?: (?:${PARTICLE} )?${CAPITALISED}){1,3}(?![\p{L}\p{N}])`,
      'gu',
    ),
  ],
];

/** Words that start sentences and headings rather than names; dropped from the front of a name. */
const NOT_NAMES = new Set(
  (
    'A An And As At But By Dear For From Hello Hi If In Into Of On Or Our So ' +
    'That The Their Then There These This Those To We When Where While With ' +
    'Monday Tuesday Wednesday Thursday Friday Saturday Sunday January ' +
    'February March April May June July August September October November ' +
    'December'
  ).split(' '),
);

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isCalendarDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1]!;
  return day <= days;
}

/** Trailing punctuation that ends a sentence rather than a URL. */
const URL_TAIL = /[.,;:!?)\]}'"’”]+$/u;

/**
 * What a match of `kind` really names, as [start offset within the match,
 * text], or undefined when it names nothing of that kind.
 */
function refine(
  kind: EntityKind,
  match: RegExpMatchArray,
): readonly [number, string] | undefined {
  const text = match[0];
  switch (kind) {
    case EntityKind.URL: {
      const url = text.replace(URL_TAIL, '');
      return /^https?:\/\/[^/?#]+/iu.test(url) ? [0, url] : undefined;
    }
    case EntityKind.DATE:
      return isCalendarDate(
        Number(match[1]),
        Number(match[2]),
        Number(match[3]),
      )
        ? [0, text]
        : undefined;
    case EntityKind.PHONE: {
      // Plain runs of numbers (scores, years) are not phone numbers: a phone
      // has 7 to 15 digits and a country code, an area code in brackets, or
      // at least three groups.
      const digits = text.replace(/\D/gu, '').length;
      const groups = text.split(/[ -]/u).length;
      const marked = text.startsWith('+') || text.includes('(');
      // A date-shaped run that is no calendar date (2024-13-01) is no phone either.
      const dateLike = /^\d{4}-\d{2}-\d{2}$/u.test(text);
      return digits >= 7 && digits <= 15 && (marked || groups >= 3) && !dateLike
        ? [0, text]
        : undefined;
    }
    case EntityKind.NAME: {
      const parts = text.split(' ');
      let skip = 0;
      let at = 0;
      while (skip < parts.length && NOT_NAMES.has(parts[skip]!)) {
        at += parts[skip]!.length + 1;
        skip++;
      }
      const rest = parts.slice(skip);
      return rest.length >= 2 && /^\p{Lu}/u.test(rest[0]!)
        ? [at, rest.join(' ')]
        : undefined;
    }
    default:
      return [0, text];
  }
}

/**
 * The text with every claimed character replaced by NUL (a boundary to every
 * pattern), so a later kind neither matches inside an earlier one nor loses
 * a match that starts next to it. Indices stay those of the text.
 */
function masked(text: string, claimed: Uint8Array): string {
  let out = '';
  let from = 0;
  for (let at = claimed.indexOf(1); at !== -1;) {
    const end = claimed.indexOf(0, at);
    const stop = end === -1 ? text.length : end;
    out += text.slice(from, at) + '\0'.repeat(stop - at);
    from = stop;
    at = end === -1 ? -1 : claimed.indexOf(1, end);
  }
  return out + text.slice(from);
}

interface Tally {
  kind: EntityKind;
  text: string;
  count: number;
  first: number;
}

/**
 * The entities of a text: e-mail addresses (counted case-insensitively),
 * http(s) URLs, ISO 8601 calendar dates (YYYY-MM-DD), phone numbers, and
 * names (two to four capitalised words in a row, leading sentence words
 * such as "The" dropped). Each distinct entity once, with its count and the
 * UTF-8 byte offset of its first occurrence; the first
 * ANALYSIS_LIMITS.entities by offset are kept, and entities longer than
 * ANALYSIS_LIMITS.entityText characters are left out. Deterministic and pure.
 */
export function extractEntities(text: string): FoundEntities {
  const claimed = new Uint8Array(text.length);
  const tallies = new Map<string, Tally>();
  let truncated = false;
  for (const [kind, pattern] of PATTERNS) {
    for (const match of masked(text, claimed).matchAll(pattern)) {
      const found = refine(kind, match);
      if (found === undefined) continue;
      const [shift, value] = found;
      const start = match.index + shift;
      const end = start + value.length;
      claimed.fill(1, start, end);
      if (value.length > ANALYSIS_LIMITS.entityText) {
        truncated = true;
        continue;
      }
      const key = `${kind}:${kind === EntityKind.EMAIL ? value.toLowerCase() : value}`;
      const tally = tallies.get(key);
      if (tally === undefined) {
        tallies.set(key, { kind, text: value, count: 1, first: start });
      } else {
        tally.count++;
        if (start < tally.first) {
          tally.first = start;
          tally.text = value;
        }
      }
    }
  }
  const ordered = [...tallies.values()].sort((a, b) => a.first - b.first);
  const kept = ordered.slice(0, ANALYSIS_LIMITS.entities);
  const offsets = byteOffsets(
    text,
    kept.map((t) => t.first),
  );
  return {
    entities: kept.map((t, i) => ({
      kind: t.kind,
      text: t.text,
      count: t.count,
      firstOffset: offsets[i]!,
    })),
    truncated: truncated || ordered.length > kept.length,
  };
}
