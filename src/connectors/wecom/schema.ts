/**
 * What the WeCom connector reads and writes, for flow validation and the console's field picker.
 * Approval forms are per template (their controls come from gettemplatedetail at run time).
 */
import type { ConnectorSchema } from '../../core/connector.ts';

export const wecomSchema: ConnectorSchema = {
  objects: {
    approval: {
      label: '审批申请 (approval application)',
      idField: 'spNo',
      fields: {
        spNo: { type: 'string', label: '审批编号 SpNo', required: true },
        spName: { type: 'string', label: '审批名称' },
        templateId: { type: 'string', label: '模板 id', required: true },
        spStatus: {
          type: 'integer',
          label: '审批状态',
          options: [
            { value: 1, label: '审批中' },
            { value: 2, label: '已通过' },
            { value: 3, label: '已驳回' },
            { value: 4, label: '已撤销' },
            { value: 6, label: '通过后撤销' },
            { value: 7, label: '已删除' },
            { value: 10, label: '已支付' },
          ],
        },
        status: { type: 'string', label: 'status name (pending, approved, rejected…)' },
        terminal: { type: 'boolean', label: 'final state' },
        applyTime: { type: 'datetime', label: '提交时间' },
        applyer: { type: 'object', label: '申请人 {userid, department}' },
        nodes: { type: 'array', label: '审批节点' },
        notifyers: { type: 'array', label: '抄送人' },
        comments: { type: 'array', label: '评论' },
        fields: { type: 'object', label: '表单 (by control title)' },
      },
    },
    user: {
      label: '成员 (member)',
      idField: 'userid',
      fields: {
        userid: { type: 'string', required: true },
        name: { type: 'string', label: '姓名' },
        mobile: { type: 'string', label: '手机 (legacy apps only)' },
        email: { type: 'string', label: '邮箱 (legacy apps only)' },
        staffNumber: { type: 'string', label: '工号 (extattr)' },
        departments: { type: 'array', label: '部门' },
        mainDepartment: { type: 'integer', label: '主部门' },
        position: { type: 'string', label: '职务' },
      },
    },
    message: {
      label: '应用消息 (application message)',
      idField: 'msgid',
      fields: {
        msgid: { type: 'string' },
        type: {
          type: 'string',
          options: [
            { value: 'text' },
            { value: 'markdown' },
            { value: 'textcard' },
            { value: 'template_card' },
          ],
        },
        content: { type: 'string' },
        taskId: { type: 'string', label: 'template card task_id' },
      },
    },
    card: {
      label: '模板卡片点击 (card click)',
      idField: 'taskId',
      fields: {
        taskId: { type: 'string', required: true },
        key: { type: 'string', label: 'button key' },
        userid: { type: 'string' },
        responseCode: { type: 'string' },
      },
    },
  },
};
