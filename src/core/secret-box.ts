/**
 * Connection secrets encrypted at rest (DESIGN.md, "Security"): AES-256-GCM under a master key that
 * lives outside the database, so a copied database or backup reveals no partner credentials.
 *
 * A sealed value is one string, safe in JSON and YAML:
 *
 *     qiao:v1:<key id>:<iv, base64url>:<ciphertext + 16-byte tag, base64url>
 *
 * - `v1` names the format (AES-256-GCM, 12-byte random IV); a later format gets `v2`, and old tokens keep
 *   opening.
 * - The key id (8 hex characters derived from the key, not the key itself) says which key sealed it, so
 *   keys can rotate: several keys may be loaded, the first seals, all open (see `fromEnvOrFile`).
 * - `qiao:v1:<key id>` is authenticated data: editing any part of the token fails authentication.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PermanentError, ValidationError, type ValidationProblem } from './errors.ts';

const VERSION = 'v1';
const PREFIX = 'qiao:';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
export const KEY_FILE = 'master.key';

export type SecretBoxErrorCode =
  | 'bad_key' // a master key that is not 32 bytes of base64 or hex
  | 'key_file_mode' // master.key readable by group or others
  | 'malformed' // not a token, or a token cut short
  | 'unknown_version' // a format this Qiao does not read
  | 'wrong_key' // sealed under a key that is not loaded
  | 'tampered'; // the key matches but authentication fails

/** A secret that cannot be sealed or opened. Messages never contain a key or a plaintext. */
export class SecretBoxError extends PermanentError {
  readonly code: SecretBoxErrorCode;
  constructor(code: SecretBoxErrorCode, message: string) {
    super(message, { fault: 'user' });
    this.name = 'SecretBoxError';
    this.code = code;
  }
}

/** True for a string in the sealed format (any version), whether or not it can be opened here. */
export function isEncrypted(v: unknown): v is string {
  return typeof v === 'string' && /^qiao:v\d+:/.test(v);
}

/** A fresh random master key, base64: what `master.key` holds and what QIAO_MASTER_KEY accepts. */
export function generateMasterKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/**
 * Decodes one master key: 64 hex characters, or base64 / base64url of 32 bytes (44 or 43 characters).
 * `source` names where it came from, for the message.
 */
export function parseMasterKey(text: string, source: string): Buffer {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) {
    const key = Buffer.from(s, 'base64');
    if (key.length === KEY_BYTES) return key;
    throw new SecretBoxError(
      'bad_key',
      `${source}: a master key must be 32 bytes, base64 (44 characters) or hex (64 characters); this one decodes to ${key.length} bytes`,
    );
  }
  throw new SecretBoxError(
    'bad_key',
    `${source}: a master key must be 32 bytes, base64 (44 characters) or hex (64 characters); this one is neither (${s.length} characters)`,
  );
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('qiao-master-key-id\0').update(key).digest('hex').slice(0, 8);
}

export class SecretBox {
  /** Id of the key that seals. */
  readonly keyId: string;
  readonly #keys: Map<string, Buffer>;
  readonly #current: Buffer;

  /** `keys[0]` seals; every key opens. Keys are 32 bytes. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new SecretBoxError('bad_key', 'a SecretBox needs at least one key');
    this.#keys = new Map();
    for (const k of keys) {
      if (k.length !== KEY_BYTES) {
        throw new SecretBoxError('bad_key', `a master key must be 32 bytes; got ${k.length}`);
      }
      this.#keys.set(keyId(k), Buffer.from(k));
    }
    this.#current = Buffer.from(keys[0]);
    this.keyId = keyId(keys[0]);
  }

  /** Ids of all loaded keys, the sealing key first. */
  get keyIds(): string[] {
    return [this.keyId, ...[...this.#keys.keys()].filter((k) => k !== this.keyId)];
  }

  /**
   * The master key(s), from the first source found:
   * 1. `QIAO_MASTER_KEY`: one key, or several separated by commas (the first seals, the others only
   *    open: list the new key first while rotating). The key file is then neither read nor created.
   * 2. `<dataDir>/master.key`: one key a line, same rule. Created with a fresh key (mode 0600) on first
   *    use. Refused when group or others may read it: whoever reads it reads every secret.
   */
  static fromEnvOrFile(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretBox {
    const fromEnv = env.QIAO_MASTER_KEY?.trim();
    if (fromEnv) {
      const parts = fromEnv.split(',').filter((p) => p.trim() !== '');
      return new SecretBox(parts.map((p, i) => parseMasterKey(p, `QIAO_MASTER_KEY (key ${i + 1})`)));
    }
    const file = join(dataDir, KEY_FILE);
    const text = readOrCreateKeyFile(dataDir, file);
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    if (lines.length === 0) throw new SecretBoxError('bad_key', `${file}: holds no key`);
    return new SecretBox(lines.map((l, i) => parseMasterKey(l, `${file} (line ${i + 1})`)));
  }

  isEncrypted(v: unknown): v is string {
    return isEncrypted(v);
  }

  /** Seals a string under the current key. Each call uses a fresh IV, so equal inputs seal differently. */
  encrypt(plain: string): string {
    const iv = randomBytes(IV_BYTES);
    const header = `${PREFIX}${VERSION}:${this.keyId}`;
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv);
    cipher.setAAD(Buffer.from(header));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${header}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** Opens a sealed string; throws a SecretBoxError saying why it cannot (never echoing the token). */
  decrypt(token: string): string {
    if (typeof token !== 'string' || !token.startsWith(PREFIX)) {
      throw new SecretBoxError('malformed', 'not a sealed secret (expected qiao:v1:…)');
    }
    const parts = token.split(':');
    const version = parts[1];
    if (version !== VERSION) {
      throw new SecretBoxError(
        'unknown_version',
        `sealed secret format ${JSON.stringify(version ?? '')} is unknown; this Qiao reads ${VERSION}`,
      );
    }
    if (parts.length !== 5)
      throw new SecretBoxError('malformed', `a ${VERSION} sealed secret has 5 parts; got ${parts.length}`);
    const [, , kid, ivText, bodyText] = parts;
    const key = this.#keys.get(kid);
    if (!key) {
      throw new SecretBoxError(
        'wrong_key',
        `secret was sealed with master key ${kid}, which is not loaded (loaded: ${this.keyIds.join(', ')}): ` +
          'is QIAO_MASTER_KEY or master.key the one this data was written with?',
      );
    }
    const iv = decodeB64url(ivText);
    const body = decodeB64url(bodyText);
    if (!iv || iv.length !== IV_BYTES || !body || body.length < TAG_BYTES) {
      throw new SecretBoxError('malformed', 'sealed secret is cut short or not base64url');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv);
      decipher.setAAD(Buffer.from(`${PREFIX}${VERSION}:${kid}`));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(0, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString('utf8');
    } catch {
      throw new SecretBoxError(
        'tampered',
        `sealed secret fails authentication under key ${kid}: it was altered`,
      );
    }
  }

  /** True when `token` is sealed under a key other than the current one (to re-seal after rotation). */
  needsReseal(token: string): boolean {
    return isEncrypted(token) && !token.startsWith(`${PREFIX}${VERSION}:${this.keyId}:`);
  }

  /**
   * A copy of `settings` with each secret field sealed. `secretFields` are dotted paths; a `*` segment
   * matches every key of an object or item of an array (`robots.*.secret`). Left as they are: missing,
   * null and empty values, values already sealed under the current key, and bare `${ENV_VAR}`
   * references (a pointer to a secret, not a secret). Values sealed under an older key are re-sealed
   * under the current one, so sealing again is how secrets move to a new key.
   */
  sealSettings<T extends Record<string, unknown>>(settings: T, secretFields: readonly string[]): T {
    const out = structuredClone(settings);
    const problems: ValidationProblem[] = [];
    for (const field of secretFields) {
      visit(out, field.split('.'), '', (holder, key, path) => {
        const v = holder[key];
        if (v === undefined || v === null || v === '') return;
        if (typeof v !== 'string') {
          problems.push({ path, message: 'a secret must be a string' });
          return;
        }
        if (/^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/.test(v)) return;
        if (isEncrypted(v)) {
          if (this.needsReseal(v)) holder[key] = this.encrypt(this.decrypt(v));
          return;
        }
        holder[key] = this.encrypt(v);
      });
    }
    if (problems.length) throw new ValidationError(problems);
    return out;
  }

  /** A copy of `settings` with each sealed secret field opened; plain values pass through. */
  openSettings<T extends Record<string, unknown>>(settings: T, secretFields: readonly string[]): T {
    const out = structuredClone(settings);
    for (const field of secretFields) {
      visit(out, field.split('.'), '', (holder, key) => {
        const v = holder[key];
        if (isEncrypted(v)) holder[key] = this.decrypt(v);
      });
    }
    return out;
  }
}

/**
 * A copy of `settings` with every present secret field replaced by `mask`: what the API and console show.
 * Works on sealed and open settings alike.
 */
export function maskSettings<T extends Record<string, unknown>>(
  settings: T,
  secretFields: readonly string[],
  mask = '******',
): T {
  const out = structuredClone(settings);
  for (const field of secretFields) {
    visit(out, field.split('.'), '', (holder, key) => {
      const v = holder[key];
      if (v !== undefined && v !== null && v !== '') holder[key] = mask;
    });
  }
  return out;
}

/** The present string values of the secret fields: what to pass to `scrubSecrets` (errors.ts). */
export function secretValues(settings: Record<string, unknown>, secretFields: readonly string[]): string[] {
  const values: string[] = [];
  for (const field of secretFields) {
    visit(settings, field.split('.'), '', (holder, key) => {
      const v = holder[key];
      if (typeof v === 'string' && v !== '') values.push(v);
    });
  }
  return values;
}

type Holder = Record<string | number, unknown>;

/** Calls `fn` for each place the path names that exists, with the object holding it and the key. */
function visit(
  node: unknown,
  segments: string[],
  path: string,
  fn: (holder: Holder, key: string | number, path: string) => void,
): void {
  if (node === null || typeof node !== 'object' || segments.length === 0) return;
  const [head, ...rest] = segments;
  const keys: (string | number)[] =
    head === '*' ? (Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node)) : [head];
  for (const key of keys) {
    if (!Object.hasOwn(node, key)) continue;
    const here = typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
    if (rest.length === 0) fn(node as Holder, key, here);
    else visit((node as Holder)[key], rest, here, fn);
  }
}

function decodeB64url(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return undefined;
  return Buffer.from(s, 'base64url');
}

/**
 * Reads master.key, or creates it with a fresh key. `wx` makes creation exclusive, so two processes
 * starting together agree on one key; the loser reads the winner's file.
 */
function readOrCreateKeyFile(dataDir: string, file: string): string {
  try {
    checkMode(file);
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    checkMode(file);
    return readFileSync(file, 'utf8');
  }
  try {
    writeSync(
      fd,
      '# Qiao master key: it opens every connection secret in this data folder. Back it up; never share it.\n' +
        `${generateMasterKey()}\n`,
    );
  } finally {
    closeSync(fd);
  }
  // The umask may have narrowed the mode further, never widened it; make it exactly 0600.
  if (process.platform !== 'win32') chmodSync(file, 0o600);
  return readFileSync(file, 'utf8');
}

function checkMode(file: string): void {
  const st = statSync(file);
  if (process.platform === 'win32') return;
  if ((st.mode & 0o077) !== 0) {
    throw new SecretBoxError(
      'key_file_mode',
      `${file} may be read by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); ` +
        `it opens every secret: run \`chmod 600 ${file}\``,
    );
  }
}
