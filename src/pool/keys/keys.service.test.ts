import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { AuditService } from "../audit/audit.service.js";
import { KeysRepository } from "./keys.repository.js";
import { KeysService } from "./keys.service.js";
import { rejection } from "../../../test/expect-app-error.js";
import { useTestDb } from "../../../test/harness/db.js";
import { buildAudit } from "../../../test/harness/services.js";

const t = useTestDb({ reset: "none" });

const ARGON2ID_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$";
const KEY_SHAPE = /^sk_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/;

/** Same id, different random part: a well-formed key that is not the real one. */
function forge(key: string): string {
  const [prefix, id, secret] = [key.slice(0, 2), key.slice(3, 15), key.slice(16)];
  const other = secret.startsWith("A") ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;
  return `${prefix}_${id}_${other}`;
}

let db: Db;
let repo: KeysRepository;
let clock = 1_000_000;
let service: KeysService;
let audit: AuditService;

beforeAll(async () => {
  db = t.db;
  repo = new KeysRepository(db);
  audit = buildAudit(db);
  service = new KeysService({ keys: repo, audit, now: () => clock });
});

afterAll(async () => {
});

describe("KeysService.create", () => {
  it("returns a key of the documented shape and stores only its Argon2id hash", async () => {
    const created = await service.create("ci", "admin", "test:admin");
    expect(created.name).toBe("ci");
    expect(created.scope).toBe("admin");
    const m = KEY_SHAPE.exec(created.key);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(created.id);

    const rows = await db.query<{ id: string; name: string; scope: string; secret_hash: string; revoked_at: Date | null }>("SELECT * FROM api_keys WHERE id = $1", [created.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: created.id, name: "ci", scope: "admin", revoked_at: null });
    expect(rows[0]!.secret_hash.startsWith(ARGON2ID_PREFIX)).toBe(true);

    // The plain key (or its random part) appears nowhere in the table.
    const secretPart = created.key.slice(16);
    const dump = JSON.stringify(await db.query("SELECT * FROM api_keys"));
    expect(dump).not.toContain(created.key);
    expect(dump).not.toContain(secretPart);
  });

  it("defaults to the user scope and gives every key its own id and secret", async () => {
    const a = await service.create("a", "user", "test:admin");
    const b = await service.create("b", "user", "test:admin");
    expect(a.scope).toBe("user");
    expect(a.id).not.toBe(b.id);
    expect(a.key).not.toBe(b.key);
    const [ra, rb] = [await repo.findById(a.id), await repo.findById(b.id)];
    expect(ra!.secret_hash).not.toBe(rb!.secret_hash);
  });

  it("counts the keys that are not revoked", async () => {
    const before = await service.count();
    const k = await service.create("counted", "user", "test:admin");
    expect(await service.count()).toBe(before + 1);
    await db.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [k.id]);
    expect(await service.count()).toBe(before);
  });
});

describe("KeysService.authenticate", () => {
  it("resolves a valid key to its id, name and scope", async () => {
    const created = await service.create("alice", "user", "test:admin");
    await expect(service.authenticate(created.key)).resolves.toEqual({ id: created.id, name: "alice", scope: "user" });
  });

  it("records the key's last use", async () => {
    const created = await service.create("touched", "user", "test:admin");
    await service.authenticate(created.key);
    await expect
      .poll(async () => (await db.query<{ last_used_at: Date | null }>("SELECT last_used_at FROM api_keys WHERE id = $1", [created.id]))[0]!.last_used_at)
      .toBeInstanceOf(Date);
  });

  it("refuses a wrong secret for an existing id with 401 invalid_api_key", async () => {
    const created = await service.create("bob", "user", "test:admin");
    const wrong = forge(created.key);
    expect(wrong).toMatch(KEY_SHAPE);
    expect(wrong).not.toBe(created.key);
    const err = await rejection(service.authenticate(wrong));
    expect(err.status).toBe(401);
    expect(err.code).toBe("invalid_api_key");
  });

  it("refuses a missing key with 401 missing_api_key", async () => {
    for (const bearer of [undefined, ""]) {
      const err = await rejection(service.authenticate(bearer));
      expect(err.status).toBe(401);
      expect(err.code).toBe("missing_api_key");
    }
  });

  it("refuses garbage and unknown well-formed keys with 401 invalid_api_key", async () => {
    const created = await service.create("carol", "user", "test:admin");
    const unknownId = `sk_ffffffffffff_${created.key.slice(16)}`;
    for (const bearer of ["hello", "sk_nothex_x", `${created.key}x`, created.key.replace("sk_", "wkr_"), unknownId, ` ${created.key}`]) {
      const err = await rejection(service.authenticate(bearer));
      expect(err.status, bearer).toBe(401);
      expect(err.code, bearer).toBe("invalid_api_key");
    }
  });

  it("refuses a revoked key once its cached verification has expired", async () => {
    const created = await service.create("dave", "user", "test:admin");
    await expect(service.authenticate(created.key)).resolves.toMatchObject({ id: created.id });
    await db.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [created.id]);
    clock += 60_001;
    const err = await rejection(service.authenticate(created.key));
    expect(err.code).toBe("invalid_api_key");
  });

  it("audits key creation with the id and the actor, never the secret", async () => {
    const created = await service.create("audited", "admin", "admin:it@example.com");
    const [entry] = await audit.list({ action: "key.create", limit: 1 });
    expect(entry).toMatchObject({ actor: "admin:it@example.com", target: `key:${created.id}`, details: { name: "audited", scope: "admin" } });
    expect(JSON.stringify(entry)).not.toContain(created.key.slice("sk_".length + 12 + 1)); // the random part
  });

  it("refuses a revoked key that was never verified", async () => {
    const fresh = new KeysService({ keys: repo, audit });
    const created = await fresh.create("erin", "user", "test:admin");
    await db.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [created.id]);
    expect((await rejection(fresh.authenticate(created.key))).code).toBe("invalid_api_key");
  });

  it("answers a repeated valid key from the cache without the database", async () => {
    const created = await service.create("frank", "user", "test:admin");
    let lookups = 0;
    const counting = new KeysService({
      audit,
      keys: Object.assign(Object.create(repo) as KeysRepository, {
        findById: (id: string) => {
          lookups++;
          return repo.findById(id);
        },
      }),
      now: () => clock,
    });
    await counting.authenticate(created.key);
    await counting.authenticate(created.key);
    expect(lookups).toBe(1);
    // A wrong key never hits the cache of a right one.
    await rejection(counting.authenticate(forge(created.key)));
    expect(lookups).toBe(2);
  });
});

describe("KeysService.authenticate: equal cost and the failure gate (finding 10)", () => {
  /** A gate that records what it was told. */
  function recordingGate() {
    const outcomes: boolean[] = [];
    let opened = 0;
    return {
      outcomes,
      opened: () => opened,
      gate: async () => {
        opened++;
        return async (failed: boolean) => {
          outcomes.push(failed);
        };
      },
    };
  }

  it("runs the gate before verifying a bearer it has not verified recently, and reports the outcome", async () => {
    const created = await service.create("gated", "user", "test:admin");
    const g = recordingGate();
    await rejection(service.authenticate(forge(created.key), g.gate));
    await service.authenticate(created.key, g.gate);
    expect(g.outcomes).toEqual([true, false]);
    // Cached now: no gate, nothing counted.
    await service.authenticate(created.key, g.gate);
    expect(g.opened()).toBe(2);
    // A missing key is refused before the gate (nothing to verify).
    await rejection(service.authenticate(undefined, g.gate));
    expect(g.opened()).toBe(2);
  });

  it("a gate that refuses stops the request before any lookup or verification", async () => {
    let lookups = 0;
    const counting = new KeysService({
      audit,
      keys: Object.assign(Object.create(repo) as KeysRepository, {
        findById: (id: string) => {
          lookups++;
          return repo.findById(id);
        },
      }),
    });
    const refused = new Error("over budget");
    await expect(
      counting.authenticate(`sk_${"a".repeat(12)}_${"b".repeat(32)}`, async () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(lookups).toBe(0);
  });

  it("an unknown id, a revoked key and a wrong secret each cost one Argon2id verification", async () => {
    const real = await service.create("timed", "user", "test:admin");
    const revoked = await service.create("timed-revoked", "user", "test:admin");
    await db.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1", [revoked.id]);
    const fresh = new KeysService({ keys: repo, audit });
    await rejection(fresh.authenticate(`sk_${"0".repeat(12)}_${real.key.slice(16)}`)); // computes the dummy hash once
    const time = async (bearer: string) => {
      const t0 = performance.now();
      await rejection(fresh.authenticate(bearer));
      return performance.now() - t0;
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const known: number[] = [];
    const unknown: number[] = [];
    const gone: number[] = [];
    for (let i = 0; i < 9; i++) {
      known.push(await time(forge(real.key)));
      unknown.push(await time(`sk_${i.toString(16).padStart(12, "e")}_${real.key.slice(16)}`));
      gone.push(await time(revoked.key));
    }
    for (const other of [unknown, gone]) {
      const ratio = median(known) / median(other);
      expect(ratio).toBeGreaterThan(0.6);
      expect(ratio).toBeLessThan(1.6);
    }
  });
});

describe("KeysService.list and revoke", () => {
  it("lists keys without their secret or hash, project keys with their project", async () => {
    const created = await service.create("listed", "admin", "test:admin");
    const rows = await service.list();
    const row = rows.find((r) => r.id === created.id);
    expect(row).toMatchObject({ id: created.id, name: "listed", scope: "admin", project_id: null, revoked_at: null });
    expect(row!.created_at).toBeInstanceOf(Date);
    expect(JSON.stringify(rows)).not.toMatch(/argon2|secret_hash/);
    expect(JSON.stringify(rows)).not.toContain(created.key);
  });

  it("refuses a revoked key at once, although its verification was cached, and audits key.revoke", async () => {
    const created = await service.create("to-revoke", "user", "test:admin");
    await expect(service.authenticate(created.key)).resolves.toMatchObject({ id: created.id }); // now cached
    await expect(service.revoke(created.id, "admin:it@example.com")).resolves.toEqual({ id: created.id, revoked: true });
    // Same clock: the 60 s cache entry would still be valid; the revocation dropped it.
    expect((await rejection(service.authenticate(created.key))).code).toBe("invalid_api_key");
    expect((await service.list()).find((r) => r.id === created.id)!.revoked_at).toBeInstanceOf(Date);
    const [entry] = await audit.list({ action: "key.revoke", limit: 1 });
    expect(entry).toMatchObject({ actor: "admin:it@example.com", target: `key:${created.id}`, details: { name: "to-revoke", scope: "user" } });
    // Again: a no-op, not audited twice.
    await expect(service.revoke(created.id, "admin:it@example.com")).resolves.toEqual({ id: created.id, revoked: true });
    expect((await audit.list({ action: "key.revoke", limit: 10 })).filter((e) => e.target === `key:${created.id}`)).toHaveLength(1);
  });

  it("answers 404 for an unknown key id", async () => {
    const err = await rejection(service.revoke("000000000000", "test:admin"));
    expect([err.status, err.code]).toEqual([404, "key_not_found"]);
  });
});
