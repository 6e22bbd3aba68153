/**
 * A resumable model upload (issue 19) through the pool's upload sessions: POST creates the session,
 * each PUT sends one chunk at `Upload-Offset` (the bytes the pool already holds), and the answer to
 * the last byte is the catalogue model. After a cut (network, closed tab) the session's
 * `received_bytes` says where to go on, so a multi-gigabyte GGUF is never sent twice. The session id
 * and its fields are remembered in localStorage per file (name, size, date), so picking the same
 * file again after a reload offers to resume, showing the name, role and classes it will get.
 */
import { api, ApiError } from "./api.js";
import { safeStorage } from "./i18n/index.js";
import { sendWithProgress } from "./upload.js";
import type { CatalogueModel, CreateUploadBody, ModelUploadFields, UploadSession } from "../src/protocol/models.protocol.js";

/** One PUT: small enough that a cut loses little, large enough that the request overhead vanishes. */
export const CHUNK_BYTES = 8 * 1024 * 1024;
const BASE = "/v1/admin/models/uploads";
const STORAGE_PREFIX = "cellule.modelUpload:";

const fileKey = (f: File) => `${STORAGE_PREFIX}${f.name}:${f.size}:${f.lastModified}`;

export interface RememberedUpload {
  uploadId: string;
  fields: ModelUploadFields;
}

/** The unfinished session this browser started for this file, if any. */
export function rememberedSession(file: File): RememberedUpload | undefined {
  const raw = safeStorage()?.getItem(fileKey(file));
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<RememberedUpload>;
    return typeof v.uploadId === "string" ? { uploadId: v.uploadId, fields: v.fields ?? {} } : undefined;
  } catch {
    return undefined;
  }
}

export function forgetSession(file: File): void {
  safeStorage()?.removeItem(fileKey(file));
}

export async function createSession(file: File, fields: ModelUploadFields): Promise<UploadSession> {
  const body: CreateUploadBody = { ...fields, file_name: file.name, size_bytes: file.size };
  const s = await api<UploadSession>("POST", BASE, body);
  const remembered: RememberedUpload = { uploadId: s.upload_id, fields };
  safeStorage()?.setItem(fileKey(file), JSON.stringify(remembered));
  return s;
}

export const getSession = (id: string) => api<UploadSession>("GET", `${BASE}/${encodeURIComponent(id)}`);

/** Abandons the session on the pool (its bytes are deleted) and forgets it here. */
export async function cancelSession(file: File, id: string): Promise<void> {
  forgetSession(file);
  await api("DELETE", `${BASE}/${encodeURIComponent(id)}`).catch((e: unknown) => {
    // Already gone (finished or expired): nothing left to cancel.
    if (!(e instanceof ApiError && e.status === 404)) throw e;
  });
}

const isModel = (v: UploadSession | CatalogueModel): v is CatalogueModel => "model_id" in v;

export interface RunningUpload {
  /** The catalogue model once the last byte is in; rejects with an ApiError (status 0: cut or paused). */
  done: Promise<CatalogueModel>;
  /** Stops sending (the session stays on the pool: resume later). */
  pause: () => void;
}

/**
 * Sends `file` into `session` from the pool's `received_bytes` to the end; `onProgress` gets the
 * bytes the pool holds (plus those of the chunk on the way).
 */
export function sendRest(file: File, session: UploadSession, onProgress: (sent: number) => void): RunningUpload {
  let abortCurrent: (() => void) | undefined;
  let paused = false;
  const path = `${BASE}/${encodeURIComponent(session.upload_id)}`;
  const put = (offset: number, body: Blob, complete = false) => {
    const h = sendWithProgress<UploadSession | CatalogueModel>("PUT", complete ? `${path}?complete=1` : path, body, (loaded) => onProgress(offset + loaded), {
      "content-type": "application/octet-stream",
      "upload-offset": String(offset),
    });
    abortCurrent = h.abort;
    return h.done;
  };
  const run = async (): Promise<CatalogueModel> => {
    let offset = session.received_bytes;
    let realigned = false;
    for (;;) {
      if (paused) throw new ApiError(0, "aborted", "aborted");
      onProgress(offset);
      const end = Math.min(file.size, offset + CHUNK_BYTES);
      let answer: UploadSession | CatalogueModel;
      try {
        // Every byte already on the pool (a cut lost the last answer): ask it to finish.
        answer = await put(offset, file.slice(offset, end), end === offset);
      } catch (e) {
        // The pool holds another count than we thought (a cut mid-chunk): continue from its count, once.
        if (e instanceof ApiError && e.is("upload_offset_mismatch") && !realigned) {
          realigned = true;
          offset = (await getSession(session.upload_id)).received_bytes;
          continue;
        }
        throw e;
      }
      if (isModel(answer)) {
        forgetSession(file);
        onProgress(file.size);
        return answer;
      }
      // A pool that takes no byte (or does not finish when asked) would keep us here forever.
      if (answer.received_bytes <= offset) throw new ApiError(500, "error", `the pool did not take the bytes at ${offset}`);
      realigned = false;
      offset = answer.received_bytes;
    }
  };
  return {
    done: run(),
    pause: () => {
      paused = true;
      abortCurrent?.();
    },
  };
}
