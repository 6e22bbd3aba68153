/**
 * What each envelope kind carries (zod, checked before anything is applied). Ids travel with the
 * rows, so a project, document or memory has the same id on every pool; vectors travel as base64
 * float32 (no re-embedding on the receiving side).
 */
import { z } from "zod";
import { MigrationOrderState, MigrationPolicy, MigrationReason, WorkerMobility } from "../../../protocol/migration.protocol.js";
import { ModelName, ModelRole } from "../../../protocol/models.protocol.js";
import { HardwareClass } from "../../../protocol/worker.protocol.js";
import { IndexedStatus, ProjectLanguage } from "../../../protocol/projects.protocol.js";
import { SensitivityLevel } from "../../../protocol/sensitivity.protocol.js";
import type { EnvelopeKind } from "./envelope.js";

const Id = z.string().regex(/^[A-Za-z0-9_-]{1,100}$/);
const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Iso = z.string().datetime({ offset: true });

/** `sensitivity` absent: from a pool before issue 21 (the receiver's column default applies). */
export const ProjectCreate = z.object({ project_id: Id, name: z.string().min(1).max(500), language: ProjectLanguage, sensitivity: SensitivityLevel.optional(), created_by: z.string().max(300), created_at: Iso });
/** An admin changed a project's sensitivity (issue 21): last writer by HLC per project. */
export const ProjectSensitivity = z.object({ project_id: Id, sensitivity: SensitivityLevel });
export const ProjectDelete = z.object({ project_id: Id });
export const DocumentCreate = z.object({
  project_id: Id,
  document_id: Id,
  name: z.string().min(1).max(300),
  size: z.number().int().nonnegative(),
  mime_type: z.string().max(200).nullable(),
  kind: z.string().max(50).nullable(),
  content_hash: Sha256,
  status: IndexedStatus,
  reason: z.string().max(2000).nullable(),
  created_by: z.string().max(300),
  created_at: Iso,
});
export const DocumentDelete = z.object({ project_id: Id, document_id: Id, content_hash: Sha256 });
export const ChunkPayload = z.object({
  ord: z.number().int().nonnegative(),
  page: z.number().int().nullable(),
  heading: z.string().nullable(),
  text: z.string(),
  tokens: z.number().int().nonnegative(),
  /** base64 of little-endian float32, or null when the origin had no vector for it. */
  vector: z.string().nullable(),
});
export const DocumentChunks = z.object({
  project_id: Id,
  document_id: Id,
  content_hash: Sha256,
  /** 0-based part of `parts`; part 0 replaces the chunks the receiver held for this document. */
  part: z.number().int().nonnegative(),
  parts: z.number().int().positive(),
  model: z.string().max(200).nullable(),
  dims: z.number().int().positive().nullable(),
  chunks: z.array(ChunkPayload).max(200),
  /** Last part only: the document's final state (`done`). */
  done: z.object({ pages: z.number().int().nullable(), chunks_count: z.number().int().nonnegative(), mime_type: z.string().nullable(), kind: z.string().nullable() }).optional(),
});
export const MemoryCreate = z.object({ project_id: Id, memory_id: Id, text: z.string().min(1).max(20_000), created_by: z.string().max(300), created_at: Iso });
export const MemoryDelete = z.object({ project_id: Id, memory_id: Id });
export const SettingsUpdate = z.object({ key: z.string().min(1).max(100), value: z.unknown() });

// Access (issue 15): hashes only, never a secret (an API key, a worker credential, a session token).
const Argon2 = z.string().startsWith("$argon2").max(300);
const Email = z.string().min(3).max(254);
export const KeyCreate = z.object({
  key_id: Id,
  name: z.string().max(300),
  scope: z.enum(["user", "admin"]),
  project_id: Id.nullable(),
  secret_hash: Argon2,
  created_at: Iso,
  /** Set when the key was revoked before its creation was recorded (a pool's first bond). */
  revoked_at: Iso.nullable(),
});
export const KeyRevoke = z.object({ key_id: Id, revoked_at: Iso });
/** Accounts are one per email on every pool (the email is the account; ids may differ between pools). */
export const AdminUpsert = z.object({
  admin_id: Id,
  email: Email,
  password_hash: Argon2,
  created_at: Iso,
  password_changed_at: Iso,
  /** A password reset: the account's sessions opened before this instant end on every pool. */
  end_sessions_before: Iso.optional(),
});
export const AdminDelete = z.object({ admin_id: Id, email: Email });
/** A dashboard session: the SHA-256 of its cookie value and of its CSRF token, never the values. */
export const SessionCreate = z.object({ token_hash: Sha256, email: Email, csrf_hash: Sha256, created_at: Iso, expires_at: Iso });
export const SessionTouch = z.object({ token_hash: Sha256, last_seen_at: Iso });
export const SessionDelete = z.object({ token_hash: Sha256 });
export const WorkerCreate = z.object({ worker_id: Id, name: z.string().max(300), credential_hash: Argon2, site: z.string().max(200).nullable(), mobility: WorkerMobility.optional(), clearance: SensitivityLevel.nullable().optional(), enrolled_at: Iso, revoked_at: Iso.nullable() });
/** An admin set (null: cleared) a worker's clearance (issue 21): last writer by HLC per worker. */
export const WorkerClearance = z.object({ worker_id: Id, clearance: SensitivityLevel.nullable() });
export const WorkerRevoke = z.object({ worker_id: Id, revoked_at: Iso });
/** The company identity the wizard wrote: name, and the logo (base64 of the checked bytes). */
export const SetupIdentity = z.object({
  company_name: z.string().max(500).nullable(),
  logo: z.string().max(2_000_000).nullable(),
  logo_mime: z.string().max(100).nullable(),
});
/** A pool's human name (issue 20), signed by that pool: a pool names only itself (checked on apply). */
export const PoolName = z.object({ atom_id: z.string().min(1).max(128), name: z.string().max(100).nullable() });
export const SiteHeadcount = z.object({ site: z.string().min(1).max(200), headcount: z.number().int().nonnegative() });
/** The installed license (the vendor's signed JWT, re-validated by the receiving pool), or null: removed. */
export const LicenseUpdate = z.object({ token: z.string().max(20_000).nullable() });

// Migration orders (issue 16): the order with its issuer's signature (verified by the receiver
// before it is stored), its state changes (forward only), and the cluster's policy (last writer wins).
const AtomId = z.string().min(1).max(128);
export const MigrationOrder = z.object({
  id: Id,
  worker_id: Id,
  from_pool: AtomId,
  to_pool: AtomId,
  to_pool_url: z.string().max(2048),
  reason: MigrationReason,
  detail: z.string().max(1000),
  issued_by: AtomId,
  created_at: Iso,
  signature: z.string().max(200),
  state: MigrationOrderState,
  state_detail: z.string().max(1000).nullable(),
});
export const MigrationState = z.object({ id: Id, state: MigrationOrderState, state_detail: z.string().max(1000).nullable(), at: Iso, by: AtomId });
export const MigrationPolicyUpdate = z.object({ policy: MigrationPolicy, failover_set: z.boolean(), updated_by: z.string().max(300) });

// The model catalogue (issue 19): its rows (the file itself is fetched on demand from a peer,
// src/pool/models/model-fetch.ts) and the catalogue master's promotions (a pool promotes only itself).
export const ModelUpsert = z.object({
  model_id: Id,
  name: ModelName,
  sha256: Sha256,
  size_bytes: z.number().int().nonnegative(),
  role: ModelRole,
  hardware_classes: z.array(HardwareClass).max(20),
  architecture: z.string().max(100).nullable(),
  parameter_count: z.number().nonnegative().nullable(),
  quantisation: z.string().max(100).nullable(),
  context_length: z.number().int().nullable(),
  embedding_length: z.number().int().nullable(),
  chat_template: z.boolean(),
  created_by: z.string().max(300),
  created_at: Iso,
  updated_at: Iso,
});
export const ModelDelete = z.object({ model_id: Id, sha256: Sha256 });
export const CatalogueMasterClaim = z.object({ master_atom: AtomId, epoch: z.number().int().positive(), promoted_by: z.string().max(300), promoted_at: Iso });

export const PAYLOADS = {
  "project.create": ProjectCreate,
  "project.delete": ProjectDelete,
  "project.sensitivity": ProjectSensitivity,
  "document.create": DocumentCreate,
  "document.delete": DocumentDelete,
  "document.chunks": DocumentChunks,
  "memory.create": MemoryCreate,
  "memory.delete": MemoryDelete,
  "settings.update": SettingsUpdate,
  "key.create": KeyCreate,
  "key.revoke": KeyRevoke,
  "admin.upsert": AdminUpsert,
  "admin.delete": AdminDelete,
  "session.create": SessionCreate,
  "session.touch": SessionTouch,
  "session.delete": SessionDelete,
  "worker.create": WorkerCreate,
  "worker.revoke": WorkerRevoke,
  "worker.clearance": WorkerClearance,
  "setup.identity": SetupIdentity,
  "site.headcount": SiteHeadcount,
  "pool.name": PoolName,
  "license.update": LicenseUpdate,
  "migration.order": MigrationOrder,
  "migration.state": MigrationState,
  "migration.policy": MigrationPolicyUpdate,
  "model.upsert": ModelUpsert,
  "model.delete": ModelDelete,
  "catalogue.master": CatalogueMasterClaim,
} as const satisfies Record<EnvelopeKind, z.ZodType>;

export type PayloadOf<K extends EnvelopeKind> = z.infer<(typeof PAYLOADS)[K]>;

/** Most chunks in one document.chunks envelope. */
export const CHUNKS_PER_ENVELOPE = 200;

export function vectorToBase64(v: readonly number[]): string {
  return Buffer.from(new Float32Array(v).buffer).toString("base64");
}

export function vectorFromBase64(b64: string): number[] {
  const buf = Buffer.from(b64, "base64");
  const f = new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4));
  return Array.from(f);
}
