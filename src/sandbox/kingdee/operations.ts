/**
 * Status operations (spec 4.2, 4.6, 4.8, 4.9, 9.6): Submit, Audit, UnAudit, Delete, CancelAssign,
 * ExcuteOperation (Forbid / Enable / Cancel / UnCancel / UnAudit), Allocate, WorkflowAudit.
 *
 * FDocumentStatus: Z 暂存 → A 创建 (Save) → B 审核中 (Submit) → C 已审核 (Audit); UnAudit → D 重新审核;
 * A/D can be submitted again; CancelAssign B → A; Delete only Z/A/D. Wrong transitions fail per item
 * with K/3's message and MsgCode 11.
 */
import { pick } from './body.ts';
import type { StoredRecord, Table } from './db.ts';
import {
  failStatus,
  type KdError,
  KdFailure,
  MsgCode,
  okStatus,
  operationEnvelope,
  type SuccessEntity,
} from './envelope.ts';
import type { Form } from './forms.ts';
import { type Actor, checkNetworkControl, describe, notify } from './save.ts';
import type { KingdeeState } from './state.ts';

export type StatusOp =
  | 'Submit'
  | 'Audit'
  | 'UnAudit'
  | 'Delete'
  | 'CancelAssign'
  | 'Forbid'
  | 'Enable'
  | 'Cancel'
  | 'UnCancel';

/** The records named by `Numbers` (string[]) or `Ids` (comma string; an array is tolerated, spec 4.2). */
export function targets(t: Table, data: Record<string, unknown>): Array<{ key: string; rec?: StoredRecord }> {
  const numbers = pick(data, 'Numbers');
  const ids = pick(data, 'Ids');
  const out: Array<{ key: string; rec?: StoredRecord }> = [];
  const idList = Array.isArray(ids)
    ? ids.map(String)
    : typeof ids === 'string' || typeof ids === 'number'
      ? String(ids).split(',')
      : [];
  for (const id of idList.map((s) => s.trim()).filter(Boolean)) {
    out.push({ key: id, rec: t.records.get(Number(id)) });
  }
  const numberList = Array.isArray(numbers)
    ? numbers
    : typeof numbers === 'string' && numbers
      ? numbers.split(',')
      : [];
  for (const n of numberList.map((s) => String(s).trim()).filter(Boolean)) {
    const id = t.byNumber.get(n.toLowerCase());
    out.push({ key: n, rec: id === undefined ? undefined : t.records.get(id) });
  }
  if (out.length === 0) throw new KdFailure(MsgCode.parameter, '参数错误：Numbers 和 Ids 不能同时为空');
  return out;
}

/** Applies one operation to one record; throws a KdFailure when the status does not allow it. */
export function applyOp(state: KingdeeState, actor: Actor, t: Table, rec: StoredRecord, op: StatusOp): void {
  const form = t.form;
  const v = rec.values;
  const status = String(v.FDocumentStatus ?? 'A');
  const who = describe(form, rec);
  const word = form.kind === 'bill' ? '单据' : '数据';
  // Spec 4.2: the captured "already audited" failure carries `FieldName: ""`.
  const refuse = (why: string) => new KdFailure(MsgCode.validation, `${who}，${why}`, '');
  checkNetworkControl(state, form, rec);
  const now = state.clock.nowLocal();
  switch (op) {
    case 'Submit':
      if (status === 'Z') throw refuse(`${word}为暂存状态，请先保存再提交！`);
      if (status === 'B') throw refuse(`${word}已经提交，不能重复提交！`);
      if (status === 'C') throw refuse(`${word}已经审核，不能提交！`);
      v.FDocumentStatus = 'B';
      break;
    case 'Audit':
      if (status === 'C') throw refuse(`${word}已经审核！`);
      if (status === 'Z') throw refuse(`${word}为暂存状态，不能审核！`);
      if (status !== 'B' && state.options.auditRequiresSubmit) throw refuse(`${word}未提交，不能审核！`);
      v.FDocumentStatus = 'C';
      v.FApproverId = actor.userId;
      v.FApproveDate = now;
      break;
    case 'UnAudit':
      if (status !== 'C') throw refuse(`${word}未审核，不能反审核！`);
      v.FDocumentStatus = 'D';
      v.FApproverId = null;
      v.FApproveDate = null;
      break;
    case 'CancelAssign':
      if (status !== 'B') throw refuse(`${word}不是审核中状态，不能撤销！`);
      v.FDocumentStatus = 'A';
      break;
    case 'Delete':
      if (status === 'B') throw refuse(`${word}正在审核中，不允许删除！`);
      if (status === 'C') throw refuse(`${word}已经审核，不允许删除！`);
      state.db.remove(t, rec);
      break;
    case 'Forbid':
      if (form.kind !== 'base') throw refuse('单据不支持禁用操作！');
      if (v.FForbidStatus === 'B') throw refuse('数据已经禁用！');
      v.FForbidStatus = 'B';
      break;
    case 'Enable':
      if (form.kind !== 'base') throw refuse('单据不支持反禁用操作！');
      if (v.FForbidStatus !== 'B') throw refuse('数据未禁用，不能反禁用！');
      v.FForbidStatus = 'A';
      break;
    case 'Cancel':
      if (form.kind !== 'bill') throw refuse('基础资料不支持作废操作！');
      if (status === 'C' || status === 'B') throw refuse('单据已提交或已审核，不能作废！');
      if (v.FCancelStatus === 'B') throw refuse('单据已经作废！');
      v.FCancelStatus = 'B';
      break;
    case 'UnCancel':
      if (v.FCancelStatus !== 'B') throw refuse('单据未作废，不能反作废！');
      v.FCancelStatus = 'A';
      break;
  }
  notify(state, form, rec, op, actor);
}

/** Runs an operation over every target, reporting per item (spec 9.6). */
export function handleStatusOp(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  op: StatusOp,
  data: Record<string, unknown>,
): object {
  const entities: SuccessEntity[] = [];
  const errors: KdError[] = [];
  let firstCode = 0;
  targets(t, data).forEach(({ key, rec }, i) => {
    if (!rec) {
      firstCode ||= MsgCode.notFound;
      errors.push({ FieldName: null, Message: notFoundMessage(t.form, key), DIndex: i });
      return;
    }
    try {
      const number = String(rec.values[t.form.numberKey] ?? '');
      applyOp(state, actor, t, rec, op);
      entities.push({ Id: rec.id, Number: number, DIndex: i });
    } catch (err) {
      if (!(err instanceof KdFailure)) throw err;
      firstCode ||= err.msgCode;
      for (const e of err.errors) errors.push({ ...e, DIndex: i });
    }
  });
  return operationEnvelope(errors.length ? failStatus(firstCode, errors, entities) : okStatus(entities));
}

export function notFoundMessage(form: Form, key: string): string {
  return form.kind === 'bill'
    ? `单据编号或内码为“${key}”的${form.name}不存在`
    : `编码或内码为“${key}”的${form.name}不存在`;
}

/** ExcuteOperation (sic, spec 4.8): `[formId, opNumber, data]`. */
export function handleExcuteOperation(
  state: KingdeeState,
  actor: Actor,
  t: Table,
  opNumber: string,
  data: Record<string, unknown>,
): object {
  const ops: Record<string, StatusOp> = {
    forbid: 'Forbid',
    enable: 'Enable',
    cancel: 'Cancel',
    uncancel: 'UnCancel',
    unaudit: 'UnAudit',
    audit: 'Audit',
    submit: 'Submit',
  };
  const op = ops[opNumber.toLowerCase()];
  if (!op) throw new KdFailure(MsgCode.operationEmpty, `${t.form.name}不存在操作代码为“${opNumber}”的操作`);
  return handleStatusOp(state, actor, t, op, data);
}

/** Allocate / CancelAllocate (spec 4.6): base data shared to other organisations. */
export function handleAllocate(
  state: KingdeeState,
  t: Table,
  data: Record<string, unknown>,
  cancel: boolean,
): object {
  if (t.form.kind !== 'base') throw new KdFailure(MsgCode.notAllowed, `${t.form.name}不是基础资料，不能分配`);
  const split = (v: unknown) =>
    (Array.isArray(v) ? v.map(String) : String(v ?? '').split(','))
      .map((s) => s.trim())
      .filter(Boolean)
      .map(Number);
  const orgs = split(pick(data, 'TOrgIds'));
  const entities: SuccessEntity[] = [];
  const errors: KdError[] = [];
  split(pick(data, 'PkIds')).forEach((id, i) => {
    const rec = t.records.get(id);
    if (!rec) {
      errors.push({ FieldName: null, Message: notFoundMessage(t.form, String(id)), DIndex: i });
      return;
    }
    for (const org of orgs) {
      if (!state.db.get('ORG_Organizations', org)) continue;
      const at = rec.allocatedOrgs.indexOf(org);
      if (cancel && at >= 0) rec.allocatedOrgs.splice(at, 1);
      if (!cancel && at < 0) rec.allocatedOrgs.push(org);
    }
    entities.push({ Id: rec.id, Number: String(rec.values[t.form.numberKey] ?? ''), DIndex: i });
  });
  return operationEnvelope(
    errors.length ? failStatus(MsgCode.notFound, errors, entities) : okStatus(entities),
  );
}

/** WorkflowAudit (spec 4.9): ApprovalType 1 approve (B → C), 2 reject (B → D), 3 terminate (B → A). */
export function handleWorkflowAudit(
  state: KingdeeState,
  actor: Actor,
  data: Record<string, unknown>,
): object {
  const formId = String(pick(data, 'FormId') ?? '');
  const t = state.db.table(formId);
  if (!t) throw new KdFailure(MsgCode.exception, `业务对象不存在，表单标识：${formId}`);
  const type = Number(pick(data, 'ApprovalType') ?? 1);
  const entities: SuccessEntity[] = [];
  const errors: KdError[] = [];
  targets(t, data).forEach(({ key, rec }, i) => {
    if (!rec) {
      errors.push({ FieldName: null, Message: notFoundMessage(t.form, key), DIndex: i });
      return;
    }
    if (rec.values.FDocumentStatus !== 'B') {
      errors.push({
        FieldName: null,
        Message: `${describe(t.form, rec)}，没有正在运行的流程实例`,
        DIndex: i,
      });
      return;
    }
    if (type === 1) applyOp(state, actor, t, rec, 'Audit');
    else {
      rec.values.FDocumentStatus = type === 2 ? 'D' : 'A';
      notify(state, t.form, rec, type === 2 ? 'Reject' : 'Terminate', actor);
    }
    entities.push({ Id: rec.id, Number: String(rec.values[t.form.numberKey] ?? ''), DIndex: i });
  });
  const status = errors.length ? failStatus(MsgCode.validation, errors, entities) : okStatus(entities);
  return operationEnvelope(status, { OperationResults: entities });
}
