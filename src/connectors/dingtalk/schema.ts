/**
 * Objects the `dingtalk` connector knows statically. Approval form fields differ per template, so
 * `approval.formValues` is an object keyed by the template's field labels.
 */
import type { ConnectorSchema } from '../../core/connector.ts';

export const dingtalkSchema: ConnectorSchema = {
  objects: {
    approval: {
      label: '审批实例',
      idField: 'processInstanceId',
      numberField: 'businessId',
      fields: {
        processInstanceId: { type: 'string', label: '审批实例ID', required: true },
        processCode: { type: 'string', label: '模板编码' },
        title: { type: 'string', label: '标题' },
        status: {
          type: 'string',
          label: '状态',
          options: [
            { value: 'NEW' },
            { value: 'RUNNING' },
            { value: 'COMPLETED' },
            { value: 'TERMINATED' },
            { value: 'CANCELED' },
          ],
        },
        result: {
          type: 'string',
          label: '结果',
          options: [{ value: 'agree' }, { value: 'refuse' }, { value: '' }],
        },
        finished: { type: 'boolean', label: '已结束' },
        approved: { type: 'boolean', label: '已同意' },
        businessId: { type: 'string', label: '审批编号' },
        originatorUserId: { type: 'ref', ref: 'user', label: '发起人' },
        createTime: { type: 'datetime', label: '发起时间' },
        finishTime: { type: 'datetime', label: '结束时间' },
        formValues: { type: 'object', label: '表单' },
        tasks: {
          type: 'array',
          label: '任务',
          fields: {
            taskId: { type: 'string' },
            userId: { type: 'ref', ref: 'user' },
            status: { type: 'string' },
            result: { type: 'string' },
          },
        },
      },
    },
    user: {
      label: '用户',
      idField: 'userId',
      numberField: 'jobNumber',
      fields: {
        userId: { type: 'string', label: 'userid', required: true },
        name: { type: 'string', label: '姓名' },
        jobNumber: { type: 'string', label: '工号' },
        mobile: { type: 'string', label: '手机号' },
        email: { type: 'string', label: '邮箱' },
        title: { type: 'string', label: '职位' },
        deptIds: { type: 'array', label: '部门' },
        managerUserId: { type: 'ref', ref: 'user', label: '直属主管' },
        active: { type: 'boolean', label: '在职' },
      },
    },
    chatMessage: {
      label: '机器人消息',
      idField: 'msgId',
      fields: {
        msgId: { type: 'string', required: true },
        text: { type: 'string', label: '内容' },
        conversationType: { type: 'string', options: [{ value: 'single' }, { value: 'group' }] },
        conversationId: { type: 'string' },
        senderStaffId: { type: 'ref', ref: 'user', label: '发送人' },
        senderNick: { type: 'string' },
        internal: { type: 'boolean' },
        sessionWebhook: { type: 'string' },
        sessionWebhookExpiredTime: { type: 'integer' },
        sender: { type: 'object', label: '员工' },
      },
    },
    notice: {
      label: '工作通知',
      idField: 'taskId',
      fields: {
        taskId: { type: 'integer', required: true },
        userIds: { type: 'array' },
        text: { type: 'string' },
      },
    },
    card: {
      label: '互动卡片',
      idField: 'outTrackId',
      fields: {
        outTrackId: { type: 'string', required: true },
        templateId: { type: 'string' },
        params: { type: 'object' },
      },
    },
  },
};
