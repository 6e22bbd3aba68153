/**
 * The model catalogue (issue 19, admin guide §4.6.3): the bodies of /v1/admin/models/*. A model is
 * an uploaded GGUF with a role (a chat tier or `embedding`) and the hardware classes it is assigned
 * to (empty: every worker it fits). One pool of a cluster is the catalogue master; the others are
 * satellites that replicate it and answer a change with 409 `catalogue_read_only`.
 */
import { z } from "zod";
import { HardwareClass } from "./worker.protocol.js";

/** The chat tiers of the wizard (§1.6) and smart routing, plus `embedding`. */
export const ChatTier = z.enum(["fast", "reasoning", "code"]);
export type ChatTier = z.infer<typeof ChatTier>;
export const ModelRole = z.enum(["fast", "reasoning", "code", "embedding"]);
export type ModelRole = z.infer<typeof ModelRole>;

/** A served model name as clients send it in `model` (and a file-safe one). */
export const ModelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits, . _ : - (up to 100)");
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

/** What the GGUF header says (read on upload). */
export const GgufSummary = z.object({
  architecture: z.string().nullable(),
  parameter_count: z.number().nullable(),
  quantisation: z.string().nullable(),
  context_length: z.number().int().nullable(),
  embedding_length: z.number().int().nullable(),
  chat_template: z.boolean(),
});
export type GgufSummary = z.infer<typeof GgufSummary>;

export const CatalogueModel = GgufSummary.extend({
  model_id: z.string(),
  name: ModelName,
  sha256: Sha256Hex,
  size_bytes: z.number().int().nonnegative(),
  role: ModelRole,
  hardware_classes: z.array(HardwareClass),
  created_by: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  /** Whether this pool holds the file now (a satellite fetches it on first use). */
  file_present: z.boolean(),
});
export type CatalogueModel = z.infer<typeof CatalogueModel>;

export const CatalogueMaster = z.object({
  master_atom: z.string(),
  /** The master's advertised URL when it is a known peer (null: this pool, or unknown). */
  master_url: z.string().nullable(),
  epoch: z.number().int().nonnegative(),
  /** True when this pool is the master (it accepts catalogue changes). */
  self: z.boolean(),
});
export type CatalogueMaster = z.infer<typeof CatalogueMaster>;

/** GET /v1/admin/models */
export const CatalogueList = z.object({ master: CatalogueMaster, models: z.array(CatalogueModel) });
export type CatalogueList = z.infer<typeof CatalogueList>;

/** Fields of a multipart upload (POST /v1/admin/models, field `file` last) or of an upload session. */
export const ModelUploadFields = z.object({
  /** Default: the file name without `.gguf`, made name-safe. */
  name: ModelName.optional(),
  /** Default: `embedding` for an embedding-only GGUF (no chat template and a BERT-like architecture), else `fast`. */
  role: ModelRole.optional(),
  hardware_classes: z.array(HardwareClass).optional(),
});
export type ModelUploadFields = z.infer<typeof ModelUploadFields>;

/** POST /v1/admin/models/uploads: starts a resumable upload. */
export const CreateUploadBody = ModelUploadFields.extend({
  file_name: z.string().min(1).max(300),
  /** The whole file's size when known (the upload completes when it is reached). */
  size_bytes: z.number().int().positive().optional(),
});
export type CreateUploadBody = z.infer<typeof CreateUploadBody>;

/** An upload session (POST/GET /v1/admin/models/uploads/:id): resume by sending bytes from `received_bytes`. */
export const UploadSession = z.object({
  upload_id: z.string(),
  file_name: z.string(),
  size_bytes: z.number().int().nullable(),
  received_bytes: z.number().int().nonnegative(),
});
export type UploadSession = z.infer<typeof UploadSession>;

/** PATCH /v1/admin/models/:id */
export const PatchModelBody = z.object({ role: ModelRole.optional(), hardware_classes: z.array(HardwareClass).optional() }).strict();
export type PatchModelBody = z.infer<typeof PatchModelBody>;

/** POST /v1/admin/models/promote-master: makes this pool the catalogue master (an admin's act, never automatic). */
export const PromoteMasterBody = z.object({ confirm: z.literal(true) });

/** Response headers of a `model: "auto"` request (smart routing). */
export const ROUTED_TIER_HEADER = "x-cellule-routed-tier";
export const ROUTED_SCORE_HEADER = "x-cellule-routed-score";
/** How the tier was chosen: `centroid` (the embedder's vectors), `keywords` (no embedder), `default` (below the thresholds). */
export const ROUTED_BY_HEADER = "x-cellule-routed-by";
