import { generateKeyPairSync } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AppError } from "../../shared/errors.js";
import { AuditService } from "../audit/audit.service.js";
import { rawPublicKey } from "../identity/pool-identity.js";
import { buildLicensePayload, signLicense, type IssueRequest } from "./license-issuer.js";
import { DAY_S } from "./license-status.js";
import { LicenseRepository } from "./license.repository.js";
import { LicenseService } from "./license.service.js";
import { LicenseValidator } from "./license.validator.js";
import { RevocationList } from "./revocation-list.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb();

const vendor = generateKeyPairSync("ed25519");
const vendorHex = rawPublicKey(vendor.publicKey).toString("hex");
const T0 = Date.UTC(2027, 0, 1); // issue time of the licenses below

interface Line {
  level: number;
  msg: string;
  [k: string]: unknown;
}

let db: Db;
let audit: AuditService;
let clock = T0;
let lines: Line[] = [];
const raw: string[] = [];
const tokens: string[] = [];
const log = pino({ level: "trace" }, { write: (s: string) => (raw.push(s), lines.push(JSON.parse(s) as Line)) });

function service(opts: { revoked?: RevocationList; publicKeyHex?: string } = {}): LicenseService {
  const validator = new LicenseValidator({ revoked: opts.revoked ?? new RevocationList(), publicKeyHex: opts.publicKeyHex ?? vendorHex });
  return new LicenseService({ repo: new LicenseRepository(db), validator, audit, now: () => clock, log });
}

async function issue(r: Partial<IssueRequest> = {}, key = vendor.privateKey): Promise<string> {
  const token = await signLicense(buildLicensePayload({ clientId: "cluster-example-001", tier: "cabinet", nowMs: T0, ...r }), key);
  tokens.push(token);
  return token;
}

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => {
      throw new Error("expected a refusal");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const mutation = { method: "POST", route: "/v1/admin/keys" };
const exp365 = Math.floor(T0 / 1000) + 365 * DAY_S; // seconds

beforeAll(async () => {
  db = t.db;
  audit = buildAudit(db);
});

afterAll(async () => {
  // The token never reached a log line.
  const all = raw.join("");
  for (const t of tokens) {
    expect(all).not.toContain(t);
    expect(all).not.toContain(t.split(".")[2]!);
  }
});

beforeEach(async () => {
  clock = T0;
  lines = [];
});

describe("boot", () => {
  it("ensures the row, reports the revocation list and the evaluation mode", async () => {
    await db.query("DELETE FROM cluster_license");
    const s = await service({ revoked: new RevocationList({ "x-1": { reason: "r", revoked_at: "2026-01-01" } }) }).boot();
    expect(s.status).toBe("none");
    expect((await db.query("SELECT id, enforce FROM cluster_license"))).toEqual([{ id: 1, enforce: true }]);
    const msgs = lines.map((l) => l.msg);
    expect(msgs).toContain("license: schema ensured=true");
    expect(msgs).toContain("license: revoked clients list loaded (1 entries)");
    expect(msgs.some((m) => /^license boot: no license installed - evaluation mode/.test(m))).toBe(true);
  });

  it("logs the installed license with client, tier and days left, at the level of its status", async () => {
    const svc = service();
    await svc.install(await issue(), "test");
    lines = [];
    await service().boot();
    expect(lines.find((l) => l.msg.startsWith("license boot:"))).toMatchObject({ level: 30, msg: "license boot: active, client=cluster-example-001 tier=cabinet expires_in=365d" });
    clock = (exp365 - 10 * DAY_S) * 1000;
    lines = [];
    await service().boot();
    expect(lines.find((l) => l.msg.startsWith("license boot:"))).toMatchObject({ level: 40, msg: expect.stringMatching(/^license boot: warning_j30, client=cluster-example-001 tier=cabinet expires_in=10d/) });
    clock = (exp365 + DAY_S) * 1000;
    lines = [];
    await service().boot();
    expect(lines.find((l) => l.msg.startsWith("license boot:"))?.level).toBe(50);
    clock = (exp365 + 31 * DAY_S) * 1000;
    lines = [];
    await service().boot();
    expect(lines.find((l) => l.msg.includes("license boot:"))).toMatchObject({ level: 60, msg: expect.stringMatching(/^CRITICAL license boot: expired/) });
  });
});

describe("install and view", () => {
  it("installs a valid license and shows its status without the token", async () => {
    const token = await issue({ features: ["rag_documents", "balancer"], limits: { max_pools: 5 } });
    const view = await service().install(token, "admin:a@example.com");
    expect(view).toMatchObject({
      status: "active",
      enforce: true,
      client_id: "cluster-example-001",
      tier: "cabinet",
      features: ["rag_documents", "balancer"],
      limits: { max_pools: 5, max_users: 50 },
      days_remaining: 365,
      grace_days: 30,
      expires_at: new Date(exp365 * 1000).toISOString(),
      installed_at: new Date(T0).toISOString(),
      problem: null,
    });
    expect(JSON.stringify(view)).not.toContain(token.split(".")[2]!);
    const [row] = await db.query<{ token: string; client_id: string }>("SELECT token, client_id FROM cluster_license");
    expect(row).toEqual({ token, client_id: "cluster-example-001" });
    const [entry] = await audit.list({ action: "license.upload", limit: 1 });
    expect(entry).toMatchObject({ actor: "admin:a@example.com", target: "license:cluster-example-001", details: { client_id: "cluster-example-001", tier: "cabinet", exp: exp365 } });
    expect(JSON.stringify(entry)).not.toContain(token.split(".")[2]!);
  });

  it("goes through every time status as the clock moves, at the documented boundaries", async () => {
    const svc = service();
    await svc.install(await issue({ graceDays: 7 }), "test");
    const status = async (s: number, ms = 0) => {
      clock = s * 1000 + ms;
      return (await svc.view()).status;
    };
    expect(await status(exp365 - 30 * DAY_S - 1)).toBe("active");
    expect(await status(exp365 - 30 * DAY_S)).toBe("warning_j30");
    expect(await status(exp365 - 1, 999)).toBe("warning_j30");
    expect(await status(exp365)).toBe("grace");
    expect(await status(exp365 + 7 * DAY_S - 1, 999)).toBe("grace");
    expect(await status(exp365 + 7 * DAY_S)).toBe("expired");
  });

  it("refuses a license already past its grace window, a revoked client, and stores nothing", async () => {
    clock = (exp365 + 31 * DAY_S) * 1000;
    expect(await refusal(service().install(await issue(), "test"))).toMatchObject({ code: "license_token_expired", status: 400 });
    const revoked = new RevocationList({ "evil-corp-001": { reason: "security_incident", revoked_at: "2026-03-15" } });
    clock = T0;
    expect(await refusal(service({ revoked }).install(await issue({ clientId: "evil-corp-001" }), "test"))).toMatchObject({ code: "client_revoked" });
    expect(await refusal(service().install(await issue({}, generateKeyPairSync("ed25519").privateKey), "test"))).toMatchObject({ code: "jwt_invalid" });
    expect((await service().view()).status).toBe("none");
  });

  it("accepts a license in its grace period (it still works for a while)", async () => {
    clock = (exp365 + DAY_S) * 1000;
    expect((await service().install(await issue(), "test")).status).toBe("grace");
  });

  it("installs through the wizard only when no license is installed (409 otherwise)", async () => {
    const svc = service();
    expect((await svc.install(await issue(), "setup:wizard", { onlyIfNone: true })).status).toBe("active");
    const err = await refusal(svc.install(await issue({ clientId: "someone-else" }), "setup:wizard", { onlyIfNone: true }));
    expect(err).toMatchObject({ code: "license_already_installed", status: 409 });
    expect((await svc.view()).client_id).toBe("cluster-example-001");
  });

  it("removes the license (back to none), keeps enforce, and audits it", async () => {
    const svc = service();
    await svc.install(await issue(), "test");
    await svc.setEnforce(false, "test");
    const view = await svc.remove("admin:a@example.com");
    expect(view).toMatchObject({ status: "none", enforce: false, client_id: null, features: [], limits: {}, days_remaining: null });
    const [entry] = await audit.list({ action: "license.delete", limit: 1 });
    expect(entry).toMatchObject({ actor: "admin:a@example.com", details: { client_id: "cluster-example-001", had_license: true } });
  });
});

describe("revoked and invalid stored licenses", () => {
  it("is revoked when a later release's list names the client, or when the row is flagged", async () => {
    await service().install(await issue(), "test");
    const newRelease = service({ revoked: new RevocationList({ "cluster-example-001": { reason: "unpaid", revoked_at: "2027-02-01" } }) });
    const v = await newRelease.view();
    expect(v).toMatchObject({ status: "revoked", client_id: "cluster-example-001", problem: expect.stringContaining("unpaid") });
    expect(await refusal(newRelease.checkMutation(mutation))).toMatchObject({ code: "license_revoked", status: 402 });

    const svc = service();
    expect((await svc.view()).status).toBe("active");
    await db.query("UPDATE cluster_license SET revoked = TRUE WHERE id = 1");
    expect((await svc.view()).status).toBe("revoked");
    expect(await refusal(svc.checkMutation(mutation))).toMatchObject({ code: "license_revoked", status: 402 });
  });

  it("is invalid when the stored token no longer verifies (another authority key)", async () => {
    await service().install(await issue(), "test");
    const otherKey = rawPublicKey(generateKeyPairSync("ed25519").publicKey).toString("hex");
    const svc = service({ publicKeyHex: otherKey });
    expect(await svc.view()).toMatchObject({ status: "invalid", client_id: "cluster-example-001", features: [], problem: expect.stringMatching(/^jwt_invalid/) });
    expect(await refusal(svc.checkMutation(mutation))).toMatchObject({ code: "license_invalid", status: 402 });
  });
});

describe("the mutation gate and the warning progression", () => {
  it("lets mutations through without a license (evaluation mode) and with an active one, silently", async () => {
    const svc = service();
    await svc.checkMutation(mutation);
    await svc.install(await issue(), "test");
    lines = [];
    await svc.checkMutation(mutation);
    expect(lines).toEqual([]);
  });

  it("warns (WARNING, at most daily) within 30 days, ERRORs each mutation in grace, CRITICAL + 402 after", async () => {
    const svc = service();
    await svc.install(await issue({ graceDays: 7 }), "test");
    clock = (exp365 - 30 * DAY_S) * 1000;
    lines = [];
    await svc.checkMutation(mutation);
    await svc.checkMutation(mutation);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[40, expect.stringMatching(/^license expires in 30d/)]]);
    clock += DAY_S * 1000;
    await svc.checkMutation(mutation);
    expect(lines).toHaveLength(2);

    clock = exp365 * 1000;
    lines = [];
    await svc.checkMutation(mutation);
    await svc.checkMutation(mutation);
    expect(lines.map((l) => l.level)).toEqual([50, 50]);
    expect(lines[0]).toMatchObject({ route: "/v1/admin/keys", msg: expect.stringMatching(/grace period/) });

    clock = (exp365 + 7 * DAY_S) * 1000;
    lines = [];
    const err = await refusal(svc.checkMutation(mutation));
    expect(err).toMatchObject({ code: "license_expired", status: 402 });
    expect(err.message).toMatch(/Reads, exports and inference keep working/);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 60, severity: "CRITICAL", status: "expired" });
  });

  it("lets every mutation through while enforce is false, and logs each toggle at WARNING", async () => {
    const svc = service();
    await svc.install(await issue({ graceDays: 0 }), "test");
    clock = (exp365 + 1) * 1000;
    await refusal(svc.checkMutation(mutation));
    lines = [];
    expect(await svc.setEnforce(false, "admin:a@example.com")).toEqual({ ok: true, enforce: false });
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: "license.enforce toggled to false", enforce: false, previous: true })]);
    await svc.checkMutation(mutation);
    await svc.requireFeature("vip") // not in the cabinet tier;
    await svc.requireLimit("max_pools", 999);
    expect((await svc.view()).enforce).toBe(false);
    expect(await svc.setEnforce(true, "admin:a@example.com")).toEqual({ ok: true, enforce: true });
    expect(lines.at(-1)).toMatchObject({ level: 40, msg: "license.enforce toggled to true" });
    await refusal(svc.checkMutation(mutation));
    const entries = await audit.list({ action: "license.enforce", limit: 2 });
    expect(entries.map((e) => e.details)).toEqual([{ enabled: true, previous: false }, { enabled: false, previous: true }]);
  });

  it("reads enforce from the database at each decision (last-resort SQL override)", async () => {
    const svc = service();
    await svc.install(await issue({ graceDays: 0 }), "test");
    clock = (exp365 + 1) * 1000;
    await refusal(svc.checkMutation(mutation));
    await db.query("UPDATE cluster_license SET enforce = FALSE WHERE id = 1");
    await svc.checkMutation(mutation);
  });
});

describe("requireFeature and requireLimit", () => {
  it("pass without a license (evaluation mode)", async () => {
    const svc = service();
    await svc.requireFeature("rag_documents");
    await svc.requireLimit("max_pools", 1_000_000);
  });

  it("403 feature_not_licensed when the license lacks the feature", async () => {
    const svc = service();
    await svc.install(await issue({ features: ["balancer"] }), "test");
    await svc.requireFeature("balancer");
    const err = await refusal(svc.requireFeature("rag_documents"));
    expect(err).toMatchObject({ code: "feature_not_licensed", status: 403 });
  });

  it("402 limit_reached at the limit, no gate below it or for an undeclared limit", async () => {
    const svc = service();
    await svc.install(await issue({ limits: { max_pools: 5 } }), "test");
    await svc.requireLimit("max_pools", 4);
    const err = await refusal(svc.requireLimit("max_pools", 5));
    expect(err).toMatchObject({ code: "limit_reached", status: 402, message: "limit_reached:max_pools=5>=5" });
    expect((await refusal(svc.requireLimit("max_pools", 6))).message).toBe("limit_reached:max_pools=6>=5");
    await svc.requireLimit("max_projects", 1_000_000);
  });

  it("deny every feature with 402 once the license is expired, and still allow them in grace", async () => {
    const svc = service();
    await svc.install(await issue({ graceDays: 3 }), "test");
    clock = (exp365 + DAY_S) * 1000;
    await svc.requireFeature("rag_documents");
    clock = (exp365 + 3 * DAY_S) * 1000;
    expect(await refusal(svc.requireFeature("rag_documents"))).toMatchObject({ code: "license_expired", status: 402 });
    expect(await refusal(svc.requireLimit("max_pools", 0))).toMatchObject({ code: "license_expired", status: 402 });
  });
});
