import { DocumentType } from '@cim/proto/cim/document/v1/document_pb';
import { ANALYSIS_LIMITS } from '../domain/analysis.js';
import { words } from '../text-terms.js';

/** A topic label with its confidence and the keywords that raised it. */
export interface TopicLike {
  readonly label: string;
  readonly confidence: number;
  readonly keywords: string[];
}

/** What a text alone says about its document type and topics (DocumentClassification as plain data). */
export interface ClassificationLike {
  readonly documentType: DocumentType;
  readonly confidence: number;
  readonly rule: string;
  readonly topics: TopicLike[];
}

/** Keywords (one or two words, as `words` splits them) whose presence marks a document type. */
const TYPE_LEXICONS: ReadonlyArray<readonly [DocumentType, readonly string[]]> =
  [
    [
      DocumentType.CONTRACT,
      [
        'agreement',
        'parties',
        'party',
        'hereinafter',
        'whereas',
        'shall',
        'termination',
        'governing law',
        'indemnify',
        'liability',
        'obligations',
        'effective date',
        'in witness',
        'breach',
        'confidentiality',
      ],
    ],
    [
      DocumentType.REPORT,
      [
        'report',
        'executive summary',
        'findings',
        'analysis',
        'results',
        'conclusion',
        'conclusions',
        'recommendations',
        'methodology',
        'quarter',
        'figure',
        'table',
        'overview',
        'appendix',
      ],
    ],
    [
      DocumentType.PRESENTATION,
      [
        'slide',
        'slides',
        'agenda',
        'presentation',
        'speaker notes',
        'next slide',
        'deck',
        'questions',
        'thank you',
      ],
    ],
  ];

/** Keywords per topic label. */
const TOPIC_LEXICONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  [
    'finance',
    [
      'revenue',
      'profit',
      'budget',
      'invoice',
      'payment',
      'cost',
      'costs',
      'tax',
      'interest',
      'loan',
      'investment',
      'cash',
      'price',
      'fiscal',
      'accounting',
    ],
  ],
  [
    'legal',
    [
      'contract',
      'agreement',
      'law',
      'court',
      'liability',
      'clause',
      'compliance',
      'regulation',
      'rights',
      'license',
      'jurisdiction',
      'plaintiff',
      'defendant',
      'statute',
    ],
  ],
  [
    'technology',
    [
      'software',
      'server',
      'database',
      'api',
      'cloud',
      'network',
      'code',
      'deployment',
      'algorithm',
      'data',
      'security',
      'application',
      'infrastructure',
      'protocol',
    ],
  ],
  [
    'health',
    [
      'patient',
      'patients',
      'clinical',
      'treatment',
      'hospital',
      'medical',
      'health',
      'disease',
      'diagnosis',
      'therapy',
      'symptoms',
      'care',
      'drug',
    ],
  ],
  [
    'marketing',
    [
      'marketing',
      'campaign',
      'brand',
      'customers',
      'customer',
      'sales',
      'market',
      'audience',
      'advertising',
      'launch',
      'promotion',
      'leads',
    ],
  ],
  [
    'people',
    [
      'employee',
      'employees',
      'hiring',
      'recruitment',
      'salary',
      'onboarding',
      'training',
      'performance review',
      'benefits',
      'leave',
      'team',
      'manager',
    ],
  ],
  [
    'science',
    [
      'research',
      'experiment',
      'hypothesis',
      'study',
      'sample',
      'theory',
      'measurement',
      'laboratory',
      'observations',
      'evidence',
      'model',
    ],
  ],
];

/** Distinct type keywords a lexicon must show before its rule fires. */
const TYPE_THRESHOLD = 3;
/** Distinct topic keywords a topic must show to be labelled. */
const TOPIC_THRESHOLD = 2;
/** Below this many words, a text no lexicon claims is a note. */
const NOTE_WORDS = 150;

const round2 = (value: number) => Math.round(value * 100) / 100;

/** Occurrences of each word and each pair of adjacent words. */
function countTerms(list: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (term: string) => counts.set(term, (counts.get(term) ?? 0) + 1);
  list.forEach((word, i) => {
    add(word);
    if (i > 0) add(`${list[i - 1]} ${word}`);
  });
  return counts;
}

/** The keywords of a lexicon found, in lexicon order, and their total occurrences. */
function hits(counts: ReadonlyMap<string, number>, lexicon: readonly string[]) {
  const found = lexicon.filter((k) => counts.has(k));
  const total = found.reduce((sum, k) => sum + counts.get(k)!, 0);
  return { found, total };
}

/**
 * Classifies a text by keyword lexicons (words as search splits them, so
 * case and Unicode forms do not matter). Document type: the lexicon with
 * the most distinct keywords found, at least three, wins (ties: more
 * occurrences, then lexicon order: contract, report, presentation), with
 * confidence min(0.95, 0.4 + 0.1 × distinct keywords) and rule
 * `lexicon:<type>`; failing that, a text under 150 words is a note (0.5,
 * `length:note`), anything else text (0.3, `default:text`). Topics: each
 * topic lexicon with at least two distinct keywords, confidence
 * distinct / (distinct + 3), best first (ties: more occurrences, then
 * label), at most ANALYSIS_LIMITS.topics. MIME type rules come on top of
 * this when the command is decided (withMimeRule). Deterministic and pure.
 */
export function classifyText(text: string): ClassificationLike {
  const list = words(text);
  const counts = countTerms(list);
  let best: { type: DocumentType; distinct: number; total: number } | undefined;
  for (const [type, lexicon] of TYPE_LEXICONS) {
    const { found, total } = hits(counts, lexicon);
    if (found.length < TYPE_THRESHOLD) continue;
    if (
      best === undefined ||
      found.length > best.distinct ||
      (found.length === best.distinct && total > best.total)
    ) {
      best = { type, distinct: found.length, total };
    }
  }
  const topics = TOPIC_LEXICONS.flatMap(([label, lexicon]) => {
    const { found, total } = hits(counts, lexicon);
    if (found.length < TOPIC_THRESHOLD) return [];
    const confidence = round2(found.length / (found.length + 3));
    return [
      {
        label,
        confidence,
        total,
        keywords: found.slice(0, ANALYSIS_LIMITS.keywords),
      },
    ];
  })
    .sort(
      (a, b) =>
        b.confidence - a.confidence ||
        b.total - a.total ||
        (a.label < b.label ? -1 : 1),
    )
    .slice(0, ANALYSIS_LIMITS.topics)
    .map(({ label, confidence, keywords }) => ({
      label,
      confidence,
      keywords,
    }));
  if (best !== undefined) {
    return {
      documentType: best.type,
      confidence: round2(Math.min(0.95, 0.4 + 0.1 * best.distinct)),
      rule: `lexicon:${DocumentType[best.type].toLowerCase()}`,
      topics,
    };
  }
  return list.length < NOTE_WORDS
    ? {
        documentType: DocumentType.NOTE,
        confidence: 0.5,
        rule: 'length:note',
        topics,
      }
    : {
        documentType: DocumentType.TEXT,
        confidence: 0.3,
        rule: 'default:text',
        topics,
      };
}
