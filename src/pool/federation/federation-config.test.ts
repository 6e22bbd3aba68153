import { describe, expect, it } from "vitest";
import { fedSourceAddressOf, loadPoolConfig } from "../../config/pool.config.js";
import { peerUrlOf } from "./federation.composition.js";

describe("federation configuration", () => {
  it("defaults: active, gossip on, no peers, 1 s sync, 5 s probes, 60 s skew, 10 min push age", () => {
    const c = loadPoolConfig({ env: {} });
    expect([c.fedMode, c.fedGossipEnabled, c.bondPeers, c.publicUrl, c.bondSecret]).toEqual(["active", true, [], undefined, undefined]);
    expect([c.fedSyncIntervalMs, c.fedProbeIntervalMs, c.fedMaxSkewMs, c.fedMaxPushAgeMs]).toEqual([1000, 5000, 60_000, 600_000]);
  });

  it("reads the CELLULE_* names and the guide's IAMINE_* / POOL_URL aliases", () => {
    const c = loadPoolConfig({ env: { IAMINE_FED: "observe", IAMINE_FED_GOSSIP_ENABLED: "false", POOL_URL: "http://pool-a.corp.local:18091/", IAMINE_BOND_PEERS: " 10.0.0.2:18080, http://b.lan:1 ,," } });
    expect(c.fedMode).toBe("observe");
    expect(c.fedGossipEnabled).toBe(false);
    expect(c.publicUrl).toBe("http://pool-a.corp.local:18091");
    expect(c.bondPeers).toEqual(["10.0.0.2:18080", "http://b.lan:1"]);
    expect(c.bondPeers.map(peerUrlOf)).toEqual(["http://10.0.0.2:18080", "http://b.lan:1"]);
    expect(() => loadPoolConfig({ env: { CELLULE_FED: "on" } })).toThrow(/CELLULE_FED/);
  });

  it("refuses a public URL or a bond peer with a path, query or credentials, naming the variable and the rule", () => {
    expect(() => loadPoolConfig({ env: { CELLULE_PUBLIC_URL: "http://pool-a.corp.local:18091/internal-admin?x=" } })).toThrow(/CELLULE_PUBLIC_URL.*has a path.*nothing else/);
    expect(() => loadPoolConfig({ env: { POOL_URL: "http://u:p@pool-a.corp.local:18091" } })).toThrow(/CELLULE_PUBLIC_URL.*credentials/);
    expect(() => loadPoolConfig({ env: { CELLULE_BOND_PEERS: "10.0.0.2:18080,10.0.0.3:18080/admin?x=" } })).toThrow(/CELLULE_BOND_PEERS.*"10\.0\.0\.3:18080\/admin\?x=" has a path/);
    expect(loadPoolConfig({ env: { CELLULE_PUBLIC_URL: "https://Pool-A.corp.local" } }).publicUrl).toBe("https://pool-a.corp.local");
  });

  it("reads the shared cluster secret", () => {
    const c = loadPoolConfig({ env: { CELLULE_FED_BOND_SECRET: "a-long-shared-cluster-secret" } });
    expect(c.bondSecret).toBe("a-long-shared-cluster-secret");
  });

  it("outbound source address: explicit, else the bind host when it is a specific IP", () => {
    expect(fedSourceAddressOf({ host: "127.0.2.1", fedSourceAddress: undefined })).toBe("127.0.2.1");
    expect(fedSourceAddressOf({ host: "0.0.0.0", fedSourceAddress: undefined })).toBeUndefined();
    expect(fedSourceAddressOf({ host: "::", fedSourceAddress: undefined })).toBeUndefined();
    expect(fedSourceAddressOf({ host: "pool-a.lan", fedSourceAddress: undefined })).toBeUndefined();
    expect(fedSourceAddressOf({ host: "0.0.0.0", fedSourceAddress: "10.0.0.7" })).toBe("10.0.0.7");
  });
});
