/**
 * The state's tables as Kysely sees them. Each component declares its own tables beside its code and is
 * added here; the store's tables (banks, signals, …) are not listed: the store reaches them with its own SQL.
 *
 * Conventions on both engines: timestamps are ISO 8601 UTC text (sortable, one format everywhere), booleans
 * are 0/1 integers, free-form JSON is text, ids are integers. (The queue keeps the epoch-ms integers it shipped with.)
 */
import type { AuditTables } from '../audit/schema.js';
import type { AuthTables } from '../auth/schema.js';
import type { QueueTables } from '../queue/schema.js';
import type { RecordTables } from '../records/schema.js';
import type { SessionTables } from '../auth/sessions.js';
import type { ReviewTables } from '../app/review-schema.js';
import type { OidcTables } from '../auth/oidc.js';
import type { ReportTables } from '../reports/schema.js';

export interface StateSchema extends RecordTables, AuditTables, AuthTables, QueueTables, SessionTables, ReviewTables, OidcTables, ReportTables {}
