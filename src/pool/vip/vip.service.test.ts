import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../audit/audit.service.js";
import type { VipRepository, VipSettingsRow, VipTransitionRow } from "./vip.repository.js";
import { VipService } from "./vip.service.js";
import { derivedAuthPass, derivedRouterId } from "./vrrp.js";

const SELF = "a".repeat(32);
const B = "b".repeat(32);
const C = "c".repeat(32);

/** The repository's contract in memory (the SQL itself runs in test/vip.e2e.test.ts). */
function memoryRepo(): VipRepository {
  let row: VipSettingsRow = { enabled: false, address: null, interface: null, priority: null, router_id: null, mode: "preempt", updated_at: null };
  const transitions: VipTransitionRow[] = [];
  return {
    get: () => Promise.resolve(row),
    save: (s: Omit<VipSettingsRow, "updated_at">) => {
      row = { ...s, updated_at: new Date() };
      return Promise.resolve();
    },
    addTransition: (t: { state: VipTransitionRow["state"]; priority: number }) => {
      const r = { at: new Date(Date.now() + transitions.length), state: t.state, priority: t.priority };
      transitions.push(r);
      return Promise.resolve(r);
    },
    transitions: (limit: number) => Promise.resolve([...transitions].reverse().slice(0, limit)),
  } as unknown as VipRepository;
}

function service(peerStates: Record<string, { state: string | null; since: string | null } | "down">, secret?: string) {
  const audit: AuditEvent[] = [];
  const svc = new VipService({
    repo: memoryRepo(),
    audit: { record: (e: AuditEvent) => (audit.push(e), Promise.resolve(audit.length)) },
    atomId: SELF,
    clusterSecret: secret,
    peers: {
      trusted: () => Promise.resolve(Object.keys(peerStates).map((atom_id) => ({ atom_id, url: `http://${atom_id.slice(0, 4)}:18080` }))),
      request: <T>(peer: { url: string }) => {
        const atom = Object.keys(peerStates).find((a) => peer.url.includes(a.slice(0, 4)))!;
        const s = peerStates[atom]!;
        return s === "down" ? Promise.reject(new Error("unreachable")) : Promise.resolve({ atom_id: atom, ...s } as T);
      },
    },
  });
  return { svc, audit };
}

describe("VipService", () => {
  it("refuses to enable without a VIP and an interface; saves, audits (no password), and derives router id and priority from the cluster", async () => {
    const { svc, audit } = service({ [B]: "down", [C]: "down" });
    await expect(svc.update({ enabled: true, mode: "preempt", address: "10.0.0.9/24" }, "admin:x")).rejects.toMatchObject({ code: "invalid_request" });
    const saved = await svc.update({ enabled: true, mode: "no-preempt", address: "10.0.0.9/24", interface: "eth0" }, "admin:x");
    expect(saved).toMatchObject({ enabled: true, address: "10.0.0.9/24", interface: "eth0", mode: "no-preempt", cluster_pools: 3, effective: { priority: 200, router_id: derivedRouterId([SELF, B, C]) } });
    expect(audit.map((e) => e.action)).toEqual(["vip.settings.update"]);
    const self = await svc.self();
    expect(self.auth_pass).toBe(derivedAuthPass([SELF, B, C], self.router_id));
    expect(JSON.stringify(audit)).not.toContain(self.auth_pass);
    expect(JSON.stringify(saved)).not.toContain(self.auth_pass);
    // Overrides win, and a later partial update keeps what it does not name.
    const again = await svc.update({ enabled: true, mode: "preempt", priority: 42, router_id: 7 }, "admin:x");
    expect(again).toMatchObject({ address: "10.0.0.9/24", interface: "eth0", effective: { priority: 42, router_id: 7 } });
    expect((await svc.self()).auth_pass).toBe(derivedAuthPass([SELF, B, C], 7));
  });

  it("keys the password with the cluster secret when there is one", async () => {
    const { svc } = service({ [B]: "down" }, "the-bond-secret");
    await svc.update({ enabled: true, mode: "preempt", address: "10.0.0.9/24", interface: "eth0" }, "admin:x");
    const self = await svc.self();
    expect(self.auth_pass).toBe(derivedAuthPass([SELF, B], self.router_id, "the-bond-secret"));
  });

  it("records the notify's transitions (audited with the previous state) and names the holder across the peers", async () => {
    const { svc, audit } = service({ [B]: { state: "MASTER", since: "2026-01-01T00:00:00.000Z" }, [C]: "down" });
    await svc.update({ enabled: true, mode: "preempt", address: "10.0.0.9/24", interface: "eth0" }, "admin:x");
    await svc.report("BACKUP");
    await svc.report("MASTER");
    expect(audit.filter((e) => e.action === "vip.transition").map((e) => [e.details?.state, e.details?.previous])).toEqual([
      ["BACKUP", null],
      ["MASTER", "BACKUP"],
    ]);
    expect((await svc.self()).reported_state).toBe("MASTER");
    const info = await svc.info();
    // Two say MASTER (B has not reported its step down yet): the latest report wins — this pool.
    expect(info.holder).toMatchObject({ atom_id: SELF, self: true });
    expect(info.pools.find((p) => p.atom_id === C)).toMatchObject({ reachable: false, state: null });
    expect(info.transitions.map((t) => t.state)).toEqual(["MASTER", "BACKUP"]);
    await svc.report("FAULT");
    expect((await svc.info()).holder).toMatchObject({ atom_id: B, self: false });
  });
});
