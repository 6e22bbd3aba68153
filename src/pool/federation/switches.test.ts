import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../../db/database.js";
import { FederationStateRepository } from "./federation-state.repository.js";
import { FederationSwitches, type FederationMode } from "./switches.js";
import { useTestDb } from "../../../test/harness/db.js";

const t = useTestDb();

let db: Db;
beforeAll(async () => {
  db = t.db;
});
afterAll(async () => {
});

describe("federation switches", () => {
  it.each<[FederationMode, boolean, boolean, boolean, boolean]>([
    // mode, gossip, canSend, canApply, canReceive
    ["active", true, true, true, true],
    ["active", false, false, true, true],
    ["observe", true, false, false, true],
    ["off", true, false, false, false],
  ])("mode %s, gossip %s", (mode, gossip, send, apply, receive) => {
    const s = new FederationSwitches(mode, gossip);
    expect([s.canSend(), s.canApply(), s.canReceive()]).toEqual([send, apply, receive]);
  });

  it("the kill switch stops everything at once, emits changed, and survives a restart", async () => {
    const state = new FederationStateRepository(db);
    const s = new FederationSwitches("active", true, state);
    await s.load();
    expect(s.killed).toBe(false);
    const seen: boolean[] = [];
    s.on("changed", (st) => seen.push(st.killed));
    const flipping = s.setKilled(true);
    // Effective before the write is even awaited.
    expect([s.canSend(), s.canApply(), s.canReceive()]).toEqual([false, false, false]);
    await flipping;
    expect(seen).toEqual([true]);

    const afterRestart = new FederationSwitches("active", true, state);
    await afterRestart.load();
    expect(afterRestart.killed).toBe(true);
    expect(afterRestart.canReceive()).toBe(false);
    await afterRestart.setKilled(false);
    const again = new FederationSwitches("active", true, state);
    await again.load();
    expect(again.canSend()).toBe(true);
  });
});
