/**
 * The `file` connector: CSV and XLSX files in a folder, for the partner that has no API and for the
 * first bulk load (scenario 9). Actions `read`, `write`, `append-result`; trigger `poll`. Documented
 * in docs/connectors/file.md.
 */
import type { ConnectorDescriptor } from '../../core/connector.ts';
import { fileActions, type ParkedRead } from './actions.ts';
import { FileClient } from './client.ts';
import { Continuations } from './continuations.ts';
import { fileSchema } from './schema.ts';
import { type FileSettings, fileSettings } from './settings.ts';
import { fileTriggers, type Reading } from './triggers.ts';

export const fileConnector: ConnectorDescriptor<FileSettings> = {
  type: 'file',
  title: { 'zh-CN': '文件（CSV/Excel）', en: 'Files (CSV/XLSX)' },
  settings: fileSettings,
  secretFields: [],
  // A local disk is not rate-limited; a few files at once keeps a shared network drive responsive.
  limits: { concurrency: 4 },
  create(ctx) {
    const client = new FileClient(ctx.settings);
    const reads = new Continuations<ParkedRead>();
    const polls = new Continuations<Reading>();
    return {
      async check() {
        const root = await client.check();
        return { ok: true, detail: `${root} is writable` };
      },
      actions: fileActions(client, ctx.log, reads),
      triggers: fileTriggers(client, polls),
      schema: fileSchema,
      async close() {
        await Promise.all([reads.closeAll(), polls.closeAll()]);
      },
    };
  },
};
