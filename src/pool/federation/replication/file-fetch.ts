/**
 * Stored files on demand: a pool that holds a replicated document's metadata but not its bytes
 * (they never travel with the envelopes) asks its trusted peers for them, one after the other,
 * by `GET /v1/federation/files/:projectId/:sha256` (peer-signed). The answer is streamed to disk
 * with its sha256 computed on the way and kept only when it matches the name asked for.
 */
import type { IncomingMessage } from "node:http";
import { moduleLogger, type Logger } from "../../../shared/logger.js";
import type { DocumentStorage } from "../../rag/document-storage.js";
import type { PeerRow } from "../peers.repository.js";

export interface RawTransport {
  request<T>(peer: { url: string }, method: string, path: string, body?: unknown, opts?: { timeoutMs?: number; raw?: boolean }): Promise<T>;
}

export class FileFetcher {
  private readonly log: Logger = moduleLogger("federation.files");
  /** One fetch per file at a time: concurrent readers wait for the same one. */
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(
    private readonly deps: {
      storage: DocumentStorage;
      transport: RawTransport;
      trustedPeers: () => Promise<PeerRow[]>;
      canReceive: () => boolean;
      maxBytes: number;
    },
  ) {}

  /** True once the file is present locally (already, or fetched and hash-checked now). */
  async ensure(projectId: string, sha256: string): Promise<boolean> {
    if (await this.deps.storage.exists(projectId, sha256)) return true;
    if (!this.deps.canReceive()) return false;
    const key = `${projectId}/${sha256}`;
    let p = this.inFlight.get(key);
    if (!p) {
      p = this.fetch(projectId, sha256).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private async fetch(projectId: string, sha256: string): Promise<boolean> {
    const { storage, transport } = this.deps;
    for (const peer of await this.deps.trustedPeers()) {
      let res: IncomingMessage;
      try {
        res = await transport.request<IncomingMessage>(peer, "GET", `/v1/federation/files/${projectId}/${sha256}`, undefined, { raw: true, timeoutMs: 60_000 });
      } catch (err) {
        this.log.debug({ peer: peer.atom_id, projectId, sha256, err: (err as Error).message }, "peer does not have the file");
        continue;
      }
      try {
        const staged = await storage.stage(res, this.deps.maxBytes);
        if (staged.sha256 !== sha256) {
          await storage.discard(staged);
          this.log.warn({ peer: peer.atom_id, projectId, expected: sha256, got: staged.sha256 }, "fetched file does not match its hash: discarded");
          continue;
        }
        await storage.commit(staged, projectId);
        this.log.info({ peer: peer.atom_id, projectId, sha256, size: staged.size }, "stored file fetched from a peer");
        return true;
      } catch (err) {
        res.destroy();
        this.log.warn({ peer: peer.atom_id, projectId, sha256, err: (err as Error).message }, "fetching a stored file failed");
      }
    }
    return false;
  }
}
