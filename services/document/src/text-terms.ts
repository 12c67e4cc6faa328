import { TERM_LIMITS, type TermsLike } from './domain/rules.js';

/**
 * A word: a run of letters, marks and digits, with single apostrophes inside
 * (o'brien), or one character of a script written without spaces (Han,
 * Hiragana, Katakana), which is a word of its own.
 */
const WORD =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]|(?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{M}\p{N}])+(?:['’](?:(?![\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}])[\p{L}\p{M}\p{N}])+)*/gu;

/**
 * The words of `text` in order, normalised: NFKC, lower case, the typographic
 * apostrophe as `'`; words longer than TERM_LIMITS.termLength are dropped.
 * Queries and content go through this same function, so they match.
 */
export function words(text: string): string[] {
  const out: string[] = [];
  const normal = text.normalize('NFKC').toLowerCase();
  for (const match of normal.matchAll(WORD)) {
    const word = match[0].replaceAll('’', "'");
    if (word.length <= TERM_LIMITS.termLength) out.push(word);
  }
  return out;
}

/**
 * Counts the distinct words of `text` in order of first occurrence, keeping
 * at most TERM_LIMITS.terms of them; `length` counts every word.
 */
export function termsOfText(text: string, cut = false): TermsLike {
  const counts = new Map<string, number>();
  let length = 0;
  let truncated = cut;
  const found = words(text);
  // Content cut at the extraction limit may end inside a word: drop that one.
  if (cut && found.length > 0 && /[\p{L}\p{M}\p{N}]$/u.test(text)) found.pop();
  for (const word of found) {
    length++;
    const seen = counts.get(word);
    if (seen !== undefined) counts.set(word, seen + 1);
    else if (counts.size < TERM_LIMITS.terms) counts.set(word, 1);
    else truncated = true;
  }
  return {
    terms: [...counts.keys()],
    counts: [...counts.values()],
    length,
    truncated,
  };
}

/** Content bytes read as text (see decodeText). */
export interface DecodedText {
  readonly text: string;
  /** The content went on past the bytes read. */
  readonly cut: boolean;
}

/**
 * The text of content bytes when they are text: valid UTF-8 without NUL
 * characters in the first `limit` bytes (the rest is not read). A character
 * cut by the limit is left out. Undefined for anything else.
 */
export function decodeText(
  bytes: Uint8Array,
  limit: number,
): DecodedText | undefined {
  const cut = bytes.length > limit;
  const prefix = cut ? bytes.subarray(0, limit) : bytes;
  if (prefix.includes(0)) return undefined;
  try {
    // `stream` leaves a character cut by the limit undecoded instead of failing on it.
    const text = new TextDecoder('utf-8', {
      fatal: true,
      ignoreBOM: false,
    }).decode(prefix, { stream: cut });
    return { text, cut };
  } catch {
    return undefined; // not UTF-8: not text
  }
}

/**
 * The terms of content bytes when they are text (see decodeText; at most
 * TERM_LIMITS.bytes are read). Undefined for anything else, and for text
 * without a single word.
 */
export function extractTerms(bytes: Uint8Array): TermsLike | undefined {
  const decoded = decodeText(bytes, TERM_LIMITS.bytes);
  if (decoded === undefined) return undefined;
  const terms = termsOfText(decoded.text, decoded.cut);
  return terms.terms.length === 0 ? undefined : terms;
}
