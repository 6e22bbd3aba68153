/**
 * What the rest of the pool needs from the model catalogue (issue 19), so that the hub (worker
 * assignments, file serving), smart routing and the satellite fetcher depend on this, not on the
 * catalogue's storage.
 */
import type { HardwareClass } from "../../protocol/worker.protocol.js";
import type { ModelRole } from "../../protocol/models.protocol.js";

export interface CatalogueEntry {
  modelId: string;
  /** The name clients send as `model`. */
  name: string;
  sha256: string;
  sizeBytes: number;
  role: ModelRole;
  /** Empty: every worker it fits. */
  hardwareClasses: HardwareClass[];
  contextLength: number | null;
  embeddingLength: number | null;
}

export interface ModelCatalogue {
  list(): Promise<CatalogueEntry[]>;
  /** The local path of the model file, once present (a satellite fetches it from a peer first); null when no pool has it. */
  localFile(sha256: string): Promise<string | null>;
  /** Called after every change of the catalogue (upload, delete, role or assignment change, a replicated change). Returns an unsubscribe. */
  onChange(listener: () => void): () => void;
}
