/** JSON to a sandbox's admin surface (or any JSON endpoint); throws on a non-2xx answer. */
export { adminCall as call } from '../../src/sandbox/connect-hub.ts';
