/**
 * `/api/flows`: flows (集成方案) as YAML. A flow is validated against the hub's connections before it is
 * stored, and an invalid one is answered with 422 and every problem's path and line, exactly as
 * `qiao flow validate` prints them; nothing is stored then. Each save is a new version; runs in
 * progress finish on the version they started with.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import { validateFlowSource } from '../../flow/validate.ts';
import { flowRegistry, type Hub } from '../../hub.ts';
import type { FlowRow } from '../../store/store.ts';
import { ConflictError } from './errors.ts';
import { type ApiRoutes, answer } from './route.ts';
import { flowDetail, flowId, flowSummary, idParams, items } from './schemas.ts';

/** Flow files are small; this keeps a runaway paste from reaching the parser. */
const MAX_YAML = 256 * 1024;

const yamlBody = z.strictObject({
  yaml: z.string().max(MAX_YAML).describe('The flow file (docs/flows.md).'),
});

const runBody = z
  .strictObject({
    data: z
      .unknown()
      .optional()
      .describe('The event the run starts with (`event` in expressions). Default `{}`.'),
    key: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Dedupe key: a second start with the same key starts nothing. Default: a new key each call.'),
  })
  .optional();

const runAnswer = z.strictObject({ duplicate: z.boolean(), runIds: z.array(z.string()) });

const validateAnswer = z.strictObject({
  ok: z.literal(true),
  flow: flowSummary.pick({ id: true, name: true, enabled: true, trigger: true, steps: true }),
});

export function flowSummaryOf(
  row: Pick<FlowRow, 'definition' | 'enabled' | 'origin' | 'version' | 'updatedAt'>,
) {
  const d = row.definition;
  const t = d.trigger;
  return {
    id: d.id,
    name: d.name,
    ...(d.description ? { description: d.description } : {}),
    enabled: row.enabled,
    trigger: { type: t.type, ...('connection' in t ? { connection: t.connection, trigger: t.trigger } : {}) },
    steps: d.steps.length,
    origin: row.origin,
    version: row.version,
    updatedAt: row.updatedAt,
  };
}

function detailOf(row: FlowRow) {
  return {
    ...flowSummaryOf(row),
    ...(row.yaml !== undefined ? { yaml: row.yaml } : {}),
    definition: row.definition as unknown as Record<string, unknown>,
  };
}

export function registerFlows(api: ApiRoutes, hub: Hub): void {
  const registry = {
    ...flowRegistry(hub.connections),
    connections: () =>
      hub.connections
        .list()
        .map((c) => c.row.id)
        .sort(),
  };

  /** Validates flow text; throws a 422 with every problem, or gives the flow and its line lookup. */
  const validate = (text: string, file: string, expectId?: string) => {
    const source = validateFlowSource(text, file, registry);
    if (!source.flow) throw new ValidationError(source.problems);
    if (expectId !== undefined && source.flow.id !== expectId) {
      const line = source.lineOf('id');
      throw new ValidationError([
        {
          file,
          ...(line !== undefined ? { line } : {}),
          path: 'id',
          message: `the flow's id '${source.flow.id}' is not the id in the URL ('${expectId}')`,
        },
      ]);
    }
    return source.flow;
  };

  const requireRow = async (id: string) => {
    const row = await hub.store.getFlow(id);
    if (!row) throw new NotFoundError(`flow '${id}' does not exist`);
    return row;
  };

  api.add({
    method: 'GET',
    url: '/flows',
    operationId: 'listFlows',
    tag: 'flows',
    summary: 'List flows',
    responses: { 200: { description: 'Every flow, by id.', schema: items(flowSummary) } },
    async handler() {
      const rows = await hub.store.listFlows();
      return { items: rows.sort((a, b) => a.id.localeCompare(b.id)).map(flowSummaryOf) };
    },
  });

  api.add({
    method: 'GET',
    url: '/flows/:id',
    operationId: 'getFlow',
    tag: 'flows',
    summary: 'One flow, with its YAML',
    params: idParams(flowId),
    responses: { 200: { description: 'The flow.', schema: flowDetail } },
    async handler({ params }) {
      return detailOf(await requireRow(params.id));
    },
  });

  api.add({
    method: 'POST',
    url: '/flows/validate',
    operationId: 'validateFlow',
    tag: 'flows',
    summary: 'Validate flow YAML against the connections, without saving',
    description:
      'The body is the YAML itself (`Content-Type: text/yaml`) or `{ "yaml": "…" }`. 422 lists every problem.',
    body: yamlBody,
    yamlBody: true,
    responses: {
      200: { description: 'The flow is valid.', schema: validateAnswer },
      422: { description: 'Problems, each with path and line.' },
    },
    async handler({ body }) {
      const flow = validate(body.yaml, 'flow.yaml');
      const s = flowSummaryOf({
        definition: flow,
        enabled: flow.enabled,
        origin: 'api',
        version: 0,
        updatedAt: 0,
      });
      return {
        ok: true,
        flow: { id: s.id, name: s.name, enabled: s.enabled, trigger: s.trigger, steps: s.steps },
      };
    },
  });

  api.add({
    method: 'PUT',
    url: '/flows/:id',
    operationId: 'putFlow',
    tag: 'flows',
    summary: 'Create or replace a flow from its YAML',
    description:
      'The body is the YAML itself (`Content-Type: text/yaml`) or `{ "yaml": "…" }`; its `id` must be the ' +
      'id in the URL. Validated against the connections first (422 lists every problem with its line; ' +
      'nothing is stored). Refused (409) for flows from qiao.yaml.',
    params: idParams(flowId),
    body: yamlBody,
    yamlBody: true,
    mutates: true,
    responses: {
      200: { description: 'Replaced (a new version), or unchanged.', schema: flowDetail },
      201: { description: 'Created.', schema: flowDetail },
      422: { description: 'Problems, each with path and line.' },
    },
    async handler({ params, body, actor }) {
      const file = `${params.id}.yaml`;
      const prev = await hub.store.getFlow(params.id);
      if (prev?.origin === 'config') {
        throw new ConflictError(
          `flow '${params.id}' comes from a flow file of qiao.yaml${prev.definition.source ? ` (${prev.definition.source})` : ''}, applied again at every start; change it there`,
        );
      }
      validate(body.yaml, file, params.id);
      await hub.saveFlow(body.yaml, file, 'api', actor);
      return answer(prev ? 200 : 201, detailOf(await requireRow(params.id)));
    },
  });

  const toggle = (enable: boolean) =>
    api.add({
      method: 'POST',
      url: `/flows/:id/${enable ? 'enable' : 'disable'}`,
      operationId: enable ? 'enableFlow' : 'disableFlow',
      tag: 'flows',
      summary: enable ? 'Enable a flow' : 'Disable a flow (its triggers stop starting runs)',
      description:
        'Runs in progress go on. For a flow from qiao.yaml, the file is applied again at the next start.',
      params: idParams(flowId),
      mutates: true,
      responses: {
        200: { description: 'The flow, now ' + (enable ? 'enabled.' : 'disabled.'), schema: flowSummary },
      },
      async handler({ params, actor }) {
        const row = await requireRow(params.id);
        if (row.enabled === enable) return flowSummaryOf(row);
        const saved = await hub.store.saveFlow(
          {
            id: row.id,
            definition: { ...row.definition, enabled: enable },
            yaml: row.yaml,
            origin: row.origin,
            enabled: enable,
          },
          { actor, action: enable ? 'flow.enable' : 'flow.disable', target: `flow:${row.id}` },
        );
        await hub.engine.reloadFlows();
        return flowSummaryOf(saved);
      },
    });
  toggle(true);
  toggle(false);

  api.add({
    method: 'DELETE',
    url: '/flows/:id',
    operationId: 'deleteFlow',
    tag: 'flows',
    summary: 'Delete a flow',
    description: 'Runs in progress finish on their version. Refused (409) for flows from qiao.yaml.',
    params: idParams(flowId),
    mutates: true,
    responses: { 204: { description: 'Deleted.' }, 409: { description: 'The flow comes from qiao.yaml.' } },
    async handler({ params, actor }) {
      const row = await requireRow(params.id);
      if (row.origin === 'config') {
        throw new ConflictError(`flow '${params.id}' comes from a flow file of qiao.yaml; remove it there`);
      }
      await hub.store.deleteFlow(params.id, { actor, action: 'flow.delete', target: `flow:${params.id}` });
      await hub.engine.reloadFlows();
      return answer(204);
    },
  });

  api.add({
    method: 'POST',
    url: '/flows/:id/run',
    operationId: 'runFlow',
    tag: 'flows',
    summary: 'Start a run by hand',
    description:
      'Starts the flow with `data` as its event, whatever its trigger. With a `key`, a repeated call ' +
      'starts nothing (200, `duplicate: true`); without one, every call starts a run.',
    params: idParams(flowId),
    body: runBody,
    mutates: true,
    responses: {
      202: { description: 'Started.', schema: runAnswer },
      200: { description: 'Already started with this key.', schema: runAnswer },
      409: { description: 'The flow is disabled.' },
    },
    async handler({ params, body, actor }) {
      const row = await requireRow(params.id);
      if (!row.enabled) throw new ConflictError(`flow '${params.id}' is disabled; enable it first`);
      if (!hub.engine.flows.get(params.id)) await hub.engine.reloadFlows();
      const key = body?.key ?? `manual:${randomUUID()}`;
      const out = await hub.engine.startFlow(params.id, body?.data ?? {}, key);
      if (out.duplicate) return answer(200, { duplicate: true, runIds: out.runIds });
      await hub.store.appendAudit([
        { actor, action: 'flow.run', target: `flow:${params.id}`, detail: { key, runIds: out.runIds } },
      ]);
      return answer(202, { duplicate: false, runIds: out.runIds });
    },
  });
}
