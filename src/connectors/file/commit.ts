/**
 * Effectively-once file writes: build a temporary file, record it in the ledger under the step's
 * idempotency key, rename it over the target. The protocol is described in ledger.ts.
 */
import { rename } from 'node:fs/promises';
import { QiaoError } from '../../core/errors.ts';
import { classifyFsError, type FileClient } from './client.ts';
import type { Ledger, LedgerEntry } from './ledger.ts';

export interface Committed<O> {
  output: O;
  /** True when this key had already written: nothing was written now. */
  repeated: boolean;
}

/** Finishes an entry whose rename may not have happened (a crash after the ledger write). */
async function finish(client: FileClient, e: LedgerEntry): Promise<void> {
  if (!(await client.exists(e.tmp))) return;
  const target = await client.resolve(e.path);
  try {
    await rename(e.tmp, target.abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function classified(err: unknown, rel: string): QiaoError {
  return err instanceof QiaoError ? err : classifyFsError(err, 'write', rel);
}

/**
 * Writes a whole file once per key. The temporary file is built outside the ledger lock (an export
 * may be large); only the ledger entry and the rename are under it.
 */
export async function writeOnce<O>(
  client: FileClient,
  ledger: Ledger,
  key: string,
  target: { rel: string; abs: string },
  build: (tmp: string) => Promise<O>,
  before?: () => Promise<void>,
): Promise<Committed<O>> {
  try {
    const prior = await ledger.with(async ({ keys }) => {
      const e = keys[key];
      if (e) await finish(client, e);
      return e;
    });
    if (prior) return { output: prior.output as O, repeated: true };
    await before?.();
    await client.ensureDir(target.rel, target.abs);
    const tmp = client.tempPathFor(target.abs);
    let output: O;
    try {
      output = await build(tmp);
    } catch (err) {
      await client.removeQuietly(tmp);
      throw err;
    }
    return await ledger.with(async ({ keys, save }) => {
      const e = keys[key];
      if (e) {
        // Another worker wrote under this key meanwhile: theirs stands.
        await client.removeQuietly(tmp);
        await finish(client, e);
        return { output: e.output as O, repeated: true };
      }
      keys[key] = { path: target.rel, tmp, at: Date.now(), output };
      await save();
      await client.replace(target.rel, tmp, target.abs);
      return { output, repeated: false };
    });
  } catch (err) {
    throw classified(err, target.rel);
  }
}

/**
 * Changes a file once per key when the new content depends on the old (an append): the whole
 * read-build-record-rename runs under the ledger lock, so two appends never interleave.
 */
export async function changeOnce<O>(
  client: FileClient,
  ledger: Ledger,
  key: string,
  target: { rel: string; abs: string },
  build: (tmp: string) => Promise<O>,
): Promise<Committed<O>> {
  try {
    return await ledger.with(async ({ keys, save }) => {
      const e = keys[key];
      if (e) {
        await finish(client, e);
        return { output: e.output as O, repeated: true };
      }
      await client.ensureDir(target.rel, target.abs);
      const tmp = client.tempPathFor(target.abs);
      let output: O;
      try {
        output = await build(tmp);
      } catch (err) {
        await client.removeQuietly(tmp);
        throw err;
      }
      keys[key] = { path: target.rel, tmp, at: Date.now(), output };
      await save();
      await client.replace(target.rel, tmp, target.abs);
      return { output, repeated: false };
    });
  } catch (err) {
    throw classified(err, target.rel);
  }
}
