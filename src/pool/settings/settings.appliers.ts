/**
 * Where each runtime setting takes effect: one applier per key, calling a setter on the service
 * that uses it (the queue size keys are applied by BalancingService, which combines them with the
 * declared headcount).
 */
import type { AdminUsersService } from "../admin-users/admin-users.service.js";
import type { ForwardingPolicy } from "../cluster/peer-capacity.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { SmartRouter } from "../models/routing/smart-router.service.js";
import type { InferenceService } from "../openai/inference.service.js";
import type { EmbeddingPump } from "../rag/embedding-pump.js";
import type { IngestQueue } from "../rag/ingest.queue.js";
import type { RagChatService } from "../rag/rag-chat.service.js";
import type { SearchService } from "../rag/search.service.js";
import type { SettingsService } from "./settings.service.js";

export interface ApplierTargets {
  dispatcher: Pick<Dispatcher, "configure">;
  queue: Pick<IngestQueue, "setConcurrency">;
  pump: Pick<EmbeddingPump, "setBatching">;
  chat: Pick<RagChatService, "setRetrieveK">;
  search: Pick<SearchService, "setQueryTimeoutMs">;
  adminUsers: Pick<AdminUsersService, "setPolicy">;
  /** Forwarding to bonded pools (src/pool/cluster/); absent in tests that do not wire it. */
  forwarding?: Pick<ForwardingPolicy, "configure"> | undefined;
  /** Smart routing (`model: "auto"`); absent in tests that do not wire it. */
  routing?: Pick<SmartRouter, "configure"> | undefined;
  /** The OpenAI inference service: the pool-wide system prompt. */
  inference?: Pick<InferenceService, "setSystemPrompt"> | undefined;
}

export function registerAppliers(settings: SettingsService, t: ApplierTargets): void {
  settings.onApply("jobs.timeout_seconds", (v) => t.dispatcher.configure({ jobTimeoutMs: v * 1000 }));
  settings.onApply("jobs.max_attempts", (v) => t.dispatcher.configure({ maxAttempts: v }));
  settings.onApply("jobs.retry_after_seconds", (v) => t.dispatcher.configure({ retryAfterSeconds: v }));
  settings.onApply("documents.parallel_extractions", (v) => t.queue.setConcurrency(v));
  settings.onApply("documents.embedding_batch_size", (v) => t.pump.setBatching({ batchSize: v }));
  settings.onApply("documents.embedding_batches_in_flight", (v) => t.pump.setBatching({ maxInFlight: v }));
  settings.onApply("search.chat_sources", (v) => t.chat.setRetrieveK(v));
  settings.onApply("search.query_wait_seconds", (v) => t.search.setQueryTimeoutMs(v * 1000));
  settings.onApply("security.session_idle_minutes", (v) => t.adminUsers.setPolicy({ idleMs: v * 60_000 }));
  settings.onApply("security.lockout_failures", (v) => t.adminUsers.setPolicy({ lockThreshold: v }));
  settings.onApply("security.lockout_minutes", (v) => t.adminUsers.setPolicy({ lockMs: v * 60_000 }));
  settings.onApply("cluster.forwarding_enabled", (v) => t.forwarding?.configure({ enabled: v }));
  settings.onApply("cluster.forward_queue_threshold", (v) => t.forwarding?.configure({ threshold: v }));
  settings.onApply("routing.enabled", (v) => t.routing?.configure({ enabled: v }));
  settings.onApply("routing.model_fast", (v) => t.routing?.configure({ models: { fast: v } }));
  settings.onApply("routing.model_reasoning", (v) => t.routing?.configure({ models: { reasoning: v } }));
  settings.onApply("routing.model_code", (v) => t.routing?.configure({ models: { code: v } }));
  settings.onApply("routing.default_tier", (v) => t.routing?.configure({ defaultTier: v }));
  settings.onApply("routing.min_score", (v) => t.routing?.configure({ minScore: v }));
  settings.onApply("routing.min_margin", (v) => t.routing?.configure({ minMargin: v }));
  settings.onApply("chat.system_prompt", (v) => t.inference?.setSystemPrompt(v));
}
