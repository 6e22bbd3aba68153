/**
 * Delivers a generation job to its HTTP client, streamed (SSE, `data: [DONE]`) or whole, in the
 * chat or text-completion shape. A client that disconnects cancels the job on its worker.
 * SSE headers are written with the first token, so a job that fails before producing anything
 * still gets a real HTTP error status; after that, a failure is an explicit `error` event.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionDelta, ChatCompletionMessage, TextCompletion, Usage } from "../../protocol/openai.protocol.js";
import type { RagChatAnswerFields } from "../../protocol/projects.protocol.js";
import { AppError } from "../../shared/errors.js";
import { renderError, toAppError } from "../http/error-handler.js";
import type { GenerateJobState, GenerateResult, JobCaller } from "../hub/job.js";
import type { InferenceService } from "./inference.service.js";
import { ThinkFilter, splitThinking } from "./think-filter.js";

export type Shape = "chat" | "completion";

interface Ids {
  id: string;
  created: number;
  model: string;
}

/** Fields added to the whole answer, or to the final chunk when streamed (a project chat's citations). */
type Extra = Partial<RagChatAnswerFields>;
type FinishReason = GenerateResult["finishReason"];

export async function respondGeneration(
  req: FastifyRequest,
  reply: FastifyReply,
  inference: InferenceService,
  job: GenerateJobState,
  shape: Shape,
  opts: { stream: boolean; includeUsage: boolean; extra?: Extra | undefined; projectId?: string | undefined; headers?: Record<string, string> | undefined },
): Promise<((ChatCompletion | TextCompletion) & Extra) | undefined> {
  job.requestId = req.id;
  job.caller = callerOfJob(req);
  // The project it touches (a RAG chat's, else a project key's): only cleared workers may run it.
  await inference.classify(job, opts.projectId ?? job.caller?.projectId);
  inference.submit(job); // throws 404/429/503 before anything is written
  const ids: Ids = { id: `${shape === "chat" ? "chatcmpl" : "cmpl"}-${job.id}`, created: Math.floor(Date.now() / 1000), model: job.model };
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) inference.cancel(job);
  });
  if (!opts.stream) {
    if (opts.headers) void reply.headers(opts.headers);
    const result = await job.result;
    return { ...wholeResponse(shape, ids, job.rawText, result), ...opts.extra };
  }
  return streamResponse(req, reply, job, shape, ids, opts.includeUsage, opts.extra, opts.headers);
}

/** The key behind a request (its id, scope, project), carried by a job forwarded to another pool. */
export function callerOfJob(req: FastifyRequest): JobCaller | undefined {
  const key = req.apiKey;
  return key ? { keyId: key.id, scope: key.scope, projectId: key.projectId } : undefined;
}

function usage(r: GenerateResult): Usage {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens };
}

function wholeResponse(shape: Shape, ids: Ids, raw: string, r: GenerateResult): ChatCompletion | TextCompletion {
  if (shape === "completion") {
    return { ...ids, object: "text_completion", choices: [{ index: 0, text: raw, finish_reason: r.finishReason, logprobs: null }], usage: usage(r) };
  }
  const { content, reasoning } = splitThinking(raw);
  const message: ChatCompletionMessage = { role: "assistant", content, refusal: null };
  if (reasoning) message.reasoning_content = reasoning;
  return { ...ids, object: "chat.completion", choices: [{ index: 0, message, finish_reason: r.finishReason, logprobs: null }], usage: usage(r) };
}

/** `extra`: top-level fields added to the final chunk (RAG citations); `headers`: added to the 200 (smart routing's tier and score). */
async function streamResponse(req: FastifyRequest, reply: FastifyReply, job: GenerateJobState, shape: Shape, ids: Ids, includeUsage: boolean, extra: Extra = {}, headers: Record<string, string> = {}): Promise<undefined> {
  reply.hijack();
  const res = reply.raw;
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no", "x-request-id": req.id });
  };
  // The first chunk leaves at once, with the headers: time to first token waits for nothing (it
  // used to wait for the next turn of the event loop, ~0.1 ms at p50 on the 2-vCPU test VM, more
  // when other streams' messages were being read in the same turn). After it, everything written in
  // one turn of the event loop leaves in one TCP write: the last text of an answer, its finish
  // chunk, usage and [DONE] reach the client together instead of in 2–3 writes (each wakes the
  // client; on the 2-vCPU test VM a message to an idle process costs ~0.15 ms, bench:gateway's
  // floor rows).
  let corked = false;
  const send = (payload: (ChatCompletionChunk | TextCompletion) & Extra) => {
    const first = !started;
    start();
    if (!first && !corked) {
      corked = true;
      res.cork();
      setImmediate(() => {
        corked = false;
        if (!res.writableEnded) res.uncork(); // end() has already flushed everything
      });
    }
    res.write(`data: ${JSON.stringify(payload)}\n\n`);
  };
  const chatChunk = (delta: ChatCompletionDelta, finishReason: FinishReason | null, extra: Extra = {}) =>
    send({ ...ids, object: "chat.completion.chunk", choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }], ...extra });
  const textChunk = (text: string, finishReason: FinishReason | null, extra: Extra = {}) =>
    send({ ...ids, object: "text_completion", choices: [{ index: 0, text, finish_reason: finishReason, logprobs: null }], ...extra });

  const filter = shape === "chat" ? new ThinkFilter() : undefined;
  let roleSent = false;
  const emit = (content: string, reasoning: string) => {
    if (shape === "completion") {
      if (content) textChunk(content, null);
      return;
    }
    if (!content && !reasoning) return;
    const delta: ChatCompletionDelta = roleSent ? {} : { role: "assistant" };
    roleSent = true;
    if (reasoning) delta.reasoning_content = reasoning;
    if (content) delta.content = content;
    chatChunk(delta, null);
  };
  job.onText = (text) => {
    if (!filter) return emit(text, "");
    const s = filter.push(text);
    emit(s.content, s.reasoning);
  };

  try {
    const result = await job.result;
    if (filter) {
      const s = filter.flush();
      emit(s.content, s.reasoning);
    }
    if (shape === "chat") chatChunk(roleSent ? {} : { role: "assistant", content: "" }, result.finishReason, extra);
    else textChunk("", result.finishReason, extra);
    if (includeUsage) send({ ...ids, object: shape === "chat" ? "chat.completion.chunk" : "text_completion", choices: [], usage: usage(result) });
    res.end("data: [DONE]\n\n");
  } catch (err) {
    const appErr = err instanceof AppError ? err : toAppError(err);
    if (appErr.code === "cancelled" || res.destroyed) return;
    const rendered = renderError(appErr, req.url);
    if (!started) {
      res.writeHead(rendered.status, { "content-type": "application/json; charset=utf-8", ...rendered.headers, "x-request-id": req.id });
      res.end(JSON.stringify(rendered.body));
      return;
    }
    // Mid-stream failure: an explicit error event, never a silent cut.
    res.end(`data: ${JSON.stringify(rendered.body)}\n\n`);
  }
}
