import { invalid, show } from '@cim/kernel';
import {
  DocumentType,
  EntityKind,
  type ContentAnalysis,
  type DocumentClassification,
  type Entity,
  type TextSummary,
} from '@cim/proto/cim/document/v1/document_pb';
import { DATA_APPLICATION_TYPES, TERM_LIMITS } from './rules.js';

/**
 * Bounds of content analysis: bytes read per content (as for search terms),
 * distinct entities kept and characters per entity, summary sentences
 * (default and most) and characters per sentence, topics per
 * classification, and characters of labels, keywords and rules.
 */
export const ANALYSIS_LIMITS = {
  bytes: TERM_LIMITS.bytes,
  entities: 200,
  entityText: 200,
  defaultSentences: 3,
  sentences: 10,
  sentenceText: 500,
  topics: 3,
  keywords: 10,
  label: 64,
} as const;

/** Each analysis command's key in DocumentData.analysed: what the head already has. */
export const analysisKey = {
  entities: () => 'entities',
  summary: (maxSentences: number) => `summary:${maxSentences}`,
  classification: () => 'classification',
} as const;

/** The sentences a GenerateSummary asks for: 0 means the default; VALIDATION_FAILED outside 1 to the limit. */
export function summaryLength(maxSentences: number): number {
  if (maxSentences === 0) return ANALYSIS_LIMITS.defaultSentences;
  if (maxSentences > ANALYSIS_LIMITS.sentences) {
    invalid(
      `max_sentences must be 1 to ${ANALYSIS_LIMITS.sentences} (0 means ${ANALYSIS_LIMITS.defaultSentences}), got ${maxSentences}`,
    );
  }
  return maxSentences;
}

function broken(cid: string, what: string): never {
  // prepare never makes such results; this keeps a malformed command out of the stream.
  return invalid(`the analysis of ${show(cid)} breaks its bounds: ${what}`);
}

const isText = (value: string, max: number) =>
  value.trim() !== '' && value.length <= max;

/** Checks the entities of an analysis against Entity's bounds; VALIDATION_FAILED otherwise. */
export function checkEntities(
  { contentCid, entities }: ContentAnalysis,
  cid = contentCid,
): Entity[] {
  if (entities.length > ANALYSIS_LIMITS.entities) {
    broken(cid, `at most ${ANALYSIS_LIMITS.entities} entities`);
  }
  for (const entity of entities) {
    if (
      entity.kind === EntityKind.UNSPECIFIED ||
      EntityKind[entity.kind] === undefined ||
      !isText(entity.text, ANALYSIS_LIMITS.entityText) ||
      entity.count === 0
    ) {
      broken(
        cid,
        `each entity has a known kind, a text of 1 to ${ANALYSIS_LIMITS.entityText} characters and a count`,
      );
    }
  }
  return entities;
}

/** Checks a summary against TextSummary's bounds for `maxSentences`; VALIDATION_FAILED otherwise. */
export function checkSummary(
  cid: string,
  summary: TextSummary | undefined,
  maxSentences: number,
): TextSummary {
  if (summary === undefined) broken(cid, 'no summary');
  if (
    summary.sentences.length > maxSentences ||
    summary.sentences.length > summary.sentenceCount ||
    summary.sentences.some(
      // One more for the ellipsis that ends a cut sentence.
      (s) => !isText(s.text, ANALYSIS_LIMITS.sentenceText + 1),
    )
  ) {
    broken(
      cid,
      `at most ${maxSentences} sentences of 1 to ${ANALYSIS_LIMITS.sentenceText} characters`,
    );
  }
  return summary;
}

/** Checks a classification against DocumentClassification's bounds; VALIDATION_FAILED otherwise. */
export function checkClassification(
  cid: string,
  classification: DocumentClassification | undefined,
): DocumentClassification {
  if (classification === undefined) broken(cid, 'no classification');
  const { documentType, confidence, rule, topics } = classification;
  const unit = (value: number) => value >= 0 && value <= 1;
  if (
    documentType === DocumentType.UNSPECIFIED ||
    DocumentType[documentType] === undefined ||
    !unit(confidence) ||
    !isText(rule, ANALYSIS_LIMITS.label) ||
    topics.length > ANALYSIS_LIMITS.topics ||
    topics.some(
      (t) =>
        !isText(t.label, ANALYSIS_LIMITS.label) ||
        !unit(t.confidence) ||
        t.keywords.length > ANALYSIS_LIMITS.keywords ||
        t.keywords.some((k) => !isText(k, ANALYSIS_LIMITS.label)),
    )
  ) {
    broken(
      cid,
      `a known document type, confidences from 0 to 1, a rule, at most ${ANALYSIS_LIMITS.topics} labelled topics`,
    );
  }
  return classification;
}

/** Tabular text. */
const TABLE_TYPES = new Set([
  'text/csv',
  'application/csv',
  'text/tab-separated-values',
]);

/**
 * The MIME type rules of classification, which outrank the lexicons: tabular
 * text (CSV, TSV) is a spreadsheet (confidence 0.95), data and code (JSON,
 * XML, YAML, TOML, scripts, SQL) are `other` (0.9). The rule reads
 * `mime:<type>/<subtype>`. Any other MIME type keeps the classification the
 * text gave; topics always come from the text.
 */
export function withMimeRule(
  mimeType: string,
  classification: DocumentClassification,
): DocumentClassification {
  const essence = (mimeType.split(';')[0] ?? '').trim().toLowerCase();
  const [type = '', subtype = ''] = essence.split('/');
  const rule = `mime:${essence}`;
  if (TABLE_TYPES.has(essence)) {
    return {
      ...classification,
      documentType: DocumentType.SPREADSHEET,
      confidence: 0.95,
      rule,
    };
  }
  if (
    type === 'application' &&
    (DATA_APPLICATION_TYPES.has(subtype) ||
      subtype.endsWith('+json') ||
      subtype.endsWith('+xml'))
  ) {
    return {
      ...classification,
      documentType: DocumentType.OTHER,
      confidence: 0.9,
      rule,
    };
  }
  return classification;
}
