/**
 * A small streaming JSON lexer and a bounded value builder, written for hostile input: strings are capped
 * while they stream (a 2 GB string costs `maxStringBytes`), each string is decoded as strict UTF-8 on its
 * own (so invalid bytes spoil one value, not the file), numbers are capped at 64 characters, and tokens carry
 * their line and byte offset for error messages and record-size limits. The lexer knows nothing about
 * nesting; grammar and depth are the caller's (see vics.ts), so nesting costs no memory while skipped.
 *
 * Why not stream-json (declared once, never used, dropped): it has no bound on a string or a number while it
 * streams, and its tokens carry no line or byte offset, which an import's per-record errors and record-size
 * limits need.
 */
import { isUtf8 } from 'node:buffer';

export type JsonPunct = '{' | '}' | '[' | ']' | ':' | ',';

export type JsonToken =
  | { t: JsonPunct; line: number; offset: number }
  /** `bad` says why the string is unusable (too long, invalid UTF-8, bad escape); `v` is then ''. */
  | { t: 'string'; v: string; bad?: string; line: number; offset: number }
  | { t: 'number'; v: number; line: number; offset: number }
  | { t: 'literal'; v: boolean | null; line: number; offset: number };

export class JsonSyntaxError extends Error {
  constructor(message: string, readonly line: number) {
    super(`${message} at line ${line}`);
  }
}

const MAX_NUMBER_CHARS = 64;
const NUMBER_RE = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;
const LITERALS: Record<number, [string, boolean | null]> = { 0x74: ['true', true], 0x66: ['false', false], 0x6e: ['null', null] };

const enum S { Between, Str, Num, Lit }

export class JsonLexer {
  line = 1;
  /** Absolute byte offset of the next byte. */
  offset = 0;
  private state = S.Between;
  // String state.
  private buf: Buffer = Buffer.allocUnsafe(256);
  private len = 0;
  private overflow = false;
  private escaped = false;
  private hadEscape = false;
  private hadControl = false;
  private hadHigh = false;
  // Number / literal state.
  private text = '';
  private litValue: boolean | null = null;
  private tokLine = 1;
  private tokOffset = 0;

  constructor(private readonly maxStringBytes: number) {}

  /** Lexes a chunk, calling `emit` per token. @throws JsonSyntaxError */
  write(bytes: Uint8Array, emit: (t: JsonToken) => void): void {
    const chunk = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case S.Between: {
          const c = chunk[i];
          if (c === 0x20 || c === 0x09 || c === 0x0d) {
            i++;
          } else if (c === 0x0a) {
            this.line++;
            i++;
          } else if (c === 0x22) {
            this.state = S.Str;
            this.tokLine = this.line;
            this.tokOffset = this.offset + i;
            this.len = 0;
            this.overflow = this.escaped = this.hadEscape = this.hadControl = this.hadHigh = false;
            i++;
          } else if (c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d || c === 0x3a || c === 0x2c) {
            emit({ t: String.fromCharCode(c) as JsonPunct, line: this.line, offset: this.offset + i });
            i++;
          } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
            this.state = S.Num;
            this.text = '';
            this.tokLine = this.line;
            this.tokOffset = this.offset + i;
          } else if (LITERALS[c]) {
            this.state = S.Lit;
            this.text = '';
            this.litValue = LITERALS[c][1];
            this.tokLine = this.line;
            this.tokOffset = this.offset + i;
          } else {
            throw new JsonSyntaxError(`Unexpected ${describeByte(c)}`, this.line);
          }
          break;
        }
        case S.Str:
          i = this.string(chunk, i, emit);
          break;
        case S.Num: {
          const start = i;
          while (i < n && isNumberByte(chunk[i])) i++;
          this.text += latin1(chunk, start, i);
          if (this.text.length > MAX_NUMBER_CHARS) throw new JsonSyntaxError(`Number longer than ${MAX_NUMBER_CHARS} characters`, this.tokLine);
          if (i < n) this.finishNumber(emit);
          break;
        }
        case S.Lit: {
          const start = i;
          while (i < n && chunk[i] >= 0x61 && chunk[i] <= 0x7a && this.text.length + (i - start) < 6) i++;
          this.text += latin1(chunk, start, i);
          if (i < n || this.text.length >= 6) this.finishLiteral(emit);
          break;
        }
      }
    }
    this.offset += n;
  }

  /** Ends the input. @throws JsonSyntaxError when it stops inside a token. */
  end(emit: (t: JsonToken) => void): void {
    if (this.state === S.Num) this.finishNumber(emit);
    else if (this.state === S.Lit) this.finishLiteral(emit);
    else if (this.state === S.Str) throw new JsonSyntaxError('The file ends inside a string', this.tokLine);
  }

  private string(chunk: Buffer, i: number, emit: (t: JsonToken) => void): number {
    const n = chunk.length;
    const start = i;
    let escaped = this.escaped;
    let high = false;
    while (i < n) {
      const c = chunk[i];
      if (escaped) {
        escaped = false;
      } else if (c === 0x5c) {
        escaped = true;
        this.hadEscape = true;
      } else if (c === 0x22) {
        break;
      } else if (c < 0x20) {
        this.hadControl = true;
        if (c === 0x0a) this.line++;
      } else if (c >= 0x80) {
        high = true;
      }
      i++;
    }
    this.escaped = escaped;
    this.hadHigh ||= high;
    if (i < n && this.len === 0 && !this.overflow && i - start <= this.maxStringBytes) {
      // The whole string is in this chunk (the common case): decode it in place, no copy.
      this.state = S.Between;
      emit(this.finishString(chunk, start, i));
      return i + 1;
    }
    this.append(chunk, start, i);
    if (i === n) return i;
    // Closing quote at i.
    this.state = S.Between;
    emit(this.finishString(this.buf, 0, this.len));
    return i + 1;
  }

  private append(chunk: Uint8Array, start: number, end: number): void {
    const add = end - start;
    if (add === 0 || this.overflow) return;
    if (this.len + add > this.maxStringBytes) {
      this.overflow = true;
      return;
    }
    if (this.len + add > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.min(Math.max(this.buf.length * 2, this.len + add), this.maxStringBytes));
      this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
    }
    this.buf.set(chunk.subarray(start, end), this.len);
    this.len += add;
  }

  private finishString(bytes: Buffer, start: number, end: number): JsonToken {
    const line = this.tokLine;
    const offset = this.tokOffset;
    let bad: string | undefined;
    let v = '';
    if (this.overflow) bad = `string longer than ${this.maxStringBytes} bytes`;
    else if (this.hadControl) bad = 'string contains an unescaped control character';
    else if (!this.hadHigh) v = bytes.toString('latin1', start, end);
    else if (!isUtf8(bytes.subarray(start, end))) bad = 'string is not valid UTF-8';
    else v = bytes.toString('utf8', start, end);
    if (bad === undefined && this.hadEscape) {
      try {
        v = JSON.parse(`"${v}"`) as string;
      } catch {
        bad = 'string has an invalid escape sequence';
      }
    }
    if (this.buf.length > 64 * 1024) this.buf = Buffer.allocUnsafe(256);
    return bad === undefined ? { t: 'string', v, line, offset } : { t: 'string', v: '', bad, line, offset };
  }

  private finishNumber(emit: (t: JsonToken) => void): void {
    this.state = S.Between;
    if (!NUMBER_RE.test(this.text)) throw new JsonSyntaxError(`Invalid number ${JSON.stringify(this.text)}`, this.tokLine);
    emit({ t: 'number', v: Number(this.text), line: this.tokLine, offset: this.tokOffset });
  }

  private finishLiteral(emit: (t: JsonToken) => void): void {
    this.state = S.Between;
    const expected = this.litValue === true ? 'true' : this.litValue === false ? 'false' : 'null';
    if (this.text !== expected) throw new JsonSyntaxError(`Invalid literal ${JSON.stringify(this.text.slice(0, 8))}`, this.tokLine);
    emit({ t: 'literal', v: this.litValue, line: this.tokLine, offset: this.tokOffset });
  }
}

function isNumberByte(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45;
}

function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]);
  return s;
}

function describeByte(c: number): string {
  return c >= 0x21 && c < 0x7f ? `character ${JSON.stringify(String.fromCharCode(c))}` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

type Frame =
  | { kind: 'obj'; value: { [key: string]: JsonValue }; key: string | undefined; expect: 'key' | 'keyOrEnd' | 'colon' | 'value' | 'commaOrEnd' }
  | { kind: 'arr'; value: JsonValue[]; expect: 'valueOrEnd' | 'value' | 'commaOrEnd' };

/**
 * Builds one JSON value from tokens, with a depth limit. Objects have no prototype (a `__proto__` key is
 * plain data). Returns from `push` the finished value, `undefined` while incomplete, or a `BuildLimit` when
 * the value is deeper than allowed (the caller then skips the rest by counting brackets from `depth`).
 */
export class JsonValueBuilder {
  private stack: Frame[] = [];
  /** First unusable string met (the value is still built, with '' in its place). */
  bad: string | undefined;

  constructor(private readonly maxDepth: number) {}

  get depth(): number {
    return this.stack.length;
  }

  /** @throws JsonSyntaxError on a grammar error. */
  push(tok: JsonToken): { done: true; value: JsonValue } | { done: false } | { limit: string } {
    const top = this.stack[this.stack.length - 1];
    if (top) {
      if (top.kind === 'obj') {
        switch (top.expect) {
          case 'key':
          case 'keyOrEnd':
            if (tok.t === '}' && top.expect === 'keyOrEnd') return this.close();
            if (tok.t !== 'string') throw new JsonSyntaxError('Expected an object key', tok.line);
            if (tok.bad) this.bad ??= `key: ${tok.bad}`;
            top.key = tok.v;
            top.expect = 'colon';
            return { done: false };
          case 'colon':
            if (tok.t !== ':') throw new JsonSyntaxError('Expected ":" after an object key', tok.line);
            top.expect = 'value';
            return { done: false };
          case 'commaOrEnd':
            if (tok.t === ',') {
              top.expect = 'key';
              return { done: false };
            }
            if (tok.t === '}') return this.close();
            throw new JsonSyntaxError('Expected "," or "}" in an object', tok.line);
        }
      } else {
        if (top.expect === 'commaOrEnd') {
          if (tok.t === ',') {
            top.expect = 'value';
            return { done: false };
          }
          if (tok.t === ']') return this.close();
          throw new JsonSyntaxError('Expected "," or "]" in an array', tok.line);
        }
        if (tok.t === ']' && top.expect === 'valueOrEnd') return this.close();
      }
    }
    // A value starts.
    switch (tok.t) {
      case '{':
      case '[':
        if (this.stack.length >= this.maxDepth) return { limit: `nested deeper than ${this.maxDepth} levels` };
        this.stack.push(tok.t === '{' ? { kind: 'obj', value: Object.create(null) as { [key: string]: JsonValue }, key: undefined, expect: 'keyOrEnd' } : { kind: 'arr', value: [], expect: 'valueOrEnd' });
        return { done: false };
      case 'string':
        if (tok.bad) this.bad ??= tok.bad;
        return this.add(tok.v);
      case 'number':
      case 'literal':
        return this.add(tok.v);
      default:
        throw new JsonSyntaxError(`Unexpected "${tok.t}"`, tok.line);
    }
  }

  private add(value: JsonValue): { done: true; value: JsonValue } | { done: false } {
    const top = this.stack[this.stack.length - 1];
    if (!top) return { done: true, value };
    if (top.kind === 'obj') {
      top.value[top.key as string] = value;
      top.expect = 'commaOrEnd';
    } else {
      top.value.push(value);
      top.expect = 'commaOrEnd';
    }
    return { done: false };
  }

  private close(): { done: true; value: JsonValue } | { done: false } {
    const frame = this.stack.pop() as Frame;
    return this.add(frame.value);
  }
}
