/** The client of each exchange API, from the exchange's config and its API's (decrypted) credentials. */
import { VigilError } from '../core/errors.js';
import type { Exchange } from './config.js';
import { FileSourceClient } from './file.js';
import type { HttpOptions } from './http.js';
import { NcmecClient, type NcmecConfig } from './ncmec.js';
import { StopNciiClient, type StopNciiCredentials } from './stopncii.js';
import { ThreatExchangeClient } from './threatexchange.js';
import type { ExchangeClient } from './types.js';

export function createExchangeClient(exchange: Exchange, credentials: Record<string, unknown> | undefined, http: HttpOptions & { now?: () => number } = {}): ExchangeClient {
  const need = () => {
    if (!credentials) throw new VigilError('VIGIL_ERR_INVALID_CONFIG', `Exchange API ${exchange.api} has no credentials set (vigil exchange credentials ${exchange.api} …, or POST /c/exchanges/api/${exchange.api})`);
    return credentials;
  };
  const c = exchange.config;
  switch (exchange.api) {
    case 'ncmec':
      return new NcmecClient(c as unknown as NcmecConfig, need() as { user: string; password: string }, http);
    case 'stop_ncii':
      return new StopNciiClient(need() as unknown as StopNciiCredentials, http);
    case 'fb_threatexchange':
      return new ThreatExchangeClient(c as { privacy_group: number; base_url?: string }, need() as { api_token: string }, http);
    case 'file':
      return new FileSourceClient({ api: 'file', url: String(c.url), ...(typeof c.format === 'string' ? { format: c.format } : {}) }, http);
    case 'vigil': {
      const url = `${String(c.url).replace(/\/+$/, '')}/v1/banks/${encodeURIComponent(String(c.bank))}/export?format=threatexchange`;
      return new FileSourceClient({ api: 'vigil', url, format: 'threatexchange', headers: { authorization: `Bearer ${String(need().api_key)}` } }, http);
    }
    default:
      throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `No client for exchange API ${exchange.api}`);
  }
}
