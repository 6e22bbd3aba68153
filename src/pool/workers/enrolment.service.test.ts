import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AppError } from "../../shared/errors.js";
import { hashSecret, newSecret } from "../../shared/secrets.js";
import { EnrolmentService } from "./enrolment.service.js";
import { WorkersRepository } from "./workers.repository.js";
import { rejection } from "../../../test/expect-app-error.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb({ reset: "none" });

const ARGON2ID_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$";

/** Same kind and id, different random part. */
function forge(secret: string): string {
  const i = secret.lastIndexOf("_", secret.length - 33);
  const rest = secret.slice(i + 1);
  return `${secret.slice(0, i + 1)}${rest.startsWith("A") ? "B" : "A"}${rest.slice(1)}`;
}

let db: Db;
let workers: WorkersRepository;
let service: EnrolmentService;

beforeAll(async () => {
  db = t.db;
  workers = new WorkersRepository(db);
  service = new EnrolmentService({ workers, audit: buildAudit(db), tokenTtlHours: 24 });
});

afterAll(async () => {
});

describe("EnrolmentService tokens", () => {
  it("creates a token of the documented shape, stored only as an Argon2id hash", async () => {
    const before = Date.now();
    const t = await service.createToken("rack 3", "test:admin");
    expect(t.token).toMatch(/^enrol_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(t.token.slice(6, 18)).toBe(t.id);
    expect(t.expiresAt.getTime()).toBeGreaterThanOrEqual(before + 24 * 3_600_000);
    expect(t.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);

    const rows = await db.query<{ token_hash: string; note: string; used_at: Date | null; expires_at: Date }>("SELECT * FROM enrolment_tokens WHERE id = $1", [t.id]);
    expect(rows[0]).toMatchObject({ note: "rack 3", used_at: null });
    expect(rows[0]!.expires_at.getTime()).toBe(t.expiresAt.getTime());
    expect(rows[0]!.token_hash.startsWith(ARGON2ID_PREFIX)).toBe(true);
    const dump = JSON.stringify(await db.query("SELECT * FROM enrolment_tokens"));
    expect(dump).not.toContain(t.token);
    expect(dump).not.toContain(t.token.slice(19));
  });

  it("exchanges a token once for a worker id and credential", async () => {
    const t = await service.createToken(undefined, "test:admin");
    const enrolled = await service.enrol(t.token, "gpu-box");
    expect(enrolled.credential).toMatch(/^wkr_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(enrolled.credential.slice(4, 16)).toBe(enrolled.workerId);

    const row = await workers.findWorker(enrolled.workerId);
    expect(row).toMatchObject({ id: enrolled.workerId, name: "gpu-box", revoked_at: null });
    expect(row!.credential_hash.startsWith(ARGON2ID_PREFIX)).toBe(true);
    const dump = JSON.stringify(await db.query("SELECT * FROM workers"));
    expect(dump).not.toContain(enrolled.credential);

    const token = await workers.findToken(t.id);
    expect(token!.used_at).toBeInstanceOf(Date);
    const [{ worker_id }] = (await db.query<{ worker_id: string }>("SELECT worker_id FROM enrolment_tokens WHERE id = $1", [t.id])) as [{ worker_id: string }];
    expect(worker_id).toBe(enrolled.workerId);

    const again = await rejection(service.enrol(t.token, "gpu-box-2"));
    expect(again.status).toBe(401);
    expect(again.code).toBe("enrolment_refused");
    expect(await workers.listWorkers()).toHaveLength(1);
  });

  it("lets only one of two concurrent enrolments with the same token succeed", async () => {
    const t = await service.createToken(undefined, "test:admin");
    const before = (await workers.listWorkers()).length;
    const results = await Promise.allSettled([service.enrol(t.token, "one"), service.enrol(t.token, "two")]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(failed).toHaveLength(1);
    expect((failed[0]!.reason as AppError).code).toBe("enrolment_refused");
    expect(await workers.listWorkers()).toHaveLength(before + 1);
  });

  it("refuses an expired token", async () => {
    const { id, secret } = newSecret("enrol");
    await workers.insertToken({ id, tokenHash: await hashSecret(secret), expiresAt: new Date(Date.now() - 1_000) });
    const err = await rejection(service.enrol(secret, "late"));
    expect(err.status).toBe(401);
    expect(err.code).toBe("enrolment_refused");
    expect((await workers.findToken(id))!.used_at).toBeNull();
  });

  it("accepts a token just before it expires", async () => {
    const { id, secret } = newSecret("enrol");
    await workers.insertToken({ id, tokenHash: await hashSecret(secret), expiresAt: new Date(Date.now() + 60_000) });
    await expect(service.enrol(secret, "just-in-time")).resolves.toMatchObject({ credential: expect.stringMatching(/^wkr_/) });
  });

  it("refuses a wrong secret for an existing token id, and garbage, without consuming the token", async () => {
    const t = await service.createToken(undefined, "test:admin");
    for (const bad of [forge(t.token), "enrol_123", "", t.token.replace("enrol_", "sk_"), `enrol_ffffffffffff_${t.token.slice(19)}`]) {
      const err = await rejection(service.enrol(bad, "intruder"));
      expect(err.status, bad).toBe(401);
      expect(err.code, bad).toBe("enrolment_refused");
    }
    expect((await workers.findToken(t.id))!.used_at).toBeNull();
    await expect(service.enrol(t.token, "legit")).resolves.toBeDefined();
  });
});

describe("EnrolmentService.authenticate", () => {
  it("accepts the issued credential and refuses a wrong, malformed or revoked one", async () => {
    const t = await service.createToken(undefined, "test:admin");
    const { workerId, credential } = await service.enrol(t.token, "cpu-box");
    await expect(service.authenticate(credential)).resolves.toMatchObject({ id: workerId, name: "cpu-box" });

    for (const bad of [forge(credential), "wkr_nope", "", t.token, `wkr_ffffffffffff_${credential.slice(17)}`]) {
      const err = await rejection(service.authenticate(bad));
      expect(err.status, bad).toBe(401);
      expect(err.code, bad).toBe("worker_credential_refused");
    }

    await db.query("UPDATE workers SET revoked_at = now() WHERE id = $1", [workerId]);
    expect((await rejection(service.authenticate(credential))).code).toBe("worker_credential_refused");
  });
});

describe("EnrolmentService: equal work for unknown and known ids", () => {
  /** Median time of `n` refused calls (ms). */
  async function medianRefusal(call: () => Promise<unknown>, n = 5): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await call().catch(() => undefined);
      times.push(performance.now() - t);
    }
    return times.sort((a, b) => a - b)[Math.floor(n / 2)]!;
  }

  it("spends an Argon2 verification on a credential or token whose id names no row", async () => {
    const t = await service.createToken(undefined, "test:admin");
    const { credential } = await service.enrol(t.token, "timing");
    await service.authenticate(`wkr_aaaaaaaaaaaa_${"x".repeat(32)}`).catch(() => undefined); // creates the dummy hash
    const known = await medianRefusal(() => service.authenticate(forge(credential)));
    const unknown = await medianRefusal(() => service.authenticate(`wkr_aaaaaaaaaaaa_${credential.slice(-32)}`));
    // Without the dummy verification an unknown id was refused after one SELECT (~0.5 ms) against ~20+ ms.
    expect(known).toBeGreaterThan(5);
    expect(unknown).toBeGreaterThan(known * 0.5);
    const t2 = await service.createToken(undefined, "test:admin");
    const knownToken = await medianRefusal(() => service.enrol(forge(t2.token), "x"));
    const unknownToken = await medianRefusal(() => service.enrol(`enrol_aaaaaaaaaaaa_${t2.token.slice(-32)}`, "x"));
    expect(unknownToken).toBeGreaterThan(knownToken * 0.5);
  });
});
