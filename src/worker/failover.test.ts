/** The failover decisions on a fake clock: hysteresis, choice of peer, manual mode, sticky return. */
import { beforeAll, describe, expect, it } from "vitest";
import { configureLogging } from "../shared/logger.js";
import { FAILOVER_DEFAULTS, FailoverController, type FailoverSettings, type PoolSwitch } from "./failover.js";

beforeAll(() => configureLogging("silent"));

const HOME = "http://127.0.1.1:18080";
const B = "http://127.0.2.1:18080";
const C = "http://127.0.3.1:18080";

class FakeAgent implements PoolSwitch {
  readonly homeUrl = HOME;
  currentUrl = HOME;
  peerPoolUrls = [B, C];
  homeAtomId: string | undefined = "atom_home";
  readonly moves: { url: string; drain: boolean }[] = [];
  async switchTo(url: string, _why: string, drain: boolean): Promise<void> {
    this.moves.push({ url, drain });
    this.currentUrl = url;
  }
}

function setUp(settings: Partial<FailoverSettings> = {}, rtt: Record<string, number | undefined> = { [B]: 5, [C]: 2 }, views?: Record<string, "up" | "down" | undefined>) {
  let t = 1_000_000;
  const agent = new FakeAgent();
  const probes: string[] = [];
  const transitions: string[] = [];
  const asked: string[] = [];
  const up = { ...rtt };
  const ctl = new FailoverController({
    agent,
    settings: { ...FAILOVER_DEFAULTS, ...settings },
    probe: async (url) => {
      probes.push(url);
      return up[url];
    },
    askPeer: views
      ? async (url, atom) => {
          asked.push(`${url}:${atom}`);
          return views[url];
        }
      : undefined,
    now: () => t,
    onTransition: (from, to) => transitions.push(`${from}>${to}`),
  });
  const at = async (seconds: number) => {
    t = 1_000_000 + seconds * 1000;
    await ctl.tick();
  };
  return { agent, ctl, probes, transitions, up, at, asked };
}

describe("FailoverController", () => {
  it("stays on a lost home pool for 5 min (FAILING from 90 s), then moves to the ready peer with the lowest round trip", async () => {
    const { agent, ctl, transitions, at } = setUp();
    ctl.connected(HOME);
    ctl.disconnected(); // at t = 0
    await at(89);
    expect(ctl.current).toBe("PRIMARY_OK");
    await at(90);
    expect(ctl.current).toBe("FAILING");
    await at(299);
    expect(agent.moves).toEqual([]);
    await at(300);
    expect(ctl.current).toBe("DOWN");
    expect(agent.moves).toEqual([{ url: C, drain: false }]); // C answers in 2 ms, B in 5
    ctl.connected(C);
    expect(ctl.current).toBe("FALLBACK");
    expect(transitions).toEqual(["PRIMARY_OK>FAILING", "FAILING>DOWN", "DOWN>FALLBACK"]);
  });

  it("a home pool back within the hysteresis keeps the worker home (no move, back to PRIMARY_OK)", async () => {
    const { agent, ctl, at } = setUp();
    ctl.connected(HOME);
    ctl.disconnected();
    await at(120);
    expect(ctl.current).toBe("FAILING");
    ctl.connected(HOME);
    await at(400);
    expect(ctl.current).toBe("PRIMARY_OK");
    expect(agent.moves).toEqual([]);
  });

  it("skips peers that are down or not ready, and waits when none is", async () => {
    const { agent, ctl, up, at } = setUp({}, { [B]: undefined, [C]: undefined });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(300);
    expect(agent.moves).toEqual([]);
    up[B] = 9;
    await at(301);
    expect(agent.moves).toEqual([{ url: B, drain: false }]);
  });

  it("manual mode: no move until the admin orders it, or until the failsafe delay", async () => {
    const forced = setUp({ mode: "manual", manualFailsafeMs: 3_600_000 });
    forced.ctl.connected(HOME);
    forced.ctl.disconnected();
    await forced.at(600);
    expect(forced.ctl.current).toBe("DOWN");
    expect(forced.agent.moves).toEqual([]);
    forced.ctl.force();
    await forced.at(601);
    expect(forced.agent.moves).toEqual([{ url: C, drain: false }]);

    const failsafe = setUp({ mode: "manual", manualFailsafeMs: 3_600_000 });
    failsafe.ctl.connected(HOME);
    failsafe.ctl.disconnected();
    await failsafe.at(3599);
    expect(failsafe.agent.moves).toEqual([]);
    await failsafe.at(3600);
    expect(failsafe.agent.moves).toEqual([{ url: C, drain: false }]);
  });

  it("sticky return: on a fallback, checks home every 60 s and goes back (draining) once it answers", async () => {
    const { agent, ctl, probes, up, at } = setUp({}, { [B]: 5, [C]: 2, [HOME]: undefined });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(300);
    ctl.connected(C); // at t = 300 s
    probes.length = 0;
    await at(330);
    expect(probes).toEqual([]); // not yet a minute
    await at(360);
    expect(probes).toEqual([HOME]);
    expect(agent.moves.at(-1)).toEqual({ url: C, drain: false });
    up[HOME] = 1;
    await at(400);
    expect(agent.moves.at(-1)).toEqual({ url: C, drain: false }); // next check at 420 s
    await at(420);
    expect(agent.moves.at(-1)).toEqual({ url: HOME, drain: true });
    ctl.connected(HOME);
    expect(ctl.current).toBe("PRIMARY_OK");
  });

  it("a lost fallback: home at once if it answers, else the other peer, without waiting 5 min", async () => {
    const { agent, ctl, up, at } = setUp({}, { [B]: 5, [C]: 2, [HOME]: undefined });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(300);
    ctl.connected(C);
    ctl.disconnected(); // C dies at t = 300 s
    up[C] = undefined;
    await at(301);
    expect(agent.moves.at(-1)).toEqual({ url: B, drain: false });
    ctl.connected(B);
    ctl.disconnected();
    up[HOME] = 3;
    await at(302);
    expect(agent.moves.at(-1)).toEqual({ url: HOME, drain: false });
  });

  it("peer-confirmed: fails over after the 15 s confirmation when a peer sees the home pool down and none sees it up", async () => {
    const { agent, ctl, asked, at } = setUp({}, undefined, { [B]: "down", [C]: undefined });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(14);
    expect(asked).toEqual([]); // not before the confirmation window
    expect(agent.moves).toEqual([]);
    await at(15);
    expect(asked.sort()).toEqual([`${B}:atom_home`, `${C}:atom_home`]);
    expect(ctl.current).toBe("DOWN");
    expect(agent.moves).toEqual([{ url: C, drain: false }]);
  });

  it("peer-confirmed: the worker's own link (a peer still sees the home pool up) never triggers it; the 5 min hysteresis applies", async () => {
    const { agent, ctl, asked, at } = setUp({}, undefined, { [B]: "down", [C]: "up" });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(15);
    await at(20);
    await at(120);
    expect(asked.length).toBeGreaterThan(2); // asked again now and then
    expect(ctl.current).toBe("FAILING");
    expect(agent.moves).toEqual([]);
    await at(300);
    expect(agent.moves).toEqual([{ url: C, drain: false }]);
  });

  it("peer-confirmed is off with confirm=false, and in manual mode", async () => {
    for (const settings of [{ confirm: false }, { mode: "manual" as const }]) {
      const { agent, ctl, asked, at } = setUp(settings, undefined, { [B]: "down", [C]: "down" });
      ctl.connected(HOME);
      ctl.disconnected();
      await at(60);
      expect(asked).toEqual([]);
      expect(agent.moves).toEqual([]);
    }
  });

  it("takes the thresholds its pool pushes (configure): manual mode from the pool stops an automatic move", async () => {
    const { agent, ctl, at } = setUp({ failingAfterMs: 1000, downAfterMs: 2000, confirm: false });
    ctl.configure({ ...ctl.settings, mode: "manual" });
    expect(ctl.settings).toMatchObject({ mode: "manual", downAfterMs: 2000 });
    ctl.connected(HOME);
    ctl.disconnected();
    await at(5);
    expect(ctl.current).toBe("DOWN");
    expect(agent.moves).toEqual([]);
    // Back to auto (the admin changed the policy): the next tick moves.
    ctl.configure({ ...ctl.settings, mode: "auto" });
    await at(6);
    expect(agent.moves).toEqual([{ url: C, drain: false }]);
  });
});
