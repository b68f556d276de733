/**
 * GET /v1/range/{type}/{prefix}: k-anonymity lookup for exact digests (docs/client.md). The device sends the
 * first 4–8 hex digits of its MD5/SHA-1/SHA-256; the answer is every digest of that type in a live, enabled
 * block bank whose hex starts so, each as a one-way tag (src/client/range.ts) the device compares with its
 * own. The full digest of a file that is on no list never reaches the server; the device gets tags it can
 * check a digest against but cannot turn back into list entries to search for elsewhere.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { VigilError } from '../../core/errors.js';
import type { Tx } from '../../state/database.js';
import { RANGE_PREFIX_MAX, RANGE_PREFIX_MIN, RANGE_TYPES, rangeTagInput, type RangeType } from '../../client/range.js';
import type { ServiceContext } from '../context.js';
import { ERROR_RESPONSES } from '../schemas.js';

/** More candidates than this in one range: the prefix is too short for the lists loaded (ask for a longer one). */
export const MAX_RANGE_CANDIDATES = 10_000;

const SQLITE = `SELECT DISTINCT s.value FROM signals s JOIN banks b ON b.id = s.bank_id
  WHERE s.value >= ? AND s.value < ? AND s.type = ? AND s.deleted_at IS NULL AND s.status = 'active'
    AND b.deleted_at IS NULL AND b.enabled = 1 AND b.kind = 'block' LIMIT ?`;
const POSTGRES = `SELECT DISTINCT s.value FROM signals s JOIN banks b ON b.id = s.bank_id
  WHERE s.value >= $1 AND s.value < $2 AND s.type = $3 AND s.deleted_at IS NULL AND s.status = 'active'
    AND b.deleted_at IS NULL AND b.enabled AND b.kind = 'block' LIMIT $4`;

/** Listed digests of `type` whose lower-case hex starts with `prefix` (hex sorts below 'g'). */
export async function digestsInRange(tx: Tx, type: RangeType, prefix: string, limit: number): Promise<string[]> {
  const params = [prefix, `${prefix}g`, type, limit];
  if (tx.sqlite) return (tx.sqlite.prepare(SQLITE).all(...params) as { value: string }[]).map((r) => r.value);
  const { rows } = await tx.pg!.query<{ value: string }>(POSTGRES, params);
  return rows.map((r) => r.value);
}

export function rangeTagOf(type: RangeType, hex: string): string {
  return createHash('sha256').update(rangeTagInput(type, hex), 'utf8').digest('hex');
}

export function rangeRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  app.get('/v1/range/:type/:prefix', {
    config: { scope: 'lookup', device: true },
    schema: {
      tags: ['matching'],
      summary: 'k-anonymity range lookup for an exact digest: tags of the listed digests sharing a prefix',
      description: `The device sends the first ${RANGE_PREFIX_MIN}–${RANGE_PREFIX_MAX} hex digits of its digest and compares the tags locally: tag = SHA-256("vigil-range-v1:" + type + ":" + lower-case hex digest), hex. Only block banks that are enabled; a digest found here is then submitted (POST /v1/content) for the decision.`,
      params: {
        type: 'object',
        required: ['type', 'prefix'],
        properties: {
          type: { type: 'string', enum: [...RANGE_TYPES] },
          prefix: { type: 'string', pattern: `^[0-9a-fA-F]{${RANGE_PREFIX_MIN},${RANGE_PREFIX_MAX}}$` },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['type', 'prefix', 'candidates'],
          properties: { type: { type: 'string' }, prefix: { type: 'string' }, candidates: { type: 'array', items: { type: 'string' } } },
        },
        ...ERROR_RESPONSES,
      },
    },
  }, async (request, reply) => {
    const { type, prefix: raw } = request.params as { type: RangeType; prefix: string };
    const prefix = raw.toLowerCase();
    const values = await ctx.vigil.db.transaction((tx) => digestsInRange(tx, type, prefix, MAX_RANGE_CANDIDATES + 1));
    if (values.length > MAX_RANGE_CANDIDATES) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `More than ${MAX_RANGE_CANDIDATES} listed digests share this prefix: send a longer one`);
    // Sorted tags: the order says nothing about which digest is which.
    const candidates = values.map((v) => rangeTagOf(type, v)).sort();
    // Private: no shared cache may keep what a device asked.
    reply.header('cache-control', 'private, no-store');
    return { type, prefix, candidates };
  });
}
