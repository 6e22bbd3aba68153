import { describe, expect, it } from "vitest";
import { conversationText, resolveAuto, routedHeaders } from "./auto-model.js";
import type { RouteDecision } from "./smart-router.service.js";

describe("conversationText", () => {
  it("is the user's last message, with the previous one when it is a short follow-up", () => {
    const long = "Write a SQL query that lists every unpaid invoice older than 30 days";
    expect(conversationText([{ role: "system", content: "Be brief." }, { role: "user", content: long }])).toBe(long);
    expect(conversationText([{ role: "user", content: long }, { role: "assistant", content: "SELECT …" }, { role: "user", content: "and in French?" }])).toBe(`${long}\nand in French?`);
    expect(conversationText([{ role: "user", content: [{ type: "text", text: "Bonjour" }] }])).toBe("Bonjour");
    expect(conversationText([{ role: "system", content: "Only a system message" }])).toBe("Only a system message");
  });
});

describe("resolveAuto", () => {
  const decision: RouteDecision = { tier: "code", score: 0.73456, margin: 0.2, by: "centroid", model: "coder" };
  const router = { enabled: true, route: async () => decision };

  it("routes only model \"auto\" while routing is on, with the tier, score and method as headers", async () => {
    expect(routedHeaders(decision)).toEqual({ "x-cellule-routed-tier": "code", "x-cellule-routed-score": "0.735", "x-cellule-routed-by": "centroid" });
    expect(await resolveAuto(router, "auto", () => "x", undefined)).toEqual({ model: "coder", headers: routedHeaders(decision) });
    expect(await resolveAuto(router, "stories260K", () => "x", undefined)).toBeUndefined();
    expect(await resolveAuto({ ...router, enabled: false }, "auto", () => "x", undefined)).toBeUndefined();
    expect(await resolveAuto(undefined, "auto", () => "x", undefined)).toBeUndefined();
  });
});
