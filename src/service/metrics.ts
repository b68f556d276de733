/** Prometheus metrics: requests, latencies, decisions, matches by bank, queue depth, index size. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobQueue } from '../queue/types.js';
import type { ContentResult } from '../pipeline/pipeline.js';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly latency: Histogram<'method' | 'route'>;
  readonly decisions: Counter<'verdict'>;
  readonly remoteChecks: Counter<'matcher' | 'status'>;
  readonly matches: Counter<'bank' | 'signal_type'>;
  readonly lookups: Counter<'signal_type'>;

  constructor(sources: { queue: JobQueue; indexSize: () => Record<string, number>; retained?: () => number; lagSeconds?: () => number; syncErrors?: () => number; reports?: () => Promise<{ byState: Record<string, number>; stuck: number }> }) {
    // The default metrics are already named process_* and nodejs_*: prefix 'vigil_' only (not vigil_process_process_*).
    collectDefaultMetrics({ register: this.registry, prefix: 'vigil_' });
    this.requests = new Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'vigil_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [this.registry],
    });
    this.decisions = new Counter({ name: 'vigil_decisions_total', help: 'Content decisions by verdict', labelNames: ['verdict'], registers: [this.registry] });
    this.matches = new Counter({ name: 'vigil_matches_total', help: 'Matches by bank and signal type (content and lookups)', labelNames: ['bank', 'signal_type'], registers: [this.registry] });
    this.remoteChecks = new Counter({ name: 'vigil_remote_checks_total', help: 'Remote matcher checks by matcher and status (failed: decided from local matches only)', labelNames: ['matcher', 'status'], registers: [this.registry] });
    this.lookups = new Counter({ name: 'vigil_lookups_total', help: 'Hashes looked up by signal type', labelNames: ['signal_type'], registers: [this.registry] });
    new Gauge({
      name: 'vigil_queue_jobs',
      help: 'Jobs in the durable queue by queue and state',
      labelNames: ['queue', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [queue, states] of Object.entries(await sources.queue.stats())) for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
      },
    });
    new Gauge({
      name: 'vigil_index_signals',
      help: 'Signals held in the in-memory match indexes by type',
      labelNames: ['signal_type'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(sources.indexSize())) this.set({ signal_type: type }, n);
      },
    });
    const { lagSeconds, syncErrors } = sources;
    if (lagSeconds) {
      new Gauge({ name: 'vigil_index_lag_seconds', help: 'Seconds since the match indexes last held the whole change feed', registers: [this.registry], collect() { const v = lagSeconds(); this.set(Number.isFinite(v) ? v : -1); } });
    }
    if (syncErrors) {
      new Gauge({ name: 'vigil_index_sync_errors', help: 'Failed background syncs of the match indexes since start', registers: [this.registry], collect() { this.set(syncErrors()); } });
    }
    if (sources.reports) {
      // Reports that failed or stopped moving must be loud: alert on vigil_reports_stuck > 0 (docs/reporting.md).
      const reports = sources.reports;
      new Gauge({ name: 'vigil_reports', help: 'CyberTipline reports by state', labelNames: ['state'], registers: [this.registry], async collect() { this.reset(); for (const [state, n] of Object.entries((await reports()).byState)) this.set({ state }, n); } });
      new Gauge({ name: 'vigil_reports_stuck', help: 'CyberTipline reports failed, failing, or not moving for reporting.stuckAfterMs', registers: [this.registry], async collect() { this.set((await reports()).stuck); } });
    }
    if (sources.retained) {
      const retained = sources.retained;
      new Gauge({ name: 'vigil_retained_submissions', help: 'Unmatched submissions whose hashes are kept for retroactive matching', registers: [this.registry], collect() { this.set(retained()); } });
    }
  }

  decided(result: ContentResult): void {
    if (result.replayed) return;
    this.decisions.inc({ verdict: result.verdict });
    for (const m of result.matches) this.matches.inc({ bank: m.bank, signal_type: m.signalType });
    for (const c of result.remote ?? []) this.remoteChecks.inc({ matcher: c.matcher, status: c.status });
  }
}
