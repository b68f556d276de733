/**
 * Hasher-Matcher-Actioner (HMA 2.0) compatible endpoints, with HMA's paths, parameters and response shapes,
 * so an HMA client (ROOST Coop among them) can point at Vigil unchanged (docs/coop.md). A thin adapter:
 * changes go through the application services (audited like the /v1 API), matching through the matcher.
 * Differences, in docs/coop.md: an API key unless the operator grants a scope anonymously; bank_content_id
 * is a Vigil signal id (one per signal of a file).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import type { BankMatch } from '../../banks/matcher.js';
import { VigilError } from '../../core/errors.js';
import type { FileHashRecord } from '../../hashing/hash-file.js';
import { matchQueryOfRecord } from '../../pipeline/query.js';
import { signalType } from '../../signals/registry.js';
import type { Bank, Signal } from '../../store/types.js';
import { auditActorOf } from '../auth.js';
import type { ServiceContext } from '../context.js';
import {
  coinflipPasses, contentEnabled, contentTypeOf, disableUntilTsOf, enabledSignalTypes, hmaNameOf, hmaSignals, hmaSignalType, matchingRatio, storedValue, vigilType, type HmaContentType,
} from '../hma-signals.js';
import { multipartError } from '../http-errors.js';
import { parseFieldJson } from '../schemas.js';
import { fetchRemote } from '../remote-fetch.js';
import { requestBudget } from '../request-budget.js';
import { saveUpload, withUpload, type SavedUpload } from '../uploads.js';
import { hmaExchangeRoutes } from './hma-exchanges.js';
import { lookupQuery } from './lookup.js';

const VIA = { via: 'hma' } as const;
const bankJson = (bank: Bank) => ({ name: bank.name, matching_enabled_ratio: matchingRatio(bank) });

/** HMA answers a name clash with 403 (Vigil's own API: 409), in Vigil's one error shape. */
export function sendHmaForbidden(reply: FastifyReply, message: string) {
  return reply.code(403).type('application/json').send({ error: { code: 'VIGIL_ERR_CONFLICT', message } });
}

const csvSet = (value: string | undefined) => (value ? new Set(value.split(',').map((s) => s.trim()).filter(Boolean)) : undefined);

/** HMA's enabled_ratio (or enabled) → Vigil's bank fields: 0 disables; more enables and samples. */
function ratioPatch(body: { enabled?: boolean; enabled_ratio?: number }) {
  if (body.enabled_ratio !== undefined) {
    if (!(body.enabled_ratio >= 0 && body.enabled_ratio <= 1)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'enabled_ratio must be between 0 and 1');
    return body.enabled_ratio > 0 ? { enabled: true, enabledRatio: body.enabled_ratio } : { enabled: false };
  }
  if (body.enabled !== undefined) return body.enabled ? { enabled: true, enabledRatio: 1 } : { enabled: false };
  return {};
}

interface HashedRequest {
  record: FileHashRecord;
  contentType: HmaContentType;
  /** Form fields (multipart) or query parameters besides the file: content_id, content_uri, metadata, note. */
  fields: Record<string, string>;
}

export function hmaRoutes(app: FastifyInstance, ctx: ServiceContext): void {
  const tags = ['hma'];
  const enabled = enabledSignalTypes(ctx.hma?.extraSignalTypes);

  /** The file of an HMA request: multipart (field photo/video, exactly one file) or `?url=`. */
  async function hashRequest(request: FastifyRequest, reply: FastifyReply): Promise<HashedRequest> {
    // One budget per item; a client that goes away cancels it.
    const budget = requestBudget(reply, ctx.limits.budget);
    const query = request.query as Record<string, string | undefined>;
    const fields: Record<string, string> = {};
    for (const k of ['content_id', 'content_uri', 'metadata', 'note']) if (typeof query[k] === 'string') fields[k] = query[k];
    let record: FileHashRecord;
    let hint = query.content_type;
    let mime: string | undefined;
    if (query.url) {
      const source = await fetchRemote(query.url, { maxBytes: ctx.limits.maxUploadBytes, ...(ctx.hma?.allowPrivateNetworks ? { allowPrivateNetworks: true } : {}) });
      mime = source.headers['content-type'];
      record = await withUpload(ctx.tempDir, source, ctx.limits.maxUploadBytes, (path) => ctx.hashFile(path, budget));
    } else if (request.isMultipart()) {
      let upload: SavedUpload | undefined;
      try {
        try {
          // Every part is read, so a second file is refused rather than silently ignored.
          for await (const part of request.parts()) {
            if (part.type !== 'file') {
              if (typeof part.value === 'string') fields[part.fieldname] = part.value;
              continue;
            }
            if (upload) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Only one file allowed per request');
            if (part.fieldname === 'photo' || part.fieldname === 'video') hint ??= part.fieldname;
            mime = part.mimetype;
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
    return { record, contentType: contentTypeOf(hint, mime, record), fields };
  }

  /** HMA's lookup filter: enabled content only, and each bank's enabled_ratio drawn per content. */
  async function hmaMatches(matches: BankMatch[], q: { seed?: string; bypass_coinflip?: boolean }): Promise<BankMatch[]> {
    const actionable = matches.filter((m) => m.actionable);
    if (actionable.length === 0) return [];
    const signals = new Map((await ctx.store.getSignals([...new Set(actionable.map((m) => m.signalId))])).map((s) => [s.id, s]));
    const banks = new Map((await ctx.store.listBanks()).map((b) => [b.name, b]));
    const now = Date.now() / 1000;
    return actionable.filter((m) => {
      const signal = signals.get(m.signalId);
      const bank = banks.get(m.bank);
      return !!signal && !!bank && contentEnabled(signal.disableUntilTs, now) && (q.bypass_coinflip || coinflipPasses(bank, signal.id, q.seed));
    });
  }

  function byBank(matches: BankMatch[], banks?: Set<string>) {
    const out: Record<string, { bank_content_id: number; distance: string }[]> = {};
    for (const m of matches) if (!banks || banks.has(m.bank)) (out[m.bank] ??= []).push({ bank_content_id: m.signalId, distance: String(m.distance) });
    return out;
  }

  /** One HMA signal (type name and string) → the matcher's query. */
  function signalQuery(signalType: string | undefined, signal: string) {
    const type = vigilType(signalType, enabled);
    return lookupQuery({ type, value: storedValue(type, signal) });
  }

  app.get('/status', { schema: { tags, summary: 'HMA: 200 when the index is loaded, else 503 INDEX-NOT-LOADED' } }, async (_request, reply) =>
    ctx.isReady() ? reply.type('text/plain').send('I-AM-ALIVE') : reply.code(503).type('text/plain').send('INDEX-NOT-LOADED'));
  app.get('/status/live', { schema: { tags, summary: 'HMA: liveness (200 while the process serves, whatever the index state)' } }, async (_request, reply) => reply.type('text/plain').send('I-AM-ALIVE'));

  app.get('/site-map', { schema: { tags, summary: 'HMA: the routes of this server' } }, async () =>
    Object.keys((app.swagger() as { paths?: Record<string, unknown> }).paths ?? {}).sort());

  const hashHandler = async (request: FastifyRequest, reply: FastifyReply) => {
    const { record, contentType } = await hashRequest(request, reply);
    return hmaSignals(record, contentType, enabled, csvSet((request.query as { types?: string }).types));
  };
  const hashSchema = { tags, summary: 'HMA: hash a file (multipart photo/video or ?url=) → {signal_type: "<signal>"}', querystring: { type: 'object', properties: { url: { type: 'string' }, content_type: { type: 'string' }, types: { type: 'string' } } } };
  app.get('/h/hash', { config: { scope: 'lookup' }, schema: hashSchema }, hashHandler);
  app.post('/h/hash', { config: { scope: 'lookup' }, schema: hashSchema }, hashHandler);

  const lookupQs = { type: 'object', properties: { signal_type: { type: 'string' }, signal: { type: 'string' }, url: { type: 'string' }, content_type: { type: 'string' }, banks: { type: 'string' }, include_distance: { type: 'boolean' }, seed: { type: 'string' }, bypass_coinflip: { type: 'boolean' } } } as const;
  type LookupQs = { signal_type?: string; signal?: string; banks?: string; include_distance?: boolean; seed?: string; bypass_coinflip?: boolean };

  app.get('/m/raw_lookup', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: bank_content_ids matching one signal (content switches and sampling not applied, as HMA)', querystring: lookupQs } }, async (request) => {
    const q = request.query as LookupQs;
    if (!q.signal) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected signal=<hash>');
    if (!ctx.isReady()) throw new VigilError('VIGIL_ERR_NOT_READY', 'index not yet ready');
    const banks = csvSet(q.banks);
    const matches = (await ctx.matcher.match(signalQuery(q.signal_type, q.signal))).filter((m) => !banks || banks.has(m.bank));
    return { matches: q.include_distance ? matches.map((m) => ({ bank_content_id: m.signalId, distance: String(m.distance) })) : matches.map((m) => m.signalId) };
  });

  const mLookup = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as LookupQs;
    const banks = csvSet(q.banks);
    if (q.signal) return byBank(await hmaMatches(await ctx.matcher.match(signalQuery(q.signal_type, q.signal)), q), banks);
    const { record, contentType } = await hashRequest(request, reply);
    const matches = await hmaMatches(await ctx.matcher.match(matchQueryOfRecord(record)), q);
    const out: Record<string, ReturnType<typeof byBank>> = {};
    for (const name of Object.keys(hmaSignals(record, contentType, enabled))) out[name] = byBank(matches.filter((m) => m.signalType === hmaSignalType(name)), banks);
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
      const type = signalType(vigilType(name, enabled));
      // Exact types compare equal or not (distance 0 or 1, as HMA); video types have no single distance.
      if (type.matching !== 'exact' && !type.distance) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `compare is not defined for ${name}`);
      const [a, b] = pair.map((h) => type.parse(h)) as [string, string];
      const distance = type.distance ? type.distance(a, b) : a === b ? 0 : 1;
      out[name] = [type.matches ? type.matches(a, b) : distance === 0, { distance }];
    }
    return out;
  });

  app.get('/m/index/status', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: index presence and size per signal type (400 for an unknown type)', querystring: { type: 'object', properties: { signal_type: { type: 'string' } } } } }, async (request) => {
    const { signal_type } = request.query as { signal_type?: string };
    if (signal_type !== undefined) vigilType(signal_type, enabled);
    const sizes = ctx.matcher.sizes as Record<string, number>;
    const builtTo = Math.floor(Date.now() / 1000);
    const out: Record<string, { present: boolean; built_to: number; size: number }> = {};
    for (const name of signal_type ? [signal_type] : enabled) out[name] = { present: ctx.isReady(), built_to: builtTo, size: sizes[hmaSignalType(name)!] ?? 0 };
    return out;
  });

  // ---- Curation: banks ----
  const bankBody = { name: { type: 'string' }, enabled: { type: 'boolean' }, enabled_ratio: { type: 'number' } } as const;
  const bankParams = { type: 'object', properties: { name: { type: 'string' } } } as const;
  const liveBank = (name: string) => ctx.banks.requireBank(name).catch(() => {
    throw new VigilError('VIGIL_ERR_NOT_FOUND', `bank '${name}' not found`);
  });
  const conflict = (err: unknown) => err instanceof VigilError && err.code === 'VIGIL_ERR_CONFLICT';

  app.get('/c/banks', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: list banks' } }, async () => (await ctx.store.listBanks()).map(bankJson));

  app.post('/c/banks', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: create a bank', body: { type: 'object', required: ['name'], properties: bankBody } } }, async (request, reply) => {
    const body = request.body as { name: string; enabled?: boolean; enabled_ratio?: number };
    try {
      const bank = await ctx.banks.createBank(auditActorOf(request), { name: body.name, source: 'HMA API', ...ratioPatch(body) }, VIA);
      return reply.code(201).send(bankJson(bank));
    } catch (err) {
      if (conflict(err)) return sendHmaForbidden(reply, 'Bank already exists');
      throw err;
    }
  });

  app.get('/c/bank/:name', { config: { scope: 'lookup' }, schema: { tags, summary: 'HMA: a bank', params: bankParams } }, async (request) => bankJson(await liveBank((request.params as { name: string }).name)));

  app.put('/c/bank/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: rename / enable a bank / set its enabled_ratio', params: bankParams, body: { type: 'object', properties: bankBody } } }, async (request, reply) => {
    const { name } = request.params as { name: string };
    const body = request.body as { name?: string; enabled?: boolean; enabled_ratio?: number };
    await liveBank(name);
    try {
      return bankJson(await ctx.banks.updateBank(auditActorOf(request), name, { ...(body.name ? { name: body.name } : {}), ...ratioPatch(body) }, VIA));
    } catch (err) {
      if (conflict(err)) return sendHmaForbidden(reply, `bank '${body.name}' already exists`);
      throw err;
    }
  });

  // HMA answers "Done" whether or not the bank existed.
  app.delete('/c/bank/:name', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: delete a bank (its name is free again; Vigil keeps its history under its id)', params: bankParams } }, async (request) => {
    const { name } = request.params as { name: string };
    if (await ctx.store.getBank(name)) await ctx.banks.deleteBank(auditActorOf(request), name, VIA);
    return { message: 'Done' };
  });

  // ---- Curation: content ----
  /** HMA's optional content metadata {content_id, content_uri, json}, from the request's fields. */
  function contentMetadata(fields: Record<string, string>): Record<string, unknown> | undefined {
    const meta: Record<string, unknown> = {};
    if (fields.content_id) meta.content_id = fields.content_id;
    if (fields.content_uri) meta.content_uri = fields.content_uri;
    if (fields.metadata) meta.json = parseFieldJson(fields.metadata, 'metadata');
    if (fields.note) meta.note = fields.note;
    return Object.keys(meta).length ? meta : undefined;
  }

  async function addContent(request: FastifyRequest, bankName: string, signals: Record<string, unknown>, metadata?: Record<string, unknown>) {
    const entries = Object.entries(signals);
    if (entries.length === 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'No signals given');
    const typed = entries.map(([name, value]) => ({ type: vigilType(name, enabled), value: storedValue(vigilType(name, enabled), value), ...(metadata ? { metadata } : {}) }));
    const stored = await ctx.banks.addSignals(auditActorOf(request), bankName, typed, VIA);
    return { id: stored[0]!.id, signals: Object.fromEntries(entries.map(([name], i) => [name, stored[i]!.value])) };
  }

  app.post('/c/bank/:name/content', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: add a file (multipart photo/video, or ?url=) to a bank → {id, signals}', params: bankParams } }, async (request, reply) => {
    const { name } = request.params as { name: string };
    await liveBank(name);
    const { record, contentType, fields } = await hashRequest(request, reply);
    return addContent(request, name, hmaSignals(record, contentType, enabled), contentMetadata(fields));
  });

  app.post('/c/bank/:name/signal', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: add signals ({"pdq": "<hex>"}) to a bank', params: bankParams, body: { type: 'object', additionalProperties: true } } }, async (request) => {
    const { name } = request.params as { name: string };
    await liveBank(name);
    const { note, metadata, ...signals } = request.body as Record<string, unknown>;
    void metadata;
    return addContent(request, name, signals, typeof note === 'string' ? { note } : undefined);
  });

  const contentParams = { type: 'object', properties: { name: { type: 'string' }, id: { type: 'integer' } } } as const;
  async function bankContent(request: FastifyRequest): Promise<{ bank: Bank; signal: Signal | undefined }> {
    const { name, id } = request.params as { name: string; id: number };
    const bank = await liveBank(name);
    const signal = await ctx.store.getSignal(id);
    return { bank, signal: signal && signal.bankId === bank.id && !signal.deletedAt ? signal : undefined };
  }
  // HMA's BankContentConfig: disable_until_ts 1 = enabled, 0 = disabled, a later time = disabled until then.
  const contentJson = (bank: Bank, s: Signal) => ({
    id: s.id,
    disable_until_ts: disableUntilTsOf(s.disableUntilTs),
    collab_metadata: {},
    original_media_uri: null,
    bank: bankJson(bank),
    signals: { [hmaNameOf(s.type)]: s.value },
  });
  const notFound = () => new VigilError('VIGIL_ERR_NOT_FOUND', 'content not found');

  // The content's signals are a bank's hashes: curate, and audited (as GET /v1/signals/:id).
  app.get('/c/bank/:name/content/:id', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: one bank content, with its signal values (audited as data.accessed)', params: contentParams } }, async (request) => {
    const { bank, signal } = await bankContent(request);
    if (!signal) throw notFound();
    await ctx.audit.appendNow({ ...auditActorOf(request), action: 'data.accessed', subject: `signal:${signal.id}`, details: { route: 'GET /c/bank/:name/content/:id', bankId: bank.id, signalType: signal.type, via: 'hma' } });
    return contentJson(bank, signal);
  });

  app.put('/c/bank/:name/content/:id', {
    config: { scope: 'curate' },
    schema: { tags, summary: 'HMA: enable / disable a bank content (disable_until_ts: 1 enabled, 0 disabled, a unix time: disabled until then)', params: contentParams, body: { type: 'object', properties: { disable_until_ts: { type: 'integer' }, note: { type: 'string', maxLength: 255 } } } },
  }, async (request) => {
    const body = request.body as { disable_until_ts?: number; note?: string };
    const found = await bankContent(request);
    const bank = found.bank;
    let signal = found.signal;
    if (!signal) throw notFound();
    const actor = auditActorOf(request);
    if (body.disable_until_ts !== undefined) {
      const ts = body.disable_until_ts;
      if (ts < 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'disable_until_ts must be a non-negative integer');
      if (ts > Date.now() / 1000 + 5 * 365.25 * 86400) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'disable_until_ts must be less than 5 years in the future');
      signal = await ctx.banks.setSignalDisabledUntil(actor, signal, ts === 1 ? null : ts, VIA);
    }
    if (body.note !== undefined) [signal] = await ctx.banks.addSignals(actor, bank.name, [{ type: signal.type, value: signal.value, metadata: { ...signal.metadata, note: body.note } }], VIA);
    return contentJson(bank, signal!);
  });

  app.delete('/c/bank/:name/content/:id', { config: { scope: 'curate' }, schema: { tags, summary: 'HMA: remove a bank content; {"deleted": <count removed>}', params: contentParams } }, async (request) => {
    // Like HMA: a count (0 when the bank holds no such content), not an error.
    const { signal } = await bankContent(request);
    if (!signal) return { deleted: 0 };
    await ctx.banks.withdrawSignal(auditActorOf(request), signal, VIA);
    return { deleted: 1 };
  });

  hmaExchangeRoutes(app, ctx);
}
