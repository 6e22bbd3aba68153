/** Admin API bodies (pool HTTP API and CLI share them). */
import { z } from "zod";

export const CreateKeyBody = z.object({ name: z.string().min(1).max(100).default("default"), scope: z.enum(["user", "admin"]).default("user") });
export const CreatedKey = z.object({ id: z.string(), name: z.string(), scope: z.enum(["user", "admin"]), key: z.string().describe("shown once; only its hash is stored") });
export const CreateTokenBody = z.object({ note: z.string().max(200).optional() });
export const CreatedToken = z.object({ id: z.string(), token: z.string().describe("single use; shown once"), expires_at: z.string() });
export const WorkerSummary = z.object({
  id: z.string(),
  name: z.string(),
  connected: z.boolean(),
  hardware_class: z.string().nullable(),
  models: z.array(z.string()),
  slots: z.number().nullable(),
  free_slots: z.number().nullable(),
  agent_version: z.string().nullable(),
  last_seen_at: z.string().nullable(),
});
export const WorkerList = z.object({ data: z.array(WorkerSummary) });
