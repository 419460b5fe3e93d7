/**
 * The SQL-like statements of query v2 (spec 4.10) and XOQL (spec 4.11), parsed into one tree. The
 * grammar is shared; each dialect's restrictions (no `select *`, trailing-only `like`, `order by id`…)
 * are checked by the caller, which knows the dialect and the field types.
 *
 *   select <item>[, <item>…] from <object> [where <cond>] [order by <field> [asc|desc]] [limit [<offset>,]<size>]
 *   item := <field or dotted path> [[as] <alias>]      cond := and/or/not/() over predicates
 *   predicate := f op v | f [not] like 'p' | f [not] in (v, …) | f is [not] null | f [not] between v and v
 */

export type Literal =
  | { kind: 'number'; text: string }
  | { kind: 'string'; value: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' };

export type Expr =
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | { kind: 'cmp'; field: string; op: '=' | '!=' | '>' | '<' | '>=' | '<='; value: Literal }
  | { kind: 'like'; field: string; pattern: string; not: boolean }
  | { kind: 'in'; field: string; values: Literal[]; not: boolean }
  | { kind: 'null'; field: string; not: boolean }
  | { kind: 'between'; field: string; low: Literal; high: Literal; not: boolean };

export interface SelectItem {
  path: string;
  alias?: string;
}

export interface Statement {
  star: boolean;
  items: SelectItem[];
  object: string;
  where?: Expr;
  orderBy: Array<{ field: string; desc: boolean }>;
  limit?: { offset: number; size: number };
  /** Set when `in (select …)` was used; the dialects reject sub-queries (spec 4.10). */
  hasSubquery: boolean;
}

export class QuerySyntaxError extends Error {}

type Token =
  | { t: 'id'; v: string; lower: string }
  | { t: 'num'; v: string }
  | { t: 'str'; v: string }
  | { t: 'op'; v: string }
  | { t: 'p'; v: string };

const KEYWORDS = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'like',
  'in',
  'is',
  'null',
  'between',
  'order',
  'by',
  'asc',
  'desc',
  'limit',
  'as',
  'true',
  'false',
]);

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const prevAllowsSign = () => {
    const p = out[out.length - 1];
    return !p || p.t === 'op' || (p.t === 'p' && p.v !== ')') || (p.t === 'id' && KEYWORDS.has(p.lower));
  };
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new QuerySyntaxError('字符串缺少结束引号');
        const ch = src[i];
        if (ch === '\\' && i + 1 < src.length) {
          v += src[i + 1];
          i += 2;
        } else if (ch === "'" && src[i + 1] === "'") {
          v += "'";
          i += 2;
        } else if (ch === "'") {
          i++;
          break;
        } else {
          v += ch;
          i++;
        }
      }
      out.push({ t: 'str', v });
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num && (src[i] !== '-' || prevAllowsSign())) {
      out.push({ t: 'num', v: num[0] });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_\u0080-\uffff][\w.\u0080-\uffff]*/.exec(src.slice(i));
    if (ident) {
      out.push({ t: 'id', v: ident[0], lower: ident[0].toLowerCase() });
      i += ident[0].length;
      continue;
    }
    const op = /^(>=|<=|!=|<>|=|>|<)/.exec(src.slice(i));
    if (op) {
      out.push({ t: 'op', v: op[0] === '<>' ? '!=' : op[0] });
      i += op[0].length;
      continue;
    }
    if ('(),*'.includes(c)) {
      out.push({ t: 'p', v: c });
      i++;
      continue;
    }
    throw new QuerySyntaxError(`无法识别的字符 '${c}'`);
  }
  return out;
}

export function parseStatement(src: string): Statement {
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos];
  const isKw = (kw: string, tok = peek()) => tok?.t === 'id' && tok.lower === kw;
  const eatKw = (kw: string) => {
    if (!isKw(kw)) return false;
    pos++;
    return true;
  };
  const expectKw = (kw: string) => {
    if (!eatKw(kw)) throw new QuerySyntaxError(`语法错误：缺少 ${kw}${near()}`);
  };
  const near = () => {
    const tok = peek();
    return tok ? `，位置: '${tok.v}'` : '，语句不完整';
  };
  const eatP = (p: string) => {
    const tok = peek();
    if (tok?.t === 'p' && tok.v === p) {
      pos++;
      return true;
    }
    return false;
  };
  const field = (): string => {
    const tok = peek();
    if (tok?.t !== 'id' || KEYWORDS.has(tok.lower))
      throw new QuerySyntaxError(`语法错误：应为字段名${near()}`);
    pos++;
    return tok.v;
  };
  const literal = (): Literal => {
    const tok = peek();
    if (!tok) throw new QuerySyntaxError('语法错误：缺少值');
    pos++;
    if (tok.t === 'num') return { kind: 'number', text: tok.v };
    if (tok.t === 'str') return { kind: 'string', value: tok.v };
    if (tok.t === 'id' && (tok.lower === 'true' || tok.lower === 'false'))
      return { kind: 'bool', value: tok.lower === 'true' };
    if (tok.t === 'id' && tok.lower === 'null') return { kind: 'null' };
    pos--;
    throw new QuerySyntaxError(`语法错误：应为值${near()}`);
  };
  let hasSubquery = false;

  expectKw('select');
  let star = false;
  const items: SelectItem[] = [];
  if (eatP('*')) star = true;
  else {
    do {
      const path = field();
      let alias: string | undefined;
      if (eatKw('as')) alias = field();
      else {
        const tok = peek();
        if (tok?.t === 'id' && !KEYWORDS.has(tok.lower)) {
          alias = tok.v;
          pos++;
        }
      }
      items.push({ path, alias });
    } while (eatP(','));
  }
  expectKw('from');
  const objTok = peek();
  // The object name may be a reserved word (`order`), so any identifier is accepted here.
  if (objTok?.t !== 'id') throw new QuerySyntaxError(`语法错误：缺少对象名${near()}`);
  pos++;
  const object = objTok.v;

  const predicate = (): Expr => {
    const f = field();
    const tok = peek();
    if (tok?.t === 'op') {
      pos++;
      return { kind: 'cmp', field: f, op: tok.v as '=', value: literal() };
    }
    const not = eatKw('not');
    if (eatKw('like')) {
      const p = literal();
      if (p.kind !== 'string') throw new QuerySyntaxError('语法错误：like 的值必须是字符串');
      return { kind: 'like', field: f, pattern: p.value, not };
    }
    if (eatKw('in')) {
      if (!eatP('(')) throw new QuerySyntaxError(`语法错误：in 后应为 (${near()}`);
      if (isKw('select')) {
        hasSubquery = true;
        let depth = 1;
        while (pos < toks.length && depth > 0) {
          const t = toks[pos++];
          if (t.t === 'p' && t.v === '(') depth++;
          if (t.t === 'p' && t.v === ')') depth--;
        }
        return { kind: 'in', field: f, values: [], not };
      }
      const values: Literal[] = [];
      do values.push(literal());
      while (eatP(','));
      if (!eatP(')')) throw new QuerySyntaxError(`语法错误：缺少 )${near()}`);
      return { kind: 'in', field: f, values, not };
    }
    if (eatKw('between')) {
      const low = literal();
      expectKw('and');
      return { kind: 'between', field: f, low, high: literal(), not };
    }
    if (!not && eatKw('is')) {
      const isNot = eatKw('not');
      expectKw('null');
      return { kind: 'null', field: f, not: isNot };
    }
    throw new QuerySyntaxError(`语法错误：不支持的条件${near()}`);
  };
  const unary = (): Expr => {
    if (eatKw('not')) return { kind: 'not', expr: unary() };
    if (eatP('(')) {
      const e = orExpr();
      if (!eatP(')')) throw new QuerySyntaxError(`语法错误：缺少 )${near()}`);
      return e;
    }
    return predicate();
  };
  const andExpr = (): Expr => {
    let left = unary();
    while (eatKw('and')) left = { kind: 'and', left, right: unary() };
    return left;
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (eatKw('or')) left = { kind: 'or', left, right: andExpr() };
    return left;
  };

  let where: Expr | undefined;
  if (eatKw('where')) where = orExpr();
  const orderBy: Statement['orderBy'] = [];
  if (eatKw('order')) {
    expectKw('by');
    do {
      const f = field();
      const desc = eatKw('desc');
      if (!desc) eatKw('asc');
      orderBy.push({ field: f, desc });
    } while (eatP(','));
  }
  let limit: Statement['limit'];
  if (eatKw('limit')) {
    const a = literal();
    if (a.kind !== 'number' || !/^\d+$/.test(a.text)) throw new QuerySyntaxError('语法错误：limit 应为整数');
    if (eatP(',')) {
      const b = literal();
      if (b.kind !== 'number' || !/^\d+$/.test(b.text))
        throw new QuerySyntaxError('语法错误：limit 应为整数');
      limit = { offset: Number(a.text), size: Number(b.text) };
    } else limit = { offset: 0, size: Number(a.text) };
  }
  if (pos < toks.length) throw new QuerySyntaxError(`语法错误${near()}`);
  return { star, items, object, where, orderBy, limit, hasSubquery };
}

/** Every field path a condition reads. */
export function fieldsOf(e: Expr | undefined, out: string[] = []): string[] {
  if (!e) return out;
  if (e.kind === 'and' || e.kind === 'or') {
    fieldsOf(e.left, out);
    fieldsOf(e.right, out);
  } else if (e.kind === 'not') fieldsOf(e.expr, out);
  else if ('field' in e) out.push(e.field);
  return out;
}

/** Every `like` pattern of a condition. */
export function likePatterns(e: Expr | undefined, out: string[] = []): string[] {
  if (!e) return out;
  if (e.kind === 'and' || e.kind === 'or') {
    likePatterns(e.left, out);
    likePatterns(e.right, out);
  } else if (e.kind === 'not') likePatterns(e.expr, out);
  else if (e.kind === 'like') out.push(e.pattern);
  return out;
}
