/**
 * NCMEC hash-sharing API v2 entries saved to a file (`GET /v2/entries` responses; namespace
 * `https://hashsharing.ncmec.org/hashsharing/v2`):
 * `<queryResult><images><image>…</image><deletedImage>…</deletedImage></images><videos>…</videos></queryResult>`.
 * Each entry keeps its member id and name, entry id, timestamp and classification (industry A1–B2); its
 * `sourceId` is `<memberId>-<entryId>`, the key python-threatexchange uses, so a later `deletedImage` or
 * `deletedVideo` (a record with `deleted: true` and no signals) removes exactly that entry. Fingerprints
 * md5, sha1, pdna (PhotoDNA) and pdq become signals; others (netclean, videntifier, tmk-pdqf links…) are
 * kept in metadata.
 *
 * Parsed with saxes, which never fetches or expands DTD entities: a reference to an entity declared in a
 * DOCTYPE (external or internal) is reported as an error on the entry that uses it. Any other
 * well-formedness error stops the import (VIGIL_ERR_LIST_FORMAT). Memory is bounded: elements may nest at
 * most 32 deep, and no single text node, tag or comment may exceed `maxLineBytes` (default 1 MiB).
 */
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { VigilError } from '../core/errors.js';
import { prepareInput } from './_input.js';
import { formatBytes } from './_lines.js';
import { DEFAULT_MAX_LINE_BYTES, messageOf, positiveIntOption, ReaderState } from './_reader.js';
import { normalizeSignal, parseIndustryCategory } from './_values.js';
import type { SignalTypeName } from '../signals/registry.js';
import type { ListInput, ListItem, ListRecord, ListSignal, ReadOptions } from './types.js';

const MAX_DEPTH = 32;
/** Longest text kept from one element of an entry (a PhotoDNA is 192–288 characters). */
const MAX_FIELD_CHARS = 64 * 1024;
/** Characters handed to saxes at once. */
const FEED_CHARS = 64 * 1024;

const ENTRY_KINDS: Record<string, { type: 'image' | 'video'; deleted: boolean }> = {
  image: { type: 'image', deleted: false },
  video: { type: 'video', deleted: false },
  deletedImage: { type: 'image', deleted: true },
  deletedVideo: { type: 'video', deleted: true },
};
const FINGERPRINT_SIGNALS: Record<string, SignalTypeName> = { md5: 'md5', sha1: 'sha1', pdna: 'photodna', pdq: 'pdq' };
const ENTRY_FIELDS = new Set(['member', 'id', 'timestamp', 'classification']);
const ENTITY_ERROR_RE = /undefined entity|disallowed character in entity name|malformed character entity/;

interface Entry {
  type: 'image' | 'video';
  deleted: boolean;
  line: number;
  depth: number;
  fields: Map<string, string>;
  memberId?: string;
  fingerprints: Map<string, string>;
  links: Map<string, string>;
  error?: string;
}

const local = (name: string): string => {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
};

/** What an API page says beside its entries: the pager's next link and each list's `maxTimestamp` (exchanges/ncmec.ts). */
export interface NcmecPaging {
  next?: string;
  maxTimestamps: string[];
}

export interface NcmecReadOptions extends ReadOptions {
  /** Called once at the end with the page's paging information. */
  onPaging?: (paging: NcmecPaging) => void;
}

export function readNcmecXml(input: ListInput, options: NcmecReadOptions = {}): AsyncGenerator<ListItem> {
  const state = new ReaderState(options);
  const maxNodeChars = positiveIntOption(options.maxLineBytes, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES);
  return ncmecItems(input, state, maxNodeChars, options.onPaging);
}

async function* ncmecItems(input: ListInput, state: ReaderState, maxNodeChars: number, onPaging?: (paging: NcmecPaging) => void): AsyncGenerator<ListItem> {
  const paging: NcmecPaging = { maxTimestamps: [] };
  let nextText: string | undefined;
  const parser = new SaxesParser({ xmlns: false, position: true });
  const out: ListItem[] = [];
  const stack: string[] = [];
  let entry: Entry | undefined;
  // Element of the entry whose text is being collected, and the text so far.
  let capture: { name: string; text: string; tooLong: boolean; parent: string } | undefined;
  let sawRoot = false;
  let lastEvent = 0;
  const touched = (): void => {
    lastEvent = parser.position;
  };

  parser.on('xmldecl', (decl) => {
    touched();
    const enc = decl.encoding?.toLowerCase();
    if (enc !== undefined && !['utf-8', 'utf8', 'us-ascii', 'ascii', 'utf-16'].includes(enc)) {
      throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Unsupported XML encoding ${JSON.stringify(decl.encoding)} (NCMEC files are UTF-8)`);
    }
  });
  // The DOCTYPE is ignored: saxes neither fetches external subsets nor expands the entities it declares.
  parser.on('doctype', touched);
  parser.on('comment', touched);
  parser.on('processinginstruction', touched);
  parser.on('error', (err) => {
    if (ENTITY_ERROR_RE.test(err.message)) {
      const reason = err.message.replace(/^.*?: /, '').replace(/\.$/, '');
      const msg = `line ${parser.line}: an entity reference was left unexpanded (${reason}; DTD entities are never resolved)`;
      if (entry) entry.error ??= msg;
      else out.push(state.error(parser.line, `Outside any entry, ${msg}`));
      return;
    }
    throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Malformed XML: ${err.message}`, { cause: err });
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    touched();
    const name = local(tag.name);
    if (stack.length === 0) {
      if (sawRoot) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Malformed XML: a second root element');
      sawRoot = true;
      if (name !== 'queryResult') throw new VigilError('VIGIL_ERR_LIST_FORMAT', `Not an NCMEC hash-sharing entries file: the root element is <${tag.name}>, not <queryResult>`);
    }
    stack.push(name);
    if (stack.length > MAX_DEPTH) throw new VigilError('VIGIL_ERR_LIST_FORMAT', `XML nested deeper than ${MAX_DEPTH} elements (line ${parser.line})`);
    const parent = stack[stack.length - 2];
    if (!entry) {
      if ((name === 'images' || name === 'videos') && parent === 'queryResult') {
        const max = attr(tag, 'maxTimestamp');
        if (max !== undefined) paging.maxTimestamps.push(max);
      }
      if (name === 'next' && parent === 'paging') nextText = '';
      const kind = ENTRY_KINDS[name];
      if (kind && (parent === 'images' || parent === 'videos' || parent === 'queryResult')) {
        entry = { ...kind, line: parser.line, depth: stack.length, fields: new Map(), fingerprints: new Map(), links: new Map() };
      }
      return;
    }
    const rel = stack.length - entry.depth;
    if (rel === 1 && ENTRY_FIELDS.has(name)) {
      if (name === 'member') entry.memberId = attr(tag, 'id');
      capture = { name, text: '', tooLong: false, parent: 'entry' };
    } else if (rel === 2 && parent === 'fingerprints') {
      const href = attr(tag, 'href');
      if (href !== undefined) entry.links.set(name, href);
      capture = { name, text: '', tooLong: false, parent: 'fingerprints' };
    } else {
      capture = undefined;
    }
  });
  const onText = (text: string): void => {
    touched();
    if (nextText !== undefined && nextText.length + text.length <= MAX_FIELD_CHARS) nextText += text;
    if (!capture) return;
    if (capture.text.length + text.length > MAX_FIELD_CHARS) capture.tooLong = true;
    else capture.text += text;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', (tag) => {
    touched();
    const name = local(tag.name);
    if (name === 'next' && nextText !== undefined) {
      if (nextText.trim() !== '') paging.next = nextText.trim();
      nextText = undefined;
    }
    if (entry && capture && capture.name === name) {
      const c = capture;
      capture = undefined;
      if (c.tooLong) entry.error ??= `<${name}> is longer than ${MAX_FIELD_CHARS} characters`;
      else if (c.text.includes('\ufffd')) entry.error ??= `<${name}> is not valid UTF-8`;
      else if (c.parent === 'fingerprints') {
        if (c.text.trim() !== '') entry.fingerprints.set(name, c.text.trim());
      } else entry.fields.set(name, c.text.trim());
    }
    stack.pop();
    if (entry && stack.length < entry.depth) {
      const done = entry;
      entry = undefined;
      capture = undefined;
      out.push(done.error ? state.error(done.line, `${entryLabel(done)}: ${done.error}`) : toItem(done, state));
    }
  });

  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const feed = (text: string): void => {
    for (let i = 0; i < text.length; i += FEED_CHARS) {
      parser.write(text.slice(i, i + FEED_CHARS));
      if (parser.position - lastEvent > maxNodeChars) {
        throw new VigilError('VIGIL_ERR_LIST_FORMAT', `An XML text node, tag or comment is longer than ${formatBytes(maxNodeChars)} (from line ${parser.line}); not an NCMEC entries file`);
      }
    }
  };
  for await (const chunk of prepareInput(input, state.addBytes)) {
    feed(decoder.decode(chunk, { stream: true }));
    if (out.length > 0) {
      yield* out;
      out.length = 0;
    }
  }
  feed(decoder.decode());
  if (!sawRoot) throw new VigilError('VIGIL_ERR_LIST_FORMAT', 'Not an NCMEC hash-sharing entries file: no XML element');
  parser.close();
  yield* out;
  onPaging?.(paging);
  state.report();
}

function attr(tag: SaxesTagPlain, name: string): string | undefined {
  for (const [k, v] of Object.entries(tag.attributes)) if (local(k) === name) return v;
  return undefined;
}

function entryLabel(e: Entry): string {
  const id = e.fields.get('id');
  const kind = e.deleted ? `deleted${e.type === 'image' ? 'Image' : 'Video'}` : e.type;
  return id ? `${kind} ${JSON.stringify(id)}` : kind;
}

function toItem(e: Entry, state: ReaderState): ListItem {
  try {
    const id = e.fields.get('id');
    if (!id) throw new Error('no <id>');
    const memberId = e.memberId?.trim();
    if (!memberId || !/^[0-9]{1,15}$/.test(memberId)) throw new Error(`expected a numeric <member id="…"> but found ${memberId === undefined ? 'none' : JSON.stringify(memberId)}`);
    const metadata: Record<string, unknown> = { ncmecEntryType: e.type, memberId: Number(memberId), entryId: id };
    const memberName = e.fields.get('member');
    if (memberName) metadata.memberName = memberName;
    const timestamp = e.fields.get('timestamp');
    if (timestamp) metadata.timestamp = timestamp;
    const sourceId = `${memberId}-${id}`;
    if (e.deleted) return state.record(e.line, { signals: [], labels: {}, sourceId, deleted: true, metadata });
    const signals: ListSignal[] = [];
    const others: Record<string, string> = {};
    for (const [name, value] of e.fingerprints) {
      const type = Object.hasOwn(FINGERPRINT_SIGNALS, name) ? FINGERPRINT_SIGNALS[name] : undefined;
      if (type) {
        try {
          signals.push({ type, value: normalizeSignal(type, value) });
        } catch (err) {
          throw new Error(`<${name}>: ${messageOf(err)}`, { cause: err });
        }
      } else others[name] = value;
    }
    if (Object.keys(others).length > 0) metadata.otherFingerprints = others;
    if (e.links.size > 0) metadata.fingerprintLinks = Object.fromEntries(e.links);
    const classification = e.fields.get('classification');
    const record: ListRecord = { signals, labels: {}, sourceId, metadata };
    if (classification) {
      metadata.classification = classification;
      try {
        record.labels.industryCategory = parseIndustryCategory(classification, '<classification>');
      } catch {
        // Kept as metadata only: NCMEC lists other than the industry one may use other values.
      }
    }
    if (signals.length === 0) throw new Error('no md5, sha1, pdna or pdq fingerprint Vigil can match');
    return state.record(e.line, record);
  } catch (err) {
    return state.error(e.line, `${entryLabel(e)}: ${messageOf(err)}`);
  }
}
