/**
 * The inbox key of a change: a pushed audit or payment and the reconciler's reading of the same
 * change are one event; other operations stay keyed by the plugin's eventId.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChangeNotification, changeEvent, changeIdentity } from './change.ts';

const pushed = (over: Partial<ChangeNotification> = {}): ChangeNotification => ({
  eventId: 'b0f1c2d3-0000-4000-8000-000000000001',
  acctId: '65a1b2c3d4e5f6',
  formId: 'ER_ExpReimbursement',
  operation: 'Audit',
  id: 100231,
  number: 'FYBX000123',
  documentStatus: 'C',
  modifyDate: '2025-03-11T09:05:00.000',
  approveDate: '2025-03-11T10:15:30.000',
  userName: '杨帆',
  occurredAt: '2025-03-11T10:15:30.000',
  ...over,
});

describe('kingdee change keys', () => {
  it('an audit is keyed by the document and its approve stamp, as a query prints it or not', () => {
    const push = changeEvent(pushed(), 480);
    assert.equal(push.key, 'kingdee:er_expreimbursement:100231:audit@2025-03-11T02:15:30.000Z');
    assert.equal(push.type, 'kingdee.change');
    assert.equal(push.correlation, 'ER_ExpReimbursement:FYBX000123');
    // ExecuteBillQuery drops a `.000` fraction (spec 4.4 "Value types"); another eventId, same change.
    const read = changeEvent(pushed({ eventId: 'other', approveDate: '2025-03-11T10:15:30' }), 480);
    assert.equal(read.key, push.key);
    // A re-audit after UnAudit has a new stamp: a new change.
    assert.notEqual(changeEvent(pushed({ approveDate: '2025-03-11T10:15:30.004' }), 480).key, push.key);
    // The form id's case does not matter (K/3 matches form ids case-insensitively).
    assert.equal(changeEvent(pushed({ formId: 'er_expreimbursement' }), 480).key, push.key);
  });

  it('a payment is keyed by the document and the payment bill that paid it', () => {
    const pay = pushed({ operation: 'Pay', payBill: { id: 100400, number: 'FKD00000007' } });
    assert.equal(changeIdentity(pay, 480), 'er_expreimbursement:100231:pay:100400');
    assert.equal(changeEvent(pay, 480).key, 'kingdee:er_expreimbursement:100231:pay:100400');
    const second = { ...pay, payBill: { id: 100401, number: 'FKD00000008' } };
    assert.notEqual(changeEvent(second, 480).key, changeEvent(pay, 480).key, 'each payment its own event');
  });

  it('other operations, and changes missing what identifies them, keep the plugin’s eventId', () => {
    for (const over of [
      { operation: 'Submit' },
      { operation: 'Save' },
      { operation: 'Audit', approveDate: null },
      { operation: 'Audit', approveDate: 'not a date' },
      { operation: 'Audit', id: 0 },
      { operation: 'Pay' },
    ]) {
      const n = pushed(over);
      assert.equal(changeIdentity(n, 480), undefined, JSON.stringify(over));
      assert.equal(changeEvent(n, 480).key, `kingdee:${n.eventId}`);
    }
  });

  it('a correlation given by the reconciler is kept as the waiting run wrote it', () => {
    // Bill numbers match case-insensitively in K/3; the run is found by its own spelling.
    const event = changeEvent(pushed(), 480, 'ER_ExpReimbursement:fybx000123');
    assert.equal(event.correlation, 'ER_ExpReimbursement:fybx000123');
  });
});
