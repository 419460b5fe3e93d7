/**
 * FilterString for ExecuteBillQuery / BillQuery (spec 4.4), in both documented forms:
 * 1. the SQL-like string: field keys (dotted references too), `= <> != > >= < <=`, `like` with `%`
 *    and `_`, `in (...)`, `and` / `or`, parentheses, single-quoted strings and dates; the sandbox also
 *    takes `not`, `is [not] null` and `between … and …`, which the same SQL dialect allows;
 * 2. the array of condition objects `{Left, FieldName, Compare, Value, Right, Logic}` with `Logic`
 *    0 = AND / 1 = OR and `Compare` either a readable operator or a code; the code table was not
 *    found (spec 4.4), so the codes seen in working clients (67, 105, 60) are read as equality.
 */
import { KdFailure, MsgCode } from './envelope.ts';

export type Operand = { kind: 'field'; key: string } | { kind: 'lit'; value: string | number };

export type FilterNode =
  | { type: 'and' | 'or'; items: FilterNode[] }
  | { type: 'not'; item: FilterNode }
  | { type: 'cmp'; op: '=' | '<>' | '>' | '>=' | '<' | '<='; left: Operand; right: Operand }
  | { type: 'like'; negated: boolean; left: Operand; pattern: Operand }
  | { type: 'in'; negated: boolean; left: Operand; list: Operand[] }
  | { type: 'null'; negated: boolean; left: Operand }
  | { type: 'between'; negated: boolean; left: Operand; low: Operand; high: Operand }
  | { type: 'true' };

type Token =
  | { t: 'punct'; v: '(' | ')' | ',' }
  | { t: 'op'; v: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'word'; v: string };

function bad(message: string): KdFailure {
  return new KdFailure(MsgCode.parameter, `过滤条件格式错误：${message}`);
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      out.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (two === '<>' || two === '!=' || two === '>=' || two === '<=') {
      out.push({ t: 'op', v: two === '!=' ? '<>' : two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (c === "'" || ((c === 'N' || c === 'n') && text[i + 1] === "'")) {
      i += c === "'" ? 1 : 2;
      let s = '';
      for (;;) {
        if (i >= text.length) throw bad('字符串缺少结束引号');
        if (text[i] === "'") {
          if (text[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      out.push({ t: 'str', v: s });
      continue;
    }
    const num = /^-?\d+(?:\.\d+)?/.exec(text.slice(i));
    if (num && (c !== '-' || out.length === 0 || out[out.length - 1].t !== 'word')) {
      out.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const word = /^[A-Za-z_\u4e00-\u9fa5][\w.\u4e00-\u9fa5]*/.exec(text.slice(i));
    if (word) {
      out.push({ t: 'word', v: word[0] });
      i += word[0].length;
      continue;
    }
    throw bad(`无法识别的字符“${c}”`);
  }
  return out;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'like', 'in', 'is', 'null', 'between']);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parse(): FilterNode {
    if (this.tokens.length === 0) return { type: 'true' };
    const node = this.or();
    if (this.pos < this.tokens.length) throw bad('条件在此处之后无法解析');
    return node;
  }

  private peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  private isWord(w: string, offset = 0): boolean {
    const tok = this.tokens[this.pos + offset];
    return tok?.t === 'word' && tok.v.toLowerCase() === w;
  }

  private or(): FilterNode {
    const items = [this.and()];
    while (this.isWord('or')) {
      this.pos++;
      items.push(this.and());
    }
    return items.length === 1 ? items[0] : { type: 'or', items };
  }

  private and(): FilterNode {
    const items = [this.not()];
    while (this.isWord('and')) {
      this.pos++;
      items.push(this.not());
    }
    return items.length === 1 ? items[0] : { type: 'and', items };
  }

  private not(): FilterNode {
    if (this.isWord('not')) {
      this.pos++;
      return { type: 'not', item: this.not() };
    }
    const tok = this.peek();
    if (tok?.t === 'punct' && tok.v === '(') {
      this.pos++;
      const inner = this.or();
      this.expect(')');
      return inner;
    }
    return this.predicate();
  }

  private expect(p: '(' | ')' | ','): void {
    const tok = this.peek();
    if (tok?.t !== 'punct' || tok.v !== p) throw bad(`缺少“${p}”`);
    this.pos++;
  }

  private operand(): Operand {
    const tok = this.peek();
    if (!tok) throw bad('条件不完整');
    this.pos++;
    if (tok.t === 'str') return { kind: 'lit', value: tok.v };
    if (tok.t === 'num') return { kind: 'lit', value: tok.v };
    if (tok.t === 'word' && !KEYWORDS.has(tok.v.toLowerCase())) return { kind: 'field', key: tok.v };
    throw bad(`此处需要字段或值，得到“${String(tok.v)}”`);
  }

  private predicate(): FilterNode {
    const left = this.operand();
    let negated = false;
    if (this.isWord('not')) {
      negated = true;
      this.pos++;
    }
    const tok = this.peek();
    if (tok?.t === 'op' && !negated) {
      this.pos++;
      return { type: 'cmp', op: tok.v as '=', left, right: this.operand() };
    }
    if (this.isWord('like')) {
      this.pos++;
      return { type: 'like', negated, left, pattern: this.operand() };
    }
    if (this.isWord('in')) {
      this.pos++;
      this.expect('(');
      const list = [this.operand()];
      while (this.peek()?.t === 'punct' && (this.peek() as { v: string }).v === ',') {
        this.pos++;
        list.push(this.operand());
      }
      this.expect(')');
      return { type: 'in', negated, left, list };
    }
    if (this.isWord('between')) {
      this.pos++;
      const low = this.operand();
      if (!this.isWord('and')) throw bad('between 缺少 and');
      this.pos++;
      return { type: 'between', negated, left, low, high: this.operand() };
    }
    if (this.isWord('is') && !negated) {
      this.pos++;
      let neg = false;
      if (this.isWord('not')) {
        neg = true;
        this.pos++;
      }
      if (!this.isWord('null')) throw bad('is 后需要 null');
      this.pos++;
      return { type: 'null', negated: neg, left };
    }
    throw bad(`字段“${left.kind === 'field' ? left.key : String(left.value)}”后缺少比较符`);
  }
}

/** Parses the SQL-like form. */
export function parseFilterString(text: string): FilterNode {
  return new Parser(tokenize(text)).parse();
}

/** Readable operators the array form accepts, and the codes seen in working clients (spec 4.4). */
const COMPARE: Record<string, string> = {
  '67': '=',
  '105': '=',
  '60': '=',
  '=': '=',
  '==': '=',
  '<>': '<>',
  '!=': '<>',
  '>': '>',
  '>=': '>=',
  '<': '<',
  '<=': '<=',
  like: 'like',
  'not like': 'not like',
  in: 'in',
  'not in': 'not in',
};

/** Converts the array form to a filter string and parses that (one grammar for both forms). */
export function parseFilterArray(items: unknown[]): FilterNode {
  let text = '';
  items.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object') throw bad(`第${i + 1}个条件不是对象`);
    const get = (k: string) => {
      const entry = Object.entries(raw as Record<string, unknown>).find(([key]) => key.toLowerCase() === k);
      return entry?.[1];
    };
    const field = String(get('fieldname') ?? '');
    if (!/^[\w.]+$/.test(field)) throw bad(`第${i + 1}个条件的字段“${field}”无效`);
    const compareRaw = String(get('compare') ?? '=')
      .trim()
      .toLowerCase();
    const op = COMPARE[compareRaw];
    if (!op) throw bad(`不支持的比较符“${compareRaw}”`);
    const value = get('value');
    const quote = (v: unknown) =>
      typeof v === 'number' ? String(v) : `'${String(v ?? '').replace(/'/g, "''")}'`;
    let cond: string;
    if (op === 'in' || op === 'not in') {
      const list = Array.isArray(value) ? value : String(value ?? '').split(',');
      cond = `${field} ${op} (${list.map(quote).join(',')})`;
    } else cond = `${field} ${op} ${quote(value)}`;
    const left = String(get('left') ?? '').replace(/[^(]/g, '');
    const right = String(get('right') ?? '').replace(/[^)]/g, '');
    if (i > 0) {
      const prev = (items[i - 1] as Record<string, unknown>) ?? {};
      const logicEntry = Object.entries(prev).find(([key]) => key.toLowerCase() === 'logic');
      const logic = String(logicEntry?.[1] ?? '0')
        .trim()
        .toLowerCase();
      text += logic === '1' || logic === 'or' ? ' OR ' : ' AND ';
    }
    text += `${left}${cond}${right}`;
  });
  return parseFilterString(text);
}

/** Every field key a filter mentions. */
export function filterFields(node: FilterNode, out: string[] = []): string[] {
  const operand = (o: Operand) => {
    if (o.kind === 'field') out.push(o.key);
  };
  switch (node.type) {
    case 'and':
    case 'or':
      for (const n of node.items) filterFields(n, out);
      break;
    case 'not':
      filterFields(node.item, out);
      break;
    case 'cmp':
      operand(node.left);
      operand(node.right);
      break;
    case 'like':
      operand(node.left);
      operand(node.pattern);
      break;
    case 'in':
      operand(node.left);
      node.list.forEach(operand);
      break;
    case 'null':
      operand(node.left);
      break;
    case 'between':
      operand(node.left);
      operand(node.low);
      operand(node.high);
      break;
  }
  return out;
}
