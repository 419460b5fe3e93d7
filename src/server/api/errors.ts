/**
 * The API's one error handler: every failure becomes `{ error, message, problems? }` with a status
 * chosen by the error's class (core/errors.ts), so a caller can tell its own mistake (4xx) from the
 * world's (502, 503) and from Qiao's (500).
 *
 * | error                                   | status | `error`                  |
 * |-----------------------------------------|--------|--------------------------|
 * | request shape (params, query, body)     | 400    | `invalid_request`        |
 * | body that is not JSON                   | 400    | `invalid_json`           |
 * | NotFoundError, unknown route            | 404    | `not_found`              |
 * | ConflictError (state forbids it)        | 409    | `conflict`               |
 * | body over the server's bodyLimit        | 413    | `payload_too_large`      |
 * | content type not accepted               | 415    | `unsupported_media_type` |
 * | ValidationError (flow YAML, settings)   | 422    | `validation_failed`      |
 * | rate_limited                            | 429    | `rate_limited`           |
 * | other permanent user error              | 400    | `bad_request`            |
 * | transient / auth_expired (a partner)    | 502    | `partner_error`          |
 * | anything else (a bug)                   | 500    | `internal`               |
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { NotFoundError, QiaoError, ValidationError, type ValidationProblem } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';

/** The request itself is malformed: a bad id, an unknown field, a wrong type. Answered with 400. */
export class BadRequestError extends ValidationError {
  constructor(problems: ValidationProblem[], summary?: string) {
    super(
      problems,
      summary ?? problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; '),
    );
    this.name = 'BadRequestError';
  }
}

/** The request is well formed but the current state forbids it (a dead letter already replayed). */
export class ConflictError extends QiaoError {
  constructor(message: string) {
    super(message, { errorClass: 'permanent', fault: 'user' });
    this.name = 'ConflictError';
  }
}

/** A body that does not parse as JSON. */
export class InvalidJsonError extends QiaoError {
  constructor(message: string) {
    super(message, { errorClass: 'permanent', fault: 'user' });
    this.name = 'InvalidJsonError';
  }
}

export interface ApiErrorBody {
  error: string;
  message: string;
  problems?: ValidationProblem[];
}

/** Status and body for anything thrown by a route, a parser or Fastify itself. */
export function toErrorResponse(err: unknown): { status: number; body: ApiErrorBody; retryAfterMs?: number } {
  if (err instanceof BadRequestError)
    return { status: 400, body: { error: 'invalid_request', message: err.message, problems: err.problems } };
  if (err instanceof InvalidJsonError)
    return { status: 400, body: { error: 'invalid_json', message: err.message } };
  if (err instanceof NotFoundError)
    return { status: 404, body: { error: 'not_found', message: err.message } };
  if (err instanceof ConflictError) return { status: 409, body: { error: 'conflict', message: err.message } };
  if (err instanceof ValidationError) {
    return {
      status: 422,
      body: {
        error: 'validation_failed',
        message: `${err.problems.length} problem${err.problems.length === 1 ? '' : 's'}: ${err.problems
          .map((p) => (p.path ? `${p.path}: ${p.message}` : p.message))
          .join('; ')}`,
        problems: err.problems,
      },
    };
  }
  if (err instanceof QiaoError) {
    if (err.errorClass === 'rate_limited')
      return {
        status: 429,
        body: { error: 'rate_limited', message: err.message },
        retryAfterMs: err.retryAfterMs,
      };
    if (err.fault === 'bug') return { status: 500, body: { error: 'internal', message: err.message } };
    if (err.errorClass === 'permanent')
      return { status: 400, body: { error: 'bad_request', message: err.message } };
    return { status: 502, body: { error: 'partner_error', message: err.message } };
  }
  const fe = err as Partial<FastifyError>;
  if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return {
      status: 413,
      body: { error: 'payload_too_large', message: 'the request body is larger than the server accepts' },
    };
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return {
      status: 415,
      body: { error: 'unsupported_media_type', message: fe.message ?? 'unsupported content type' },
    };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
    return { status: fe.statusCode, body: { error: 'bad_request', message: fe.message ?? 'bad request' } };
  return {
    status: 500,
    body: { error: 'internal', message: 'internal error; the server log has the details' },
  };
}

/** Registers the error and not-found handlers on the API's scope. */
export function registerErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err, req, reply) => {
    const { status, body, retryAfterMs } = toErrorResponse(err);
    if (status >= 500) {
      log.error('API request failed', {
        method: req.method,
        url: req.url,
        error: (err as Error).message,
        stack: (err as Error).stack,
      });
    }
    if (retryAfterMs !== undefined) reply.header('retry-after', String(Math.ceil(retryAfterMs / 1000)));
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({
      error: 'not_found',
      message: `no route ${req.method} ${req.url.split('?')[0]} (GET /api/openapi.json lists every route)`,
    }),
  );
}
