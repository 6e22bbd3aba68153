/**
 * Where each runtime setting takes effect: one applier per key, calling a setter on the service
 * that uses it (the queue size keys are applied by BalancingService, which combines them with the
 * declared headcount).
 */
import type { SettingValue } from "../../protocol/settings.protocol.js";
import type { AdminUsersService } from "../admin-users/admin-users.service.js";
import type { Dispatcher } from "../hub/dispatcher.js";
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
}

const num = (v: SettingValue) => v as number;

export function registerAppliers(settings: SettingsService, t: ApplierTargets): void {
  settings.onApply("jobs.timeout_seconds", (v) => t.dispatcher.configure({ jobTimeoutMs: num(v) * 1000 }));
  settings.onApply("jobs.max_attempts", (v) => t.dispatcher.configure({ maxAttempts: num(v) }));
  settings.onApply("jobs.retry_after_seconds", (v) => t.dispatcher.configure({ retryAfterSeconds: num(v) }));
  settings.onApply("documents.parallel_extractions", (v) => t.queue.setConcurrency(num(v)));
  settings.onApply("documents.embedding_batch_size", (v) => t.pump.setBatching({ batchSize: num(v) }));
  settings.onApply("documents.embedding_batches_in_flight", (v) => t.pump.setBatching({ maxInFlight: num(v) }));
  settings.onApply("search.chat_sources", (v) => t.chat.setRetrieveK(num(v)));
  settings.onApply("search.query_wait_seconds", (v) => t.search.setQueryTimeoutMs(num(v) * 1000));
  settings.onApply("security.session_idle_minutes", (v) => t.adminUsers.setPolicy({ idleMs: num(v) * 60_000 }));
  settings.onApply("security.lockout_failures", (v) => t.adminUsers.setPolicy({ lockThreshold: num(v) }));
  settings.onApply("security.lockout_minutes", (v) => t.adminUsers.setPolicy({ lockMs: num(v) * 60_000 }));
}
