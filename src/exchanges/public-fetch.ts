/**
 * The fetch exchange clients use unless the operator allows private networks: an exchange's URL is set over
 * the API (a file list, another Vigil, a program's base URL), so without this a `curate` key could make the
 * server fetch from its own network. The address is checked in the connection's own DNS lookup, as for HMA's
 * `?url=` (service/remote-fetch.ts), so DNS rebinding gets nowhere; a literal address (which connects without
 * a lookup) is checked by the connector, so a redirect to one is refused too. undici's fetch is Node's own,
 * with a dispatcher whose connector does this (Node's global fetch exposes no way to set it).
 */
import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';
import { VigilError } from '../core/errors.js';
import { checkedLookup, isPublicAddress } from '../service/remote-fetch.js';

export interface PublicFetchOptions {
  /** The address policy (default isPublicAddress); tests inject one. */
  isAllowedAddress?: (address: string) => boolean;
  /** DNS resolution (default node:dns lookup); tests inject a resolver. */
  lookup?: LookupFunction;
}

export function publicOnlyFetch(options: PublicFetchOptions = {}): typeof fetch {
  const allowed = options.isAllowedAddress ?? isPublicAddress;
  const connectChecked = buildConnector({ lookup: checkedLookup(options.lookup ?? (dnsLookup as LookupFunction), allowed) });
  const dispatcher = new Agent({
    connect: (opts, callback) => {
      const host = opts.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !allowed(host)) return callback(new VigilError('VIGIL_ERR_FORBIDDEN', `${opts.hostname} is a private address; exchanges fetch from public hosts only (exchanges.allowPrivateNetworks)`), null);
      return connectChecked(opts, callback);
    },
  });
  return ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(typeof input === 'string' || input instanceof URL ? input : input.url, { ...(init as object), dispatcher } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
}
