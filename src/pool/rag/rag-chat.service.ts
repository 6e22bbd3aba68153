/**
 * RAG for /v1/chat/completions: when the request concerns a project (a project-scoped key, or an
 * explicit `project` field), retrieve the best chunks for the last user message and the project's
 * memories, put them in a system message with numbered sources, and return the citations that go
 * back alongside the OpenAI fields. The context is sized to the chat model's window.
 */
import type { ChatCompletionRequest } from "../../protocol/openai.protocol.js";
import { RagChatFields, type Citation } from "../../protocol/projects.protocol.js";
import { badRequest } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { AuthenticatedKey } from "../keys/keys.service.js";
import type { MemoriesService } from "../projects/memories.service.js";
import { actorOf, type ProjectsService } from "../projects/projects.service.js";
import type { SearchHit, SearchService } from "./search.service.js";
import { estimateTokens } from "./tokens.js";

/** Chunks retrieved per question (fewer are used when the model's window is small). */
export const RETRIEVE_K = 6;
/** Context used when no connected worker tells the chat model's window. */
const DEFAULT_CONTEXT_TOKENS = 2048;
/** Share of the model's window given to retrieved context; the rest is the conversation and the answer. */
const CONTEXT_SHARE = 0.5;
const MAX_CONTEXT_TOKENS = 6000;
/** A cut chunk shorter than this is not worth citing. */
const MIN_PIECE_TOKENS = 40;

export interface RagPrepared {
  body: ChatCompletionRequest;
  /** The project the chat touches: its sensitivity decides which workers may answer (issue 21). */
  projectId: string;
  citations: Citation[];
  /** `fulltext` when the question could not be embedded in time: the answer says its retrieval was degraded. */
  retrieval_mode: "hybrid" | "fulltext";
}

export class RagChatService {
  private readonly log: Logger = moduleLogger("rag.chat");
  private retrieveK = RETRIEVE_K;

  constructor(private readonly opts: { projects: ProjectsService; search: SearchService; memories: MemoriesService; audit: AuditService; registry: WorkerRegistry }) {}

  /** Runtime setting: chunks retrieved per question. */
  setRetrieveK(k: number): void {
    this.retrieveK = k;
  }

  /** The augmented request and its citations, or undefined when the request is not about a project. */
  async prepare(body: ChatCompletionRequest, key: AuthenticatedKey): Promise<RagPrepared | undefined> {
    const fields = RagChatFields.safeParse(body);
    if (!fields.success) throw badRequest("'project' must be a project id.", "project");
    const projectId = fields.data.project ?? key.projectId;
    if (!projectId) return undefined;
    const project = await this.opts.projects.access(projectId, key);

    const conversation = body.messages.map((m) => textOf(m.content)).join("\n");
    const window = this.contextSize(body.model);
    let budget = Math.min(MAX_CONTEXT_TOKENS, Math.floor(window * CONTEXT_SHARE) - estimateTokens(conversation));

    const facts: string[] = [];
    for (const f of await this.opts.memories.factsFor(project.id)) {
      const cost = estimateTokens(f) + 2;
      if (cost > budget / 2) break;
      facts.push(f);
      budget -= cost;
    }

    const question = lastUserText(body);
    const found = question ? await this.opts.search.search(project, question, this.retrieveK) : { mode: "hybrid" as const, hits: [] };
    const hits = found.hits;
    const used: { hit: SearchHit; text: string }[] = [];
    for (const hit of hits) {
      if (budget < MIN_PIECE_TOKENS) break;
      const text = fitTokens(hit.text, budget - 12);
      if (!text) break;
      used.push({ hit, text });
      budget -= estimateTokens(text) + 12;
    }

    const citations: Citation[] = used.map(({ hit }) => ({ document_id: hit.document_id, document_name: hit.document_name, page: hit.page, chunk_id: hit.chunk_id }));
    const system = contextMessage(project.name, facts, used);
    const messages = [...body.messages];
    const first = messages[0];
    if (first && (first.role === "system" || first.role === "developer") && typeof first.content === "string") {
      messages[0] = { ...first, role: "system", content: `${system}\n\n${first.content}` };
    } else {
      messages.unshift({ role: "system", content: system });
    }
    await this.opts.audit.recordRead({
      actor: actorOf(key),
      action: "rag.chat",
      target: `project:${project.id}`,
      projectId: project.id,
      details: { model: body.model, question_chars: question?.length ?? 0, chunk_ids: citations.map((c) => c.chunk_id), document_ids: [...new Set(citations.map((c) => c.document_id))], memories: facts.length },
    });
    this.log.info({ projectId: project.id, chunks: citations.length, memories: facts.length, retrievalMode: found.mode }, "RAG chat context built");
    const { project: _omit, ...rest } = body as ChatCompletionRequest & { project?: unknown };
    return { body: { ...rest, messages }, projectId: project.id, citations, retrieval_mode: found.mode };
  }

  /** The chat model's window, from a connected worker serving it. */
  private contextSize(model: string): number {
    for (const w of this.opts.registry.connected()) {
      const m = w.models.find((x) => x.id === model && x.capabilities.includes("chat"));
      if (m) return m.contextSize;
    }
    return DEFAULT_CONTEXT_TOKENS;
  }
}

function contextMessage(projectName: string, facts: string[], used: { hit: SearchHit; text: string }[]): string {
  const parts = [
    `You answer questions about the project "${projectName}". Use the context below when it is relevant and cite the sources you use as [1], [2]. If the context does not contain the answer, say so.`,
  ];
  if (facts.length) parts.push(`Project memories:\n${facts.map((f) => `- ${f}`).join("\n")}`);
  if (used.length) {
    parts.push(
      `Documents:\n${used
        .map(({ hit, text }, i) => `[${i + 1}] ${hit.document_name}${hit.page !== null ? `, page ${hit.page}` : ""}${hit.heading ? ` (${hit.heading})` : ""}:\n${text}`)
        .join("\n\n")}`,
    );
  }
  return parts.join("\n\n");
}

type Content = ChatCompletionRequest["messages"][number]["content"];

function textOf(content: Content): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content.map((p) => (typeof p.text === "string" ? p.text : "")).join("");
}

function lastUserText(body: ChatCompletionRequest): string {
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const m = body.messages[i]!;
    if (m.role === "user") return textOf(m.content).trim();
  }
  return "";
}

/** `text`, or its beginning cut at a word boundary, within `tokens`; "" when not even a useful piece fits. */
export function fitTokens(text: string, tokens: number): string {
  if (estimateTokens(text) <= tokens) return text;
  if (tokens < MIN_PIECE_TOKENS) return "";
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (estimateTokens(text.slice(0, mid)) <= tokens - 1) lo = mid;
    else hi = mid - 1;
  }
  const cut = text.slice(0, lo);
  const space = cut.lastIndexOf(" ");
  return `${space > lo / 2 ? cut.slice(0, space) : cut}…`;
}
