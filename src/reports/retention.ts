/**
 * Preservation of reported evidence: a report's submission sets `retain_until` (one year by default, per
 * jurisdiction: service.ts); a legal hold suspends deletion whatever the date says; the purge deletes what is
 * past its date and not held, and audits each item it deleted. Evidence is read only by roles allowed to, and
 * every read is audited.
 */
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';
import type { Role } from '../auth/users.js';
import { VigilError } from '../core/errors.js';
import type { EvidenceStore } from '../evidence/store.js';
import type { VigilDatabase } from '../state/database.js';
import type { Readable } from 'node:stream';
import type { Actor } from './service.js';

/** Roles that may read preserved evidence (export to law enforcement, re-checking a report). */
export const EVIDENCE_ROLES: readonly Role[] = ['admin', 'senior_reviewer'];

export interface PurgeResult {
  purged: { id: string; sha256: string; retainUntil: string }[];
  held: number;
  failed: { id: string; message: string }[];
}

export class EvidenceRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<PurgeResult> | undefined;

  constructor(private readonly o: { db: VigilDatabase; audit: AuditLog; evidence: () => Promise<EvidenceStore>; now?: () => Date; log?: Logger }) {}

  private now(): Date {
    return this.o.now?.() ?? new Date();
  }

  /** Deletes evidence past `retain_until` and not on legal hold; each deletion audited. */
  purge(actor = 'system'): Promise<PurgeResult> {
    return (this.running ??= this.purgeOnce(actor).finally(() => (this.running = undefined)));
  }

  private async purgeOnce(actor: string): Promise<PurgeResult> {
    const at = this.now().toISOString();
    const due = await this.o.db.k.selectFrom('evidence').select(['id', 'sha256', 'size', 'retain_until', 'legal_hold'])
      .where('retain_until', 'is not', null).where('retain_until', '<=', at).where('deleted_at', 'is', null).orderBy('retain_until').limit(10_000).execute();
    const result: PurgeResult = { purged: [], held: 0, failed: [] };
    const store = due.length > 0 ? await this.o.evidence() : undefined;
    for (const e of due) {
      if (e.legal_hold === 1) {
        result.held++;
        continue;
      }
      try {
        // The record first, the blob after: a crash in between leaves a blob the next purge finds and removes.
        await this.o.db.transaction(async (tx) => {
          const done = await tx.k.updateTable('evidence').set({ deleted_at: at }).where('id', '=', e.id).where('legal_hold', '=', 0).where('deleted_at', 'is', null).executeTakeFirst();
          if (Number(done.numUpdatedRows) !== 1) return;
          await this.o.audit.append(tx, { actor, action: 'evidence.purged', subject: `evidence:${e.id}`, details: { sha256: e.sha256, size: Number(e.size), retainUntil: e.retain_until } });
        });
        await store!.delete(e.id);
        result.purged.push({ id: e.id, sha256: e.sha256, retainUntil: e.retain_until! });
      } catch (err) {
        result.failed.push({ id: e.id, message: (err as Error).message });
        this.o.log?.error({ err, evidenceId: e.id }, 'evidence purge failed');
      }
    }
    // Blobs whose record says deleted (a purge that stopped between the two): removed now.
    const orphans = await this.o.db.k.selectFrom('evidence').select('id').where('deleted_at', 'is not', null).where('legal_hold', '=', 0).limit(1000).execute();
    if (store) for (const o of orphans) await store.delete(o.id).catch(() => undefined);
    return result;
  }

  /** Places or lifts a legal hold; audited with its reason. */
  async setLegalHold(evidenceId: string, hold: boolean, reason: string, who: Actor): Promise<void> {
    if (!reason.trim()) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'A legal hold needs a reason (the request or case it serves)');
    await this.o.db.transaction(async (tx) => {
      const row = await tx.k.selectFrom('evidence').select(['legal_hold', 'deleted_at']).where('id', '=', evidenceId).executeTakeFirst();
      if (!row) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No evidence ${evidenceId}`);
      if (row.deleted_at !== null) throw new VigilError('VIGIL_ERR_CONFLICT', `Evidence ${evidenceId} was purged at ${row.deleted_at}`);
      await tx.k.updateTable('evidence').set({ legal_hold: hold ? 1 : 0 }).where('id', '=', evidenceId).execute();
      await this.o.audit.append(tx, { actor: who.actor, requestId: who.requestId ?? null, action: hold ? 'evidence.legal_hold_placed' : 'evidence.legal_hold_lifted', subject: `evidence:${evidenceId}`, details: { reason } });
    });
  }

  /** Opens preserved evidence for a person whose role allows it; the read is audited before a byte is returned. */
  async read(evidenceId: string, who: Actor & { role: Role }, purpose: string): Promise<Readable> {
    if (!EVIDENCE_ROLES.includes(who.role)) {
      await this.o.audit.appendNow({ actor: who.actor, requestId: who.requestId ?? null, action: 'evidence.read_refused', subject: `evidence:${evidenceId}`, details: { role: who.role, purpose } });
      throw new VigilError('VIGIL_ERR_FORBIDDEN', `Role ${who.role} may not read preserved evidence (allowed: ${EVIDENCE_ROLES.join(', ')})`);
    }
    const row = await this.o.db.k.selectFrom('evidence').select(['sha256', 'deleted_at']).where('id', '=', evidenceId).executeTakeFirst();
    if (!row || row.deleted_at !== null) throw new VigilError('VIGIL_ERR_NOT_FOUND', `No evidence ${evidenceId}`);
    await this.o.audit.appendNow({ actor: who.actor, requestId: who.requestId ?? null, action: 'evidence.read', subject: `evidence:${evidenceId}`, details: { purpose } });
    return (await this.o.evidence()).open(evidenceId, row.sha256);
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.purge().catch((err: unknown) => this.o.log?.error({ err }, 'evidence purge failed')), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }
}
