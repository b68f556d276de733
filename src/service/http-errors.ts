/** One error body for every route: `{ error: { code, message } }`, with the HTTP status the code implies. */
import { isLostConnection } from '../state/database.js';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toVigilError, VigilError, type VigilErrorCode } from '../core/errors.js';

const STATUS: Partial<Record<VigilErrorCode, number>> = {
  VIGIL_ERR_INVALID_ARGUMENT: 400,
  VIGIL_ERR_INVALID_HASH: 400,
  VIGIL_ERR_INVALID_RULES: 400,
  VIGIL_ERR_LIST_FORMAT: 400,
  VIGIL_ERR_UNAUTHENTICATED: 401,
  VIGIL_ERR_FORBIDDEN: 403,
  VIGIL_ERR_NOT_FOUND: 404,
  VIGIL_ERR_CONFLICT: 409,
  VIGIL_ERR_PAYLOAD_TOO_LARGE: 413,
  VIGIL_ERR_FILE_TOO_LARGE: 413,
  VIGIL_ERR_PIXEL_LIMIT: 413,
  VIGIL_ERR_UNSUPPORTED_MEDIA: 415,
  VIGIL_ERR_EMPTY_FILE: 422,
  VIGIL_ERR_CORRUPT_MEDIA: 422,
  VIGIL_ERR_VIDEO_DECODE: 422,
  VIGIL_ERR_UNREADABLE: 422,
  VIGIL_ERR_RATE_LIMITED: 429,
  VIGIL_ERR_NOT_READY: 503,
  VIGIL_ERR_UNAVAILABLE: 503,
  VIGIL_ERR_INVALID_CONFIG: 500,
  VIGIL_ERR_TIMEOUT: 504,
};

export function statusOf(code: VigilErrorCode): number {
  return STATUS[code] ?? 500;
}

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

/** Fastify's own errors (validation, body limits, bad JSON) mapped onto Vigil codes. */
function fromFastify(err: FastifyError): VigilError | undefined {
  if (err.validation) return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Invalid request: ${err.message}`);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', err.message);
    // Uploads take exactly one file: a second one is a malformed request, not an oversized one.
    case 'FST_FILES_LIMIT':
      return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', 'Expected exactly one file per request');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new VigilError('VIGIL_ERR_UNSUPPORTED_MEDIA', err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', err.message);
  }
  if (err.statusCode === 429) return new VigilError('VIGIL_ERR_RATE_LIMITED', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', err.message);
  return undefined;
}

/**
 * Errors while reading a multipart body: the parser's own (a truncated or malformed body) carry no code and
 * are the client's fault (400); Vigil's and Fastify's errors, and system errors (ENOSPC…), pass unchanged.
 */
export function multipartError(err: unknown): unknown {
  if (err instanceof VigilError || !(err instanceof Error) || (err as { code?: unknown }).code !== undefined || (err as { statusCode?: unknown }).statusCode !== undefined) return err;
  return new VigilError('VIGIL_ERR_INVALID_ARGUMENT', `Malformed multipart body: ${err.message}`);
}

export function sendError(err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const vigil = err instanceof VigilError ? err
    // The database went away mid-request: its unit of work rolled back (or, cut off at COMMIT, replays on retry).
    : isLostConnection(err) ? new VigilError('VIGIL_ERR_UNAVAILABLE', 'The database connection was lost during this request; retry it')
    : (fromFastify(err as FastifyError) ?? toVigilError(err));
  if (vigil.code === 'VIGIL_ERR_UNAVAILABLE' && !reply.hasHeader('retry-after')) reply.header('retry-after', '1');
  const status = statusOf(vigil.code);
  if (status >= 500) request.log.error({ err }, 'request failed');
  // Internal details stay in the log, not in the response.
  const message = vigil.code === 'VIGIL_ERR_INTERNAL' ? 'Internal error (see the server log)' : vigil.message;
  if (vigil.code === 'VIGIL_ERR_RATE_LIMITED' && !reply.hasHeader('retry-after')) reply.header('retry-after', '60');
  return reply.code(status).type('application/json').send({ error: { code: vigil.code, message } });
}
