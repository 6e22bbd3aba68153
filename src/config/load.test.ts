import { describe, expect, it } from "vitest";
import { ConfigError } from "./load.js";
import { loadPoolConfig } from "./pool.config.js";
import { loadWorkerConfig } from "./worker.config.js";

describe("pool config", () => {
  it("uses defaults", () => {
    const c = loadPoolConfig({ env: {} });
    expect(c).toMatchObject({ port: 18080, host: "0.0.0.0", dataDir: "./data", databaseUrl: undefined });
  });

  it("reads env, IAMINE aliases, and flags win", () => {
    expect(loadPoolConfig({ env: { CELLULE_PORT: "9000" } }).port).toBe(9000);
    expect(loadPoolConfig({ env: { IAMINE_PORT: "9001" } }).port).toBe(9001);
    expect(loadPoolConfig({ env: { CELLULE_PORT: "9000" }, flags: { port: "9100" } }).port).toBe(9100);
  });

  it("reads the drain time (CELLULE_DRAIN_TIMEOUT_MS, 30 s by default, 0 allowed)", () => {
    expect(loadPoolConfig({ env: {} }).drainTimeoutMs).toBe(30_000);
    expect(loadPoolConfig({ env: { CELLULE_DRAIN_TIMEOUT_MS: "0" } }).drainTimeoutMs).toBe(0);
    expect(loadPoolConfig({ env: { CELLULE_DRAIN_TIMEOUT_MS: "5000" } }).drainTimeoutMs).toBe(5000);
    expect(() => loadPoolConfig({ env: { CELLULE_DRAIN_TIMEOUT_MS: "-1" } })).toThrow(/CELLULE_DRAIN_TIMEOUT_MS/);
  });

  it("names the bad variable", () => {
    expect(() => loadPoolConfig({ env: { CELLULE_PORT: "eighty" } })).toThrow(ConfigError);
    expect(() => loadPoolConfig({ env: { CELLULE_PORT: "eighty" } })).toThrow(/CELLULE_PORT/);
    expect(() => loadPoolConfig({ env: { DATABASE_URL: "mysql://x" } })).toThrow(/DATABASE_URL/);
    expect(() => loadPoolConfig({ env: {}, flags: { port: "0" } })).toThrow(/CELLULE_PORT \(from --port\)/);
  });

  it("reads the metrics token, and never echoes a refused one", () => {
    expect(loadPoolConfig({ env: { CELLULE_METRICS_TOKEN: "0123456789abcdef-token" } }).metricsToken).toBe("0123456789abcdef-token");
    expect(loadPoolConfig({ env: {} }).metricsToken).toBeUndefined();
    expect(() => loadPoolConfig({ env: { CELLULE_METRICS_TOKEN: "short-secret" } })).toThrow(/CELLULE_METRICS_TOKEN: must be at least 16 characters \(got a value that is not shown\)/);
    expect(() => loadPoolConfig({ env: { CELLULE_METRICS_TOKEN: "short-secret" } })).not.toThrow(/short-secret/);
  });

  it("reads the optional config file", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/cellule-cfg-");
    writeFileSync(`${dir}/c.json`, JSON.stringify({ port: 7000, queueSize: 3 }));
    const c = loadPoolConfig({ env: { CELLULE_CONFIG: `${dir}/c.json` } });
    expect(c.port).toBe(7000);
    expect(c.queueSize).toBe(3);
    writeFileSync(`${dir}/bad.json`, JSON.stringify({ heartbeatMs: 5 }));
    expect(() => loadPoolConfig({ env: { CELLULE_CONFIG: `${dir}/bad.json` } })).toThrow(/CELLULE_HEARTBEAT_MS/);
    expect(() => loadPoolConfig({ env: { CELLULE_CONFIG: `${dir}/missing.json` } })).toThrow(/Cannot read config file/);
  });
});

describe("worker config", () => {
  it("validates the pool URL and slots", () => {
    expect(() => loadWorkerConfig({ env: { CELLULE_POOL_URL: "pool.lan" } })).toThrow(/CELLULE_POOL_URL/);
    expect(() => loadWorkerConfig({ env: {}, flags: { slots: "0" } })).toThrow(/CELLULE_SLOTS/);
    expect(loadWorkerConfig({ env: { CELLULE_SLOTS: "4" } }).slots).toBe(4);
  });
});
