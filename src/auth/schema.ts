/**
 * Tables of API keys (component `auth`) and people (component `users`) on both engines. `auth` version 1
 * is the SQLite text of the first release, unchanged, so existing databases carry over.
 */
import type { Generated } from 'kysely';
import type { Component, Migration } from '../state/migrate.js';

export const ROLES = ['reviewer', 'senior_reviewer', 'investigator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKeysTable {
  id: string;
  name: string;
  scopes: string;
  rate_limit_per_minute: number;
  secret_sha256: Buffer;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
}

export interface ApiKeyRevisionTable {
  id: number;
  revision: number;
}

export interface UsersTable {
  id: Generated<number>;
  /** The sign-in name, lower-case. */
  name: string;
  display_name: string;
  role: string;
  /** 0/1: may see child-safety review items (a separate grant from the role). */
  child_safety: number;
  /** 'scrypt$N$r$p$salt$hash' (base64url): the parameters travel with the hash. */
  password_hash: string;
  disabled: number;
  failed_logins: number;
  locked_until: string | null;
  /** Sessions carry the epoch they were issued under; bumping it signs the user out everywhere. */
  session_epoch: number;
  password_changed_at: string;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface AuthTables {
  api_keys: ApiKeysTable;
  api_key_revision: ApiKeyRevisionTable;
  users: UsersTable;
}

const AUTH_SQLITE_V1 = `
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        rate_limit_per_minute INTEGER NOT NULL CHECK (rate_limit_per_minute >= 0),
        secret_sha256 BLOB NOT NULL CHECK (length(secret_sha256) = 32),
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
      );
      -- Bumped by any change that can affect authentication, so each process drops its cached rows when
      -- another process (vigil key revoke) changes a key. random(), not +1: a rolled-back bump must not
      -- let a later, different change reproduce a revision a process already cached under.
      CREATE TABLE api_key_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL);
      INSERT INTO api_key_revision (id, revision) VALUES (1, 0);
      CREATE TRIGGER api_keys_revision_update AFTER UPDATE OF id, name, scopes, rate_limit_per_minute, secret_sha256, expires_at, revoked_at ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
      CREATE TRIGGER api_keys_revision_delete AFTER DELETE ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
      CREATE TRIGGER api_keys_revision_insert AFTER INSERT ON api_keys
        BEGIN UPDATE api_key_revision SET revision = random() WHERE id = 1; END;
    `;

/** The same rules; the revision stays below 2^53 so it reads back exactly as a JS number. */
const AUTH_POSTGRES_V1 = `
  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL,
    rate_limit_per_minute INTEGER NOT NULL CHECK (rate_limit_per_minute >= 0),
    secret_sha256 BYTEA NOT NULL CHECK (octet_length(secret_sha256) = 32),
    created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, last_used_at TEXT);
  CREATE TABLE api_key_revision (id INTEGER PRIMARY KEY CHECK (id = 1), revision BIGINT NOT NULL);
  INSERT INTO api_key_revision (id, revision) VALUES (1, 0);
  CREATE FUNCTION api_keys_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE api_key_revision SET revision = floor(random() * 9007199254740991)::bigint WHERE id = 1; RETURN NULL; END $$;
  CREATE TRIGGER api_keys_revision_update AFTER UPDATE OF id, name, scopes, rate_limit_per_minute, secret_sha256, expires_at, revoked_at
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION api_keys_bump_revision();
  CREATE TRIGGER api_keys_revision_delete AFTER DELETE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION api_keys_bump_revision();
  CREATE TRIGGER api_keys_revision_insert AFTER INSERT ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION api_keys_bump_revision();
  CREATE TRIGGER api_keys_revision_truncate AFTER TRUNCATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION api_keys_bump_revision();
`;

/** PostgreSQL: a key change NOTIFYs at commit, so serving processes drop their cached keys at once (keys.ts). */
export const API_KEYS_CHANNEL = 'vigil_api_keys';

const AUTH_POSTGRES_V2 = `
  CREATE OR REPLACE FUNCTION api_keys_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE api_key_revision SET revision = floor(random() * 9007199254740991)::bigint WHERE id = 1;
      PERFORM pg_notify('${API_KEYS_CHANNEL}', current_schema());
      RETURN NULL;
    END $$;
`;

export const AUTH_MIGRATIONS: readonly Migration[] = [
  { version: 1, description: 'API keys (hashed secrets, scopes, rate limits), cache revision', sqlite: AUTH_SQLITE_V1, postgres: AUTH_POSTGRES_V1 },
  // SQLite has no notifications: processes on one file see a change when they next read the revision.
  { version: 2, description: 'API key changes NOTIFY (PostgreSQL)', sqlite: 'SELECT 1', postgres: AUTH_POSTGRES_V2 },
];

function usersTable(ID: string): string {
  return `
    CREATE TABLE users (
      id ${ID}, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
      role TEXT NOT NULL CHECK (role IN (${ROLES.map((r) => `'${r}'`).join(', ')})),
      child_safety INTEGER NOT NULL DEFAULT 0 CHECK (child_safety IN (0, 1)),
      password_hash TEXT NOT NULL,
      disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
      failed_logins INTEGER NOT NULL DEFAULT 0, locked_until TEXT,
      session_epoch INTEGER NOT NULL DEFAULT 0,
      password_changed_at TEXT NOT NULL, last_login_at TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  `;
}

export const USER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'people: roles, child-safety grant, scrypt password hashes, lockout, session epoch',
    sqlite: usersTable('INTEGER PRIMARY KEY'),
    postgres: usersTable('BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY'),
  },
];

export const AUTH_COMPONENT: Component = { name: 'auth', migrations: AUTH_MIGRATIONS };
export const USERS_COMPONENT: Component = { name: 'users', migrations: USER_MIGRATIONS };
