// gongkai's main workflow through a client generated from its OpenAPI document:
// log in, register an application, take a statutory step, read the deadline with its trace,
// read the yearly report, and read the change feed. Type-checked with `tsc --strict`, no casts:
// every payload below is typed by the document.
//
//   npm ci && npm run generate && npm run check        # types only
//   GONGKAI_BASE_URL=http://127.0.0.1:8080 GONGKAI_ADMIN_USER=admin \
//     GONGKAI_ADMIN_PASSWORD=… npm run build && npm start  # against a running service

import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Request = components["schemas"]["RequestDto"];
type FeedEvent = components["schemas"]["FeedEventDto"];

function env(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

function fail(what: string, error: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(error)}`);
}

async function main(): Promise<void> {
  const baseUrl = env("GONGKAI_BASE_URL");
  const api = createClient<paths>({ baseUrl, headers: { "Accept-Language": "zh-CN" } });

  // 1. A token (password grant, JSON body).
  const token = await api.POST("/api/v1/auth/token", {
    body: {
      grant_type: "password",
      username: env("GONGKAI_ADMIN_USER"),
      password: env("GONGKAI_ADMIN_PASSWORD"),
    },
  });
  if (!token.data) fail("token", token.error);
  const auth = { Authorization: `Bearer ${token.data.access_token}` };

  const me = await api.GET("/api/v1/me", { headers: auth });
  if (!me.data) fail("me", me.error);
  const agencyId: string = me.data.agency.id;

  // 2. Intake: an application handed in at the office today, with an Idempotency-Key so that
  //    a retry cannot register it twice.
  const now = new Date();
  const created = await api.POST("/api/v1/requests", {
    headers: { ...auth, "Idempotency-Key": randomUUID() },
    body: {
      channel: "in_person",
      arrived_at: now.toISOString(),
      applicant: {
        kind: "natural_person",
        name: "张三",
        id_document: { type: "passport", number: "E12345678" },
      },
      description: "2025年本区老旧小区改造项目的立项批复文件",
    },
  });
  if (!created.data) fail("intake", created.error);
  const request: Request = created.data;
  console.log(`registered ${request.case_number}, state ${request.state}, due ${request.due_date ?? "—"}`);

  // 3. A statutory step: the reply (答复), granted, dated the receipt date.
  const on = request.receipt_date ?? fail("receipt date", request);
  const replied = await api.POST("/api/v1/requests/{id}/actions/reply", {
    params: { path: { id: request.id }, header: { "If-Match": `"${request.version}"` } },
    headers: auth,
    body: {
      on,
      disposition: "granted",
      provision: "电子邮件",
    },
  });
  if (!replied.data) fail("reply", replied.error);
  const closed: Request = replied.data;
  console.log(`replied: state ${closed.state}, disposition ${closed.disposition ?? "—"}, late ${closed.late}`);
  const reply = closed.workflow.reply;
  if (reply) console.log(`the reply record: ${reply.disposition} on ${reply.on}`);

  // 4. The deadline and how it was computed.
  const deadline = await api.GET("/api/v1/requests/{id}/deadline", {
    params: { path: { id: request.id } },
    headers: auth,
  });
  if (!deadline.data) fail("deadline", deadline.error);
  const d = deadline.data.deadline;
  console.log(`clock ${d.status}: due ${d.due_date ?? "—"}, ${d.trace.length} steps`);
  for (const step of d.trace) {
    console.log(`  ${step.step}. ${step.rule} ${step.date ?? ""} ${step.article ?? ""}`);
  }

  // 5. The yearly report of the year of the receipt.
  const year = Number(on.slice(0, 4));
  const report = await api.GET("/api/v1/agencies/{id}/reports/{year}", {
    params: { path: { id: agencyId, year } },
    headers: auth,
  });
  if (!report.data) fail("report", report.error);
  // Table 三's `new` row, natural persons; a failed check blocks publishing when it is an error.
  const newRow = report.data.tables.applications.rows.find((r) => r.code === "new");
  const blocking = report.data.checks.filter((c) => !c.holds && c.severity === "error");
  console.log(
    `report ${report.data.year} (${report.data.format}, ${report.data.status}): ` +
      `new from natural persons ${newRow?.values.natural_person ?? 0}, ` +
      `reviews pending ${report.data.tables.remedies.review.pending}, ` +
      `${blocking.length} blocking checks`,
  );

  // 6. The change feed: the application's events carry its case number.
  const feed = await api.GET("/api/v1/feed", { params: { query: { limit: 1000 } }, headers: auth });
  if (!feed.data) fail("feed", feed.error);
  const mine = feed.data.events.filter(
    (e: FeedEvent) => "case_number" in e.data && e.data.case_number === request.case_number,
  );
  for (const e of mine) {
    if ("case_number" in e.data) console.log(`feed: ${e.type} ${e.data.case_number} → ${e.data.state}`);
  }
  if (mine.length < 2) fail("feed events of the application", mine);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
