/**
 * Fetching media by URL for HMA's `?url=` endpoints, without becoming an SSRF proxy: http(s) only, no
 * redirects, bounded size and time, and the address the socket connects to must be public unless the
 * operator allows private networks. The check runs inside the connection's own DNS lookup, so a name that
 * resolves to a public address when checked and a private one when connected (DNS rebinding) gets nowhere.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { VigilError } from '../core/errors.js';

/** IPv4 addresses an IPv6 address carries (mapped, compatible, SIIT, NAT64, 6to4, Teredo); undefined: none. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4[] | undefined {
  const p = v6.parts;
  const v4 = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const zeros = (from: number, to: number) => p.slice(from, to).every((x) => x === 0);
  // ::a.b.c.d (compatible, deprecated but still routed to the v4 address by some stacks), ::ffff:a.b.c.d, ::ffff:0:a.b.c.d
  if (zeros(0, 5) && (p[5] === 0 || p[5] === 0xffff)) return [v4(p[6]!, p[7]!)];
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return [v4(p[6]!, p[7]!)];
  // NAT64 well-known prefix 64:ff9b::/96; the local-use 64:ff9b:1::/48 is private by definition.
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return [v4(p[6]!, p[7]!)];
  if (p[0] === 0x64 && p[1] === 0xff9b && p[2] === 1) return [new ipaddr.IPv4([0, 0, 0, 0])];
  if (p[0] === 0x2002) return [v4(p[1]!, p[2]!)]; // 6to4
  if (p[0] === 0x2001 && p[1] === 0) return [v4(p[2]!, p[3]!), v4(~p[6]! & 0xffff, ~p[7]! & 0xffff)]; // Teredo: server, client
  return undefined;
}

/**
 * True for a globally routable unicast address. Refused: private, loopback, link-local, CGNAT, multicast,
 * unspecified, broadcast, reserved and documentation ranges, ULA, and every IPv6 form embedding such an IPv4.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv4') return ip.range() === 'unicast';
  const embedded = embeddedIPv4(ip as ipaddr.IPv6);
  if (embedded) return embedded.every((v4) => v4.range() === 'unicast');
  return ip.range() === 'unicast';
}

export interface RemoteFetchOptions {
  maxBytes: number;
  timeoutMs?: number;
  allowPrivateNetworks?: boolean;
  /** The address policy (default isPublicAddress); tests inject one that lets a local server count as public. */
  isAllowedAddress?: (address: string) => boolean;
  /** DNS resolution (default node:dns lookup); tests inject a resolver. */
  lookup?: LookupFunction;
}

const forbidden = (host: string) => new VigilError('VIGIL_ERR_FORBIDDEN', `${host} resolves to a private address; remote fetch is limited to public hosts`);

/** A connection-time lookup that resolves every address and fails unless all of them are allowed. */
export function checkedLookup(base: LookupFunction, allowed: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    base(hostname, { ...options, all: true } as LookupAllOptions, (err: NodeJS.ErrnoException | null, result: string | LookupAddress[], family?: number) => {
      if (err) return callback(err, '', 0);
      const addresses = Array.isArray(result) ? result : [{ address: result, family: family ?? isIP(result) }];
      if (addresses.length === 0) return callback(Object.assign(new Error(`Cannot resolve ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      if (!addresses.every((a) => allowed(a.address))) return callback(forbidden(hostname) as unknown as NodeJS.ErrnoException, '', 0);
      if ((options as LookupAllOptions).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

export async function fetchRemote(url: string, options: RemoteFetchOptions): Promise<IncomingMessage> {
  if (!URL.canParse(url)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an absolute http(s) URL');
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Only http and https URLs are fetched');
  const allowed = options.allowPrivateNetworks ? () => true : (options.isAllowedAddress ?? isPublicAddress);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // A literal address is connected to without a lookup: check it here.
  if (isIP(host) && !allowed(host)) throw forbidden(target.hostname);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(target, {
      method: 'GET',
      // A fresh connection per fetch: a pooled socket would skip the checked lookup.
      agent: false,
      lookup: checkedLookup(options.lookup ?? (dnsLookup as LookupFunction), allowed),
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
      headers: { 'user-agent': 'vigil', accept: '*/*' },
    });
    req.once('response', resolve);
    req.once('error', (err) => reject(err instanceof VigilError ? err : new VigilError('VIGIL_ERR_UNREADABLE', `Fetching ${target.origin} failed: ${err.message}`)));
    req.end();
  });
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    response.resume();
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Fetching ${target.origin} answered ${status}`);
  }
  const declared = Number(response.headers['content-length'] ?? 0);
  if (declared > options.maxBytes) {
    response.destroy();
    throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The remote file is larger than the ${options.maxBytes}-byte limit`);
  }
  return response;
}
