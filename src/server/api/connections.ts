/**
 * `/api/connections`: the credentials of one system each. Secrets never leave the hub: answers mask
 * them (`******`), and a `PUT` that sends a mask back keeps the stored secret, so the console can save
 * a form without knowing the password. Connections from qiao.yaml are read-only here: the file is
 * applied again at every start, so an edit made here would silently come undone.
 */

import { z } from 'zod';
import { NotFoundError, QiaoError, scrubSecrets, ValidationError } from '../../core/errors.ts';
import { isEncrypted, maskSettings } from '../../core/secret-box.ts';
import type { Hub } from '../../hub.ts';
import type { ConnectionRow } from '../../store/store.ts';
import { ConflictError } from './errors.ts';
import { flowsUsing } from './flow-connections.ts';
import { type ApiRoutes, answer } from './route.ts';
import { connection, connectionId, idParams, items, limits } from './schemas.ts';

export const MASK = '******';

/** How long "test connection" waits for the partner before answering that it did not answer. */
const CHECK_TIMEOUT_MS = 30_000;

const putBody = z.strictObject({
  type: z
    .string()
    .min(1)
    .describe('Connector type, e.g. `http`, `neocrm`, `wecom` (see /api/connector-types).'),
  settings: z
    .record(z.string(), z.unknown())
    .describe("The connector's settings. A secret sent as `******` keeps the stored value."),
  limits: limits.optional().describe("Overrides of the connector's documented limits."),
});

const checkResult = z.union([
  z.strictObject({ ok: z.literal(true), detail: z.string().optional(), ms: z.number() }),
  z.strictObject({
    ok: z.literal(false),
    error: z.strictObject({
      message: z.string(),
      errorClass: z.string(),
      partner: z.record(z.string(), z.unknown()).optional(),
    }),
    ms: z.number(),
  }),
]);

type Holder = Record<string, unknown>;

/** Calls `fn` for each place a dotted secret path (`*` = any key or item) names in `obj`. */
function eachField(
  obj: unknown,
  parts: string[],
  path: string,
  fn: (h: Holder, key: string, path: string) => void,
) {
  if (obj === null || typeof obj !== 'object' || parts.length === 0) return;
  const [head, ...rest] = parts;
  const keys = head === '*' ? Object.keys(obj) : [head];
  for (const k of keys) {
    if (!Object.hasOwn(obj, k)) continue;
    const p = path ? `${path}.${k}` : k;
    if (rest.length === 0) fn(obj as Holder, k, p);
    else eachField((obj as Holder)[k], rest, p, fn);
  }
}

function valueAt(obj: unknown, path: string): unknown {
  let v = obj;
  for (const k of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Holder)[k];
  }
  return v;
}

/** Masks secret fields, and any sealed value whatever its field (a connector type no longer known). */
export function publicConnection(hub: Hub, row: ConnectionRow) {
  const d = hub.connections.descriptor(row.type);
  const masked = maskSettings(row.settings, d?.secretFields ?? [], MASK);
  const scrub = (v: unknown): unknown => {
    if (isEncrypted(v)) return MASK;
    if (Array.isArray(v)) return v.map(scrub);
    if (v !== null && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrub(x)]));
    return v;
  };
  return {
    id: row.id,
    type: row.type,
    settings: scrub(masked) as Record<string, unknown>,
    ...(row.limits && Object.keys(row.limits).length ? { limits: row.limits } : {}),
    origin: row.origin,
    version: row.version,
    updatedAt: row.updatedAt,
  };
}

async function requireRow(hub: Hub, id: string): Promise<ConnectionRow> {
  const row = await hub.store.getConnection(id);
  if (!row) throw new NotFoundError(`connection '${id}' does not exist`);
  return row;
}

function refuseConfig(row: ConnectionRow, what: string): void {
  if (row.origin === 'config') {
    throw new ConflictError(
      `connection '${row.id}' comes from qiao.yaml and is applied again at every start; ${what} it there`,
    );
  }
}

export function registerConnections(api: ApiRoutes, hub: Hub): void {
  api.add({
    method: 'GET',
    url: '/connections',
    operationId: 'listConnections',
    tag: 'connections',
    summary: 'List connections (secrets masked)',
    responses: { 200: { description: 'Every connection, by id.', schema: items(connection) } },
    async handler() {
      const rows = await hub.store.listConnections();
      return { items: rows.sort((a, b) => a.id.localeCompare(b.id)).map((r) => publicConnection(hub, r)) };
    },
  });

  api.add({
    method: 'GET',
    url: '/connections/:id',
    operationId: 'getConnection',
    tag: 'connections',
    summary: 'One connection (secrets masked)',
    params: idParams(connectionId),
    responses: { 200: { description: 'The connection.', schema: connection } },
    async handler({ params }) {
      return publicConnection(hub, await requireRow(hub, params.id));
    },
  });

  api.add({
    method: 'PUT',
    url: '/connections/:id',
    operationId: 'putConnection',
    tag: 'connections',
    summary: 'Create or replace a connection',
    description:
      "Settings are validated by the connector's own schema before anything is stored (422 with problems). " +
      'Secret fields are encrypted at rest. Refused (409) for connections from qiao.yaml, and for a change ' +
      'of type while flows use the connection.',
    params: idParams(connectionId),
    body: putBody,
    mutates: true,
    responses: {
      200: { description: 'Replaced (or unchanged).', schema: connection },
      201: { description: 'Created.', schema: connection },
    },
    async handler({ params, body, actor }) {
      const existing = await hub.store.getConnection(params.id);
      if (existing) refuseConfig(existing, 'change');
      const d = hub.connections.descriptor(body.type);
      if (!d) {
        throw new ValidationError([
          {
            path: 'type',
            message: `unknown connector type '${body.type}' (known: ${hub.connections.typeNames.join(', ')})`,
          },
        ]);
      }
      if (existing && existing.type !== body.type) {
        const users = await flowsUsing(hub.store, params.id);
        if (users.length) {
          throw new ConflictError(
            `connection '${params.id}' is used by flow${users.length > 1 ? 's' : ''} ${users.join(', ')}; its type cannot change from ${existing.type} to ${body.type}`,
          );
        }
      }
      // A mask sent back means "keep what is stored".
      const settings = structuredClone(body.settings);
      const problems: { path: string; message: string }[] = [];
      for (const field of d.secretFields) {
        eachField(settings, field.split('.'), '', (holder, key, path) => {
          if (holder[key] !== MASK) return;
          const stored = existing?.type === body.type ? valueAt(existing.settings, path) : undefined;
          if (stored === undefined || stored === null || stored === '') {
            problems.push({
              path: `settings.${path}`,
              message: `'${MASK}' stands for a stored secret, and there is none: give the secret itself`,
            });
          } else {
            holder[key] = stored;
          }
        });
      }
      if (problems.length) throw new ValidationError(problems);
      const prefix = `connections.${params.id}`;
      let live: Awaited<ReturnType<typeof hub.connections.save>>;
      try {
        live = await hub.connections.save(
          { id: params.id, type: body.type, settings, limits: body.limits, origin: 'api' },
          actor,
        );
      } catch (err) {
        if (err instanceof ValidationError) {
          throw new ValidationError(
            err.problems.map((p) => ({
              ...p,
              path:
                p.path === prefix
                  ? 'settings'
                  : p.path === `${prefix}.type`
                    ? 'type'
                    : p.path.startsWith(`${prefix}.`)
                      ? `settings.${p.path.slice(prefix.length + 1)}`
                      : p.path,
            })),
          );
        }
        throw err;
      }
      return answer(existing ? 200 : 201, publicConnection(hub, live.row));
    },
  });

  api.add({
    method: 'DELETE',
    url: '/connections/:id',
    operationId: 'deleteConnection',
    tag: 'connections',
    summary: 'Delete a connection',
    description: 'Refused (409) while a flow uses it, and for connections from qiao.yaml.',
    params: idParams(connectionId),
    mutates: true,
    responses: { 204: { description: 'Deleted.' }, 409: { description: 'Still used, or from qiao.yaml.' } },
    async handler({ params, actor }) {
      const row = await requireRow(hub, params.id);
      refuseConfig(row, 'remove');
      const users = await flowsUsing(hub.store, params.id);
      if (users.length) {
        throw new ConflictError(
          `connection '${params.id}' is used by flow${users.length > 1 ? 's' : ''} ${users.join(', ')}; change or delete ${users.length > 1 ? 'them' : 'it'} first`,
        );
      }
      await hub.connections.remove(params.id, actor);
      return answer(204);
    },
  });

  api.add({
    method: 'POST',
    url: '/connections/:id/test',
    operationId: 'testConnection',
    tag: 'connections',
    summary: 'Test a connection (the connector authenticates and makes one cheap read)',
    description:
      'Answers 200 either way: `ok: true` with the detail the connector gives, or `ok: false` with the ' +
      "partner's own message (secrets scrubbed).",
    params: idParams(connectionId),
    responses: { 200: { description: 'The outcome of the test.', schema: checkResult } },
    async handler({ params }) {
      await requireRow(hub, params.id);
      const live = hub.connections.get(params.id);
      const started = performance.now();
      const ms = () => Math.round(performance.now() - started);
      if (!live) {
        return {
          ok: false,
          error: {
            message: `connection '${params.id}' cannot be opened; the server log says why`,
            errorClass: 'permanent',
          },
          ms: ms(),
        };
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        const r = await Promise.race([
          live.connector.check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new QiaoError(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`, { errorClass: 'transient' }),
                ),
              CHECK_TIMEOUT_MS,
            );
          }),
        ]);
        return { ok: true, ...(r.detail ? { detail: scrubSecrets(r.detail, live.secrets) } : {}), ms: ms() };
      } catch (err) {
        const e = err instanceof QiaoError ? err : undefined;
        const partner = e?.partner
          ? {
              ...e.partner,
              ...(e.partner.message ? { message: scrubSecrets(e.partner.message, live.secrets) } : {}),
            }
          : undefined;
        return {
          ok: false,
          error: {
            message: scrubSecrets((err as Error).message, live.secrets),
            errorClass: e?.errorClass ?? 'transient',
            ...(partner ? { partner } : {}),
          },
          ms: ms(),
        };
      } finally {
        clearTimeout(timer);
      }
    },
  });
}
