/**
 * The K/3 Cloud WebAPI client (spec 1-5): both auth modes, one login in flight at a time, "re-login
 * once and retry once" on session loss, and the error table (error-table.ts). It never sleeps through
 * a limit or retries a transient error itself: it throws the classified error and the engine decides.
 *
 * Requests use the positional body with `data` as a JSON string, the most widely documented encoding
 * (spec 2, "Client recommendation").
 */
import { AuthExpiredError, PermanentError, type QiaoError, scrubSecrets } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import {
  classifyStatus,
  classifyTransport,
  type ErrorContext,
  isFailure,
  isSessionLost,
  type KdResponseStatus,
} from './error-table.ts';
import type { KingdeeSettings } from './settings.ts';
import { signatureHeaders } from './signature.ts';

const AUTH = 'Kingdee.BOS.WebApi.ServicesStub.AuthService.';
const FORMS = 'Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.';
const DATACENTERS = 'Kingdee.BOS.ServiceFacade.ServicesStub.Account.AccountService.GetDataCenterList';

/** What a login (or a signed request) gave us: the cookies to send back, tagged by generation. */
interface Session {
  cookie: string;
  sessionId: string;
  generation: number;
}

export interface DataCenter {
  Id: string;
  Number?: string;
  Name?: string;
  Version?: string;
}

export interface CallOptions {
  formId?: string;
  signal?: AbortSignal;
  /**
   * Return a business failure's envelope instead of throwing (session loss is still handled): for
   * BatchSave's per-package results and for operations whose failure may mean "already done".
   */
  acceptFailure?: boolean;
}

export interface KingdeeClientOptions {
  fetch?: typeof fetch;
  /** Unix-ms clock for signature timestamps (tests). */
  now?: () => number;
}

export interface ClientStats {
  logins: number;
  calls: number;
  sessionLost: number;
}

export class KingdeeClient {
  readonly settings: KingdeeSettings;
  readonly stats: ClientStats = { logins: 0, calls: 0, sessionLost: 0 };
  private readonly log: Logger;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private session: Session | null = null;
  private loginInFlight: Promise<Session> | null = null;
  private generation = 0;

  constructor(settings: KingdeeSettings, log: Logger, options: KingdeeClientOptions = {}) {
    this.settings = settings;
    this.log = log;
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
  }

  private secrets(): Array<string | undefined> {
    const s = this.settings;
    return [s.password, s.appSecret, s.pushSecret, this.session?.sessionId];
  }

  private errorContext(operation: string, formId?: string, httpStatus?: number): ErrorContext {
    return {
      operation,
      formId,
      httpStatus,
      secrets: this.secrets(),
      callLimitWaitMs: this.settings.callLimitWaitMs,
    };
  }

  /** One HTTP POST; transport failures become classified errors here. */
  private async post(
    service: string,
    body: unknown,
    operation: string,
    options: CallOptions,
    extraHeaders: Record<string, string> = {},
  ): Promise<{ status: number; text: string; cookies: string[] }> {
    const url = `${this.settings.baseUrl}${service}.common.kdsvc`;
    const signals = [
      AbortSignal.timeout(this.settings.timeoutMs),
      ...(options.signal ? [options.signal] : []),
    ];
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          accept: 'application/json',
          ...extraHeaders,
        },
        body: JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (cause) {
      throw classifyTransport(this.errorContext(operation, options.formId), { cause });
    }
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw classifyTransport(this.errorContext(operation, options.formId, res.status), { cause });
    }
    // Spec 1: the SDKs treat any status other than 200/206 as a transport error.
    if (res.status !== 200 && res.status !== 206) {
      throw classifyTransport(this.errorContext(operation, options.formId, res.status), {
        status: res.status,
        body: text,
        retryAfter: res.headers.get('retry-after'),
      });
    }
    return { status: res.status, text, cookies: res.headers.getSetCookie() };
  }

  // ---- authentication ----------------------------------------------------------------------------

  /** The current session, logging in if there is none; concurrent callers share one login. */
  private async ensureSession(signal?: AbortSignal): Promise<Session> {
    if (this.session) return this.session;
    if (!this.loginInFlight) {
      this.loginInFlight = this.login(signal).finally(() => {
        this.loginInFlight = null;
      });
    }
    return this.loginInFlight;
  }

  /** Drops `stale` if it is still the current session (another caller may have replaced it). */
  private invalidate(stale: Session | null): void {
    if (stale && this.session?.generation === stale.generation) this.session = null;
  }

  private async login(signal?: AbortSignal): Promise<Session> {
    const s = this.settings;
    let method: string;
    let params: unknown[];
    if (s.password) {
      method = s.orgNumber ? 'ValidateUserByOrgNumber' : 'ValidateUser';
      params = [s.acctId, s.username, s.password, s.lcid, ...(s.orgNumber ? [s.orgNumber] : [])];
    } else {
      method = 'LoginByAppSecret';
      params = [s.acctId, s.username, s.appId, s.appSecret, s.lcid];
    }
    const res = await this.post(`${AUTH}${method}`, { parameters: params }, method, { signal });
    let body: Record<string, any>;
    try {
      body = JSON.parse(res.text);
    } catch {
      throw classifyTransport(this.errorContext(method), { status: res.status, body: res.text });
    }
    const type = Number(body.LoginResultType);
    const sessionId: string | undefined = body.KDSVCSessionId ?? undefined;
    // Spec 3.2: success is LoginResultType 1 (DealWithForm -5 counts when a session came back);
    // LoginByAppSecret also says IsSuccessByAPI.
    const ok = (type === 1 || (type === -5 && sessionId)) && body.IsSuccessByAPI !== false;
    if (!ok) {
      const message = scrubSecrets(String(body.Message ?? `LoginResultType ${type}`), this.secrets());
      // A wrong password is never retried: ~5 failures lock the account (spec 3.2, 7).
      throw new PermanentError(`Kingdee login (${method}) failed: ${message}`, {
        fault: 'user',
        partner: { system: 'kingdee', code: type, message, operation: method, httpStatus: res.status },
      });
    }
    const jar = new Map<string, string>([['Theme', 'standard']]);
    for (const c of res.cookies) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      if (i > 0) jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    // Spec 3.4: send all cookies back; rebuild them from the body if a proxy dropped Set-Cookie.
    if (sessionId && !jar.has('kdservice-sessionid')) jar.set('kdservice-sessionid', sessionId);
    if (body.Context?.SessionId && !jar.has('ASP.NET_SessionId'))
      jar.set('ASP.NET_SessionId', body.Context.SessionId);
    const session: Session = {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      sessionId: sessionId ?? jar.get('kdservice-sessionid') ?? '',
      generation: ++this.generation,
    };
    this.session = session;
    this.stats.logins += 1;
    this.log.debug('kingdee login', { method, generation: session.generation });
    return session;
  }

  /** Headers that authenticate a form-service request, and the session they rely on. */
  private async authHeaders(
    url: string,
    signal?: AbortSignal,
  ): Promise<{ headers: Record<string, string>; session: Session | null }> {
    const s = this.settings;
    if (s.auth === 'session') {
      const session = await this.ensureSession(signal);
      return { headers: { cookie: session.cookie, 'kdservice-sessionid': session.sessionId }, session };
    }
    const headers = signatureHeaders({
      appId: s.appId!,
      appSecret: s.appSecret!,
      acctId: s.acctId,
      userName: s.username,
      lcid: s.lcid,
      orgNum: s.orgNumber ?? 0,
      url,
      timestamp: String(Math.floor(this.now() / 1000)),
    });
    // Spec 3.5: the server answers with a kdservice-sessionid cookie, echoed on later calls.
    const session = this.session;
    if (session) Object.assign(headers, { cookie: session.cookie, 'kdservice-sessionid': session.sessionId });
    return { headers, session };
  }

  private rememberSignedSession(cookies: string[]): void {
    if (this.settings.auth !== 'signature' || cookies.length === 0) return;
    const jar = new Map<string, string>([['Theme', 'standard']]);
    for (const c of cookies) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      if (i > 0) jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    const sessionId = jar.get('kdservice-sessionid');
    if (!sessionId) return;
    this.session = {
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
      sessionId,
      generation: ++this.generation,
    };
    this.stats.logins += 1;
  }

  // ---- calls -------------------------------------------------------------------------------------

  /**
   * Calls `DynamicFormService.<method>` with positional parameters. On session loss it re-logs-in once
   * and replays once; a second loss is AuthExpiredError. Failures are classified QiaoErrors.
   */
  async call<T = unknown>(method: string, params: unknown[], options: CallOptions = {}): Promise<T> {
    const service = `${FORMS}${method}`;
    const url = `${this.settings.baseUrl}${service}.common.kdsvc`;
    for (let attempt = 0; ; attempt++) {
      const { headers, session } = await this.authHeaders(url, options.signal);
      this.stats.calls += 1;
      const res = await this.post(service, { parameters: params }, method, options, headers);
      this.rememberSignedSession(res.cookies);
      if (res.text.startsWith('response_error:')) {
        throw classifyTransport(this.errorContext(method, options.formId, res.status), {
          status: 200,
          body: res.text,
        });
      }
      let json: unknown;
      try {
        json = JSON.parse(res.text);
      } catch {
        throw classifyTransport(this.errorContext(method, options.formId, res.status), {
          status: 200,
          body: res.text,
        });
      }
      const status = responseStatusOf(json);
      if (status && isFailure(status) && isSessionLost(status)) {
        this.stats.sessionLost += 1;
        this.invalidate(session);
        if (
          this.settings.auth === 'signature' &&
          session &&
          this.session?.generation === session.generation
        ) {
          this.session = null;
        }
        if (attempt === 0) {
          this.log.info('kingdee session lost, logging in again', { method });
          continue;
        }
        const e = classifyStatus(status, this.errorContext(method, options.formId, res.status));
        throw new AuthExpiredError(`${e.message} (after logging in again)`, { partner: e.partner });
      }
      if (status && isFailure(status) && !options.acceptFailure) {
        throw classifyStatus(status, this.errorContext(method, options.formId, res.status));
      }
      return json as T;
    }
  }

  /** Classifies a ResponseStatus the caller chose to inspect itself (e.g. per-package BatchSave errors). */
  classify(status: KdResponseStatus, operation: string, formId?: string): QiaoError {
    return classifyStatus(status, this.errorContext(operation, formId));
  }

  /** GetDataCenterList (spec 4.10): no auth. */
  async dataCenters(signal?: AbortSignal): Promise<DataCenter[]> {
    const res = await this.post(DATACENTERS, {}, 'GetDataCenterList', { signal });
    try {
      const list = JSON.parse(res.text);
      return Array.isArray(list) ? list : [];
    } catch {
      throw classifyTransport(this.errorContext('GetDataCenterList'), { status: res.status, body: res.text });
    }
  }

  /** Logs in now (session mode) — "test connection". */
  async connect(signal?: AbortSignal): Promise<void> {
    if (this.settings.auth === 'session') await this.ensureSession(signal);
  }

  // ---- typed helpers (spec 4) --------------------------------------------------------------------

  save(
    formId: string,
    data: Record<string, unknown>,
    options: { signal?: AbortSignal; acceptFailure?: boolean; draft?: boolean } = {},
  ): Promise<SaveResult> {
    return this.call(options.draft ? 'Draft' : 'Save', [formId, JSON.stringify(data)], {
      formId,
      ...options,
    });
  }

  /** BatchSave answers per package; failures are left in the envelope for the caller (DIndex). */
  batchSave(formId: string, data: Record<string, unknown>, signal?: AbortSignal): Promise<SaveResult> {
    return this.call('BatchSave', [formId, JSON.stringify(data)], { formId, signal, acceptFailure: true });
  }

  operation(
    method: 'Submit' | 'Audit' | 'UnAudit' | 'Delete' | 'CancelAssign',
    formId: string,
    data: Record<string, unknown>,
    options: { signal?: AbortSignal; acceptFailure?: boolean } = {},
  ): Promise<SaveResult> {
    return this.call(method, [formId, JSON.stringify(data)], { formId, ...options });
  }

  excuteOperation(formId: string, opNumber: string, data: Record<string, unknown>, signal?: AbortSignal) {
    // Spec 4.8: the method really is spelt "ExcuteOperation".
    return this.call<SaveResult>('ExcuteOperation', [formId, opNumber, JSON.stringify(data)], {
      formId,
      signal,
    });
  }

  view(
    formId: string,
    data: Record<string, unknown>,
    signal?: AbortSignal,
  ): Promise<{ Result: { Result: any } }> {
    return this.call('View', [formId, JSON.stringify(data)], { formId, signal });
  }

  push(formId: string, data: Record<string, unknown>, signal?: AbortSignal): Promise<SaveResult> {
    return this.call('Push', [formId, JSON.stringify(data)], { formId, signal });
  }

  /** ExecuteBillQuery; rows as arrays in FieldKeys order (spec 4.4). */
  executeBillQuery(data: QueryData, signal?: AbortSignal): Promise<unknown[][]> {
    return this.call('ExecuteBillQuery', [JSON.stringify(data)], { formId: data.FormId, signal });
  }

  /**
   * Pages through a query with StartRow/Limit and a stable order, yielding rows as objects keyed by
   * field key; stops at a short page (spec 4.4 "Pagination"). Never holds more than one page.
   */
  async *queryPages(
    data: Omit<QueryData, 'StartRow' | 'Limit' | 'TopRowCount'>,
    options: { pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<Record<string, unknown>[]> {
    const wanted = Math.floor(options.pageSize ?? this.settings.pageSize);
    const pageSize = wanted >= 1 ? wanted : this.settings.pageSize;
    const keys = data.FieldKeys.split(',').map((k) => k.trim());
    for (let start = 0; ; start += pageSize) {
      const rows = await this.executeBillQuery(
        { ...data, StartRow: start, Limit: pageSize, TopRowCount: 0 },
        options.signal,
      );
      yield rows.map((r) => Object.fromEntries(keys.map((k, i) => [k, r[i]])));
      if (rows.length < pageSize) return;
    }
  }
}

export interface QueryData {
  FormId: string;
  FieldKeys: string;
  FilterString?: string | unknown[];
  OrderString?: string;
  TopRowCount?: number;
  StartRow?: number;
  Limit?: number;
  SubSystemId?: string;
}

export interface SaveResult {
  Result: {
    ResponseStatus: KdResponseStatus | null;
    Id?: number | string;
    Number?: string;
    NeedReturnData?: unknown;
    ConvertResponseStatus?: KdResponseStatus;
  };
}

/**
 * The ResponseStatus of any answer: `Result.ResponseStatus`, or `[[{"Result": …}]]` for a failed query
 * (spec 4.4: robust clients test whether `rows[0][0]` is an object with `Result`). Null when none.
 */
export function responseStatusOf(json: unknown): KdResponseStatus | null {
  let node: unknown = json;
  if (Array.isArray(node)) {
    const first = Array.isArray(node[0]) ? node[0][0] : node[0];
    if (!first || typeof first !== 'object' || Array.isArray(first) || !('Result' in first)) return null;
    node = first;
  }
  if (!node || typeof node !== 'object') return null;
  const result = (node as { Result?: { ResponseStatus?: KdResponseStatus | null } }).Result;
  return result?.ResponseStatus ?? null;
}
