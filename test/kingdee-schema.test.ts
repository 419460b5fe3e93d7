/**
 * The connector's schema (written from the spec) agrees with the sandbox's forms (also written from
 * the spec): every field the console offers exists, with the same type, reference and required flag —
 * "required" meaning required with no form default, i.e. what a mapping must provide.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KINGDEE_SCHEMA } from '../src/connectors/kingdee/schema.ts';
import type { FieldSchema, FieldType } from '../src/core/connector.ts';
import { type FieldDef, type FieldKind, FORMS, prepareForm } from '../src/sandbox/kingdee/forms.ts';

const TYPE_OF: Record<FieldKind, FieldType> = {
  text: 'string',
  mltext: 'string',
  enum: 'string',
  int: 'integer',
  decimal: 'number',
  bool: 'boolean',
  date: 'date',
  datetime: 'datetime',
  ref: 'ref',
  assistant: 'ref',
  dynref: 'ref',
};

function same(where: string, c: FieldSchema, s: FieldDef) {
  assert.equal(c.type, TYPE_OF[s.kind], `${where}: type`);
  if (s.kind === 'ref' || s.kind === 'assistant') assert.equal(c.ref, s.ref, `${where}: reference`);
  const mustGive = Boolean(s.required && !s.defaultFrom && !s.system);
  assert.equal(Boolean(c.required), mustGive, `${where}: required`);
}

describe('kingdee schema vs sandbox forms', () => {
  for (const [formId, obj] of Object.entries(KINGDEE_SCHEMA.objects)) {
    it(formId, () => {
      const def = FORMS.find((d) => d.formId === formId);
      assert.ok(def, `the sandbox has ${formId}`);
      const form = prepareForm(def);
      assert.equal(obj.idField, form.pk);
      assert.equal(obj.numberField, form.numberKey);
      for (const [key, field] of Object.entries(obj.fields)) {
        const where = `${formId}.${key}`;
        if (field.type === 'object') {
          const sub = form.subByKey.get(key.toLowerCase());
          assert.ok(sub, `${where} is a sub-header`);
          for (const [k, f] of Object.entries(field.fields ?? {})) {
            const s = sub.fields.find((x) => x.key === k);
            assert.ok(s, `${where}.${k} exists`);
            same(`${where}.${k}`, f, s);
          }
        } else if (field.type === 'array') {
          const entity = form.entryByKey.get(key.toLowerCase());
          assert.ok(entity, `${where} is an entry`);
          assert.equal(Boolean(field.required), Boolean(entity.required), `${where}: required`);
          for (const [k, f] of Object.entries(field.fields ?? {})) {
            if (k === entity.pk) continue;
            const s = entity.fields.find((x) => x.key === k);
            assert.ok(s, `${where}.${k} exists`);
            same(`${where}.${k}`, f, s);
          }
        } else {
          const s = def.fields.find((x) => x.key === key);
          assert.ok(s, `${where} exists in the sandbox`);
          same(where, field, s);
        }
      }
      // And the other way: every field a mapping must give is in the schema.
      for (const s of def.fields) {
        if (s.required && !s.defaultFrom && !s.system)
          assert.ok(obj.fields[s.key], `${formId}.${s.key} is required, so in the schema`);
      }
    });
  }
});
