/**
 * Route definitions: each API route is declared once, as data with zod schemas for its path
 * parameters, query, body and answers. The same definition registers the Fastify route, checks every
 * request (strict: an unknown field is an error, not ignored) and writes the route's entry in
 * `/api/openapi.json`, so the document cannot drift from what the server does.
 *
 * With `QIAO_API_CHECK_RESPONSES=1` (the API tests set it) every 2xx answer is also checked against
 * its declared schema, and a mismatch is a 500: the documented shapes are tested, not hoped for.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BadRequestError } from './errors.ts';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface ResponseSpec {
  description: string;
  /** JSON body; none for 204. */
  schema?: z.ZodType;
}

export interface RouteContext<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  /** Who asks: the `X-Qiao-Actor` header, default `api`. Recorded on every audit row. */
  actor: string;
  req: FastifyRequest;
  reply: FastifyReply;
}

/** What a handler returns: a body (sent with the route's first 2xx status), or a status and a body. */
export type HandlerResult = unknown | Answer;

export class Answer {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body?: unknown) {
    this.status = status;
    this.body = body;
  }
}

/** `return answer(201, row)`: a status other than the route's first declared one. */
export function answer(status: number, body?: unknown): Answer {
  return new Answer(status, body);
}

export interface RouteSpec<P = undefined, Q = undefined, B = undefined> {
  method: Method;
  /** Fastify form, relative to `/api`: `/connections/:id`. */
  url: string;
  /** Stable name for generated clients, e.g. `getConnection`. */
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /**
   * The body may also be YAML text (`Content-Type: text/yaml`); the handler then receives
   * `{ yaml: text }`, the same as the JSON form.
   */
  yamlBody?: boolean;
  /** Whether the route changes configuration or data (and so reads `X-Qiao-Actor`). */
  mutates?: boolean;
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<P, Q, B>): Promise<HandlerResult>;
}

/** A YAML request body, as read by the API's `text/yaml` parser. */
export class YamlText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

const ACTOR_MAX = 128;

/** The actor of a request: `X-Qiao-Actor` (percent-decoded, so non-ASCII names fit in a header). */
export function actorOf(req: FastifyRequest): string {
  const raw = req.headers['x-qiao-actor'];
  if (raw === undefined || raw === '') return 'api';
  const given = Array.isArray(raw) ? raw[0] : raw;
  let actor: string;
  try {
    actor = decodeURIComponent(given);
  } catch {
    throw new BadRequestError([{ path: 'headers.x-qiao-actor', message: 'is not valid percent-encoding' }]);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused here
  if (!actor || actor.length > ACTOR_MAX || /[\u0000-\u001f\u007f]/.test(actor)) {
    throw new BadRequestError([
      {
        path: 'headers.x-qiao-actor',
        message: `must be 1 to ${ACTOR_MAX} printable characters (percent-encode non-ASCII names)`,
      },
    ]);
  }
  return actor;
}

/** zod issues of one request part → problems with paths like `query.limit`, `body.settings.baseUrl`. */
function problemsOf(part: string, error: z.ZodError) {
  const problems: { path: string; message: string }[] = [];
  for (const issue of error.issues) {
    const base = [part, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) problems.push({ path: `${base}.${k}`, message: 'unknown field' });
    } else if (issue.code === 'invalid_type') {
      const missing = issue.message.includes('received undefined');
      problems.push({ path: base, message: missing ? 'required' : `expected ${issue.expected}` });
    } else {
      problems.push({ path: base, message: issue.message });
    }
  }
  return problems;
}

function parsePart(part: string, schema: z.ZodType | undefined, value: unknown): unknown {
  if (!schema) return undefined;
  const r = schema.safeParse(value);
  if (!r.success) throw new BadRequestError(problemsOf(part, r.error));
  return r.data;
}

/** An empty body on a route that takes none; anything else is refused (strict). */
const NO_BODY = z.union([z.undefined(), z.strictObject({})]);

export class ApiRoutes {
  readonly routes: RouteSpec<any, any, any>[] = [];
  private readonly app: FastifyInstance;
  private readonly checkResponses: boolean;

  constructor(app: FastifyInstance, opts: { checkResponses?: boolean } = {}) {
    this.app = app;
    this.checkResponses = opts.checkResponses ?? process.env.QIAO_API_CHECK_RESPONSES === '1';
  }

  add<
    P extends z.ZodType | undefined = undefined,
    Q extends z.ZodType | undefined = undefined,
    B extends z.ZodType | undefined = undefined,
  >(spec: RouteSpec<P, Q, B>): void {
    this.routes.push(spec as RouteSpec<any, any, any>);
    const firstOk = Number(
      Object.keys(spec.responses).find((s) => Number(s) >= 200 && Number(s) < 300) ?? 200,
    );
    this.app.route({
      method: spec.method,
      url: spec.url,
      handler: async (req, reply) => {
        const params = parsePart('params', spec.params, req.params);
        const query = parsePart('query', spec.query ?? z.strictObject({}), req.query ?? {});
        let rawBody: unknown = req.body;
        if (rawBody instanceof YamlText) {
          if (!spec.yamlBody) {
            throw new BadRequestError([{ path: 'body', message: 'this route takes JSON, not YAML' }]);
          }
          rawBody = { yaml: rawBody.text };
        }
        const body =
          spec.method === 'GET' || spec.method === 'DELETE'
            ? undefined
            : parsePart('body', spec.body ?? NO_BODY, rawBody);
        const actor = actorOf(req);
        const out = await spec.handler({ params, query, body, actor, req, reply } as RouteContext<
          Out<P>,
          Out<Q>,
          Out<B>
        > as never);
        const status = out instanceof Answer ? out.status : firstOk;
        const payload = out instanceof Answer ? out.body : out;
        if (this.checkResponses) this.check(spec, status, payload);
        reply.code(status);
        return status === 204 ? reply.send() : reply.send(payload);
      },
    });
  }

  private check(spec: RouteSpec<any, any, any>, status: number, payload: unknown): void {
    const declared = spec.responses[status];
    if (!declared) throw new Error(`${spec.operationId} answered ${status}, which it does not declare`);
    if (!declared.schema) return;
    const r = declared.schema.safeParse(JSON.parse(JSON.stringify(payload ?? null)));
    if (!r.success) {
      throw new Error(
        `${spec.operationId} answered ${status} with a body its schema refuses: ${r.error.issues
          .map((i) => `${i.path.join('.')}: ${i.message}`)
          .join('; ')}`,
      );
    }
  }
}
