/**
 * Turns a flow's mapped fields into `apply_data.contents` for a template, validated against
 * `gettemplatedetail` before anything is submitted (spec §3.1, §3.2 value shapes), and reads the
 * stored values of `getapprovaldetail` back into plain fields (§3.4: parse by control, not by which
 * key is non-empty).
 *
 * Fields are keyed by the control's title (`合同金额`) or its id (`Money-1700000000003`).
 */
import { ValidationError, type ValidationProblem } from '../../core/errors.ts';

type Json = Record<string, any>;

export interface TemplateControl {
  control: string;
  id: string;
  title: string;
  require: boolean;
  config?: Json;
  children?: TemplateControl[];
}

export interface Template {
  id: string;
  name: string;
  controls: TemplateControl[];
}

/** Reads a gettemplatedetail answer (spec §3.1). */
export function parseTemplate(id: string, res: Json): Template {
  const control = (c: Json): TemplateControl => {
    const p = c.property ?? {};
    const out: TemplateControl = {
      control: String(p.control),
      id: String(p.id),
      title: titleOf(p.title),
      require: p.require === 1,
      config: c.config,
    };
    if (out.control === 'Table') out.children = ((c.config?.table?.children as Json[]) ?? []).map(control);
    return out;
  };
  return {
    id,
    name: titleOf(res.template_names),
    controls: ((res.template_content?.controls as Json[]) ?? []).map(control),
  };
}

function titleOf(v: unknown): string {
  if (!Array.isArray(v)) return '';
  const zh = v.find((t: Json) => t?.lang === 'zh_CN') ?? v[0];
  return String(zh?.text ?? '');
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * A date as Unix seconds: `YYYY-MM-DD` is a day in China time (UTC+8), an ISO date-time keeps its
 * offset (no offset = China time), numbers are seconds (≤ 10 digits) or milliseconds.
 */
export function toSeconds(v: unknown): number | undefined {
  if (v instanceof Date) return Math.floor(v.getTime() / 1000);
  if (typeof v === 'number' && Number.isFinite(v)) return v > 1e11 ? Math.floor(v / 1000) : Math.floor(v);
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return toSeconds(Number(v));
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(\.\d+)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
      v.trim(),
    );
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', , zone] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${zone ?? '+08:00'}`;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : Math.floor(t / 1000);
}

/** Unix seconds → `YYYY-MM-DD` (day) or ISO date-time in China time. */
export function fromSeconds(s: number, type: string): string {
  const d = new Date((s + 8 * 3600) * 1000);
  const day = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  return type === 'hour' ? `${day}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:00+08:00` : day;
}

function money(v: unknown): string | undefined {
  const n = typeof v === 'string' ? Number(v.replace(/,/g, '')) : typeof v === 'number' ? v : Number.NaN;
  if (!Number.isFinite(n)) return undefined;
  // Yuan with at most two decimals, as a string (spec §3.2).
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

/** Builds `contents` from fields; every problem is reported at once, with the field it concerns. */
export function buildContents(t: Template, fields: Record<string, unknown>, path = 'fields'): Json[] {
  const problems: ValidationProblem[] = [];
  const contents = build(t.controls, fields, path, problems);
  if (problems.length)
    throw new ValidationError(
      problems,
      `approval form for ${t.name || t.id} is invalid:\n${problems.map((p) => `${p.path}: ${p.message}`).join('\n')}`,
    );
  return contents;
}

function build(
  controls: TemplateControl[],
  fields: Record<string, unknown>,
  path: string,
  problems: ValidationProblem[],
): Json[] {
  const out: Json[] = [];
  const reported = new Set<string>();
  for (const [name, value] of Object.entries(fields)) {
    const c = controls.find((x) => x.id === name) ?? controls.find((x) => x.title === name);
    if (!c) {
      problems.push({
        path: `${path}.${name}`,
        message: `no control "${name}" in the template (has ${controls.map((x) => x.title).join(', ')})`,
      });
      continue;
    }
    if (c.control === 'Tips' || value === undefined || value === null) continue;
    const before = problems.length;
    const v = valueFor(c, value, `${path}.${name}`, problems);
    if (problems.length > before) reported.add(c.id);
    if (v) out.push({ control: c.control, id: c.id, title: [{ text: c.title, lang: 'zh_CN' }], value: v });
  }
  for (const c of controls) {
    if (!c.require || c.control === 'Tips') continue;
    if (!out.some((x) => x.id === c.id) && !reported.has(c.id)) {
      problems.push({
        path: `${path}.${c.title}`,
        message: `required control ${c.title} (${c.id}) has no value`,
      });
    }
  }
  return out;
}

function valueFor(
  c: TemplateControl,
  value: unknown,
  path: string,
  problems: ValidationProblem[],
): Json | undefined {
  const bad = (message: string) => {
    problems.push({ path, message });
    return undefined;
  };
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
  switch (c.control) {
    case 'Text':
    case 'Textarea':
      if (typeof value === 'object') return bad(`${c.title} takes text`);
      if (c.require && String(value).trim() === '') return bad(`${c.title} is required`);
      return { text: String(value) };
    case 'Number': {
      const n = typeof value === 'number' ? value : Number(String(value).replace(/,/g, ''));
      if (!Number.isFinite(n)) return bad(`${c.title} takes a number, got ${JSON.stringify(value)}`);
      return { new_number: String(n) };
    }
    case 'Money': {
      const m = money(value);
      if (m === undefined) return bad(`${c.title} takes an amount in yuan, got ${JSON.stringify(value)}`);
      return { new_money: m };
    }
    case 'Date': {
      const s = toSeconds(value);
      if (s === undefined)
        return bad(
          `${c.title} takes a date (YYYY-MM-DD, ISO date-time or Unix time), got ${JSON.stringify(value)}`,
        );
      return { date: { type: c.config?.date?.type === 'hour' ? 'hour' : 'day', s_timestamp: String(s) } };
    }
    case 'Selector': {
      const sel = c.config?.selector ?? {};
      const options: Json[] = sel.options ?? [];
      const keys: Json[] = [];
      for (const want of list(value)) {
        const o = options.find((x) => x.key === want || titleOf(x.value) === String(want));
        if (!o)
          return bad(
            `${c.title}: "${String(want)}" is not one of ${options.map((x) => titleOf(x.value)).join(', ')}`,
          );
        keys.push({ key: o.key });
      }
      if (sel.type !== 'multi' && keys.length > 1) return bad(`${c.title} takes one option`);
      return { selector: { type: sel.type === 'multi' ? 'multi' : 'single', options: keys } };
    }
    case 'Contact': {
      const cfg = c.config?.contact ?? {};
      const items = list(value).filter((x) => x !== '' && x !== undefined);
      if (cfg.type !== 'multi' && items.length > 1)
        return bad(`${c.title} takes one ${cfg.mode === 'department' ? 'department' : 'member'}`);
      if (cfg.mode === 'department')
        return {
          departments: items.map((x) => ({ openapi_id: String(typeof x === 'object' ? (x as Json).id : x) })),
        };
      return {
        members: items.map((x) => ({ userid: String(typeof x === 'object' ? (x as Json).userid : x) })),
      };
    }
    case 'File': {
      const files = list(value).map((x) => ({
        file_id: String(typeof x === 'object' ? (x as Json).file_id : x),
      }));
      if (files.length > 6) return bad('at most 6 attachments per application (spec §3.2)');
      return { files };
    }
    case 'Table': {
      if (!Array.isArray(value)) return bad(`${c.title} takes a list of rows`);
      const rows = value.map((row, i) => {
        if (typeof row !== 'object' || row === null) {
          problems.push({ path: `${path}[${i}]`, message: 'a row is an object of column → value' });
          return { list: [] };
        }
        return { list: build(c.children ?? [], row as Record<string, unknown>, `${path}[${i}]`, problems) };
      });
      return { children: rows };
    }
    default:
      // Controls we do not map (Location, BankAccount…): the caller gives WeCom's own value shape.
      if (typeof value !== 'object') return bad(`${c.title} (${c.control}) takes WeCom's value object`);
      return value as Json;
  }
}

/** Reads stored contents back into `{ title: plain value }` (spec §3.4). */
export function readContents(contents: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(contents)) return out;
  for (const c of contents as Json[]) {
    const title = titleOf(c.title) || String(c.id);
    out[title] = readValue(String(c.control), c.value ?? {});
  }
  return out;
}

function readValue(control: string, v: Json): unknown {
  switch (control) {
    case 'Text':
    case 'Textarea':
      return v.text ?? '';
    case 'Number':
      return v.new_number === undefined || v.new_number === '' ? null : Number(v.new_number);
    case 'Money':
      return v.new_money === undefined || v.new_money === '' ? null : Number(v.new_money);
    case 'Date':
      return v.date?.s_timestamp ? fromSeconds(Number(v.date.s_timestamp), v.date.type) : null;
    case 'Selector': {
      const labels = ((v.selector?.options as Json[]) ?? []).map((o) => titleOf(o.value) || o.key);
      return v.selector?.type === 'multi' ? labels : (labels[0] ?? null);
    }
    case 'Contact':
      return (v.members as Json[])?.length
        ? v.members.map((m: Json) => m.userid)
        : ((v.departments as Json[]) ?? []).map((d) => d.openapi_id);
    case 'File':
      return ((v.files as Json[]) ?? []).map((f) => f.file_id);
    case 'Table':
      return ((v.children as Json[]) ?? []).map((row) => readContents(row.list));
    case 'Tips':
      return null;
    default:
      return v;
  }
}
