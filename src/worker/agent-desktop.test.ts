/**
 * The agent in desktop mode (issue 21) against a pool stand-in: its hello says `desktop`, it reports
 * its state after the welcome and on every change, takes the pool's `desktop_policy`, and lowers its
 * compute priority while not dormant.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import type { Hardware } from "../protocol/worker.protocol.js";
import { WorkerAgent } from "./agent.js";
import type { DesktopSignals, SignalSource } from "./desktop/desktop-signals.js";
import { DesktopMonitor } from "./desktop/desktop-monitor.js";
import { InstantRuntime } from "./runtime/instant.runtime.js";

const HARDWARE: Hardware = { cores: 2, physicalCores: 2, ramBytes: 1e9, gpu: null, os: "linux", arch: "x64", hardwareClass: "cpu-low" };

class FakeSource implements SignalSource {
  readonly description = "fake";
  signals: DesktopSignals = { idleSeconds: 120, otherCpuPercent: 0, onBattery: false };
  async read(): Promise<DesktopSignals> {
    return this.signals;
  }
}

describe("WorkerAgent desktop mode", () => {
  it("says desktop in its hello, reports each state change, follows the pool's policy and lowers its priority while the owner is there", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(wss, "listening");
    const received: Record<string, unknown>[] = [];
    wss.on("connection", (ws) => {
      ws.on("message", (d) => {
        const msg = JSON.parse((d as Buffer).toString()) as Record<string, unknown>;
        received.push(msg);
        if (msg.type === "hello") ws.send(JSON.stringify({ type: "welcome", version: 1, workerId: "000000000000", heartbeatMs: 60_000 }));
        // The pool's policy: 1 minute of idleness is enough (the default 10 minutes is not met by 120 s).
        if (msg.type === "desktop_state" && received.filter((m) => m.type === "desktop_state").length === 1) ws.send(JSON.stringify({ type: "desktop_policy", policy: { idleMinutes: 1, cpuThresholdPercent: 30, schedule: null } }));
      });
    });
    const source = new FakeSource();
    const priority: string[] = [];
    const monitor = new DesktopMonitor(source, 20);
    const agent = new WorkerAgent({
      poolUrl: `http://127.0.0.1:${(wss.address() as AddressInfo).port}`,
      auth: { credential: "wkr_000000000000_x" },
      name: "t",
      runtime: new InstantRuntime(1),
      hardware: HARDWARE,
      saveCredential: () => undefined,
      desktop: { monitor, priority: { lower: () => priority.push("lower"), restore: () => priority.push("restore") } },
    });
    const states = () => received.filter((m) => m.type === "desktop_state").map((m) => m.state);
    const until = async (check: () => boolean, what: string) => {
      const end = Date.now() + 5000;
      while (!check()) {
        if (Date.now() > end) throw new Error(`timed out: ${what}; got ${JSON.stringify(states())}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    agent.start();
    try {
      await until(() => states().includes("dormant"), "dormant under the pool's policy");
      expect(received[0]).toMatchObject({ type: "hello", desktop: true });
      expect(states()).toEqual(["owner_active", "dormant"]);
      source.signals = { ...source.signals, idleSeconds: 0 };
      await until(() => states().length === 3, "the owner's return");
      expect(states()).toEqual(["owner_active", "dormant", "owner_active"]);
      expect(priority).toEqual(["lower", "restore", "lower"]);
    } finally {
      await agent.stop();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    }
  });
});
