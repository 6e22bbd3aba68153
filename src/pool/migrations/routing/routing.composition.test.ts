import { beforeAll, describe, expect, it } from "vitest";
import type { CapacitySummary } from "../../../protocol/cluster.protocol.js";
import type { BalancingMove } from "../../../protocol/settings.protocol.js";
import { configureLogging } from "../../../shared/logger.js";
import type { WorkerRouting } from "../../hub/worker-socket.js";
import { buildRouting } from "./routing.composition.js";

beforeAll(() => configureLogging("silent"));

const A = "a".repeat(32);
const B = "b".repeat(32);
const C = "c".repeat(32);
const summary = (atom: string, poolUrl: string | null, site: string | null, leaving = false): CapacitySummary => ({ atom_id: atom, pool_url: poolUrl, site, at: 0, leaving, models: [], workers: [], forwarded: { out_total: 0, in_total: 0, out_per_min: 0, in_per_min: 0 } });

describe("buildRouting", () => {
  it("sees this pool and its peers (public URL from the summary, else the bond URL; declared sites; up or not), plugs into the worker socket and the Balancing page", async () => {
    let hooks: WorkerRouting | undefined;
    const balancing: { headcounts(): Promise<Map<string, number>>; planSource?: () => Promise<BalancingMove[]> } = { headcounts: async () => new Map() };
    const routing = buildRouting({
      config: { site: "Paris" },
      atomId: A,
      selfUrl: () => "http://127.0.1.1:18080",
      registry: { siteOf: () => null, connected: () => [].values() },
      capacity: {
        snapshot: () => [
          { atom: B, url: "http://127.0.2.1:9000", latencyMs: 1, summary: summary(B, "http://127.0.2.9:18080", "Lyon"), ageMs: 10, available: true },
          { atom: C, url: "http://127.0.3.1:9000", latencyMs: 1, summary: undefined, ageMs: null, available: false },
        ],
      },
      audit: { record: async () => 1 },
      sockets: { useRouting: (r) => void (hooks = r) },
      balancing,
      issuer: () => undefined,
    });
    expect(await routing.pools()).toEqual({
      self: { atomId: A, url: "http://127.0.1.1:18080", subnet: "127.0.1.0/24", site: "Paris" },
      peers: [
        { atomId: B, url: "http://127.0.2.9:18080", subnet: "127.0.2.0/24", site: "Lyon", up: true },
        { atomId: C, url: "http://127.0.3.1:9000", subnet: "127.0.3.0/24", site: null, up: false },
      ],
    });
    expect(hooks).toBeDefined();
    // Latency routing defaults to on without a migrations service: a mobile worker measures this pool and the peer that is up.
    expect(await hooks!.measureUrls({ mobility: "mobile" } as never, null)).toEqual(["http://127.0.1.1:18080", "http://127.0.2.9:18080"]);
    expect(await balancing.planSource!()).toEqual([]);
  });
});
