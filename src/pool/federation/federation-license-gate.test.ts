import { describe, expect, it } from "vitest";
import { bypassesGate } from "../license/license.gate.js";

describe("license gate and federation routes", () => {
  it("lets pool-to-pool traffic through whatever the license says (erasure must propagate)", () => {
    for (const path of ["/v1/federation/bond/start", "/v1/federation/bond/finish", "/v1/federation/bond/unbond", "/v1/federation/envelopes"]) {
      expect(bypassesGate("POST", path)).toBe(true);
    }
  });

  it("lets an admin cut a pool off (kill switch, unbond) but gates the other federation admin mutations", () => {
    expect(bypassesGate("POST", "/v1/federation/admin/kill")).toBe(true);
    expect(bypassesGate("DELETE", "/v1/federation/peers/:atom_id")).toBe(true);
    expect(bypassesGate("POST", "/v1/federation/admin/attach-tokens")).toBe(false);
    expect(bypassesGate("POST", "/v1/federation/admin/register")).toBe(false);
    expect(bypassesGate("POST", "/v1/federation/peers/:atom_id/promote")).toBe(false);
    expect(bypassesGate("PUT", "/v1/federation/admin/auto-promote")).toBe(false);
    expect(bypassesGate("GET", "/v1/federation/peers")).toBe(true);
  });
});
