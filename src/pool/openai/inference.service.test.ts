import { describe, expect, it } from "vitest";
import { ChatCompletionRequest, CompletionRequest } from "../../protocol/openai.protocol.js";
import { Dispatcher } from "../hub/dispatcher.js";
import { GenerateJobState } from "../hub/job.js";
import { WorkerRegistry } from "../hub/worker-registry.js";
import { DEFAULT_MAX_TOKENS, InferenceService } from "./inference.service.js";
import { thrown } from "../../../test/expect-app-error.js";

function service(): InferenceService {
  const registry = new WorkerRegistry();
  const dispatcher = new Dispatcher({ registry, queueSize: 1, jobTimeoutMs: 1_000, maxAttempts: 1 });
  return new InferenceService({ dispatcher, registry });
}

/** Parses a body the way the route does, so the tests exercise real request shapes. */
const chatBody = (body: Record<string, unknown>) => ChatCompletionRequest.parse({ model: "m1", ...body });
const completionBody = (body: Record<string, unknown>) => CompletionRequest.parse({ model: "m1", prompt: "Once", ...body });

const chatMessages = (job: GenerateJobState) => ("messages" in job.input ? job.input.messages : undefined);

describe("InferenceService.chatJob", () => {
  it("builds a chat generation job for the requested model", () => {
    const job = service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }] }));
    expect(job).toBeInstanceOf(GenerateJobState);
    expect(job.model).toBe("m1");
    expect(job.capability).toBe("chat");
    expect(job.state).toBe("queued");
    expect(job.input).toEqual({ messages: [{ role: "user", content: "Hi" }] });
  });

  it("puts the pool-wide system prompt before every chat's messages, the client's own system message after it", () => {
    const inference = service();
    inference.setSystemPrompt("  Answer directly, in the user's language.  ");
    const job = inference.chatJob(chatBody({ messages: [{ role: "system", content: "You are the legal assistant." }, { role: "user", content: "Hi" }] }));
    expect(chatMessages(job)).toEqual([
      { role: "system", content: "Answer directly, in the user's language." },
      { role: "system", content: "You are the legal assistant." },
      { role: "user", content: "Hi" },
    ]);
    // Text completions are raw prompts: untouched. An empty prompt means none.
    expect(inference.completionJob(completionBody({})).input).toEqual({ prompt: "Once" });
    inference.setSystemPrompt("");
    expect(chatMessages(inference.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }] })))).toEqual([{ role: "user", content: "Hi" }]);
  });

  it("normalises roles: developer → system, tool → user", () => {
    const job = service().chatJob(
      chatBody({
        messages: [
          { role: "developer", content: "be brief" },
          { role: "system", content: "sys" },
          { role: "user", content: "call it" },
          { role: "assistant", content: null },
          { role: "tool", content: "42", tool_call_id: "t1" },
        ],
      }),
    );
    expect(chatMessages(job)).toEqual([
      { role: "system", content: "be brief" },
      { role: "system", content: "sys" },
      { role: "user", content: "call it" },
      { role: "assistant", content: "" },
      { role: "user", content: "42" },
    ]);
  });

  it("joins text content parts in order", () => {
    const job = service().chatJob(
      chatBody({
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Hello, " },
              { type: "text", text: "world" },
              { type: "text", text: "!" },
            ],
          },
        ],
      }),
    );
    expect(chatMessages(job)).toEqual([{ role: "user", content: "Hello, world!" }]);
  });

  it("rejects an image part with 400, naming the part in param", () => {
    const err = thrown(() =>
      service().chatJob(
        chatBody({
          messages: [
            {
              role: "user",
              content: [
                { type: "text", text: "What is this?" },
                { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
              ],
            },
          ],
        }),
      ),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe("messages.0.content.1");
    expect(err.message).toContain("image_url");
  });

  it("names the right message index for a bad part in a later message", () => {
    const err = thrown(() =>
      service().chatJob(
        chatBody({
          messages: [
            { role: "system", content: "ok" },
            { role: "user", content: [{ type: "input_audio" }] },
          ],
        }),
      ),
    );
    expect(err.status).toBe(400);
    expect(err.param).toBe("messages.1.content.0");
  });

  it("rejects n other than 1 with 400 param 'n' and accepts n=1", () => {
    const err = thrown(() => service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], n: 2 })));
    expect(err.status).toBe(400);
    expect(err.param).toBe("n");
    expect(() => service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], n: 1 }))).not.toThrow();
    expect(() => service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], n: null }))).not.toThrow();
  });

  it("turns a stop string into an array and keeps an array", () => {
    const s = service();
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], stop: "\n\n" })).params.stop).toEqual(["\n\n"]);
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], stop: ["a", "b"] })).params.stop).toEqual(["a", "b"]);
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], stop: null })).params).not.toHaveProperty("stop");
  });

  it("rejects an empty stop sequence", () => {
    const err = thrown(() => service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], stop: "" })));
    expect(err.status).toBe(400);
    expect(err.param).toBe("stop");
  });

  it("maps response_format json_object to params.json 'object'", () => {
    const job = service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], response_format: { type: "json_object" } }));
    expect(job.params.json).toBe("object");
  });

  it("maps response_format json_schema to a schema, or to 'object' without one", () => {
    const schema = { type: "object", properties: { a: { type: "number" } }, required: ["a"] };
    const s = service();
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], response_format: { type: "json_schema", json_schema: { name: "x", schema } } })).params.json).toEqual({ schema });
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], response_format: { type: "json_schema", json_schema: { name: "x" } } })).params.json).toBe("object");
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], response_format: { type: "text" } })).params).not.toHaveProperty("json");
  });

  it("uses the default max tokens when none is given", () => {
    expect(DEFAULT_MAX_TOKENS).toBeGreaterThan(0);
    const job = service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }] }));
    expect(job.params).toEqual({ maxTokens: DEFAULT_MAX_TOKENS });
    expect(service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], max_tokens: null })).params.maxTokens).toBe(DEFAULT_MAX_TOKENS);
  });

  it("prefers max_completion_tokens over max_tokens", () => {
    const s = service();
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], max_tokens: 7 })).params.maxTokens).toBe(7);
    expect(s.chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], max_tokens: 7, max_completion_tokens: 9 })).params.maxTokens).toBe(9);
  });

  it("passes sampling parameters through and drops nulls", () => {
    const job = service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], temperature: 0, top_p: 0.9, seed: 42, max_tokens: 16 }));
    expect(job.params).toEqual({ maxTokens: 16, temperature: 0, topP: 0.9, seed: 42 });
    const nulls = service().chatJob(chatBody({ messages: [{ role: "user", content: "Hi" }], temperature: null, top_p: null, seed: null }));
    expect(nulls.params).toEqual({ maxTokens: DEFAULT_MAX_TOKENS });
  });
});

describe("InferenceService.completionJob", () => {
  it("builds a completion job from a string or a one-element prompt array", () => {
    const s = service();
    const job = s.completionJob(completionBody({ prompt: "Once upon", max_tokens: 5, stop: "." }));
    expect(job.capability).toBe("completion");
    expect(job.input).toEqual({ prompt: "Once upon" });
    expect(job.params).toEqual({ maxTokens: 5, stop: ["."] });
    expect(s.completionJob(completionBody({ prompt: ["In a land"] })).input).toEqual({ prompt: "In a land" });
    expect(s.completionJob(completionBody({})).params.maxTokens).toBe(DEFAULT_MAX_TOKENS);
  });

  it("rejects echo with 400 param 'echo'", () => {
    const err = thrown(() => service().completionJob(completionBody({ echo: true })));
    expect(err.status).toBe(400);
    expect(err.param).toBe("echo");
    expect(() => service().completionJob(completionBody({ echo: false }))).not.toThrow();
  });

  it("rejects n=2 with 400 param 'n'", () => {
    const err = thrown(() => service().completionJob(completionBody({ n: 2 })));
    expect(err.status).toBe(400);
    expect(err.param).toBe("n");
  });
});
