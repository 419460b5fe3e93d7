/** `qiao audit verify`: walks the hash chain of the audit log; exit 1 names the first bad row. */
import { withStore } from './context.ts';
import { say } from './output.ts';

export async function auditVerifyCommand(opts: { config?: string }): Promise<number> {
  const verdict = await withStore(opts.config, (s) => s.verifyAudit());
  if (verdict.ok) {
    say(`ok: the audit chain is intact (${verdict.count} entr${verdict.count === 1 ? 'y' : 'ies'})`);
    return 0;
  }
  say(`broken: audit seq ${verdict.seq}: ${verdict.reason}`);
  return 1;
}
