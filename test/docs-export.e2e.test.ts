/**
 * Documentation, audit export, API keys and admin accounts against a real pool process whose
 * company name has accents and an ampersand, with a PNG logo from the setup wizard.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv, pdfPagesText, png } from "./fixtures/readers.js";
import { defaultSetupAnswers, killAll, startPool, TEST_ADMIN, type PoolProc } from "./helpers.js";

afterAll(killAll);

const COMPANY = "Étude Durand & Associés";

let pool: PoolProc;
let admin: Record<string, string>;

beforeAll(async () => {
  const answers = defaultSetupAnswers();
  pool = await startPool({ setup: { ...answers, identity: { ...answers.identity, company_name: COMPANY, logo_base64: png(16, 8, 0x80).toString("base64") } } });
  admin = { authorization: `Bearer ${await pool.createKey(true)}` };
}, 120_000);

const get = (path: string, headers = admin) => fetch(`${pool.url}${path}`, { headers });
const send = (method: string, path: string, body?: unknown, headers = admin) =>
  fetch(`${pool.url}${path}`, { method, headers: { ...headers, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });

describe("documentation", () => {
  it("serves the three guides as Markdown and HTML, to admins only", async () => {
    const list = (await (await get("/v1/admin/docs")).json()) as { data: { id: string; title: string }[] };
    expect(list.data.map((d) => d.id)).toEqual(["admin", "api", "security"]);
    for (const { id, title } of list.data) {
      const r = await get(`/v1/admin/docs/${id}`);
      expect(r.status, id).toBe(200);
      const body = (await r.json()) as { id: string; title: string; markdown: string; html: string };
      expect(body).toMatchObject({ id, title });
      expect(body.markdown.startsWith(`# ${title}`)).toBe(true);
      expect(body.html).toContain(`>${title}</h1>`);
      expect(body.html).toMatch(/<h2 id="/);
    }
    expect((await get("/v1/admin/docs/nope")).status).toBe(400);
    expect((await get("/v1/admin/docs", {})).status).toBe(401);
    // A user key made by the admin key over HTTP (no CLI process).
    const userKey = ((await (await send("POST", "/v1/admin/keys", { name: "docs user", scope: "user" })).json()) as { key: string }).key;
    expect((await get("/v1/admin/docs/admin/pdf", { authorization: `Bearer ${userKey}` })).status).toBe(403);
  });

  it("exports all guides as one branded PDF: attachment, company name on every page, the logo embedded", async () => {
    const r = await get("/v1/admin/docs/all/pdf");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/pdf");
    expect(r.headers.get("content-disposition")).toMatch(/^attachment; filename="cellule-all-guide-\d{4}-\d{2}-\d{2}\.pdf"$/);
    const bytes = Buffer.from(await r.arrayBuffer());
    expect(bytes.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(bytes.toString("latin1")).toMatch(/\/Subtype\s*\/Image/);
    const pages = await pdfPagesText(bytes);
    expect(pages.length).toBeGreaterThan(10);
    for (const [i, p] of pages.entries()) expect(p, `page ${i + 1}`).toContain(COMPANY);
    const all = pages.join("\n");
    for (const heading of ["Administrator guide", "API guide", "Security guide", "Backup and restore", "The audit trail"]) expect(all).toContain(heading);

    const one = await get("/v1/admin/docs/security/pdf");
    expect(one.headers.get("content-disposition")).toMatch(/filename="cellule-security-guide-\d{4}-\d{2}-\d{2}\.pdf"/);
    expect((await pdfPagesText(Buffer.from(await one.arrayBuffer())))[0]).toContain("Security guide");
  });
});

describe("audit export, keys and admin accounts", () => {
  it("revokes a key at once, manages admin accounts, and exports the filtered audit log as CSV and JSON", async () => {
    // A key in use, then revoked: refused on the very next request.
    const created = (await (await send("POST", "/v1/admin/keys", { name: "to, revoke \"me\"", scope: "user" })).json()) as { id: string; key: string };
    const user = { authorization: `Bearer ${created.key}` };
    expect((await get("/v1/models", user)).status).toBe(200);
    const keys = (await (await get("/v1/admin/keys")).json()) as { data: Record<string, unknown>[] };
    expect(keys.data.find((k) => k.id === created.id)).toMatchObject({ name: 'to, revoke "me"', scope: "user", project_id: null, revoked_at: null });
    expect(JSON.stringify(keys)).not.toContain(created.key);
    expect(await (await send("DELETE", `/v1/admin/keys/${created.id}`)).json()).toEqual({ id: created.id, revoked: true });
    expect((await get("/v1/models", user)).status).toBe(401);
    expect((await send("DELETE", "/v1/admin/keys/000000000000")).status).toBe(404);

    // Admin accounts: the wizard's rules, and never yourself.
    const weak = await send("POST", "/v1/admin/users", { email: "second@example.com", password: "password1234" });
    expect(weak.status).toBe(400);
    expect(((await weak.json()) as { error: { code: string } }).error.code).toBe("password_common");
    const made = await send("POST", "/v1/admin/users", { email: "second@example.com", password: "Orchard-Violet-Compass-7" });
    expect(made.status).toBe(201);
    const second = (await made.json()) as { id: string };
    expect((await send("POST", "/v1/admin/users", { email: "Second@example.com", password: "Orchard-Violet-Compass-7" })).status).toBe(409);
    const login = await fetch(`${pool.url}/v1/admin/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "second@example.com", password: "Orchard-Violet-Compass-7" }) });
    const { csrf_token } = (await login.json()) as { csrf_token: string };
    const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const session = { cookie, "x-csrf-token": csrf_token };
    const users = (await (await get("/v1/admin/users", session)).json()) as { data: { id: string; email: string; is_self: boolean }[] };
    expect(users.data.map((u) => [u.email, u.is_self])).toEqual([[TEST_ADMIN.email, false], ["second@example.com", true]]);
    expect((await send("DELETE", `/v1/admin/users/${second.id}`, undefined, session)).status).toBe(409);
    expect((await send("DELETE", `/v1/admin/users/${second.id}`)).status).toBe(200);
    expect((await get("/v1/admin/users", session)).status).toBe(401); // the session ended with the account

    // CSV export filtered to key actions: header row, the revocation and its quoted details.
    const csv = await get("/v1/admin/audit/export?format=csv&q=key.&since=2020-01-01");
    expect(csv.status).toBe(200);
    expect(csv.headers.get("content-type")).toMatch(/^text\/csv/);
    expect(csv.headers.get("content-disposition")).toMatch(/^attachment; filename="cellule-audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    const rows = parseCsv(await csv.text());
    expect(rows[0]).toEqual(["seq", "at", "actor", "action", "target", "project_id", "details", "hash"]);
    const actions = rows.slice(1).map((r) => r[3]);
    expect(actions).toContain("key.revoke");
    expect(actions.every((a) => a!.startsWith("key."))).toBe(true);
    const create = rows.find((r) => r[3] === "key.create" && r[4] === `key:${created.id}`)!;
    expect(JSON.parse(create[6]!)).toMatchObject({ name: 'to, revoke "me"', scope: "user" });
    expect((await get("/v1/admin/audit/export?format=csv&until=2020-01-01").then((r) => r.text())).trim()).toBe("seq,at,actor,action,target,project_id,details,hash");

    // JSON export by actor; the exports themselves are audited.
    const json = await get("/v1/admin/audit/export?format=json&actor=second%40example.com");
    expect(json.headers.get("content-disposition")).toMatch(/filename="cellule-audit-\d{4}-\d{2}-\d{2}\.json"/);
    const entries = (await json.json()) as { actor: string; action: string }[];
    expect(entries.map((e) => e.action)).toContain("login.success");
    expect(entries.every((e) => e.actor.includes("second@example.com"))).toBe(true);
    const listed = (await (await get("/v1/admin/audit?action=audit.export&limit=10")).json()) as { data: { details: { format: string } }[] };
    expect(listed.data.map((e) => e.details.format).sort()).toEqual(["csv", "csv", "json"]);
    const filtered = (await (await get("/v1/admin/audit?q=admin.&limit=50")).json()) as { data: { action: string }[] };
    expect(filtered.data.map((e) => e.action)).toEqual(["admin.delete", "admin.create"]);
    expect((await get("/v1/admin/audit?since=yesterday")).status).toBe(400);
  });
});
