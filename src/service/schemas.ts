/**
 * Shared JSON Schemas (OpenAPI 3.1 components): the routes validate requests and serialise responses with
 * them, and /openapi.json is generated from them, so the spec cannot drift from the code.
 */
import type { FastifyInstance } from 'fastify';
import secureJson from 'secure-json-parse';
import { VigilError } from '../core/errors.js';
import { hexPattern, SIGNAL_TYPES, signalTypes, type IndexKind, type SignalType, type SignalTypeName } from '../signals/registry.js';
import { SCOPES } from '../auth/keys.js';
import { JOB_STATES } from '../queue/types.js';
import { ACTION_STATUSES, ACTION_TYPES, VERDICTS } from '../rules/types.js';
import { BANK_KINDS, FALSE_POSITIVE_POLICIES, OPINION_KINDS, SIGNAL_STATUSES } from '../store/types.js';

const labels = {
  $id: 'Labels',
  type: 'object',
  description: 'Classification labels carried by the list (Project VIC, UK, industry categories, series, tags).',
  properties: {
    projectVicCategory: { type: 'integer' },
    ukCategory: { type: 'string', enum: ['A', 'B', 'C'] },
    industryCategory: { type: 'string', enum: ['A1', 'A2', 'B1', 'B2'] },
    series: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
  },
  additionalProperties: true,
} as const;

const timeRange = { type: 'object', properties: { start: { type: 'number' }, end: { type: 'number' } } } as const;

const bankMatch = {
  $id: 'BankMatch',
  type: 'object',
  description: 'One signal of one bank that matched, and why.',
  required: ['signalId', 'bank', 'bankKind', 'signalType', 'distance', 'labels', 'status', 'actionable', 'downranked'],
  properties: {
    signalId: { type: 'integer' },
    bank: { type: 'string' },
    bankKind: { type: 'string', enum: [...BANK_KINDS] },
    signalType: { type: 'string', enum: [...SIGNAL_TYPES] },
    value: { type: 'string', description: "The list's hash that matched. A near perceptual match (distance > 0) carries it only for callers with the curate scope: it is the bank's hash, not the caller's." },
    distance: { type: 'integer', description: 'Hamming distance: 0 for exact digests; for whole-video matches the median distance of the matched frames to the known video.' },
    view: { type: 'string', description: 'Which view of the query matched (original, trimmed, oriented, uncropped, frame…).' },
    dihedral: { type: 'string', description: 'Orientation of the query that matched (orig, rot90, …).' },
    timestamp: { type: 'number' },
    timestampIn: { type: 'string', enum: ['query', 'known'] },
    ranges: { type: 'array', items: timeRange, description: 'A picture matched in a video: the stretches of that video (timestampIn) where it is shown.' },
    video: {
      type: 'object',
      properties: {
        queryMatchPercent: { type: 'number' },
        comparedMatchPercent: { type: 'number' },
        queryMatchedFrames: { type: 'integer' },
        queryFrames: { type: 'integer' },
        comparedMatchedFrames: { type: 'integer' },
        comparedFrames: { type: 'integer' },
        minDistance: { type: 'integer' },
        queryRanges: { type: 'array', items: timeRange },
        comparedRanges: { type: 'array', items: timeRange },
      },
    },
    labels: { $ref: 'Labels#' },
    sourceId: { type: ['string', 'null'] },
    fileName: { type: ['string', 'null'] },
    provenance: { type: 'object', properties: { source: { type: 'string' }, importId: { type: ['integer', 'null'] } } },
    status: { type: 'string', enum: [...SIGNAL_STATUSES] },
    actionable: { type: 'boolean', description: 'False for suppressed false positives and quarantined signals: reported, never acted on.' },
    downranked: { type: 'boolean' },
    rule: {
      type: 'object',
      description: 'How a perceptual match was made (docs/matching.md, "Precision").',
      properties: {
        rule: { type: 'string', enum: ['original', 'orientation', 'view', 'view-orientation', 'degenerate-exact', 'frame', 'video'] },
        distance: { type: 'integer' },
        maxDistance: { type: 'integer', description: 'The most this rule allowed for this bank.' },
        queryQuality: { type: 'integer' },
        originalDistance: { type: 'integer', description: 'Distance of the picture as uploaded (unturned) to the same list hash.' },
        degenerate: { type: 'boolean' },
      },
    },
    confidence: { type: 'string', enum: ['high', 'medium', 'low'], description: 'high: a digest, a whole video, or the picture as uploaded; medium: a view or orientation that earned its distance; low: loose settings or a degenerate hash matched exactly. The default rules block only high.' },
    remote: { type: 'object', description: 'A match by a remote matcher (bank "remote:<name>"; no local signal).', properties: { matcher: { type: 'string' }, classification: { type: 'string' }, matchType: { type: ['string', 'null'] } } },
  },
} as const;

const firedRule = {
  $id: 'FiredRule',
  type: 'object',
  required: ['ruleId', 'reason', 'matches'],
  properties: { ruleId: { type: 'string' }, description: { type: 'string' }, reason: { type: 'string' }, matches: { type: 'array', items: { type: 'integer' } } },
} as const;

const actionOutcome = {
  $id: 'ActionOutcome',
  type: 'object',
  required: ['type', 'ruleId', 'status'],
  properties: {
    type: { type: 'string', enum: [...ACTION_TYPES] },
    ruleId: { type: 'string' },
    status: { type: 'string', enum: [...ACTION_STATUSES] },
    note: { type: 'string' },
    priority: { type: 'integer' },
    webhook: { type: 'string' },
    jobId: { type: 'integer' },
    reviewItemId: { type: 'integer' },
    reportDraftId: { type: 'integer' },
    evidenceId: { type: 'string' },
  },
} as const;

const contentResult = {
  $id: 'ContentResult',
  type: 'object',
  required: ['contentId', 'fingerprint', 'verdict', 'matches', 'fired', 'actions', 'rulesVersion', 'decisionId', 'replayed', 'late', 'createdAt'],
  properties: {
    contentId: { type: 'string' },
    fingerprint: { type: 'string', description: 'SHA-256 of the content, or "h:" + a digest of the submitted hashes: with contentId, the idempotency key.' },
    verdict: { type: 'string', enum: [...VERDICTS] },
    matches: { type: 'array', items: { $ref: 'BankMatch#' } },
    fired: { type: 'array', items: { $ref: 'FiredRule#' } },
    actions: { type: 'array', items: { $ref: 'ActionOutcome#' } },
    rulesVersion: { type: 'string' },
    decisionId: { type: ['integer', 'null'] },
    replayed: { type: 'boolean', description: 'An earlier identical submission decided this; no action ran again.' },
    late: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    remote: {
      type: 'array',
      description: 'Remote matchers asked (docs/exchanges.md, "Remote matchers"); status failed: decided from local matches only.',
      items: { type: 'object', required: ['matcher', 'status', 'matches'], properties: { matcher: { type: 'string' }, status: { type: 'string', enum: ['ok', 'failed', 'skipped'] }, matches: { type: 'integer' }, error: { type: 'string' } } },
    },
    media: {
      type: 'object',
      properties: {
        media: { type: 'string' },
        format: { type: 'string' },
        width: { type: 'integer' },
        height: { type: 'integer' },
        bytes: { type: 'integer' },
        pdq: { type: 'string' },
        quality: { type: 'integer' },
        frames: { type: 'integer' },
        warning: { type: 'string' },
        truncated: { type: 'boolean', description: 'The file was truncated or damaged: the hashes are of the part that decoded.' },
        reduced: { type: 'boolean', description: 'Too large to decode whole: hashed from a 512×512 decode (shrink-on-load), not a full one.' },
        error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
      },
    },
  },
} as const;

/** A 256-bit photo hash of type `name` as a client sends it: hex, or with its view, quality and other orientations. */
const photoItem = (name: SignalTypeName) => ({
  oneOf: [
    { type: 'string', pattern: hexPattern(name) },
    {
      type: 'object',
      required: ['hash'],
      additionalProperties: false,
      properties: {
        hash: { type: 'string', pattern: hexPattern(name) },
        quality: { type: 'integer', minimum: 0, maximum: 100 },
        view: { type: 'string', maxLength: 40 },
        dihedral: { type: 'object', additionalProperties: { type: 'string', pattern: hexPattern(name) } },
      },
    },
  ],
});

/** Per index kind, a client hash property of that kind (pipeline/query.ts#ClientHashes reads the same forms). */
const CLIENT_HASH_PROPERTY: { readonly [K in Exclude<IndexKind, 'none'>]: (t: SignalType<SignalTypeName>) => object } = {
  'exact-digest': (t) => ({ type: 'string', pattern: hexPattern(t.name) }),
  hamming256: (t) => ({ type: 'array', maxItems: 64, items: photoItem(t.name) }),
  'vpdq-frames': (t) => ({ type: 'array', maxItems: 100_000, items: { type: 'string', maxLength: 200 }, description: `${t.name} frame features, "hex,quality,timestamp".` }),
};

const clientHashes = {
  $id: 'ClientHashes',
  type: 'object',
  description: 'Hashes computed on the client (end-to-end-encrypted apps): the content never reaches the server.',
  additionalProperties: false,
  properties: Object.fromEntries(signalTypes().flatMap((t) => (t.index === 'none' ? [] : [[t.name, CLIENT_HASH_PROPERTY[t.index](t)]]))),
} as const;

const bank = {
  $id: 'Bank',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    description: { type: 'string' },
    kind: { type: 'string', enum: [...BANK_KINDS] },
    enabled: { type: 'boolean' },
    source: { type: 'string' },
    provenance: { type: 'object', additionalProperties: true },
    thresholds: { type: 'object', additionalProperties: { type: 'integer' } },
    falsePositivePolicy: { type: 'string', enum: [...FALSE_POSITIVE_POLICIES] },
    spikeThreshold: { type: 'integer' },
    enabledRatio: { type: 'number' },
    degeneratePolicy: { type: 'string', enum: ['exact', 'none'], description: 'What a degenerate PDQ hash (constant, one value, periodic) may match: the identical hash, or nothing' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const signal = {
  $id: 'Signal',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    bankId: { type: 'integer' },
    bankName: { type: 'string' },
    type: { type: 'string', enum: [...SIGNAL_TYPES] },
    value: { type: 'string' },
    labels: { $ref: 'Labels#' },
    sourceId: { type: ['string', 'null'] },
    fileName: { type: ['string', 'null'] },
    fileSize: { type: ['integer', 'null'] },
    metadata: { type: 'object', additionalProperties: true },
    status: { type: 'string', enum: [...SIGNAL_STATUSES] },
    importId: { type: ['integer', 'null'] },
    addedAt: { type: 'string' },
    updatedAt: { type: 'string' },
    deletedAt: { type: ['string', 'null'] },
    disableUntilTs: { type: ['integer', 'null'] },
    matchCount: { type: 'integer' },
    lastMatchAt: { type: ['string', 'null'] },
  },
} as const;

const error = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const nullable = (type: string) => ({ type: [type, 'null'] }) as const;

const decision = {
  $id: 'Decision',
  type: 'object',
  description: 'A recorded decision (matched content only).',
  required: ['id', 'contentId', 'fingerprint', 'accountId', 'verdict', 'late', 'matches', 'fired', 'actions', 'rulesVersion', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    contentId: { type: 'string' },
    fingerprint: { type: 'string' },
    accountId: nullable('string'),
    verdict: { type: 'string', enum: [...VERDICTS] },
    late: { type: 'boolean' },
    md5: nullable('string'),
    sha1: nullable('string'),
    sha256: nullable('string'),
    matches: { type: 'array', items: { $ref: 'BankMatch#' } },
    fired: { type: 'array', items: { $ref: 'FiredRule#' } },
    actions: { type: 'array', items: { $ref: 'ActionOutcome#' } },
    context: { type: 'object', additionalProperties: true },
    rulesVersion: { type: 'string' },
    evidenceId: nullable('string'),
    actor: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const job = {
  $id: 'Job',
  type: 'object',
  description: 'A job of the durable queue (times in epoch milliseconds).',
  required: ['id', 'queue', 'idempotencyKey', 'priority', 'state', 'attempts', 'maxAttempts', 'runAt', 'createdAt', 'updatedAt'],
  properties: {
    id: { type: 'integer' },
    queue: { type: 'string' },
    idempotencyKey: { type: 'string' },
    payload: {},
    priority: { type: 'integer' },
    state: { type: 'string', enum: [...JOB_STATES] },
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    runAt: { type: 'integer' },
    leaseUntil: nullable('integer'),
    lastError: nullable('string'),
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    finishedAt: nullable('integer'),
  },
} as const;

const auditEntry = {
  $id: 'AuditEntry',
  type: 'object',
  required: ['seq', 'at', 'actor', 'action', 'subject', 'details', 'prevHash', 'hash'],
  properties: {
    seq: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: 'string' },
    action: { type: 'string' },
    subject: nullable('string'),
    details: { type: 'object', additionalProperties: true },
    requestId: nullable('string'),
    prevHash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const;

const opinion = {
  $id: 'Opinion',
  type: 'object',
  required: ['id', 'signalId', 'kind', 'actor', 'reason', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    signalId: { type: 'integer' },
    kind: { type: 'string', enum: [...OPINION_KINDS] },
    actor: { type: 'string' },
    reason: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

/** Deepest nesting accepted in a JSON body: free-form fields (context, metadata) are serialised recursively later. */
export const MAX_JSON_DEPTH = 64;

/**
 * A JSON text that arrives outside the body parser (a multipart field, an HMA metadata field), refused
 * like a JSON body is: a `__proto__` or `constructor.prototype` key is an error, never stored or forwarded.
 * Text that is not JSON: `Expected the <field> field to be a JSON object`.
 */
export function parseFieldJson(text: string, field: string): unknown {
  try {
    return secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    if (err instanceof SyntaxError && /prototype property/.test(err.message)) {
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `The ${field} field holds a forbidden "__proto__" or "constructor.prototype" key`);
    }
    throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected the ${field} field to be a JSON object`);
  }
}

/** Iterative (a deep body must not overflow the stack here either); only plain parsed JSON is walked. */
export function jsonDeeperThan(body: unknown, max: number): boolean {
  const proto = body !== null && typeof body === 'object' ? Object.getPrototypeOf(body) : undefined;
  if (!Array.isArray(body) && proto !== Object.prototype && proto !== null) return false;
  const stack: [unknown, number][] = [[body, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

export const SCOPE_SCHEMA = { type: 'string', enum: [...SCOPES] } as const;

export function registerSchemas(app: FastifyInstance): void {
  for (const s of [labels, bankMatch, firedRule, actionOutcome, contentResult, clientHashes, bank, signal, decision, job, auditEntry, opinion, error]) app.addSchema(s);
}

/** The error responses every authenticated route may give. */
export const ERROR_RESPONSES = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  403: { $ref: 'Error#' },
  429: { $ref: 'Error#' },
} as const;

/**
 * A whole number in [minimum, maximum]. Ajv's `integer` lets ±Infinity through (`-1e309` in a query string
 * coerces to -Infinity, whose `% 1` is NaN), and its `minimum` does not stop it either; `multipleOf: 1`
 * does. Every numeric route parameter goes through this.
 */
export function finiteInteger(minimum: number, maximum: number, extra: { default?: number; description?: string } = {}) {
  return { type: 'integer', minimum, maximum, multipleOf: 1, ...extra } as const;
}

/** The one pagination schema of every listing route: ids after a cursor, at most 1000 a page. */
export const PAGINATION = {
  afterId: finiteInteger(0, Number.MAX_SAFE_INTEGER, { description: 'Return items with an id above this (the last id of the previous page).' }),
  limit: finiteInteger(1, 1000, { default: 100, description: 'Items per page, 1..1000.' }),
} as const;
