/**
 * What the OpenAI routes need for `model: "auto"`: the text a conversation is classified on, and the
 * routed model with the response headers that say which tier and score chose it.
 */
import type { ChatCompletionRequest } from "../../../protocol/openai.protocol.js";
import { ROUTED_BY_HEADER, ROUTED_SCORE_HEADER, ROUTED_TIER_HEADER } from "../../../protocol/models.protocol.js";
import { AUTO_MODEL, type RouteDecision, type SmartRouter } from "./smart-router.service.js";

/** A follow-up this short ("and in French?") is classified together with the user's previous message. */
const SHORT_FOLLOW_UP = 40;

/** The user's last message (with the one before when it is a short follow-up); all text when no user spoke. */
export function conversationText(messages: ChatCompletionRequest["messages"]): string {
  const text = (m: ChatCompletionRequest["messages"][number]) =>
    typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : "")).join("");
  const users = messages.filter((m) => m.role === "user").map(text);
  if (users.length === 0) return messages.map(text).join("\n");
  const last = users[users.length - 1]!;
  return last.length < SHORT_FOLLOW_UP && users.length > 1 ? `${users[users.length - 2]!}\n${last}` : last;
}

export function routedHeaders(d: RouteDecision): Record<string, string> {
  return { [ROUTED_TIER_HEADER]: d.tier, [ROUTED_SCORE_HEADER]: d.score.toFixed(3), [ROUTED_BY_HEADER]: d.by };
}

/**
 * For a request whose `model` is "auto" while smart routing is on: the model to run it on and the
 * headers to answer with. Undefined otherwise (the request goes on as sent).
 */
export async function resolveAuto(router: Pick<SmartRouter, "enabled" | "route"> | undefined, model: string, text: () => string, projectId: string | undefined): Promise<{ model: string; headers: Record<string, string> } | undefined> {
  if (!router?.enabled || model !== AUTO_MODEL) return undefined;
  const decision = await router.route(text(), { projectId });
  return { model: decision.model, headers: routedHeaders(decision) };
}
