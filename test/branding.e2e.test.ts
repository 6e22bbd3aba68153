/**
 * Branding and identity after setup (issue 20 must-have 4), end to end on two real pools bonded at
 * trust 3 (startCluster with names a, b): A started with POOL_NAME shows it in its admin identity
 * API; B learns A's name through replication; the company name, the logo and A's new name changed on
 * A through PUT /v1/admin/identity show on B (identity API, /setup/logo bytes, the PDF guide);
 * a bad logo is refused after setup with the wizard's code; every change is in A's audit log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ok, startCluster, type ClusterNode } from "./cluster.js";
import { pdfPagesText, png } from "./fixtures/readers.js";
import { killAll, waitFor } from "./helpers.js";

const PNG = png(16, 8);

let A: ClusterNode;
let B: ClusterNode;

afterAll(killAll);

beforeAll(async () => {
  const nodes = await startCluster({ names: ["a", "b"], envOf: (name) => (name === "a" ? { POOL_NAME: "Lyon - salle serveur" } : {}) });
  ({ a: A, b: B } = nodes as Record<"a" | "b", ClusterNode>);
}, 180_000);

describe("branding after setup", () => {
  it("POOL_NAME names the pool at boot, and its peer shows that name", async () => {
    const a = await ok(A.adminCall, "GET", "/v1/admin/identity");
    expect(a.pool).toEqual({ atom_id: A.atom, name: "Lyon - salle serveur", source: "env" });
    const b = await waitFor(async () => {
      const v = await ok(B.adminCall, "GET", "/v1/admin/identity");
      return v.peers.some((p: { atom_id: string; name: string }) => p.atom_id === A.atom && p.name === "Lyon - salle serveur") && v;
    }, "B knows A's POOL_NAME");
    expect(b.pool.name).toBeNull();
  });

  it("refuses a bad logo after setup exactly as the wizard does, changing nothing", async () => {
    const r = await A.adminCall("PUT", "/v1/admin/identity", { logo: Buffer.from("#!/bin/sh\necho pwned\n").toString("base64") });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: "invalid_logo", param: "logo", codes: { logo: "logo_type" } });
    expect((await ok(A.adminCall, "GET", "/v1/admin/identity")).logo).toBeNull();
  });

  it("company name, logo and pool name changed on A show on B (identity, logo, PDF), audited on A", async () => {
    const t0 = performance.now();
    const v = await ok(A.adminCall, "PUT", "/v1/admin/identity", { company_name: "Martin Associés", logo: PNG.toString("base64"), pool_name: "Lyon HQ" });
    expect(v).toMatchObject({ company_name: "Martin Associés", logo: { mime: "image/png", bytes: PNG.length }, pool: { name: "Lyon HQ", source: "dashboard" } });
    const b = await waitFor(async () => {
      const x = await ok(B.adminCall, "GET", "/v1/admin/identity");
      return x.company_name === "Martin Associés" && x.logo && x.peers.some((p: { atom_id: string; name: string }) => p.atom_id === A.atom && p.name === "Lyon HQ") && x;
    }, "B shows A's branding");
    const ms = performance.now() - t0;
    console.log(`branding replicated A → B in ${ms.toFixed(0)} ms`);
    expect(b.logo).toEqual({ mime: "image/png", bytes: PNG.length });
    // B's own name is B's: A's change did not touch it.
    expect(b.pool.name).toBeNull();
    const logo = await fetch(`${B.pool.url}/setup/logo`);
    expect(logo.headers.get("content-type")).toBe("image/png");
    expect(Buffer.from(await logo.arrayBuffer()).equals(PNG)).toBe(true);
    // B's PDF guide carries the new company name; A's carries its pool name too.
    const pdf = async (n: ClusterNode) => {
      const r = await fetch(`${n.pool.url}/v1/admin/docs/api/pdf`, { headers: { authorization: `Bearer ${n.admin}` } });
      expect(r.status).toBe(200);
      return pdfPagesText(Buffer.from(await r.arrayBuffer()));
    };
    expect((await pdf(B))[0]).toContain("Martin Associés");
    const pagesA = await pdf(A);
    expect(pagesA[0]).toContain("Pool: Lyon HQ");
    expect(pagesA[1]).toContain("Martin Associés · Lyon HQ");
    const audit = await ok(A.adminCall, "GET", "/v1/admin/audit?action=branding.");
    const actions = (audit.data as { action: string; actor: string }[]).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["branding.company", "branding.pool_name"]));
  });
});
