/**
 * The rules in force: the persisted copy (set over the API) wins over the startup file, which wins over
 * the defaults, so a restart never silently reverts a change an admin made. Every change is audited with
 * the old and new versions.
 */
import type { AuditLog } from '../audit/log.js';
import type { DecisionRecords } from '../records/decisions.js';
import { RuleEngine } from '../rules/engine.js';
import { DEFAULT_RULES, parseRulesConfig, type RulesConfig } from '../rules/config.js';
import type { VigilDatabase } from '../state/database.js';
import type { WebhookEndpoint } from '../webhooks/deliver.js';

const SETTING = 'rules';

export class RulesState {
  private current: RuleEngine;
  source: 'default' | 'file' | 'api';
  private loadedAt: string | undefined;

  private constructor(
    private readonly db: VigilDatabase,
    private readonly records: DecisionRecords,
    private readonly audit: AuditLog,
    private readonly secrets: Record<string, string | undefined>,
    initial: { engine: RuleEngine; source: 'default' | 'file' | 'api'; loadedAt: string | undefined },
    /** The rules file given at start-up, when the persisted copy overrides it (said loudly at start-up). */
    readonly overriddenFile: boolean,
  ) {
    this.current = initial.engine;
    this.source = initial.source;
    this.loadedAt = initial.loadedAt;
  }

  /** `secrets`: where webhook secrets are read (the environment, passed in by the composition root). */
  static async load(o: { db: VigilDatabase; records: DecisionRecords; audit: AuditLog; fromFile?: RulesConfig; secrets?: Record<string, string | undefined> }): Promise<RulesState> {
    const loadedAt = await o.records.settingUpdatedAt(SETTING);
    const stored = await o.records.getSetting(SETTING);
    const initial = stored !== undefined
      ? { engine: new RuleEngine(parseRulesConfig(JSON.parse(stored))), source: 'api' as const, loadedAt }
      : { engine: new RuleEngine(o.fromFile ?? DEFAULT_RULES), source: o.fromFile ? ('file' as const) : ('default' as const), loadedAt };
    return new RulesState(o.db, o.records, o.audit, o.secrets ?? {}, initial, stored !== undefined && o.fromFile !== undefined);
  }

  /** The rules in force as last loaded (no I/O). */
  get engine(): RuleEngine {
    return this.current;
  }

  /** The rules in force, picking up a change another process (a cluster worker) persisted. */
  async fresh(): Promise<RuleEngine> {
    const updatedAt = await this.records.settingUpdatedAt(SETTING);
    if (updatedAt !== this.loadedAt) {
      const stored = await this.records.getSetting(SETTING);
      if (stored !== undefined) {
        this.current = new RuleEngine(parseRulesConfig(JSON.parse(stored)));
        this.source = 'api';
      }
      this.loadedAt = updatedAt;
    }
    return this.current;
  }

  /** Validates (throws VIGIL_ERR_INVALID_RULES listing every problem; the old rules stay) and swaps atomically. */
  async replace(input: unknown, actor: { actor: string; requestId?: string }): Promise<RuleEngine> {
    const config = parseRulesConfig(input);
    const next = new RuleEngine(config);
    const previous = (await this.fresh()).version;
    const at = new Date().toISOString();
    await this.db.transaction(async (tx) => {
      await this.records.setSetting(tx, SETTING, JSON.stringify(config), at);
      await this.audit.append(tx, { ...actor, action: 'rules.changed', subject: 'rules', details: { from: previous, to: next.version, rules: config.rules.map((r) => r.id) } });
    });
    this.loadedAt = at;
    this.current = next;
    this.source = 'api';
    return next;
  }

  /**
   * A webhook endpoint of the rules in force now, including a change another process persisted: a
   * long-running worker delivers to the endpoints an admin set after it started.
   */
  async freshEndpoint(name: string): Promise<WebhookEndpoint | undefined> {
    await this.fresh();
    return this.endpoint(name);
  }

  /** Webhook endpoints of the rules as last loaded, with secrets from the environment. */
  endpoint(name: string): WebhookEndpoint | undefined {
    const hook = this.engine.config.webhooks[name];
    const secret = hook ? this.secrets[hook.secretEnv] : undefined;
    return hook && secret ? { name, url: hook.url, secret } : undefined;
  }

  webhookNames(): string[] {
    return Object.keys(this.engine.config.webhooks);
  }

  /** Webhooks whose secret variable is not set: their deliveries would dead-letter. */
  missingSecrets(): string[] {
    return Object.entries(this.engine.config.webhooks).filter(([, h]) => !this.secrets[h.secretEnv]).map(([name, h]) => `${name} (${h.secretEnv})`);
  }
}
