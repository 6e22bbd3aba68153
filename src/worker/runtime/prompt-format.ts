/**
 * The documented fallback chat format, for models whose GGUF carries no chat template
 * (base models such as stories260K):
 *
 *     System: <system text>
 *
 *     User: <user text>
 *
 *     Assistant: <assistant text>
 *
 *     User: <user text>
 *
 *     Assistant:
 *
 * (no space after the last "Assistant:": llama tokenizers put the space in the next token).
 * Generation stops when the model starts a new "User:" or "System:" turn. A continuation (failover)
 * is appended verbatim right after the final "Assistant:".
 */
import type { ChatMessage } from "../../protocol/worker.protocol.js";

const LABEL: Record<ChatMessage["role"], string> = { system: "System", user: "User", assistant: "Assistant" };

export const FALLBACK_STOP = ["\nUser:", "\nSystem:"];

export function formatFallbackPrompt(messages: readonly ChatMessage[], continuation = ""): string {
  const turns = messages.map((m) => `${LABEL[m.role]}: ${m.content.trim()}`);
  return `${turns.join("\n\n")}\n\nAssistant:${continuation}`;
}
