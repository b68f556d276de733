/**
 * The rules in force: the persisted copy (set over the API) wins over the startup file, which wins over
 * the defaults, so a restart never silently reverts a change an admin made. Every change is audited with
 * the old and new versions.
 */
import type { SyncAuditLog as AuditLog } from '../audit/legacy-sync.js'; // TEMPORARY until wired to AuditLog
import { RuleEngine } from '../rules/engine.js';
import { DEFAULT_RULES, parseRulesConfig, type RulesConfig } from '../rules/config.js';
import type { PipelineRecords } from '../pipeline/records.js';
import type { WebhookEndpoint } from '../webhooks/deliver.js';

const SETTING = 'rules';

export class RulesState {
  private current: RuleEngine;
  source: 'default' | 'file' | 'api';

  private loadedAt: string | undefined;

  constructor(private readonly records: PipelineRecords, private readonly audit: AuditLog, fromFile?: RulesConfig, private readonly env: NodeJS.ProcessEnv = process.env) {
    this.loadedAt = records.settingUpdatedAt(SETTING);
    const stored = records.getSetting(SETTING);
    if (stored !== undefined) {
      this.current = new RuleEngine(parseRulesConfig(JSON.parse(stored)));
      this.source = 'api';
    } else {
      this.current = new RuleEngine(fromFile ?? DEFAULT_RULES);
      this.source = fromFile ? 'file' : 'default';
    }
  }

  /** The rules in force; picks up a change another process (a cluster worker) persisted. */
  get engine(): RuleEngine {
    const updatedAt = this.records.settingUpdatedAt(SETTING);
    if (updatedAt !== this.loadedAt) {
      const stored = this.records.getSetting(SETTING);
      if (stored !== undefined) {
        this.current = new RuleEngine(parseRulesConfig(JSON.parse(stored)));
        this.source = 'api';
      }
      this.loadedAt = updatedAt;
    }
    return this.current;
  }

  /** Validates (throws VIGIL_ERR_INVALID_RULES listing every problem; the old rules stay) and swaps atomically. */
  replace(input: unknown, actor: string): RuleEngine {
    const config = parseRulesConfig(input);
    const next = new RuleEngine(config);
    const previous = this.engine.version;
    const at = new Date().toISOString();
    this.records.db.transaction(() => {
      this.records.setSetting(SETTING, JSON.stringify(config), at);
      this.loadedAt = at;
      this.audit.append({ actor, action: 'rules.changed', subject: 'rules', details: { from: previous, to: next.version, rules: config.rules.map((r) => r.id) } });
    }).immediate();
    this.current = next;
    this.source = 'api';
    return next;
  }

  /** Webhook endpoints of the rules in force, with secrets from the environment. */
  endpoint(name: string): WebhookEndpoint | undefined {
    const hook = this.engine.config.webhooks[name];
    const secret = hook ? this.env[hook.secretEnv] : undefined;
    return hook && secret ? { name, url: hook.url, secret } : undefined;
  }

  webhookNames(): string[] {
    return Object.keys(this.engine.config.webhooks);
  }

  /** Webhooks whose secret variable is not set: their deliveries would dead-letter. */
  missingSecrets(): string[] {
    return Object.entries(this.engine.config.webhooks).filter(([, h]) => !this.env[h.secretEnv]).map(([name, h]) => `${name} (${h.secretEnv})`);
  }
}
