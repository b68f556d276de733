/**
 * Reviewers' verdicts back to the programs: a confirmation or false positive on a signal that came from an
 * exchange whose operator set `feedback: on` becomes a job on the SQL queue, in the opinion's own unit of work
 * (with its audit entry); the queue retries it with backoff and audits its dead letters; a sent one is audited.
 */
import { sql } from 'kysely';
import type { AuditActor, AuditLog } from '../audit/log.js';
import { VigilError } from '../core/errors.js';
import { permanentError } from '../queue/worker.js';
import type { Job, JobQueue } from '../queue/types.js';
import type { SignalTypeName } from '../signals/registry.js';
import type { Tx } from '../state/database.js';
import type { OpinionKind, Signal } from '../store/types.js';
import type { ClientFactory } from './fetcher.js';
import type { ExchangeConfigs } from './config.js';
import type { ExchangeFeedback, Provenance } from './types.js';

export const EXCHANGE_FEEDBACK_QUEUE = 'exchange-feedback';

interface Payload extends ExchangeFeedback {
  exchange: string;
  signalId: number;
}

const PERMANENT = new Set(['VIGIL_ERR_INVALID_CONFIG', 'VIGIL_ERR_INVALID_ARGUMENT', 'VIGIL_ERR_FORBIDDEN', 'VIGIL_ERR_NOT_FOUND']);

export class ExchangeFeedbackQueue {
  constructor(private readonly o: { configs: ExchangeConfigs; queue: JobQueue; audit: AuditLog; clientFor: ClientFactory }) {}

  /** Inside the opinion's unit of work: queues the verdict where the signal's exchange asks for feedback. */
  async onOpinion(tx: Tx, signal: Signal, kind: OpinionKind, actor: AuditActor): Promise<void> {
    const exchange = signal.metadata.exchange;
    if (typeof exchange !== 'string' || (kind !== 'confirmed' && kind !== 'false_positive') || !signal.sourceId) return;
    const row = (await sql`SELECT config FROM exchanges WHERE name = ${exchange}`.execute(tx.k)).rows[0] as { config: string } | undefined;
    if (!row || (JSON.parse(row.config) as Record<string, unknown>).feedback !== 'on') return;
    const { exchange: _e, api: _a, ...provenance } = signal.metadata as Record<string, unknown>;
    const payload: Payload = { exchange, signalId: signal.id, verdict: kind, key: signal.sourceId, signal: { type: signal.type, value: signal.value }, provenance: provenance as unknown as Provenance };
    const [queued] = await this.o.queue.enqueue(tx, [{ queue: EXCHANGE_FEEDBACK_QUEUE, idempotencyKey: `exchange-feedback:${exchange}:${signal.id}:${kind}`, payload }]);
    if (queued?.created) await this.o.audit.append(tx, { ...actor, action: 'exchange.feedback_queued', subject: `exchange:${exchange}`, details: { signalId: signal.id, verdict: kind, jobId: queued.job.id } });
  }

  readonly handler = async (job: Job): Promise<void> => {
    const p = job.payload as Payload;
    try {
      const exchange = await this.o.configs.get(p.exchange);
      if (!exchange) throw new VigilError('VIGIL_ERR_NOT_FOUND', `Exchange '${p.exchange}' no longer exists`);
      const client = this.o.clientFor(exchange, await this.o.configs.credentials(exchange.api));
      if (!client.feedback) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Exchange API ${exchange.api} takes no feedback`);
      await client.feedback({ verdict: p.verdict, key: p.key, signal: { type: p.signal.type as SignalTypeName, value: p.signal.value }, provenance: p.provenance });
    } catch (err) {
      if (err instanceof VigilError && PERMANENT.has(err.code)) throw permanentError(err);
      throw err;
    }
    await this.o.audit.appendNow({ actor: 'system:exchange-feedback', action: 'exchange.feedback_sent', subject: `exchange:${p.exchange}`, details: { signalId: p.signalId, verdict: p.verdict, jobId: job.id, attempt: job.attempts + 1 } });
  };
}
