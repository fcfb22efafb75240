// A seller, its key, an order, a chargeback notice and the seller's list, through the generated types.
// Usage: CBD_URL=http://127.0.0.1:8000 CBD_PLATFORM_KEY=pk_… node dist/walkthrough.js
import createClient from "openapi-fetch";

import type { components, paths } from "./generated/api.js";

type Chargeback = components["schemas"]["ChargebackPublic"];

const baseUrl = process.env.CBD_URL ?? "http://127.0.0.1:8000";
const platformKey = process.env.CBD_PLATFORM_KEY;
if (!platformKey) {
  throw new Error("set CBD_PLATFORM_KEY to the platform key");
}

const platform = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${platformKey}` } });

function ok<T>(label: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    throw new Error(`${label}: ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const run = Date.now().toString(36);
const seller = ok(
  "create seller",
  await platform.POST("/v1/sellers", {
    body: { name: "Teapot Shop", email: `orders-${run}@teapot-shop.example`, country: "DE" },
  }),
);
const key = ok(
  "create API key",
  await platform.POST("/v1/sellers/{seller_id}/api-keys", {
    params: { path: { seller_id: seller.id } },
    body: { name: "ERP" },
  }),
);
if (!key.key) {
  throw new Error("the new key's secret was not shown");
}
const order = ok(
  "create order",
  await platform.POST("/v1/orders", {
    body: { seller_id: seller.id, amount_minor: 12999, currency: "EUR", external_ref: `SO-${run}` },
  }),
);
const notice = ok(
  "record notice",
  await platform.POST("/v1/chargebacks", {
    params: { header: { "Idempotency-Key": `notice-${run}` } },
    body: {
      order_id: order.id,
      reason_code: "13.1",
      amount_minor: 5000,
      currency: "EUR",
      bank_reference: `ARN${run}`,
    },
  }),
);

const asSeller = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${key.key}` } });
const page = ok("list chargebacks", await asSeller.GET("/v1/chargebacks", { params: { query: { limit: 10 } } }));
const listed: Chargeback[] = page.data;
if (!listed.some((c) => c.id === notice.id)) {
  throw new Error(`the seller's list lacks ${notice.id}`);
}
console.log(
  JSON.stringify({ seller: seller.id, order: order.id, chargeback: notice.id, status: notice.status, listed: listed.length }),
);
