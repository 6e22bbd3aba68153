import { afterEach, describe, expect, it, vi } from "vitest";
import { ChunkBatcher } from "./chunk-batcher.js";

afterEach(() => vi.useRealTimers());

describe("ChunkBatcher", () => {
  it("sends the first piece at once, then coalesces within the interval", () => {
    vi.useFakeTimers();
    const sent: [string, number][] = [];
    const b = new ChunkBatcher((t, n) => sent.push([t, n]), 20);
    b.push("Once", 1);
    expect(sent).toEqual([["Once", 1]]);
    b.push(" upon", 1);
    b.push(" a", 1);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(19);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual([["Once", 1], [" upon a", 2]]);
  });

  it("does not let a token without text delay the first visible piece", () => {
    vi.useFakeTimers();
    const sent: [string, number][] = [];
    const b = new ChunkBatcher((t, n) => sent.push([t, n]), 20);
    b.push("", 1);
    expect(sent).toEqual([]);
    b.push("“Hi", 1);
    expect(sent).toEqual([["“Hi", 2]]);
  });

  it("flushes pending text on demand and keeps token counts without text", () => {
    vi.useFakeTimers();
    const sent: [string, number][] = [];
    const b = new ChunkBatcher((t, n) => sent.push([t, n]), 20);
    b.push("a", 1);
    b.push("", 2);
    b.flush();
    expect(sent).toEqual([["a", 1], ["", 2]]);
    b.flush();
    expect(sent).toHaveLength(2);
    b.push("x", 1);
    b.discard();
    vi.advanceTimersByTime(100);
    expect(sent).toHaveLength(2);
  });
});
