/**
 * The request log never holds a secret: query parameters that carry one (`api_key=`, `token=`, `key=`, …)
 * and anything shaped like a Vigil API key are replaced by "[REDACTED]", and credential headers are
 * censored should a serializer ever log headers.
 */
import type { FastifyBaseLogger, FastifyRequest, FastifyServerOptions } from 'fastify';

export const REDACTED = '[REDACTED]';

const SECRET_PARAM = /^(?:api[_-]?key|apikey|key|x[_-]api[_-]key|token|access[_-]?token|refresh[_-]?token|id[_-]?token|auth|authorization|bearer|secret|client[_-]?secret|password|passwd|pass|pwd|signature|sig|credentials?|session|sessionid)$/i;
const VIGIL_SECRET = /vigil_k_[a-z2-7]{12}_[A-Za-z0-9_-]+/g;

function decodedName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

/** The URL with secret-bearing query values (and Vigil key shapes anywhere) replaced; the rest untouched. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q === -1 ? url : url.slice(0, q)).replace(VIGIL_SECRET, REDACTED);
  if (q === -1) return path;
  const query = url.slice(q + 1).split('&').map((part) => {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (eq !== -1 && SECRET_PARAM.test(decodedName(name))) return `${name}=${REDACTED}`;
    return part.replace(VIGIL_SECRET, REDACTED);
  });
  return `${path}?${query.join('&')}`;
}

const REDACT_PATHS = ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]'];

function requestSerializer(request: FastifyRequest) {
  return { method: request.method, url: redactUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}

/** The shared pino logger (the core's) as Fastify's request logger, with the same redaction. */
export function redactingChild(logger: FastifyBaseLogger): FastifyBaseLogger {
  return (logger as unknown as { child: (b: object, o: object) => FastifyBaseLogger }).child({}, { redact: { paths: REDACT_PATHS, censor: REDACTED }, serializers: { req: requestSerializer } });
}

/** Fastify logger options with the redacting request serializer; `false` and a logger instance pass through. */
export function redactingLogger(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return logger ?? false;
  const base = logger === true ? {} : (logger as Record<string, unknown>);
  // A ready-made pino instance (it has .child) keeps its own configuration.
  if (typeof base.child === 'function') return logger;
  return {
    ...base,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]'], censor: REDACTED },
    serializers: {
      ...(base.serializers as Record<string, unknown> | undefined),
      req: (request: FastifyRequest) => ({
        method: request.method,
        url: redactUrl(request.url),
        host: request.host,
        remoteAddress: request.ip,
        remotePort: request.socket?.remotePort,
      }),
    },
  } as FastifyServerOptions['logger'];
}
