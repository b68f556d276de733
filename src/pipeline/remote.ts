/**
 * Matchers run by someone else (Arachnid Shield first), asked beside the local index. Their answers become
 * BankMatch rows (`bank: 'remote:<name>'`, `remote` set, a negative signalId: no local signal stands behind
 * them) so rules, records and the API treat them like local matches. A remote failure never fails the item
 * and is never a silent "no match": it comes back as a failed RemoteCheck that the decision and audit carry.
 */
import { open } from 'node:fs/promises';
import type { BankMatch, MatchQuery } from '../banks/matcher.js';
import { ArachnidShieldMatcher, type RemoteMatch } from '../exchanges/arachnid-shield.js';

/** What the pipeline needs of a remote matcher (exchanges/arachnid-shield.ts implements it). */
export interface RemoteMatcher {
  match(query: MatchQuery): Promise<RemoteMatch[]>;
  matchMedia?(bytes: Uint8Array, contentType: string): Promise<RemoteMatch[]>;
}

export interface RemoteMatcherOptions {
  /** Short name: the bank becomes `remote:<name>`. */
  name: string;
  matcher: RemoteMatcher;
  /** Bound on the whole check (retries included): past it the check counts as failed. */
  timeoutMs: number;
  /** Also send uploads' bytes to the media endpoint (files up to mediaMaxBytes). */
  media?: boolean;
  mediaMaxBytes?: number;
}

/** The outcome of asking one remote matcher about one item, kept with the decision's result and audit entry. */
export interface RemoteCheck {
  matcher: string;
  /** skipped: nothing it can look up (no PDQ, and no bytes sent), so it was not asked. */
  status: 'ok' | 'failed' | 'skipped';
  matches: number;
  /** failed only: why (no credentials: the HTTP layer never puts them in messages). */
  error?: string;
}

const DEFAULT_MEDIA_MAX_BYTES = 50 * 1024 * 1024;

/** Asks the remote matcher about one item; never throws. `upload` is set for files (the media endpoint). */
export async function askRemote(o: RemoteMatcherOptions, query: MatchQuery, upload?: { path: string; contentType: string }): Promise<{ matches: BankMatch[]; check: RemoteCheck }> {
  const media = upload !== undefined && o.media === true && o.matcher.matchMedia !== undefined;
  if ((query.pdq?.length ?? 0) === 0 && !media) return { matches: [], check: { matcher: o.name, status: 'skipped', matches: 0 } };
  let timer: NodeJS.Timeout | undefined;
  try {
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${o.timeoutMs} ms`)), o.timeoutMs);
      timer.unref();
    });
    const work = async () => {
      const hits = await o.matcher.match(query);
      if (media) {
        const bytes = await readBounded(upload.path, o.mediaMaxBytes ?? DEFAULT_MEDIA_MAX_BYTES);
        if (bytes) hits.push(...(await o.matcher.matchMedia!(bytes, upload.contentType)));
      }
      return hits;
    };
    const hits = await Promise.race([work(), deadline]);
    const matches = hits.map((h, i) => bankMatchOf(o.name, h, i));
    return { matches, check: { matcher: o.name, status: 'ok', matches: matches.length } };
  } catch (err) {
    return { matches: [], check: { matcher: o.name, status: 'failed', matches: 0, error: err instanceof Error ? err.message : String(err) } };
  } finally {
    clearTimeout(timer);
  }
}

/** The file's bytes, or undefined when it is larger than the media endpoint should be sent. */
async function readBounded(path: string, max: number): Promise<Uint8Array | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    if (size > max) return undefined;
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/**
 * One remote hit as a match. Only an exact hit classified `csam` is high confidence (the default rules block
 * those); near hits, other classifications and the service's `test` value are medium (review). The service
 * gives no distance: 0 is recorded, and `remote.matchType` says what kind of match it was.
 */
export function bankMatchOf(name: string, h: RemoteMatch, index: number): BankMatch {
  const bank = `remote:${name}`;
  const matchId = typeof h.remote.match_id === 'string' ? h.remote.match_id : null;
  return {
    signalId: -(index + 1),
    bank,
    bankKind: 'block',
    signalType: h.signalType,
    value: h.value,
    distance: 0,
    ...(h.view !== undefined ? { view: h.view } : {}),
    labels: { tags: [h.classification] },
    sourceId: matchId,
    fileName: null,
    provenance: { source: bank, importId: null },
    status: 'active',
    actionable: true,
    downranked: false,
    confidence: h.matchType === 'exact' && h.classification === 'csam' ? 'high' : 'medium',
    remote: { matcher: h.matcher, classification: h.classification, matchType: h.matchType },
  };
}

/** A Content-Type for the media endpoint from what hashing found. */
export function contentTypeOf(media: string | undefined, format: string | undefined): string {
  if (!format) return 'application/octet-stream';
  return `${media === 'video' ? 'video' : 'image'}/${format}`;
}

/** The configured remote matcher, or undefined when none is enabled (app/config.ts `remoteMatchers`). */
export function remoteMatcherOf(c: { enabled: boolean; baseUrl: string; username?: string | undefined; password?: string | undefined; timeoutMs: number; media: boolean; mediaMaxBytes: number }): RemoteMatcherOptions | undefined {
  if (!c.enabled || c.username === undefined || c.password === undefined) return undefined;
  // Few quick attempts: the whole check is bounded by timeoutMs anyway, and an item must not wait on retries.
  const matcher = new ArachnidShieldMatcher({ username: c.username, password: c.password, baseUrl: c.baseUrl }, { timeoutMs: c.timeoutMs, attempts: 2, maxDelayMs: Math.min(1000, c.timeoutMs) });
  return { name: 'arachnid', matcher, timeoutMs: c.timeoutMs, media: c.media, mediaMaxBytes: c.mediaMaxBytes };
}
