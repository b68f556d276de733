/**
 * Hasher-Matcher-Actioner (HMA 2.0) compatible endpoints, with HMA's paths and response shapes, so an
 * existing HMA integration can point at Vigil unchanged (reference: ../shared/reference/threatexchange.md
 * §5.3). Differences, documented in docs/service.md: an API key is required unless the operator grants the
 * scope anonymously; `bank_content_id` is the Vigil signal id; DELETE of a bank disables it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import type { BankMatch } from '../../banks/matcher.js';
import { VigilError } from '../../core/errors.js';
import type { FileHashRecord } from '../../hashing/hash-file.js';
import { hammingDistance256, hash256FromHex, isHash256Hex } from '../../signals/pdq/hash256.js';
import { SIGNAL_TYPE_INFO } from '../../signals/registry.js';
import type { Bank } from '../../store/types.js';
import { actorOf } from '../auth.js';
import { multipartError } from '../http-errors.js';
import type { ServiceContext } from '../context.js';
import { fetchRemote } from '../remote-fetch.js';
import { requestBudget } from '../request-budget.js';
import { saveUpload, withUpload, type SavedUpload } from '../uploads.js';
import { matchQueryOfRecord } from '../../pipeline/query.js';
import { finiteInteger } from '../schemas.js';
import { lookupQuery } from './lookup.js';
import { putSignal } from './banks.js';

/** HMA signal type names → Vigil's. HMA calls an MD5 of a video file `video_md5`. */
const SIGNAL_TYPES: Record<string, 'pdq' | 'md5' | 'vpdq' | 'sha256' | 'sha1'> = { pdq: 'pdq', video_md5: 'md5', md5: 'md5', vpdq: 'vpdq', sha256: 'sha256', sha1: 'sha1' };

function hmaType(name: string | undefined) {
  const type = name ? SIGNAL_TYPES[name] : undefined;
  if (!type) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Unknown signal_type ${JSON.stringify(name ?? '')} (pdq, video_md5, md5, vpdq)`);
  return type;
}

function bankJson(bank: Bank) {
  return { name: bank.name, matching_enabled_ratio: bank.enabled ? 1 : 0 };
}

/** HMA's signals of a hashed file: PDQ for photos, video_md5 (+ vpdq) for videos. */
function hmaSignals(record: FileHashRecord, types?: Set<string>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const want = (t: string) => !types || types.has(t);
  if (record.media === 'video' || record.media === 'animation') {
    if (want('video_md5') && record.md5) out.video_md5 = record.md5;
    if (want('vpdq') && record.vpdq) out.vpdq = record.vpdq;
  } else if (want('pdq') && record.pdq) out.pdq = record.pdq;
  if (types?.has('md5') && record.md5) out.md5 = record.md5;
  return out;
}

function byBank(matches: BankMatch[], banks?: Set<string>) {
  const out: Record<string, { bank_content_id: number; distance: string }[]> = {};
  for (const m of matches) {
    if (!m.actionable || (banks && !banks.has(m.bank))) continue;
    (out[m.bank] ??= []).push({ bank_content_id: m.signalId, distance: String(m.distance) });
  }
  return out;
}

/** A bank name clash: HMA's status (403), in Vigil's one error shape. */
function sendHmaForbidden(reply: FastifyReply, message: string) {
  return reply.code(403).type('application/json').send({ error: { code: 'VIGIL_ERR_CONFLICT', message } });
}

function csvSet(value: string | undefined): Set<string> | undefined {
  return value ? new Set(value.split(',').map((s) => s.trim()).filter(Boolean)) : undefined;
}

export function hmaRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const tags = ['hma'];

  /** The file of an HMA request: multipart (field `photo`/`video`/`file`, exactly one, as HMA requires) or `?url=`. */
  async function hashRequest(request: FastifyRequest, reply: FastifyReply): Promise<FileHashRecord> {
    const { url } = request.query as { url?: string };
    const budget = requestBudget(reply, ctx.limits.budget);
    let record: FileHashRecord;
    if (url) {
      const source = await fetchRemote(url, { maxBytes: ctx.limits.maxUploadBytes });
      record = await withUpload(ctx.tempDir, source, ctx.limits.maxUploadBytes, (path) => ctx.hashFile(path, budget));
    } else if (request.isMultipart()) {
      let upload: SavedUpload | undefined;
      try {
        try {
          // Every part is read, so a second file is refused rather than silently ignored.
          for await (const part of request.parts()) {
            if (part.type !== 'file') continue;
            if (upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Only one file allowed per request');
            upload = await saveUpload(ctx.tempDir, (part as MultipartFile).file, ctx.limits.maxUploadBytes);
          }
        } catch (err) {
          throw multipartError(err);
        }
        if (!upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected exactly one file (form field photo or video)');
        record = await ctx.hashFile(upload.path, budget);
      } finally {
        await upload?.remove();
      }
    } else throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected ?url= or a multipart file (field photo or video)');
    if (record.error && !record.md5) throw new VigilError(record.error.code, record.error.message);
    return record;
  }

  app.get('/status', { schema: { tags, summary: 'HMA: 200 when the index is loaded, else 503 INDEX-NOT-LOADED' } }, async (_request, reply) =>
    ctx.isReady() ? reply.type('text/plain').send('I-AM-ALIVE') : reply.code(503).type('text/plain').send('INDEX-NOT-LOADED'));

  app.get('/site-map', { schema: { tags, summary: 'HMA: the routes of this server' } }, async () =>
    Object.keys((app.swagger() as { paths?: Record<string, unknown> }).paths ?? {}).sort());

  const hashHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const { types } = request.query as { types?: string };
    return hmaSignals(await hashRequest(request, reply), csvSet(types));
  };
  const hashSchema = { tags, summary: 'HMA: hash a file (multipart photo/video or ?url=)', querystring: { type: 'object', properties: { url: { type: 'string' }, content_type: { type: 'string' }, types: { type: 'string' } } } };
  app.get('/h/hash', { config: { scope: 'lookup' }, schema: hashSchema }, hashHandler);
  app.post('/h/hash', { config: { scope: 'lookup' }, schema: hashSchema }, hashHandler);

  const lookupQs = { type: 'object', properties: { signal_type: { type: 'string' }, signal: { type: 'string' }, url: { type: 'string' }, banks: { type: 'string' }, include_distance: { type: 'boolean' }, seed: { type: 'string' }, bypass_coinflip: { type: 'boolean' } } } as const;

  app.get('/m/raw_lookup', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: bank_content_ids matching one signal', querystring: lookupQs } }, async (request) => {
    const q = request.query as { signal_type?: string; signal?: string; banks?: string; include_distance?: boolean };
    if (!q.signal) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected signal=<hash>');
    if (!ctx.isReady()) throw new VigilError('VIGIL_ERR_NOT_READY', 'index not yet ready');
    const banks = csvSet(q.banks);
    const matches = (await ctx.matcher.match(lookupQuery({ type: hmaType(q.signal_type), value: q.signal }))).filter((m) => !banks || banks.has(m.bank));
    return { matches: q.include_distance ? matches.map((m) => ({ bank_content_id: m.signalId, distance: String(m.distance) })) : matches.map((m) => m.signalId) };
  });

  const mLookup = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as { signal_type?: string; signal?: string; url?: string; banks?: string };
    const banks = csvSet(q.banks);
    if (q.signal) return byBank(await ctx.matcher.match(lookupQuery({ type: hmaType(q.signal_type), value: q.signal })), banks);
    const record = await hashRequest(request, reply);
    const out: Record<string, ReturnType<typeof byBank>> = {};
    const matches = await ctx.matcher.match(matchQueryOfRecord(record));
    for (const name of Object.keys(hmaSignals(record))) {
      const type = SIGNAL_TYPES[name];
      out[name] = byBank(matches.filter((m) => m.signalType === type), banks);
    }
    return out;
  };
  app.get('/m/lookup', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: matches by bank for a signal (or ?url=)', querystring: lookupQs } }, mLookup);
  app.post('/m/lookup', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: matches by bank for an uploaded file', querystring: lookupQs } }, mLookup);

  app.post('/m/compare', {
    config: { scope: 'lookup' },
    schema: { tags, summary: 'HMA: compare two hashes of a type', body: { type: 'object', additionalProperties: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'string' } } } },
  }, async (request) => {
    const out: Record<string, [boolean, { distance: number }]> = {};
    for (const [name, pair] of Object.entries(request.body as Record<string, [string, string]>)) {
      const type = hmaType(name);
      if (type === 'pdq') {
        if (!pair.every((h) => isHash256Hex(h))) throw new VigilError('VIGIL_ERR_INVALID_HASH', 'Expected two 64-digit PDQ hashes');
        const distance = hammingDistance256(hash256FromHex(pair[0]), hash256FromHex(pair[1]));
        out[name] = [distance <= SIGNAL_TYPE_INFO.pdq.defaultThreshold!, { distance }];
      } else if (type === 'md5' || type === 'sha1' || type === 'sha256') {
        const same = pair[0].trim().toLowerCase() === pair[1].trim().toLowerCase();
        out[name] = [same, { distance: same ? 0 : 1 }];
      } else throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `compare is not defined for ${name}`);
    }
    return out;
  });

  app.get('/m/index/status', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: index presence and size per signal type', querystring: { type: 'object', properties: { signal_type: { type: 'string' } } } } }, async (request) => {
    const { signal_type } = request.query as { signal_type?: string };
    const sizes = ctx.matcher.sizes;
    const builtTo = Math.floor(Date.now() / 1000);
    const all: Record<string, { present: boolean; built_to: number; size: number }> = {
      pdq: { present: ctx.isReady(), built_to: builtTo, size: sizes.pdq },
      video_md5: { present: ctx.isReady(), built_to: builtTo, size: sizes.md5 },
      vpdq: { present: ctx.isReady(), built_to: builtTo, size: sizes.vpdq },
    };
    return signal_type ? { [signal_type]: all[signal_type] ?? { present: false, built_to: -1, size: 0 } } : all;
  });

  app.get('/c/banks', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: list banks' } }, async () => (await ctx.store.listBanks()).map(bankJson));

  app.post('/c/banks', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: create a bank', body: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, enabled: { type: 'boolean' }, enabled_ratio: { type: 'number' } } } },
  }, async (request, reply) => {
    const body = request.body as { name: string; enabled?: boolean; enabled_ratio?: number };
    const bank = await ctx.store.createBank({ name: body.name, enabled: body.enabled ?? (body.enabled_ratio ?? 1) > 0, source: 'HMA API' }).catch((err: unknown) => {
      if (err instanceof VigilError && err.code === 'VIGIL_ERR_CONFLICT') return undefined;
      throw err;
    });
    // HMA answers a duplicate name with 403 "Bank already exists" (Vigil's own API: 409).
    if (!bank) return sendHmaForbidden(reply, `bank '${body.name}' already exists`);
    ctx.audit.append({ actor: actorOf(request), action: 'bank.created', subject: `bank:${bank.name}`, details: { via: 'hma' } });
    return reply.code(201).send(bankJson(bank));
  });

  const bankParams = { type: 'object', properties: { name: { type: 'string' } } } as const;
  const getBank = async (name: string) => {
    const bank = await ctx.store.getBank(name);
    if (!bank) throw new VigilError('VIGIL_ERR_NOT_FOUND', `bank '${name}' not found`);
    return bank;
  };

  app.get('/c/bank/:name', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: a bank', params: bankParams } }, async (request) => bankJson(await getBank((request.params as { name: string }).name)));

  app.put('/c/bank/:name', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: rename / enable a bank', params: bankParams, body: { type: 'object', properties: { name: { type: 'string' }, enabled: { type: 'boolean' }, enabled_ratio: { type: 'number' } } } },
  }, async (request, reply: FastifyReply) => {
    const { name } = request.params as { name: string };
    const body = request.body as { name?: string; enabled?: boolean; enabled_ratio?: number };
    await getBank(name);
    if (body.name && body.name !== name && (await ctx.store.getBank(body.name))) return sendHmaForbidden(reply, `bank '${body.name}' already exists`);
    const enabled = body.enabled ?? (body.enabled_ratio !== undefined ? body.enabled_ratio > 0 : undefined);
    const bank = await ctx.store.updateBank(name, { ...(body.name ? { name: body.name } : {}), ...(enabled !== undefined ? { enabled } : {}) });
    ctx.audit.append({ actor: actorOf(request), action: 'bank.changed', subject: `bank:${name}`, details: { via: 'hma', ...body } });
    await ctx.matcher.sync();
    return bankJson(bank);
  });

  app.delete('/c/bank/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: delete a bank (Vigil disables it: banks are kept for provenance)', params: bankParams } }, async (request) => {
    const { name } = request.params as { name: string };
    await getBank(name);
    await ctx.store.updateBank(name, { enabled: false });
    ctx.audit.append({ actor: actorOf(request), action: 'bank.changed', subject: `bank:${name}`, details: { via: 'hma', enabled: false, requested: 'delete' } });
    await ctx.matcher.sync();
    return { message: 'Done' };
  });

  app.post('/c/bank/:name/content', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: add a file (multipart or ?url=) to a bank', params: bankParams } }, async (request, reply) => {
    const { name } = request.params as { name: string };
    await getBank(name);
    const record = await hashRequest(request, reply);
    const signals = hmaSignals(record);
    let id: number | undefined;
    for (const [hmaName, value] of Object.entries(signals)) {
      const type = SIGNAL_TYPES[hmaName];
      const { signal } = await putSignal(ctx, name, { type, value: Array.isArray(value) ? JSON.stringify(value) : value });
      id ??= signal?.id;
    }
    if (id === undefined) throw new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', 'No signal could be computed from this file');
    ctx.audit.append({ actor: actorOf(request), action: 'signal.added', subject: `signal:${id}`, details: { via: 'hma', bank: name } });
    await ctx.matcher.sync();
    return { id, signals };
  });

  app.post('/c/bank/:name/signal', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: add signals ({"pdq": "<hex>"}) to a bank', params: bankParams, body: { type: 'object', additionalProperties: true } },
  }, async (request) => {
    const { name } = request.params as { name: string };
    await getBank(name);
    const body = request.body as Record<string, unknown>;
    const signals: Record<string, string> = {};
    let id: number | undefined;
    for (const [hmaName, value] of Object.entries(body)) {
      if (hmaName === 'note' || hmaName === 'metadata') continue;
      const type = hmaType(hmaName);
      const text = Array.isArray(value) ? JSON.stringify(value) : String(value);
      const { signal } = await putSignal(ctx, name, { type, value: text, ...(typeof body.note === 'string' ? { metadata: { note: body.note } } : {}) });
      signals[hmaName] = signal?.value ?? text;
      id ??= signal?.id;
    }
    if (id === undefined) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected at least one signal, e.g. {"pdq": "<64 hex>"}');
    ctx.audit.append({ actor: actorOf(request), action: 'signal.added', subject: `signal:${id}`, details: { via: 'hma', bank: name } });
    await ctx.matcher.sync();
    return { id, signals };
  });

  const contentParams = { type: 'object', properties: { name: { type: 'string' }, id: finiteInteger(1, Number.MAX_SAFE_INTEGER) } } as const;
  const getContent = async (request: FastifyRequest) => {
    const { name, id } = request.params as { name: string; id: number };
    const signal = await ctx.store.getSignal(id);
    if (!signal || signal.bankName !== name || signal.deletedAt) throw new VigilError('VIGIL_ERR_NOT_FOUND', 'content not found');
    return signal;
  };
  app.get('/c/bank/:name/content/:id', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: one bank content', params: contentParams } }, async (request) => {
    const s = await getContent(request);
    const hmaName = s.type === 'md5' ? 'video_md5' : s.type;
    const bank = await getBank(s.bankName);
    // HMA 2.0's BankContentConfig: disable_until_ts 0 = enabled, -1 = disabled; the bank as an object.
    return {
      id: s.id,
      disable_until_ts: s.status === 'active' ? 0 : -1,
      collab_metadata: {},
      original_media_uri: null,
      bank: bankJson(bank),
      signals: { [hmaName]: s.value },
    };
  });
  app.delete('/c/bank/:name/content/:id', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: remove a bank content; {"deleted": <count removed>}', params: contentParams } }, async (request) => {
    const { name, id } = request.params as { name: string; id: number };
    await getBank(name);
    // Like HMA: a count (0 when the bank holds no such content), not an error.
    const s = await ctx.store.getSignal(id);
    if (!s || s.bankName !== name || s.deletedAt) return { deleted: 0 };
    await putSignal(ctx, s.bankName, { type: s.type, value: s.value }, true);
    ctx.audit.append({ actor: actorOf(request), action: 'signal.deleted', subject: `signal:${s.id}`, details: { via: 'hma', bank: s.bankName } });
    await ctx.matcher.sync();
    return { deleted: 1 };
  });
}
