/**
 * A minimal XML writer for the CyberTipline documents. Hand-written (about 30 lines) because NCMEC's XSD uses
 * xs:sequence everywhere: the order of children *is* the contract (out of order → responseCode 4100), so the
 * documents are built as explicit ordered lists rather than from objects whose key order a library would pick.
 */
import { SaxesParser } from 'saxes';

/** An element: name, ordered children (or text), attributes. Undefined/null children are skipped. */
export interface XmlElement {
  name: string;
  attrs?: Record<string, string | undefined>;
  children?: readonly (XmlElement | null | undefined | false)[];
  text?: string;
}

export function el(name: string, content?: string | number | boolean | readonly (XmlElement | null | undefined | false)[] | null, attrs?: Record<string, string | undefined>): XmlElement {
  if (Array.isArray(content)) return { name, children: content as XmlElement[], ...(attrs ? { attrs } : {}) };
  return { name, ...(content === undefined || content === null ? {} : { text: String(content as string | number | boolean) }), ...(attrs ? { attrs } : {}) };
}

/** Only when the value is present: an optional element. */
export function opt(name: string, value: string | number | boolean | null | undefined): XmlElement | null {
  return value === null || value === undefined || value === '' ? null : el(name, value);
}

export function escapeXml(s: string): string {
  // Characters XML 1.0 forbids are dropped: user-supplied text (a bio, a file name) must not break the document.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function write(e: XmlElement, out: string[]): void {
  out.push('<', e.name);
  for (const [k, v] of Object.entries(e.attrs ?? {})) if (v !== undefined) out.push(' ', k, '="', escapeXml(v), '"');
  const kids = (e.children ?? []).filter((c): c is XmlElement => Boolean(c));
  if (kids.length === 0 && e.text === undefined) {
    out.push('/>');
    return;
  }
  out.push('>');
  if (e.text !== undefined) out.push(escapeXml(e.text));
  for (const c of kids) write(c, out);
  out.push('</', e.name, '>');
}

export function toXml(root: XmlElement): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  write(root, out);
  return out.join('');
}

/** Children of the root and their text, in document order (what the client reads from responses). */
export interface ParsedXml {
  root: string;
  /** First text of each element name anywhere in the document. */
  first: Record<string, string>;
  /** Every text of each element name. */
  all: Record<string, string[]>;
  /** The root's child element names, in order (the test server checks order with this). */
  order: string[];
  /** Child element names per path ("report/incidentSummary"), in order. */
  childrenOf: Record<string, string[]>;
}

/** Parses a small document (a response, a submitted report) with saxes (no DTD entities expanded, nothing fetched). */
export function parseXml(text: string): ParsedXml {
  const parser = new SaxesParser({ xmlns: false });
  const stack: string[] = [];
  const texts: string[] = [];
  const out: ParsedXml = { root: '', first: {}, all: {}, order: [], childrenOf: {} };
  parser.on('doctype', () => {
    throw new Error('DOCTYPE not allowed');
  });
  parser.on('opentag', (tag) => {
    if (stack.length === 0) out.root = tag.name;
    else (out.childrenOf[stack.join('/')] ??= []).push(tag.name);
    if (stack.length === 1) out.order.push(tag.name);
    stack.push(tag.name);
    texts.push('');
  });
  parser.on('text', (t) => {
    if (texts.length > 0) texts[texts.length - 1] += t;
  });
  parser.on('closetag', (tag) => {
    stack.pop();
    const t = texts.pop()!.trim();
    if (t !== '') {
      out.first[tag.name] ??= t;
      (out.all[tag.name] ??= []).push(t);
    }
  });
  parser.write(text).close();
  return out;
}
