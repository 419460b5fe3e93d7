/**
 * Validates and enriches the `apply_data.contents` of applyevent against a template, as WeCom does
 * (spec §3.2 "Control value shapes", §10.6): known control ids, matching control types, the value
 * shape per control, required controls filled, selector keys from the template, members and
 * departments that exist, at most 6 files. Stored values come back from getapprovaldetail with
 * the control titles and the empty arrays WeCom pads unused value keys with (spec §3.4).
 */
import { WecomApiError } from './errors.ts';
import type { ControlDef, TemplateDef, WecomWorld } from './state.ts';

type Json = Record<string, unknown>;

/** Keys WeCom pads every value object with (spec §3.4 example, "parse by control"). */
const PADDING = [
  'tips',
  'members',
  'departments',
  'files',
  'children',
  'stat_field',
  'sum_field',
  'related_approval',
  'students',
  'classes',
];

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (detail: string): never => {
  throw new WecomApiError(301025, detail);
};

export interface Validated {
  contents: Json[];
  /** Values by control id, for conditional flows. */
  values: Map<string, unknown>;
  files: number;
}

export function validateContents(w: WecomWorld, t: TemplateDef, contents: unknown): Validated {
  if (!Array.isArray(contents)) fail('apply_data.contents must be an array');
  const out: Validated = { contents: [], values: new Map(), files: 0 };
  out.contents = validateList(w, t.controls, contents as unknown[], out, 'apply_data.contents');
  if (out.files > 6) fail('at most 6 attachments per application');
  return out;
}

function validateList(
  w: WecomWorld,
  defs: ControlDef[],
  list: unknown[],
  out: Validated,
  path: string,
): Json[] {
  const seen = new Set<string>();
  const enriched: Json[] = [];
  for (const [i, item] of list.entries()) {
    if (!isObj(item)) fail(`${path}[${i}] must be an object`);
    const c = item as Json;
    const id = c.id;
    if (typeof id !== 'string' || !id) fail(`${path}[${i}].id is empty`);
    const def = defs.find((d) => d.id === id);
    if (!def) fail(`control id ${String(id)} not exist in template`);
    const d = def as ControlDef;
    if (c.control !== d.control) fail(`control ${d.id} is ${d.control}, not ${String(c.control)}`);
    if (seen.has(d.id)) fail(`control ${d.id} appears twice`);
    seen.add(d.id);
    const value = validateValue(w, d, c.value, out, `${path}[${i}].value`);
    out.values.set(d.id, value);
    enriched.push({
      control: d.control,
      id: d.id,
      title: [{ text: d.title, lang: 'zh_CN' }],
      value: pad(value),
    });
  }
  for (const d of defs) {
    if (d.require !== 1 || d.control === 'Tips') continue;
    const v = out.values.get(d.id);
    if (!seen.has(d.id) || isEmpty(d, v)) fail(`control ${d.id} (${d.title}) is required`);
  }
  return enriched;
}

function pad(value: Json): Json {
  const out: Json = {};
  for (const k of PADDING) out[k] = [];
  return { ...out, ...value };
}

function isEmpty(d: ControlDef, v: unknown): boolean {
  if (!isObj(v)) return true;
  switch (d.control) {
    case 'Text':
    case 'Textarea':
      return !String(v.text ?? '').trim();
    case 'Number':
      return String(v.new_number ?? '') === '';
    case 'Money':
      return String(v.new_money ?? '') === '';
    case 'Date':
      return !isObj(v.date) || !(v.date as Json).s_timestamp;
    case 'Selector':
      return !isObj(v.selector) || !((v.selector as Json).options as unknown[])?.length;
    case 'Contact':
      return !((v.members as unknown[])?.length || (v.departments as unknown[])?.length);
    case 'File':
      return !(v.files as unknown[])?.length;
    case 'Table':
      return !(v.children as unknown[])?.length;
    default:
      return false;
  }
}

const NUMERIC = /^-?\d+(\.\d+)?$/;

function validateValue(w: WecomWorld, d: ControlDef, value: unknown, out: Validated, path: string): Json {
  if (d.control === 'Tips') return {};
  if (!isObj(value)) return fail(`${path} must be an object`);
  const v = value as Json;
  switch (d.control) {
    case 'Text':
    case 'Textarea':
      if (typeof v.text !== 'string') fail(`${path}.text must be a string`);
      return { text: v.text };
    case 'Number':
      // Strings on the wire, as in every official example (spec §3.2, §10.2).
      if (typeof v.new_number !== 'string' || (v.new_number !== '' && !NUMERIC.test(v.new_number))) {
        fail(`${path}.new_number must be a numeric string`);
      }
      return { new_number: v.new_number };
    case 'Money':
      if (
        typeof v.new_money !== 'string' ||
        (v.new_money !== '' && !/^-?\d+(\.\d{1,2})?$/.test(v.new_money))
      ) {
        fail(`${path}.new_money must be a money string with at most 2 decimals`);
      }
      return { new_money: v.new_money };
    case 'Date': {
      const date = v.date;
      if (!isObj(date)) return fail(`${path}.date is required`);
      const dt = date as Json;
      if (dt.type !== 'day' && dt.type !== 'hour') fail(`${path}.date.type must be day or hour`);
      if (typeof dt.s_timestamp !== 'string' || !/^\d{1,10}$/.test(dt.s_timestamp)) {
        fail(`${path}.date.s_timestamp must be Unix seconds as a string`);
      }
      return { date: { type: dt.type, s_timestamp: dt.s_timestamp } };
    }
    case 'Selector': {
      const cfg = (d.config?.selector ?? {}) as {
        type: string;
        options: Array<{ key: string; value: unknown }>;
      };
      const sel = v.selector;
      if (!isObj(sel)) return fail(`${path}.selector is required`);
      const s = sel as Json;
      if (s.type !== cfg.type) fail(`${path}.selector.type must be ${cfg.type}`);
      if (!Array.isArray(s.options)) return fail(`${path}.selector.options must be an array`);
      const opts = (s.options as unknown[]).map((o, i) => {
        const key = isObj(o) ? o.key : undefined;
        const known = cfg.options.find((x) => x.key === key);
        if (!known) fail(`${path}.selector.options[${i}].key ${String(key)} not exist`);
        return { key: known!.key, value: known!.value };
      });
      if (cfg.type === 'single' && opts.length > 1) fail(`${path}: single selector takes one option`);
      return { selector: { type: cfg.type, options: opts, exp_type: 0 } };
    }
    case 'Contact': {
      const cfg = (d.config?.contact ?? { type: 'single', mode: 'user' }) as { type: string; mode: string };
      if (cfg.mode === 'user') {
        if (!Array.isArray(v.members)) return fail(`${path}.members must be an array`);
        const members = (v.members as unknown[]).map((m, i) => {
          const uid = isObj(m) ? m.userid : undefined;
          const member = typeof uid === 'string' ? w.members.get(uid.toLowerCase()) : undefined;
          if (!member) fail(`${path}.members[${i}].userid ${String(uid)} invalid`);
          return { userid: member!.userid, name: member!.name };
        });
        if (cfg.type === 'single' && members.length > 1) fail(`${path}: single contact takes one member`);
        return { members };
      }
      if (!Array.isArray(v.departments)) return fail(`${path}.departments must be an array`);
      const departments = (v.departments as unknown[]).map((x, i) => {
        const id = Number(isObj(x) ? x.openapi_id : Number.NaN);
        const dept = w.depts.get(id);
        if (!dept) fail(`${path}.departments[${i}].openapi_id invalid`);
        return { openapi_id: String(id), name: dept!.name };
      });
      return { departments };
    }
    case 'File': {
      if (!Array.isArray(v.files)) return fail(`${path}.files must be an array`);
      const files = (v.files as unknown[]).map((f, i) => {
        const id = isObj(f) ? f.file_id : undefined;
        if (typeof id !== 'string' || !id) fail(`${path}.files[${i}].file_id is empty`);
        return { file_id: id };
      });
      out.files += files.length;
      return { files };
    }
    case 'Table': {
      if (!Array.isArray(v.children)) return fail(`${path}.children must be an array`);
      const rows = (v.children as unknown[]).map((row, i) => {
        const list = isObj(row) ? row.list : undefined;
        if (!Array.isArray(list)) fail(`${path}.children[${i}].list must be an array`);
        const inner: Validated = { contents: [], values: new Map(), files: 0 };
        const enriched = validateList(
          w,
          d.children ?? [],
          list as unknown[],
          inner,
          `${path}.children[${i}].list`,
        );
        out.files += inner.files;
        return { list: enriched };
      });
      return { children: rows };
    }
    default:
      // Controls the seeded templates do not use pass through unchecked.
      return v;
  }
}
