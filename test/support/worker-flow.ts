/** The flow the cross-process tests run: one HTTP write per event, with an id link. */
export const WORKER_FLOW = `id: crash-test
name: crash test
trigger: { type: webhook }
steps:
  - id: send
    action: target.request
    input: { method: POST, path: /items, body: { name: '="item " & $string(event.i)' }, link: { object: item } }
    retry: { initialInterval: 50ms, backoffCoefficient: 2, maximumInterval: 1s, maximumAttempts: 20 }
`;
