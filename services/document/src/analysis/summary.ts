import { ANALYSIS_LIMITS } from '../domain/analysis.js';
import { words } from '../text-terms.js';
import { byteOffsets } from './offsets.js';

/** A sentence of a text: where it starts and ends (string indices), as written. */
export interface Sentence {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A summary sentence: its text (white space collapsed, cut to the limit), UTF-8 byte offset and score. */
export interface SummarySentenceLike {
  readonly text: string;
  readonly offset: number;
  readonly score: number;
}

/** An extractive summary and the number of sentences it was chosen from. */
export interface SummaryLike {
  readonly sentences: SummarySentenceLike[];
  readonly sentenceCount: number;
}

/** Abbreviations whose period does not end a sentence (lower case, without the period). */
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms dr prof sr jr st vs etc e.g i.e eg ie inc ltd co corp no fig ' +
    'approx dept est vol pp cf al'
  ).split(' '),
);

/** English function words: frequent everywhere, so they say nothing about a sentence. */
const STOP_WORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because ' +
    'been before being below between both but by can could did do does doing ' +
    'down during each few for from further had has have having he her here ' +
    "hers herself him himself his how i if in into is it it's its itself just " +
    'me more most my myself no nor not now of off on once only or other our ' +
    'ours ourselves out over own same she should so some such than that the ' +
    'their theirs them themselves then there these they this those through to ' +
    'too under until up very was we were what when where which while who whom ' +
    'why will with would you your yours yourself yourselves also may might ' +
    'must shall us'
  ).split(' '),
);

/**
 * A sentence ends at `.`, `!`, `?` or `…` (with any closing quotes or
 * brackets after it) followed by white space, at a blank line, and at the
 * end of the text. A run of end marks is tried from its first mark only:
 * tried from each, a long run with no white space after it cost a scan to
 * its end per mark (an hour for a mebibyte of dots).
 */
const BOUNDARY = /(?<![.!?…])[.!?…]+["'’”)\]]*(?=\s)|\n[ \t]*\n/gu;

/** Whether the period at `end` closes an abbreviation or an initial (J. Smith), not a sentence. */
function abbreviated(text: string, end: number): boolean {
  if (text[end - 1] !== '.') return false;
  const word = /([\p{L}.]+)\.$/u.exec(text.slice(Math.max(0, end - 12), end));
  if (word === null) return false;
  const token = word[1]!;
  return ABBREVIATIONS.has(token.toLowerCase()) || /^\p{Lu}$/u.test(token);
}

/** The sentences of a text, in order; stretches without a letter or digit are not sentences. */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let start = 0;
  const close = (end: number) => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (/[\p{L}\p{N}]/u.test(body)) {
      out.push({
        start: start + lead,
        end: start + lead + body.length,
        text: body,
      });
    }
    start = end;
  };
  for (const match of text.matchAll(BOUNDARY)) {
    const end = match.index + match[0].length;
    if (match[0].startsWith('\n') || !abbreviated(text, end)) close(end);
  }
  close(text.length);
  return out;
}

/** A sentence's text as a summary shows it: white space collapsed, cut at a word boundary to the limit. */
function clipped(sentence: string): string {
  const flat = sentence.replace(/\s+/gu, ' ');
  if (flat.length <= ANALYSIS_LIMITS.sentenceText) return flat;
  const cut = flat.slice(0, ANALYSIS_LIMITS.sentenceText);
  const space = cut.lastIndexOf(' ');
  return `${space > 0 ? cut.slice(0, space) : cut}…`;
}

const contentWords = (text: string) =>
  words(text).filter((w) => !STOP_WORDS.has(w) && /\p{L}/u.test(w));

/**
 * An extractive summary: the `maxSentences` sentences with the highest
 * term-frequency score, in their original order. A word's weight is its
 * frequency in the whole text over the highest frequency (stop words and
 * numbers do not count); a sentence scores the sum of its words' weights
 * over the square root of its word count, so long sentences gain less than
 * linearly. Ties go to the earlier sentence. Deterministic and pure.
 */
export function summarize(text: string, maxSentences: number): SummaryLike {
  const all = sentences(text);
  const frequency = new Map<string, number>();
  const perSentence = all.map((s) => contentWords(s.text));
  for (const list of perSentence) {
    for (const word of list)
      frequency.set(word, (frequency.get(word) ?? 0) + 1);
  }
  let top = 1;
  for (const count of frequency.values()) top = Math.max(top, count);
  const scored = all.map((sentence, index) => {
    const list = perSentence[index]!;
    const sum = list.reduce((acc, w) => acc + frequency.get(w)! / top, 0);
    return {
      sentence,
      index,
      score: list.length === 0 ? 0 : sum / Math.sqrt(list.length),
    };
  });
  const chosen = [...scored]
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, maxSentences)
    .sort((a, b) => a.index - b.index);
  const offsets = byteOffsets(
    text,
    chosen.map((c) => c.sentence.start),
  );
  return {
    sentences: chosen.map((c, i) => ({
      text: clipped(c.sentence.text),
      offset: offsets[i]!,
      score: c.score,
    })),
    sentenceCount: all.length,
  };
}
