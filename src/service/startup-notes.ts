/**
 * What `vigil serve` must say loudly at start-up, whatever the log level: scopes granted without a key
 * (admin grants all of them) and a rules file that is not in force because rules were changed over the API.
 */
import { SCOPES, type Scope } from '../auth/keys.js';

export interface StartupFacts {
  anonymousScopes: readonly Scope[];
  /** The rules file given at start-up, if any. */
  rulesFile?: string | undefined;
  /** True when rules set over the API (persisted) override that file (RulesState.overriddenFile). */
  rulesFileOverridden: boolean;
}

export function startupWarnings(facts: StartupFacts): string[] {
  const out: string[] = [];
  const anonymous = facts.anonymousScopes;
  if (anonymous.includes('admin')) {
    out.push(
      `WARNING: --anonymous admin: ANYONE who can reach this port acts as an administrator without a key — every scope (${SCOPES.join(', ')}): ` +
        'read decisions and the audit log, change rules, banks and keys, read bank hashes. Use it only on a loopback or isolated network.',
    );
  } else if (anonymous.length > 0) {
    out.push(`Note: granted without an API key to anyone who can reach this port: ${anonymous.join(', ')}${anonymous.includes('curate') ? ' (curate: change banks and read their hash values)' : ''}.`);
  }
  if (facts.rulesFile && facts.rulesFileOverridden) {
    out.push(
      `WARNING: the rules file ${facts.rulesFile} is IGNORED: rules were changed through the API (PUT /v1/rules), and the API's rules win over the file. ` +
        'To put the file in force, send it with PUT /v1/rules.',
    );
  }
  return out;
}
