/**
 * Exchange configuration, as HMA keeps it: the exchange APIs Vigil knows (ThreatExchange, NCMEC hash sharing,
 * StopNCII) with their config and credential fields, per-API credentials (AES-256-GCM at rest under a key
 * derived from the service master key; never returned), and exchanges, each bound to the bank it fills. The
 * fetcher (fetcher.ts) writes the fetch status columns.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import { sql } from 'kysely';
import type { Tx, VigilDatabase } from '../state/database.js';
import type { Component } from '../state/migrate.js';

export interface ExchangeField {
  name: string;
  type: 'string' | 'number' | 'enum' | 'set_of_number';
  required: boolean;
  default: null;
  help: string;
  choices: string[] | null;
}

export interface ExchangeApi {
  name: string;
  config: ExchangeField[];
  /** null: the API needs no credentials. */
  credentials: ExchangeField[] | null;
}

const field = (name: string, type: ExchangeField['type'], required: boolean, help: string, choices: string[] | null = null): ExchangeField => ({ name, type, required, default: null, help, choices });

const BASE_URL = field('base_url', 'string', false, 'Another API base URL (a test server, a mirror)');
const FEEDBACK = field('feedback', 'enum', false, 'Send reviewers\' confirmations and false positives back to the program', ['on', 'off']);

/** Field names follow python-threatexchange's config and credential classes, so HMA clients send the same JSON. */
export const EXCHANGE_APIS: Record<string, ExchangeApi> = {
  fb_threatexchange: {
    name: 'fb_threatexchange',
    config: [field('privacy_group', 'number', true, 'The ThreatExchange privacy group to fetch'), BASE_URL, FEEDBACK],
    credentials: [field('api_token', 'string', true, 'A ThreatExchange app access token')],
  },
  ncmec: {
    name: 'ncmec',
    config: [
      field('environment', 'enum', true, 'The NCMEC hash sharing endpoint', [
        'https://report.cybertip.org/hashsharing', 'https://hashsharing.ncmec.org/npo', 'https://hashsharing.ncmec.org/exploitative',
        'https://exttest.cybertip.org/hashsharing', 'https://hashsharing-test.ncmec.org/npo', 'https://hashsharing-test.ncmec.org/exploitative',
      ]),
      field('only_esp_ids', 'set_of_number', false, 'Keep only entries from these ESP ids'),
      field('negative_reason_id', 'string', false, 'Reason GUID sent with false-positive feedback (NCMEC requires one)'),
      BASE_URL, FEEDBACK,
    ],
    credentials: [field('user', 'string', true, 'Hash sharing user name'), field('password', 'string', true, 'Hash sharing password')],
  },
  stop_ncii: {
    name: 'stop_ncii',
    config: [FEEDBACK],
    credentials: [
      field('fetch_function_key', 'string', true, 'Key of the StopNCII fetch-hashes endpoint'),
      field('subscription_key', 'string', true, 'StopNCII API subscription key'),
      field('base_url_override', 'string', false, 'Another API base URL (testing)'),
      field('feedback_function_key', 'string', false, 'Key of the StopNCII submit-feedback endpoint (default: the fetch key)'),
    ],
  },
  // Vigil's own: a list published as a file at a URL, and another Vigil's bank (issue #18).
  file: {
    name: 'file',
    config: [field('url', 'string', true, 'The http(s) URL of the list file'), field('format', 'string', false, 'The list format (default: detected)')],
    credentials: null,
  },
  vigil: {
    name: 'vigil',
    config: [field('url', 'string', true, 'The other Vigil\'s base URL'), field('bank', 'string', true, 'The bank to follow there')],
    credentials: [field('api_key', 'string', true, 'An API key of the other Vigil with the curate scope')],
  },
};

export interface Exchange {
  name: string;
  api: string;
  bankId: number;
  enabled: boolean;
  config: Record<string, unknown>;
}

/** HMA's FetchStatus: what the last fetch did (all empty until the fetcher has run). */
export interface FetchStatus {
  checkpoint_ts: number | null;
  running_fetch_start_ts: number | null;
  last_fetch_complete_ts: number | null;
  last_fetch_succeeded: boolean | null;
  up_to_date: boolean;
  fetched_items: number;
}

const tables = (blob: string) => `
    CREATE TABLE exchange_credentials (api TEXT PRIMARY KEY, sealed ${blob} NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE exchanges (
      name TEXT PRIMARY KEY,
      api TEXT NOT NULL,
      bank_id INTEGER NOT NULL,
      config TEXT NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      -- Written by the fetcher; NULL until a fetch has run.
      checkpoint_ts BIGINT, running_fetch_start_ts BIGINT, last_fetch_complete_ts BIGINT, last_fetch_succeeded INTEGER,
      fetched_items INTEGER NOT NULL DEFAULT 0
    );`;

export const EXCHANGES_COMPONENT: Component = {
  name: 'exchanges',
  migrations: [{ version: 1, description: 'exchange credentials (encrypted) and exchanges with their fetch status', sqlite: tables('BLOB'), postgres: tables('BYTEA') }],
};

type Row = Record<string, unknown>;

function checkValue(api: string, f: ExchangeField, value: unknown): void {
  const bad = () => new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `${api}: field ${f.name} expects ${f.type}${f.choices ? ` (one of ${f.choices.join(', ')})` : ''}`);
  if (f.type === 'string' && typeof value !== 'string') throw bad();
  if (f.type === 'number' && !(typeof value === 'number' && Number.isFinite(value))) throw bad();
  if (f.type === 'enum' && !f.choices?.includes(value as string)) throw bad();
  if (f.type === 'set_of_number' && !(Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v)))) throw bad();
}

/** Checks a JSON object against an API's fields: required present, types right, nothing unknown. */
function checkFields(api: string, fields: readonly ExchangeField[], json: Record<string, unknown>, ignore: readonly string[] = []): Record<string, unknown> {
  const known = new Map(fields.map((f) => [f.name, f]));
  for (const key of Object.keys(json)) if (!known.has(key) && !ignore.includes(key)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `${api}: unknown field ${key}`);
  for (const f of fields) {
    const value = json[f.name];
    if (value === undefined || value === null) {
      if (f.required) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `${api}: field ${f.name} is required`);
      continue;
    }
    checkValue(api, f, value);
  }
  return Object.fromEntries(Object.entries(json).filter(([k]) => known.has(k)));
}

export function exchangeApi(name: string): ExchangeApi {
  const api = Object.hasOwn(EXCHANGE_APIS, name) ? EXCHANGE_APIS[name] : undefined;
  if (!api) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `No such exchange API '${name}' (${Object.keys(EXCHANGE_APIS).join(', ')})`);
  return api;
}

/** Who acts: an actor name, or the actor with the request id (what an audit entry names). */
const by = (actor: string | AuditActor): AuditActor => (typeof actor === 'string' ? { actor } : actor);

export class ExchangeConfigs {
  private derived: Promise<Buffer> | undefined;

  /** `masterKey` may be a function: the key is then read on first use (a CLI command that never seals opens no key store). */
  constructor(private readonly db: VigilDatabase, private readonly masterKey: Buffer | (() => Promise<Buffer>), private readonly audit: AuditLog) {}

  private key(): Promise<Buffer> {
    return (this.derived ??= (async () => {
      const master = typeof this.masterKey === 'function' ? await this.masterKey() : this.masterKey;
      return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'vigil exchange credentials', 32));
    })());
  }

  private async rows(query: ReturnType<typeof sql>): Promise<Row[]> {
    return (await query.execute(this.db.k)).rows as Row[];
  }

  async hasCredentials(api: string): Promise<boolean> {
    return (await this.rows(sql`SELECT 1 FROM exchange_credentials WHERE api = ${api}`)).length > 0;
  }

  /** Sets (or, with null or {}, clears) an API's credentials. The audit entry names the fields, never values. */
  async setCredentials(actor: string | AuditActor, api: string, credentials: Record<string, unknown> | null): Promise<void> {
    const spec = exchangeApi(api);
    if (!credentials || Object.keys(credentials).length === 0) {
      await this.db.transaction(async (tx) => {
        await sql`DELETE FROM exchange_credentials WHERE api = ${api}`.execute(tx.k);
        await this.audit.append(tx, { ...by(actor), action: 'exchange.credentials_cleared', subject: `exchange-api:${api}`, details: {} });
      });
      return;
    }
    if (!spec.credentials) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `${api} takes no credentials`);
    const clean = checkFields(api, spec.credentials, credentials);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', await this.key(), iv).setAAD(Buffer.from(api));
    const sealed = Buffer.concat([iv, cipher.update(JSON.stringify(clean)), cipher.final(), cipher.getAuthTag()]);
    await this.db.transaction(async (tx) => {
      await sql`INSERT INTO exchange_credentials (api, sealed, updated_at) VALUES (${api}, ${sealed}, ${new Date().toISOString()})
        ON CONFLICT (api) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at`.execute(tx.k);
      await this.audit.append(tx, { ...by(actor), action: 'exchange.credentials_set', subject: `exchange-api:${api}`, details: { fields: Object.keys(clean).sort() } });
    });
  }

  /** The decrypted credentials, for the fetcher only (never for an API answer). */
  async credentials(api: string): Promise<Record<string, unknown> | undefined> {
    const row = (await this.rows(sql`SELECT sealed FROM exchange_credentials WHERE api = ${api}`))[0] as { sealed: Buffer } | undefined;
    if (!row) return undefined;
    const iv = row.sealed.subarray(0, 12);
    const tag = row.sealed.subarray(row.sealed.length - 16);
    const decipher = createDecipheriv('aes-256-gcm', await this.key(), iv).setAAD(Buffer.from(api)).setAuthTag(tag);
    return JSON.parse(Buffer.concat([decipher.update(row.sealed.subarray(12, row.sealed.length - 16)), decipher.final()]).toString('utf8')) as Record<string, unknown>;
  }

  /** Validates an exchange's config against its API (HMA's `api_json`); `name`, `api`, `enabled` may be present. */
  static checkConfig(api: string, json: Record<string, unknown>): Record<string, unknown> {
    return checkFields(api, exchangeApi(api).config, json, ['name', 'api', 'enabled']);
  }

  async create(actor: string | AuditActor, exchange: Exchange): Promise<Exchange> {
    const config = ExchangeConfigs.checkConfig(exchange.api, exchange.config);
    const now = new Date().toISOString();
    await this.db.transaction(async (tx) => {
      const inserted = await sql`INSERT INTO exchanges (name, api, bank_id, config, enabled, created_at, updated_at)
        VALUES (${exchange.name}, ${exchange.api}, ${exchange.bankId}, ${JSON.stringify(config)}, ${exchange.enabled ? 1 : 0}, ${now}, ${now})
        ON CONFLICT (name) DO NOTHING`.execute(tx.k);
      if (Number(inserted.numAffectedRows ?? 0) === 0) throw new VigilError('VIGIL_ERR_CONFLICT', `An exchange named ${exchange.name} already exists`);
      await this.audit.append(tx, { ...by(actor), action: 'exchange.created', subject: `exchange:${exchange.name}`, details: { api: exchange.api, bankId: exchange.bankId, config, enabled: exchange.enabled } });
    });
    return { ...exchange, config };
  }

  async get(name: string): Promise<Exchange | undefined> {
    const r = (await this.rows(sql`SELECT * FROM exchanges WHERE name = ${name}`))[0];
    return r ? { name: String(r.name), api: String(r.api), bankId: Number(r.bank_id), enabled: Number(r.enabled) === 1, config: JSON.parse(String(r.config)) as Record<string, unknown> } : undefined;
  }

  async list(): Promise<string[]> {
    return (await this.rows(sql`SELECT name FROM exchanges ORDER BY name`)).map((r) => String(r.name));
  }

  async setEnabled(actor: string | AuditActor, name: string, enabled: boolean): Promise<Exchange> {
    await this.db.transaction(async (tx) => {
      const changed = await sql`UPDATE exchanges SET enabled = ${enabled ? 1 : 0}, updated_at = ${new Date().toISOString()} WHERE name = ${name}`.execute(tx.k);
      if (Number(changed.numAffectedRows ?? 0) === 0) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${name}' not found`);
      await this.audit.append(tx, { ...by(actor), action: 'exchange.changed', subject: `exchange:${name}`, details: { enabled } });
    });
    return (await this.get(name))!;
  }

  /** `within` runs in the same unit of work (the fetcher forgets the exchange's fetch state there). */
  async delete(actor: string | AuditActor, name: string, within?: (tx: Tx) => Promise<void>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const gone = Number((await sql`DELETE FROM exchanges WHERE name = ${name}`.execute(tx.k)).numAffectedRows ?? 0) > 0;
      if (gone) await within?.(tx);
      if (gone) await this.audit.append(tx, { ...by(actor), action: 'exchange.deleted', subject: `exchange:${name}`, details: {} });
      return gone;
    });
  }

  async fetchStatus(name: string): Promise<FetchStatus | undefined> {
    const r = (await this.rows(sql`SELECT * FROM exchanges WHERE name = ${name}`))[0];
    if (!r) return undefined;
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    return {
      checkpoint_ts: n(r.checkpoint_ts),
      running_fetch_start_ts: n(r.running_fetch_start_ts),
      last_fetch_complete_ts: n(r.last_fetch_complete_ts),
      last_fetch_succeeded: r.last_fetch_succeeded === null ? null : Number(r.last_fetch_succeeded) === 1,
      up_to_date: Number((await this.rows(sql`SELECT up_to_date FROM exchange_sync WHERE name = ${name}`))[0]?.up_to_date ?? 0) === 1,
      fetched_items: Number(r.fetched_items),
    };
  }
}
