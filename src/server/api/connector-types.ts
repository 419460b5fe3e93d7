/**
 * `/api/connector-types`: what each built-in connector offers, for the console's connection form and
 * flow editor: its settings (as JSON Schema), secret fields, documented limits, actions and triggers
 * with their inputs, and the objects and fields of its static schema.
 *
 * A descriptor only names its type and settings; actions, triggers and schema belong to a connector
 * instance. The instance of a live connection of the type is used when there is one; otherwise one is
 * made for reading only (connectors do no I/O when created) and never called, from placeholder
 * settings that pass the settings schema (`sampleSettings`), or from empty settings.
 */
import { z } from 'zod';
import type { Connector, ConnectorDescriptor } from '../../core/connector.ts';
import { silentLogger } from '../../core/logger.ts';
import type { Hub } from '../../hub.ts';
import { jsonSchema } from './openapi.ts';
import type { ApiRoutes } from './route.ts';
import { items } from './schemas.ts';

const json = z.record(z.string(), z.unknown());

export const connectorType = z.strictObject({
  type: z.string(),
  title: z.strictObject({ 'zh-CN': z.string(), en: z.string() }),
  settings: json.describe('JSON Schema of the connection settings.'),
  secretFields: z.array(z.string()),
  limits: json.describe('Documented partner limits (rate, concurrency, breaker).'),
  actions: z.array(
    z.strictObject({
      name: z.string(),
      description: z.string(),
      input: json.describe('JSON Schema of the input.'),
    }),
  ),
  triggers: z.array(
    z.strictObject({
      name: z.string(),
      kind: z.enum(['poll', 'event']),
      description: z.string(),
      eventType: z.string().optional(),
      params: json,
    }),
  ),
  objects: json.describe('Objects and fields known statically (core/connector.ts ObjectSchema).'),
});

/** JSON Schema of a zod schema, or `{}` when it cannot be expressed (a transform, a custom check). */
function safeSchema(s: z.ZodType): Record<string, unknown> {
  try {
    return jsonSchema(s, 'input');
  } catch {
    return {};
  }
}

type Json = Record<string, unknown>;

/**
 * A value that satisfies a JSON Schema as far as a connector's settings need: defaults where given,
 * the first of an enum or a union, strings long enough, URLs for `uri`, every known object property
 * (optional ones too, so cross-field rules such as "a password, or an app secret" hold). An optional
 * string with a pattern and no default is left out: a placeholder would not match it.
 */
export function sampleSettings(schema: unknown, required = true): unknown {
  if (!schema || typeof schema !== 'object') return undefined;
  const s = schema as Json;
  if ('default' in s) return s.default;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum)) return s.enum[0];
  const branches = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (Array.isArray(branches)) return sampleSettings(branches[0], required);
  switch (s.type) {
    case 'string':
      if (s.format === 'uri' || s.format === 'url') return 'http://127.0.0.1/';
      if (typeof s.pattern === 'string') return required ? 'x' : undefined;
      return 'x'.repeat(Math.max(1, Number(s.minLength ?? 1)));
    case 'number':
    case 'integer':
      return typeof s.minimum === 'number'
        ? s.minimum
        : typeof s.exclusiveMinimum === 'number'
          ? s.exclusiveMinimum + 1
          : 1;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'object': {
      const out: Json = {};
      const needed = new Set((s.required as string[] | undefined) ?? []);
      for (const [k, p] of Object.entries((s.properties as Json | undefined) ?? {})) {
        const v = sampleSettings(p, needed.has(k));
        if (v !== undefined) out[k] = v;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** A connector instance to read actions, triggers and schema from, made without real settings. */
export function readingInstance(d: ConnectorDescriptor): Connector {
  const candidates: unknown[] = [];
  try {
    const parsed = d.settings.safeParse(sampleSettings(jsonSchema(d.settings, 'input')));
    if (parsed.success) candidates.push(parsed.data);
  } catch {
    // a schema JSON Schema cannot express: try empty settings below
  }
  candidates.push({});
  let last: unknown;
  for (const settings of candidates) {
    try {
      return d.create({ connectionId: `${d.type}-describe`, settings, log: silentLogger });
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

function describeType(d: ConnectorDescriptor, instance: Connector | undefined) {
  return {
    type: d.type,
    title: d.title,
    settings: safeSchema(d.settings),
    secretFields: [...d.secretFields],
    limits: d.limits as Record<string, unknown>,
    actions: Object.entries(instance?.actions ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, a]) => ({ name, description: a.description, input: safeSchema(a.input) })),
    triggers: Object.entries(instance?.triggers ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, t]) => ({
        name,
        kind: t.kind,
        description: t.description,
        ...(t.kind === 'event' ? { eventType: t.eventType } : {}),
        params: safeSchema(t.params),
      })),
    objects: (instance?.schema.objects ?? {}) as Record<string, unknown>,
  };
}

/** Registers the route; returns what closes the reading instances. */
export function registerConnectorTypes(api: ApiRoutes, hub: Hub): () => Promise<void> {
  const readers = new Map<string, Connector | undefined>();
  const instanceOf = (d: ConnectorDescriptor): Connector | undefined => {
    const live = hub.connections.list().find((c) => c.row.type === d.type);
    if (live) return live.connector;
    if (!readers.has(d.type)) {
      let c: Connector | undefined;
      try {
        c = readingInstance(d);
      } catch (err) {
        hub.log.warn('connector cannot be described without a connection', {
          type: d.type,
          error: (err as Error).message,
        });
      }
      readers.set(d.type, c);
    }
    return readers.get(d.type);
  };

  api.add({
    method: 'GET',
    url: '/connector-types',
    operationId: 'listConnectorTypes',
    tag: 'connectors',
    summary: 'Connector types: settings, actions, triggers and schema objects',
    responses: { 200: { description: 'Every built-in connector type.', schema: items(connectorType) } },
    async handler() {
      const out = [];
      for (const type of hub.connections.typeNames) {
        const d = hub.connections.descriptor(type)!;
        out.push(describeType(d, instanceOf(d)));
      }
      return { items: out };
    },
  });
  return async () => {
    for (const c of readers.values()) await c?.close?.().catch(() => {});
    readers.clear();
  };
}
