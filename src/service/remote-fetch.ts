/**
 * Fetching media by URL for HMA's `?url=` endpoints, without becoming an SSRF proxy: http(s) only, no
 * redirects, every resolved address must be public unless the operator allows private networks, bounded
 * size and time.
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { Readable } from 'node:stream';
import { VigilError } from '../core/errors.js';

const PRIVATE = new BlockList();
for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 127], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96]] as const) PRIVATE.addSubnet(net, prefix, 'ipv6');

export interface RemoteFetchOptions {
  maxBytes: number;
  timeoutMs?: number;
  allowPrivateNetworks?: boolean;
}

export async function fetchRemote(url: string, options: RemoteFetchOptions): Promise<Readable> {
  if (!URL.canParse(url)) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected an absolute http(s) URL');
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Only http and https URLs are fetched');
  if (!options.allowPrivateNetworks) {
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true }).catch(() => []);
    if (addresses.length === 0) throw new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Cannot resolve ${target.hostname}`);
    for (const a of addresses) {
      if (PRIVATE.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) throw new VigilError('VIGIL_ERR_FORBIDDEN', `${target.hostname} resolves to a private address; remote fetch is limited to public hosts`);
    }
  }
  const response = await fetch(target, { redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) }).catch((err: unknown) => {
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Fetching ${target.origin} failed: ${(err as Error).message}`);
  });
  if (response.status < 200 || response.status >= 300 || !response.body) throw new VigilError('VIGIL_ERR_UNREADABLE', `Fetching ${target.origin} answered ${response.status}`);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > options.maxBytes) throw new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `The remote file is larger than the ${options.maxBytes}-byte limit`);
  return Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
}
