import { describe, expect, it } from "vitest";
import { ThinkFilter, splitThinking } from "./think-filter.js";

function streamAll(chunks: string[]) {
  const f = new ThinkFilter();
  let content = "";
  let reasoning = "";
  for (const c of [...chunks.map((c) => f.push(c)), f.flush()]) {
    content += c.content;
    reasoning += c.reasoning;
  }
  return { content, reasoning };
}

describe("ThinkFilter", () => {
  it("moves <think> blocks to reasoning", () => {
    expect(splitThinking("<think>plan it</think>\n\nThe answer.")).toEqual({ content: "The answer.", reasoning: "plan it" });
  });

  it("passes text without tags unchanged", () => {
    expect(splitThinking("Once upon a time <b>x</b> <thin")).toEqual({ content: "Once upon a time <b>x</b> <thin", reasoning: "" });
  });

  it("handles tags split across every possible chunk boundary", () => {
    const text = "<think>a < b</think>Hi <there> done";
    for (let i = 1; i < text.length; i++) {
      for (let j = i; j < text.length; j++) {
        expect(streamAll([text.slice(0, i), text.slice(i, j), text.slice(j)])).toEqual({ content: "Hi <there> done", reasoning: "a < b" });
      }
    }
  });

  it("streams one character at a time", () => {
    const text = "pre <think>x</think> post";
    expect(streamAll([...text])).toEqual({ content: "pre post", reasoning: "x" });
  });

  it("keeps an unclosed think block as reasoning", () => {
    expect(splitThinking("<think>still thinking")).toEqual({ content: "", reasoning: "still thinking" });
  });
});
