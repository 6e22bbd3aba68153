import { beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { ephemeralIdentity } from "../identity/pool-identity.js";
import { parseCsv } from "../../../test/fixtures/readers.js";
import { CSV_HEADER, csvChunks, csvField, jsonChunks } from "./audit-export.js";
import { AuditRepository } from "./audit.repository.js";
import { AuditService } from "./audit.service.js";
import { useTestDb } from "../../../test/harness/db.js";

const t = useTestDb({ reset: "none" });

const collect = async (chunks: AsyncIterable<string>) => {
  let s = "";
  for await (const c of chunks) s += c;
  return s;
};

describe("CSV fields (RFC 4180)", () => {
  it("quotes fields with commas, quotes, CR or LF and doubles the quotes; keeps others bare", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField(12)).toBe("12");
    expect(csvField(null)).toBe("");
    expect(csvField("a,b")).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField("line1\nline2")).toBe('"line1\nline2"');
    expect(csvField("cr\rhere")).toBe('"cr\rhere"');
    // A spreadsheet must never run a value as a formula.
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
  });
});

describe("audit filters and export", () => {
  let db: Db;
  let audit: AuditService;
  let clock = new Date("2026-03-01T08:00:00Z");

  beforeAll(async () => {
    db = t.db;
    audit = new AuditService({ audit: new AuditRepository(db), identity: ephemeralIdentity(), now: () => clock });
    const events = [
      { actor: "admin:alice@example.com", action: "key.create", target: "key:aaa", details: { name: 'Paris, "HQ"\nsecond line' } },
      { actor: "admin:bob@example.com", action: "login.failure", details: { ip: "10.0.0.1", reason: "bad_password" } },
      { actor: "key:k1", action: "project.create", target: "project:prj_100%_sure", projectId: "prj_1" },
      { actor: "admin:alice@example.com", action: "settings.update", target: "setting:queue_size", details: { from: 64, to: 128 } },
      { actor: "system", action: "key.revoke", target: "key:aaa" },
    ];
    for (const e of events) {
      await audit.record(e);
      clock = new Date(clock.getTime() + 86_400_000); // one a day: Mar 1 … Mar 5
    }
  });
  
  const seqs = async (f: Parameters<AuditService["list"]>[0]) => (await audit.list({ limit: 100, ...f })).map((r) => r.seq);

  it("filters by actor (substring, any case), time window, text in action or target, and combines them", async () => {
    expect(await seqs({ actor: "ALICE" })).toEqual([4, 1]);
    expect(await seqs({ since: new Date("2026-03-02T00:00:00Z") })).toEqual([5, 4, 3, 2]);
    expect(await seqs({ until: new Date("2026-03-02T08:00:00Z") })).toEqual([2, 1]); // inclusive
    expect(await seqs({ since: new Date("2026-03-02T00:00:00Z"), until: new Date("2026-03-03T23:59:59Z") })).toEqual([3, 2]);
    expect(await seqs({ q: "key:aaa" })).toEqual([5, 1]); // target
    expect(await seqs({ q: "LOGIN" })).toEqual([2]); // action
    expect(await seqs({ q: "100%" })).toEqual([3]); // % is literal, not a wildcard
    expect(await seqs({ q: "%" })).toEqual([3]);
    expect(await seqs({ q: "_" })).toEqual([4, 3]); // queue_size (4) and prj_100 (3)
    expect(await seqs({ actor: "alice", q: "key" })).toEqual([1]);
    expect(await seqs({ action: "key." })).toEqual([5, 1]);
  });

  it("exports the filtered log in chain order as RFC 4180 CSV with a header row, a page at a time", async () => {
    const csv = await collect(csvChunks(audit.rows({ actor: "alice" }, 1)));
    expect(csv.startsWith(CSV_HEADER)).toBe(true);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual(["seq", "at", "actor", "action", "target", "project_id", "details", "hash"]);
    expect(rows.slice(1).map((r) => r[0])).toEqual(["1", "4"]);
    expect(rows[1]!.slice(0, 6)).toEqual(["1", "2026-03-01T08:00:00.000Z", "admin:alice@example.com", "key.create", "key:aaa", ""]);
    // The details JSON survives commas, quotes and newlines.
    expect(JSON.parse(rows[1]![6]!)).toEqual({ name: 'Paris, "HQ"\nsecond line' });
    expect(rows[1]![7]).toMatch(/^[0-9a-f]{64}$/);
  });

  it("exports a JSON array of the same entries, and an empty array when nothing matches", async () => {
    const all = JSON.parse(await collect(jsonChunks(audit.rows({}, 2)))) as { seq: number; details: unknown; project_id: string | null }[];
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all[2]).toMatchObject({ project_id: "prj_1", actor: "key:k1" });
    expect(all[3]!.details).toEqual({ from: 64, to: 128 });
    expect(JSON.parse(await collect(jsonChunks(audit.rows({ actor: "nobody" }))))).toEqual([]);
  });
});
