/** Reading a rules file (Node-only; config.ts stays pure for the API and other runtimes). */
import { readFile, stat } from 'node:fs/promises';
import { VigilError } from '../core/errors.js';
import { parseRulesConfig, RulesConfigError, type RulesConfig } from './config.js';

/** A rules file is hand-written configuration: anything larger is a mistake (or not a rules file). */
export const DEFAULT_RULES_FILE_MAX_BYTES = 1024 * 1024;

export interface LoadRulesOptions {
  /** Largest accepted file in bytes (default 1 MiB). */
  maxBytes?: number;
}

/** Line and column of a character offset, for JSON syntax errors. */
function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

class SyntaxStop {
  constructor(readonly at: number) {}
}

/**
 * Offset of the first JSON syntax error, or -1. V8's JSON.parse messages carry a position only for some
 * errors (and differ between Node versions), so this small scanner finds it for the error message.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const literal = /true|false|null|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const fail = (): never => {
    throw new SyntaxStop(i);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail();
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail();
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const e = text[++i];
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) i += 5;
      else if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
      else fail();
    }
  };
  const value = (): void => {
    ws();
    const open = text[i];
    if (open === '"') return string();
    if (open === '{' || open === '[') {
      const close = open === '{' ? '}' : ']';
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (open === '{') {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ':') fail();
          i++;
        }
        value();
        ws();
        if (text[i] === close) return void i++;
        if (text[i] !== ',') fail();
        i++;
      }
    }
    literal.lastIndex = i;
    const m = literal.exec(text);
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    return i < text.length ? i : -1;
  } catch (err) {
    if (err instanceof SyntaxStop) return err.at;
    return -1; // nesting deeper than the stack: no position, the parser's message still stands
  }
}

/**
 * Reads and validates a JSON rules file. Errors name the file: VIGIL_ERR_UNREADABLE (missing, a directory,
 * no permission), VIGIL_ERR_FILE_TOO_LARGE, VIGIL_ERR_INVALID_RULES (not UTF-8 JSON, or invalid rules —
 * then a RulesConfigError listing every problem with its JSON path).
 */
export async function loadRulesFile(path: string, options: LoadRulesOptions = {}): Promise<RulesConfig> {
  const maxBytes = options.maxBytes ?? DEFAULT_RULES_FILE_MAX_BYTES;
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new VigilError('VIGIL_ERR_UNREADABLE', `Rules file ${path} is not a regular file`);
    if (info.size > maxBytes) throw new VigilError('VIGIL_ERR_FILE_TOO_LARGE', `Rules file ${path} is ${info.size} bytes; the limit is ${maxBytes}`);
    bytes = await readFile(path);
  } catch (err) {
    if (err instanceof VigilError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? 'is not readable (permission denied)' : `could not be read (${code ?? (err as Error).message})`;
    throw new VigilError('VIGIL_ERR_UNREADABLE', `Rules file ${path} ${why}`, { cause: err });
  }
  // Re-checked after reading: the file may have grown between stat and read.
  if (bytes.length > maxBytes) throw new VigilError('VIGIL_ERR_FILE_TOO_LARGE', `Rules file ${path} is ${bytes.length} bytes; the limit is ${maxBytes}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new VigilError('VIGIL_ERR_INVALID_RULES', `Rules file ${path} is not UTF-8 text`, { cause: err });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = jsonErrorOffset(text);
    const where = at >= 0 ? ` at ${lineColumn(text, at)}` : '';
    throw new VigilError('VIGIL_ERR_INVALID_RULES', `Rules file ${path} is not valid JSON${where}: ${message}`, { cause: err });
  }
  try {
    return parseRulesConfig(json);
  } catch (err) {
    if (err instanceof RulesConfigError) throw new RulesConfigError(err.issues, `Invalid rules file ${path}`);
    throw err;
  }
}
