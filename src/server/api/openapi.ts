/**
 * `GET /api/openapi.json`: an OpenAPI 3.1 document written from the route definitions themselves
 * (route.ts), with each zod schema turned into JSON Schema 2020-12 (the dialect OpenAPI 3.1 uses).
 */
import { z } from 'zod';
import type { RouteSpec } from './route.ts';
import { errorBody } from './schemas.ts';

type JsonSchema = Record<string, unknown>;

/** JSON Schema of a zod schema; `io: 'input'` for what callers send, `'output'` for what they get. */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** `/connections/:id/test` → `/api/connections/{id}/test`. */
export function openApiPath(url: string): string {
  return `/api${url.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')}`;
}

/** The fields of an object schema, with whether each is optional. */
function fieldsOf(
  schema: z.ZodType | undefined,
): Array<{ name: string; schema: z.ZodType; required: boolean }> {
  if (!schema) return [];
  const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (!shape) return [];
  return Object.entries(shape).map(([name, s]) => ({
    name,
    schema: s,
    required: !s.safeParse(undefined).success,
  }));
}

const ERROR_STATUSES: Record<number, string> = {
  400: 'The request is malformed: `invalid_request` (with `problems`), `invalid_json` or `bad_request`.',
  404: 'No such resource (`not_found`).',
  409: 'The current state forbids it (`conflict`).',
  413: 'The body is larger than the server accepts (`payload_too_large`).',
  415: 'The content type is not accepted (`unsupported_media_type`).',
  422: 'The content is invalid (`validation_failed`), with `problems` carrying path and, for YAML, line.',
};

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
}

export function buildOpenApi(routes: readonly RouteSpec<any, any, any>[], info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const tags = new Set<string>();
  for (const r of routes) {
    tags.add(r.tag);
    const parameters: unknown[] = [];
    for (const f of fieldsOf(r.params)) {
      parameters.push({ name: f.name, in: 'path', required: true, schema: jsonSchema(f.schema, 'input') });
    }
    for (const f of fieldsOf(r.query)) {
      const s = jsonSchema(f.schema, 'input');
      parameters.push({
        name: f.name,
        in: 'query',
        required: f.required,
        ...(typeof s.description === 'string' ? { description: s.description } : {}),
        schema: s,
      });
    }
    if (r.mutates) parameters.push({ $ref: '#/components/parameters/Actor' });

    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries(r.responses)) {
      responses[status] = {
        description: spec.description,
        ...(spec.schema
          ? { content: { 'application/json': { schema: jsonSchema(spec.schema, 'output') } } }
          : {}),
      };
    }
    const errors = new Set<number>([400]);
    if (r.params) errors.add(404);
    if (r.body) errors.add(413).add(415);
    for (const s of Object.keys(r.responses).map(Number)) if (s >= 400) errors.delete(s);
    for (const s of [...errors].sort()) responses[String(s)] = { $ref: `#/components/responses/E${s}` };
    responses.default = { $ref: '#/components/responses/Error' };

    let requestBody: unknown;
    if (r.body) {
      const content: Record<string, unknown> = {
        'application/json': { schema: jsonSchema(r.body, 'input') },
      };
      if (r.yamlBody)
        content['text/yaml'] = { schema: { type: 'string', description: 'The flow file itself.' } };
      requestBody = { required: true, content };
    }

    const path = openApiPath(r.url);
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      operationId: r.operationId,
      tags: [r.tag],
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses,
    };
  }

  const errorSchema = jsonSchema(errorBody, 'output');
  const errorResponse = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: {
      schemas: { Error: errorSchema },
      parameters: {
        Actor: {
          name: 'X-Qiao-Actor',
          in: 'header',
          required: false,
          description:
            'Who makes the change, recorded on its audit row (default `api`). Percent-encode non-ASCII names.',
          schema: { type: 'string', maxLength: 128 },
        },
      },
      responses: {
        ...Object.fromEntries(Object.entries(ERROR_STATUSES).map(([s, d]) => [`E${s}`, errorResponse(d)])),
        Error: errorResponse('Any other failure: 429 `rate_limited`, 502 `partner_error`, 500 `internal`.'),
      },
    },
  };
}
