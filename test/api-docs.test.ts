/** docs/api.md documents every route the API serves (as listed by /api/openapi.json), and no other. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ApiKit, startApiKit } from '../src/server/api/test-kit.ts';

describe('docs/api.md', () => {
  let k: ApiKit;
  let doc: { paths: Record<string, Record<string, unknown>> };
  const text = readFileSync(resolve(import.meta.dirname, '..', 'docs', 'api.md'), 'utf8');
  before(async () => {
    k = await startApiKit();
    doc = (await k.call('GET', '/openapi.json')).body;
  });
  after(() => k.close());

  it('has a section for every route, and only for routes that exist', () => {
    const served = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    const documented = [...text.matchAll(/^### ((?:GET|POST|PUT|PATCH|DELETE) \/api\S*)$/gm)]
      .map((m) => m[1])
      .sort();
    assert.deepEqual(documented, served);
  });

  it('names every error code the API answers with', () => {
    for (const code of [
      'invalid_request',
      'invalid_json',
      'bad_request',
      'not_found',
      'conflict',
      'payload_too_large',
      'unsupported_media_type',
      'validation_failed',
      'rate_limited',
      'partner_error',
      'internal',
    ]) {
      assert.ok(text.includes(`\`${code}\``), code);
    }
  });
});
