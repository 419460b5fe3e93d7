/**
 * The REST API under `/api` (docs/api.md), one file per resource. Every route is a definition
 * (route.ts) that registers itself, checks its requests strictly and describes itself in
 * `/api/openapi.json`. Every change is audited with its actor, taken from the `X-Qiao-Actor` header
 * (default `api`); users and roles arrive with a later issue.
 */
import type { FastifyInstance } from 'fastify';
import type { Hub } from '../../hub.ts';
import { registerAudit } from './audit.ts';
import { registerConnections } from './connections.ts';
import { registerConnectorTypes } from './connector-types.ts';
import { registerDeadLetters } from './dead-letters.ts';
import { InvalidJsonError, registerErrorHandling } from './errors.ts';
import { registerFlows } from './flows.ts';
import { registerLinks } from './links.ts';
import { buildOpenApi } from './openapi.ts';
import { registerReviews } from './reviews.ts';
import { ApiRoutes, YamlText } from './route.ts';
import { registerRuns } from './runs.ts';

export const API_VERSION = '0.1.0';

const YAML_TYPES = ['text/yaml', 'application/yaml', 'application/x-yaml', 'text/x-yaml'];

/** Registers the API on a scope mounted at `/api` (server/app.ts). */
export async function registerApi(app: FastifyInstance, hub: Hub): Promise<void> {
  registerErrorHandling(app, hub.log);

  // Our own parsers: an empty body is "no body" (POST …/replay), a malformed one is a clear 400,
  // and `__proto__` keys are refused so no parsed body can reach an object's prototype.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, text, done) => {
    const s = String(text);
    if (s.trim() === '') return done(null, undefined);
    try {
      done(
        null,
        JSON.parse(s, (key, value) => {
          if (key === '__proto__') throw new SyntaxError('"__proto__" is not allowed as a key');
          return value;
        }),
      );
    } catch (err) {
      done(new InvalidJsonError(`the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, text, done) => {
    done(null, new YamlText(String(text)));
  });

  const api = new ApiRoutes(app);
  registerConnections(api, hub);
  const closeReaders = registerConnectorTypes(api, hub);
  registerFlows(api, hub);
  registerRuns(api, hub);
  registerDeadLetters(api, hub);
  registerLinks(api, hub);
  registerAudit(api, hub);
  registerReviews(api, hub);

  let doc: unknown;
  api.add({
    method: 'GET',
    url: '/openapi.json',
    operationId: 'getOpenApi',
    tag: 'meta',
    summary: 'This document: every route of the API (OpenAPI 3.1)',
    responses: { 200: { description: 'The OpenAPI document.' } },
    async handler() {
      doc ??= buildOpenApi(api.routes, {
        title: 'Qiao (桥) API',
        version: API_VERSION,
        description:
          'Connections, flows, runs, dead letters, id links and the audit log of one Qiao hub. ' +
          'Changes are audited with the actor named by the X-Qiao-Actor header (default `api`); ' +
          'users and roles arrive with a later release. See docs/api.md.',
      });
      return doc;
    },
  });
  app.addHook('onClose', async () => closeReaders());
}
