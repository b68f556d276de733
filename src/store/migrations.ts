/**
 * Versioned schema migrations, one list per dialect. Append only: a released migration is never edited.
 * Both dialects hold the same model (see types.ts).
 */
import type { Component } from '../state/migrate.js';

interface Migration {
  version: number;
  description: string;
  sql: string;
}

const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'banks, signals, opinions, match statistics, imports, change-feed counter',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO meta (key, value) VALUES ('seq', 0);
      CREATE TABLE banks (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL CHECK (kind IN ('block', 'allow')),
        enabled INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL DEFAULT '',
        provenance TEXT NOT NULL DEFAULT '{}',
        thresholds TEXT NOT NULL DEFAULT '{}',
        fp_policy TEXT NOT NULL DEFAULT 'suppress' CHECK (fp_policy IN ('suppress', 'downrank')),
        spike_threshold INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        bank_id INTEGER NOT NULL REFERENCES banks (id),
        file_name TEXT, format TEXT,
        started_at TEXT NOT NULL, finished_at TEXT,
        rows INTEGER, inserted INTEGER, updated INTEGER, unchanged INTEGER, deleted INTEGER, errors INTEGER
      );
      CREATE TABLE signals (
        id INTEGER PRIMARY KEY,
        bank_id INTEGER NOT NULL REFERENCES banks (id),
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        source_id TEXT, file_name TEXT, file_size INTEGER,
        metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'false_positive', 'quarantined')),
        import_id INTEGER REFERENCES imports (id),
        seq INTEGER NOT NULL,
        added_seq INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        UNIQUE (bank_id, type, value)
      );
      CREATE INDEX signals_seq ON signals (seq);
      CREATE INDEX signals_source ON signals (bank_id, source_id);
      CREATE TABLE opinions (
        id INTEGER PRIMARY KEY,
        signal_id INTEGER NOT NULL REFERENCES signals (id),
        kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'false_positive', 'disputed')),
        actor TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
      );
      CREATE INDEX opinions_signal ON opinions (signal_id);
      CREATE TABLE signal_stats (
        signal_id INTEGER PRIMARY KEY REFERENCES signals (id),
        match_count INTEGER NOT NULL DEFAULT 0,
        last_match_at TEXT,
        hour_bucket INTEGER NOT NULL DEFAULT 0,
        hour_count INTEGER NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 2,
    // The hash first: it decides almost every comparison, so sorts and lookups rarely look further.
    description: 'signals: the (bank, type, value) key as a named index, hash first, that a large import into an empty bank can rebuild',
    sql: `
      CREATE TABLE signals_v2 (
        id INTEGER PRIMARY KEY,
        bank_id INTEGER NOT NULL REFERENCES banks (id),
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        source_id TEXT, file_name TEXT, file_size INTEGER,
        metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'false_positive', 'quarantined')),
        import_id INTEGER REFERENCES imports (id),
        seq INTEGER NOT NULL,
        added_seq INTEGER NOT NULL,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT
      );
      INSERT INTO signals_v2 SELECT id, bank_id, type, value, labels, source_id, file_name, file_size, metadata, status,
        import_id, seq, added_seq, added_at, updated_at, deleted_at FROM signals ORDER BY id;
      DROP TABLE signals;
      ALTER TABLE signals_v2 RENAME TO signals;
      CREATE UNIQUE INDEX signals_key ON signals (value, type, bank_id);
      CREATE INDEX signals_seq ON signals (seq);
      CREATE INDEX signals_source ON signals (bank_id, source_id);
    `,
  },
  {
    version: 3,
    // HMA semantics: a deleted bank keeps its id (signals, imports, audit refer to it) and frees its name;
    // a bank matches a share of its contents (enabled_ratio); content can be disabled until a time.
    description: 'banks: enabled_ratio, deleted_at, name unique among live banks; signals: disable_until_ts',
    sql: `
      CREATE TABLE banks_v3 (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL CHECK (kind IN ('block', 'allow')),
        enabled INTEGER NOT NULL DEFAULT 1,
        source TEXT NOT NULL DEFAULT '',
        provenance TEXT NOT NULL DEFAULT '{}',
        thresholds TEXT NOT NULL DEFAULT '{}',
        fp_policy TEXT NOT NULL DEFAULT 'suppress' CHECK (fp_policy IN ('suppress', 'downrank')),
        spike_threshold INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        enabled_ratio REAL NOT NULL DEFAULT 1 CHECK (enabled_ratio >= 0 AND enabled_ratio <= 1),
        deleted_at TEXT
      );
      INSERT INTO banks_v3 SELECT id, name, description, kind, enabled, source, provenance, thresholds, fp_policy, spike_threshold,
        created_at, updated_at, 1, NULL FROM banks ORDER BY id;
      DROP TABLE banks;
      ALTER TABLE banks_v3 RENAME TO banks;
      CREATE UNIQUE INDEX banks_live_name ON banks (name) WHERE deleted_at IS NULL;
      ALTER TABLE signals ADD COLUMN disable_until_ts INTEGER;
    `,
  },
  {
    version: 4,
    description: 'banks: what a degenerate PDQ hash may match (exact | none)',
    sql: `ALTER TABLE banks ADD COLUMN degenerate_policy TEXT NOT NULL DEFAULT 'exact' CHECK (degenerate_policy IN ('exact', 'none'));`,
  },
];

const POSTGRES_MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'banks, signals, opinions, match statistics, imports, change-feed sequence',
    sql: `
      CREATE SEQUENCE signal_seq;
      CREATE TABLE banks (
        id BIGSERIAL PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        description TEXT NOT NULL DEFAULT '',
        kind TEXT NOT NULL CHECK (kind IN ('block', 'allow')),
        enabled BOOLEAN NOT NULL DEFAULT TRUE,
        source TEXT NOT NULL DEFAULT '',
        provenance JSONB NOT NULL DEFAULT '{}',
        thresholds JSONB NOT NULL DEFAULT '{}',
        fp_policy TEXT NOT NULL DEFAULT 'suppress' CHECK (fp_policy IN ('suppress', 'downrank')),
        spike_threshold INTEGER NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE TABLE imports (
        id BIGSERIAL PRIMARY KEY,
        bank_id BIGINT NOT NULL REFERENCES banks (id),
        file_name TEXT, format TEXT,
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ,
        rows BIGINT, inserted BIGINT, updated BIGINT, unchanged BIGINT, deleted BIGINT, errors BIGINT
      );
      CREATE TABLE signals (
        id BIGSERIAL PRIMARY KEY,
        bank_id BIGINT NOT NULL REFERENCES banks (id),
        type TEXT NOT NULL,
        value TEXT NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        source_id TEXT, file_name TEXT, file_size BIGINT,
        metadata TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'false_positive', 'quarantined')),
        import_id BIGINT REFERENCES imports (id),
        seq BIGINT NOT NULL,
        added_seq BIGINT NOT NULL,
        added_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        deleted_at TIMESTAMPTZ,
        UNIQUE (bank_id, type, value)
      );
      CREATE INDEX signals_seq ON signals (seq);
      CREATE INDEX signals_source ON signals (bank_id, source_id);
      CREATE TABLE opinions (
        id BIGSERIAL PRIMARY KEY,
        signal_id BIGINT NOT NULL REFERENCES signals (id),
        kind TEXT NOT NULL CHECK (kind IN ('confirmed', 'false_positive', 'disputed')),
        actor TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
      );
      CREATE INDEX opinions_signal ON opinions (signal_id);
      CREATE TABLE signal_stats (
        signal_id BIGINT PRIMARY KEY REFERENCES signals (id),
        match_count BIGINT NOT NULL DEFAULT 0,
        last_match_at TIMESTAMPTZ,
        hour_bucket BIGINT NOT NULL DEFAULT 0,
        hour_count BIGINT NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 2,
    // Bytewise comparison (hashes need no locale) and the hash first: it decides almost every comparison,
    // which makes key inserts, the bulk of an import, about a fifth cheaper.
    description: 'signals: type and value COLLATE "C"; the (bank, type, value) key as an index, hash first',
    sql: `
      ALTER TABLE signals DROP CONSTRAINT signals_bank_id_type_value_key;
      ALTER TABLE signals ALTER COLUMN type TYPE TEXT COLLATE "C", ALTER COLUMN value TYPE TEXT COLLATE "C";
      CREATE UNIQUE INDEX signals_key ON signals (value, type, bank_id);
    `,
  },
  {
    version: 3,
    description: 'banks: enabled_ratio, deleted_at, name unique among live banks; signals: disable_until_ts',
    sql: `
      ALTER TABLE banks DROP CONSTRAINT banks_name_key;
      ALTER TABLE banks ADD COLUMN enabled_ratio DOUBLE PRECISION NOT NULL DEFAULT 1 CHECK (enabled_ratio >= 0 AND enabled_ratio <= 1),
        ADD COLUMN deleted_at TIMESTAMPTZ;
      CREATE UNIQUE INDEX banks_live_name ON banks (name) WHERE deleted_at IS NULL;
      ALTER TABLE signals ADD COLUMN disable_until_ts BIGINT;
    `,
  },
  {
    version: 4,
    description: 'banks: what a degenerate PDQ hash may match (exact | none)',
    sql: `ALTER TABLE banks ADD COLUMN degenerate_policy TEXT NOT NULL DEFAULT 'exact' CHECK (degenerate_policy IN ('exact', 'none'));`,
  },
];

/** The store as one component of the database's single migration system (state/migrate.ts). */
export const STORE_COMPONENT: Component = {
  name: 'store',
  migrations: SQLITE_MIGRATIONS.map((m) => {
    const pgm = POSTGRES_MIGRATIONS.find((p) => p.version === m.version);
    if (!pgm) throw new Error(`Store migration ${m.version} has no PostgreSQL version`);
    // Versions 2 and 3 rebuild the signals and banks tables on SQLite (foreign keys off during the rebuild, checked before commit).
    return { version: m.version, description: m.description, sqlite: m.sql, postgres: pgm.sql, rebuildsTables: m.version === 2 || m.version === 3 };
  }),
};
