/**
 * POST /v1/lookup: up to 1,000 hashes per request → matches per hash, with bank, distance, labels and
 * provenance. A malformed item gets its own error; the rest of the batch is answered.
 */
import type { FastifyInstance } from 'fastify';
import type { BankMatch, MatchQuery } from '../../banks/matcher.js';
import { toVigilError, VigilError } from '../../core/errors.js';
import { matchQueryOfClientHashes } from '../../pipeline/query.js';
import { findSignalType, signalTypesMatching, type SignalTypeName } from '../../signals/registry.js';
import { formatVpdqCompactFeature, parseVpdq } from '../../signals/vpdq/format.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';
import { visibleMatches } from '../match-values.js';

export interface LookupItem {
  type: SignalTypeName;
  value: string | string[];
  id?: string;
}

/** One hash of a known type → the matcher query for it, in the client-hash form of the type's index kind. */
function frameFeatures(text: string): string[] {
  const first = text.trimStart()[0];
  return first === '[' || first === '{' ? parseVpdq(text).map(formatVpdqCompactFeature) : text.split(/\s+/).filter(Boolean);
}

export function lookupQuery(item: LookupItem): MatchQuery {
  switch (findSignalType(item.type)?.index) {
    case 'exact-digest':
      return matchQueryOfClientHashes({ [item.type]: String(item.value) });
    case 'hamming256':
      return matchQueryOfClientHashes({ [item.type]: [String(item.value)] });
    case 'vpdq-frames':
      // A video's frame features: a list, one text of them separated by white space, or pytx's JSON form.
      return matchQueryOfClientHashes({ [item.type]: Array.isArray(item.value) ? item.value : frameFeatures(String(item.value)) });
    default:
      return matchQueryOfClientHashes({});
  }
}

/** Every type the local matcher compares (opaque types, e.g. photodna, need a remote matcher). */
const LOOKUP_TYPES = signalTypesMatching('exact', 'distance', 'video');

export function lookupRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.post('/v1/lookup', {
    config: { scope: 'lookup' },
    schema: {
      tags: ['matching'],
      summary: 'Match a batch of hashes against the enabled banks',
      body: {
        type: 'object',
        required: ['hashes'],
        additionalProperties: false,
        properties: {
          hashes: {
            type: 'array',
            minItems: 1,
            maxItems: ctx.limits.maxLookupBatch,
            items: {
              type: 'object',
              required: ['type', 'value'],
              additionalProperties: false,
              properties: {
                type: { type: 'string', enum: LOOKUP_TYPES },
                value: { anyOf: [{ type: 'string', maxLength: 2_000_000 }, { type: 'array', maxItems: 100_000, items: { type: 'string', maxLength: 200 } }] },
                id: { type: 'string', maxLength: 256, description: "The caller's id for this item, echoed back." },
              },
            },
          },
          banks: { type: 'array', maxItems: 1000, items: { type: 'string' }, description: 'Only these banks (default: all enabled banks).' },
          includeNonActionable: { type: 'boolean', default: true, description: 'Also return suppressed false positives and quarantined signals (flagged actionable=false).' },
        },
      },
      response: {
        200: {
          type: 'object',
          properties: {
            results: {
              type: 'array',
              items: {
                type: 'object',
                required: ['index', 'type', 'matches'],
                properties: {
                  index: { type: 'integer' },
                  id: { type: 'string' },
                  type: { type: 'string' },
                  matches: { type: 'array', items: { $ref: 'BankMatch#' } },
                  error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
                },
              },
            },
          },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request) => {
    const body = request.body as { hashes: LookupItem[]; banks?: string[]; includeNonActionable?: boolean };
    const banks = body.banks ? new Set(body.banks) : undefined;
    // One matcher call for the batch: one store read for every hit's labels and provenance.
    const queries: (MatchQuery | VigilError)[] = body.hashes.map((item) => {
      ctx.metrics.lookups.inc({ signal_type: item.type });
      try {
        return lookupQuery(item);
      } catch (err) {
        return toVigilError(err);
      }
    });
    const valid = queries.filter((q): q is MatchQuery => !(q instanceof VigilError));
    const answers = valid.length === 0 ? [] : await ctx.matcher.matchMany(valid);
    let next = 0;
    const results = body.hashes.map((item, index) => {
      const q = queries[index];
      const answer = q instanceof VigilError ? q : answers[next++]!;
      const echo = { index, ...(item.id !== undefined ? { id: item.id } : {}), type: item.type };
      if (answer instanceof VigilError) return { ...echo, matches: [], error: { code: answer.code, message: answer.message } };
      let matches: BankMatch[] = answer;
      if (banks) matches = matches.filter((m) => banks.has(m.bank));
      if (body.includeNonActionable === false) matches = matches.filter((m) => m.actionable);
      for (const m of matches) ctx.metrics.matches.inc({ bank: m.bank, signal_type: m.signalType });
      return { ...echo, matches: visibleMatches(request, matches) };
    });
    return { results };
  });
}
