/**
 * The port the local services (projects, memories, documents, settings) record their changes
 * through, so that federation replication can send them to the other pools. Federation's
 * ReplicationService implements it and is set on the services by buildReplication; without
 * federation the services have none and record nothing.
 */
import type { EnvelopeKind } from "./federation/replication/envelope.js";
import type { PayloadOf } from "./federation/replication/payloads.js";

export interface Replicator {
  record<K extends EnvelopeKind>(kind: K, payload: PayloadOf<K>): Promise<void>;
  /** A document of ours reached `done`: its chunks and vectors go out (document.chunks). */
  documentDone(documentId: string): void;
}
