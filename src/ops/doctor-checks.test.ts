import { describe, expect, it } from "vitest";
import { celluleRole, checkDisk, checkPeers, checkPool, checkProcesses, checkUnits, formatResults, skewMs, type DoctorReaders, type HttpProbe } from "./doctor-checks.js";

const proc = (pid: number, argv: string[], cgroup = "0::/user.slice/session-1.scope") => ({ pid, argv, cgroup });
const limits = { warnMs: 5000, failMs: 60_000 };

function readers(over: Partial<DoctorReaders>): DoctorReaders {
  return {
    processes: () => [],
    units: () => undefined,
    probe: () => Promise.resolve({ ok: false, sentAtMs: 0, receivedAtMs: 0, error: "ECONNREFUSED" }),
    peers: () => Promise.resolve({ peers: [] }),
    disk: () => ({ freeBytes: 50, totalBytes: 100 }),
    ...over,
  };
}

/** An answer whose Date header is `offsetMs` from our clock (truncated to the second, like HTTP's). */
function answer(offsetMs: number, now = 1_800_000_000_400): HttpProbe {
  return { ok: true, status: 200, sentAtMs: now - 5, receivedAtMs: now + 5, serverDateMs: Math.floor((now + offsetMs) / 1000) * 1000 };
}

describe("doctor checks", () => {
  it("tells cellule processes by their argv", () => {
    expect(celluleRole(["/usr/bin/node", "/opt/cellule/lib/node_modules/cellule/dist/cli/main.js", "pool"])).toBe("pool");
    expect(celluleRole(["/opt/cellule/bin/cellule", "worker", "--config", "x"])).toBe("worker");
    expect(celluleRole(["node", "dist/cli/main.js", "keys", "create"])).toBeUndefined();
    expect(celluleRole(["/usr/bin/node", "/x/pglite-host.worker.js", "/data"])).toBeUndefined();
  });

  it("reports cellule processes outside the units' cgroups as orphans, when systemd runs", () => {
    const procs = [
      proc(10, ["/usr/bin/cellule", "pool"], "0::/system.slice/cellule-pool.service"),
      proc(11, ["node", "/opt/cellule/dist/cli/main.js", "worker"], "0::/user.slice/user-1000.slice/session-3.scope"),
      proc(12, ["node", "/opt/cellule/dist/cli/main.js", "doctor"]),
      proc(13, ["bash"]),
    ];
    const r = checkProcesses(procs, true, 12);
    expect(r.status).toBe("WARN");
    expect(r.message).toContain("pid 11 (worker)");
    expect(r.message).not.toContain("pid 10");
    expect(checkProcesses(procs.slice(0, 1), true, 12)).toMatchObject({ status: "OK" });
    expect(checkProcesses(procs, false, 12)).toMatchObject({ status: "OK", message: expect.stringContaining("systemd not running") });
  });

  it("maps unit states: active OK, failed FAIL, inactive WARN, not installed skipped, no systemd said so", () => {
    expect(checkUnits(undefined)).toEqual([{ name: "units", status: "OK", message: expect.stringContaining("systemd not running") }]);
    const r = checkUnits([
      { unit: "cellule-pool.service", load: "loaded", active: "failed", sub: "failed" },
      { unit: "cellule-worker.service", load: "not-found", active: "inactive", sub: "dead" },
    ]);
    expect(r).toEqual([{ name: "unit cellule-pool.service", status: "FAIL", message: expect.stringContaining("journalctl -u cellule-pool.service") }]);
    expect(checkUnits([{ unit: "cellule-pool.service", load: "loaded", active: "active", sub: "running" }])[0]!.status).toBe("OK");
    expect(checkUnits([{ unit: "cellule-pool.service", load: "loaded", active: "inactive", sub: "dead" }])[0]!.status).toBe("WARN");
    expect(checkUnits([{ unit: "cellule-pool.service", load: "not-found", active: "inactive", sub: "dead" }])[0]!.message).toContain("no cellule unit installed");
  });

  it("measures clock skew from the Date header, within its one-second resolution", () => {
    expect(skewMs(answer(0))).toBe(0);
    expect(skewMs(answer(300))).toBe(0);
    // The least skew the header proves: 800 ms ahead shows as at least ~600 ms.
    expect(skewMs(answer(800))).toBeGreaterThan(500);
    expect(skewMs(answer(30_000))).toBeGreaterThan(28_000);
    expect(skewMs(answer(-30_000))).toBeLessThan(-28_000);
    expect(skewMs({ ok: true, sentAtMs: 0, receivedAtMs: 1 })).toBeUndefined();
  });

  it("the pool: FAIL when unreachable; its clock WARN or FAIL past the limits", async () => {
    expect(await checkPool(readers({}), "http://127.0.0.1:1", limits)).toEqual([{ name: "pool", status: "FAIL", message: expect.stringContaining("ECONNREFUSED") }]);
    const ok = await checkPool(readers({ probe: () => Promise.resolve(answer(0)) }), "http://p", limits);
    expect(ok.map((r) => r.status)).toEqual(["OK", "OK"]);
    expect((await checkPool(readers({ probe: () => Promise.resolve(answer(10_000)) }), "http://p", limits))[1]).toMatchObject({ status: "WARN", message: expect.stringContaining("ahead") });
    expect((await checkPool(readers({ probe: () => Promise.resolve(answer(-120_000)) }), "http://p", limits))[1]).toMatchObject({ status: "FAIL", message: expect.stringContaining("behind") });
  });

  it("peers: each probed, an unreachable one WARN, unreadable list WARN", async () => {
    const r = await checkPeers(
      readers({
        peers: () => Promise.resolve({ peers: [{ url: "http://a:1", trust: 3 }, { url: "http://b:1", trust: 1 }] }),
        probe: (url) => Promise.resolve(url.startsWith("http://a") ? answer(0) : { ok: false, sentAtMs: 0, receivedAtMs: 1, error: "ETIMEDOUT" }),
      }),
      limits,
    );
    expect(r.map((x) => [x.name, x.status])).toEqual([
      ["peer http://a:1", "OK"],
      ["clock http://a:1", "OK"],
      ["peer http://b:1", "WARN"],
    ]);
    expect(await checkPeers(readers({ peers: () => Promise.resolve({ unavailable: "no pool" }) }), limits)).toEqual([{ name: "peers", status: "WARN", message: "not checked: no pool" }]);
  });

  it("disk: OK, WARN and FAIL by free percentage", () => {
    const l = { warnPercent: 10, failPercent: 3 };
    expect(checkDisk("/d", { freeBytes: 50, totalBytes: 100 }, l).status).toBe("OK");
    expect(checkDisk("/d", { freeBytes: 5, totalBytes: 100 }, l).status).toBe("WARN");
    expect(checkDisk("/d", { freeBytes: 1, totalBytes: 100 }, l).status).toBe("FAIL");
  });

  it("formats one aligned line per check", () => {
    expect(formatResults([{ name: "a", status: "OK", message: "m" }, { name: "bbb", status: "FAIL", message: "n" }])).toBe("OK   a    m\nFAIL bbb  n");
  });
});
