/**
 * One error type for the whole project. `code` is a persisted identifier (logs, API problem bodies,
 * CLI exit mapping): never rename a code, only add new ones.
 */
export const ERROR_CODES = {
  VIGIL_ERR_INVALID_ARGUMENT: 'A value passed to a public function is out of its domain.',
  VIGIL_ERR_INVALID_HASH: 'A hash string or byte array is malformed (length, alphabet).',
  VIGIL_ERR_EMPTY_FILE: 'The file has zero bytes.',
  VIGIL_ERR_FILE_TOO_LARGE: 'The file is larger than the configured byte limit.',
  VIGIL_ERR_UNSUPPORTED_MEDIA: 'The bytes are not an image format Vigil can decode.',
  VIGIL_ERR_CORRUPT_MEDIA: 'The media is truncated or corrupt and could not be decoded.',
  VIGIL_ERR_PIXEL_LIMIT: 'The image declares more pixels than the configured limit; it was not decoded.',
  VIGIL_ERR_UNREADABLE: 'The file could not be read (permissions, vanished, not a regular file).',
  VIGIL_ERR_SYMLINK_LOOP: 'A directory walk met a symbolic-link cycle; the cycle was not followed.',
  VIGIL_ERR_TIMEOUT: 'An operation took longer than its limit and was stopped.',
  VIGIL_ERR_BUDGET: 'One item needed more decoding work (pixels, frames) than its budget; it was stopped, with what was hashed so far.',
  VIGIL_ERR_CANCELLED: 'The work was cancelled (the client went away, or the service is stopping).',
  VIGIL_ERR_INDEX_CORRUPT: 'An index file is truncated, corrupt or of an unknown version; rebuild it from the store.',
  VIGIL_ERR_LIST_FORMAT: 'A hash-list file is not in the expected format as a whole.',
  VIGIL_ERR_LIST_ROW: 'One row of a hash-list file is invalid; the rest of the file is still read.',
  VIGIL_ERR_VIDEO_DECODE: 'ffmpeg could not decode the video (no video stream, corrupt, unsupported).',
  VIGIL_ERR_FFMPEG_MISSING: 'No ffmpeg binary was found (neither configured nor shipped in npm).',
  VIGIL_ERR_NOT_FOUND: 'The named bank, signal or record does not exist.',
  VIGIL_ERR_CONFLICT: 'The request conflicts with existing state (duplicate name, concurrent change).',
  VIGIL_ERR_UNAUTHENTICATED: 'No valid API key was presented.',
  VIGIL_ERR_FORBIDDEN: 'The API key lacks the scope this operation needs.',
  VIGIL_ERR_RATE_LIMITED: 'The API key has exceeded its request rate; retry later.',
  VIGIL_ERR_PAYLOAD_TOO_LARGE: 'The request body or upload is larger than the configured limit.',
  VIGIL_ERR_INVALID_RULES: 'A rules configuration is invalid; the previous rules stay in force.',
  VIGIL_ERR_WEBHOOK_FAILED: 'A webhook endpoint did not accept a delivery (non-2xx, timeout, network).',
  VIGIL_ERR_AUDIT_TAMPERED: 'The audit log chain is broken: an entry was edited, inserted or deleted.',
  VIGIL_ERR_NOT_READY: 'The service is starting (index not loaded yet); retry shortly.',
  VIGIL_ERR_UNAVAILABLE: 'A backing service (PostgreSQL, Redis, a remote API) cannot be reached; retry later.',
  VIGIL_ERR_INVALID_CONFIG: 'A configuration value (file, environment or flag) is invalid; the message names the key.',
  VIGIL_ERR_EVIDENCE_INTEGRITY: 'Stored evidence failed authentication or its SHA-256 check (altered, truncated, swapped, or a different master key).',
  VIGIL_ERR_EVIDENCE_KEY_UNKNOWN: 'Stored evidence is wrapped by a master key id that is not configured.',
  VIGIL_ERR_ARCHIVE_UNSAFE_PATH: 'An archive member name is absolute or climbs out of the archive (zip slip); it was read, never written out.',
  VIGIL_ERR_ARCHIVE_BOMB: 'An archive member expands beyond the size or compression-ratio limits (zip bomb); it was not read.',
  VIGIL_ERR_ARCHIVE_DEPTH: 'Archives are nested deeper than the limit; the innermost one was not opened.',
  VIGIL_ERR_ARCHIVE_ENCRYPTED: 'An archive member is encrypted; it was not read (the rest of the archive was).',
  VIGIL_ERR_ARCHIVE_CORRUPT: 'An archive is truncated or corrupt; the members read whole before the damage were kept.',
  VIGIL_ERR_FILE_CHANGED: 'The file changed while it was being read; its hashes are of the bytes read.',
  VIGIL_ERR_INTERNAL: 'An unexpected internal failure.',
} as const;

export type VigilErrorCode = keyof typeof ERROR_CODES;

export class VigilError extends Error {
  readonly code: VigilErrorCode;

  constructor(code: VigilErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VigilError';
    this.code = code;
  }
}

/** Normalises anything thrown into a VigilError so callers can rely on `.code`. */
export function toVigilError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new VigilError('VIGIL_ERR_INTERNAL', message, { cause: err });
}

/** Eager validation with the one message shape used everywhere. */
export function invalidArgument(expected: string, name: string, actual: unknown): VigilError {
  const shown = typeof actual === 'string' ? JSON.stringify(actual.slice(0, 80)) : String(actual);
  return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Expected ${expected} for ${name} but received ${shown}`);
}
