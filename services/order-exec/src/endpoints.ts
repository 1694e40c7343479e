/**
 * Every (method, path) order-exec asks the signer to sign: what its caller
 * policy in the signer's callers file must allow. `pnpm start`, the deploy
 * secrets script and the tests build that policy from this list; a unit test
 * keeps it equal to the calls order-exec makes.
 */
export const SIGNER_ENDPOINTS: readonly string[] = Object.freeze([
  "POST /v1/orders",
  "GET /v1/order",
  "DELETE /v1/order",
  "DELETE /v1/orders/uuids",
  "DELETE /v1/orders/open",
  "GET /v1/orders/open",
  "POST /v1/orders/cancel_and_new",
  "WS /websocket/v1/private",
]);
