/**
 * A satellite's model files on demand: a catalogue row arrives by replication without its bytes;
 * the first `localFile(sha256)` (the hub, before serving a worker) asks the trusted peers one after
 * the other by `GET /v1/federation/models/:sha256` (peer-signed), streams the answer to staging
 * with its sha256 computed on the way, and keeps it only when it matches. One fetch per file at a time.
 */
import type { IncomingMessage } from "node:http";
import { moduleLogger } from "../../shared/logger.js";
import type { RawTransport } from "../federation/replication/file-fetch.js";
import type { PeerRow } from "../federation/peers.repository.js";
import type { ModelStore } from "./model-store.js";

export interface ModelFetcherDeps {
  store: ModelStore;
  transport: RawTransport;
  trustedPeers: () => Promise<PeerRow[]>;
  canReceive: () => boolean;
}

/** Longest wait for more bytes of a model from a peer (ms). */
const IDLE_TIMEOUT_MS = 60_000;

export class ModelFetcher {
  private readonly log = moduleLogger("models.fetch");
  private readonly inFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly deps: ModelFetcherDeps) {}

  /** True once the file is present locally (already, or fetched from a peer and hash-checked now). */
  async ensure(sha256: string, sizeBytes: number): Promise<boolean> {
    if (await this.deps.store.exists(sha256)) return true;
    if (!this.deps.canReceive()) return false;
    let p = this.inFlight.get(sha256);
    if (!p) {
      p = this.fetch(sha256, sizeBytes).finally(() => this.inFlight.delete(sha256));
      this.inFlight.set(sha256, p);
    }
    return p;
  }

  private async fetch(sha256: string, sizeBytes: number): Promise<boolean> {
    const { store, transport } = this.deps;
    try {
      await store.ensureSpace(sizeBytes);
    } catch (err) {
      this.log.error({ sha256, size: sizeBytes, err: (err as Error).message }, "cannot fetch a model file from a peer");
      return false;
    }
    for (const peer of await this.deps.trustedPeers()) {
      let res: IncomingMessage;
      try {
        res = await transport.request<IncomingMessage>(peer, "GET", `/v1/federation/models/${sha256}`, undefined, { raw: true, timeoutMs: IDLE_TIMEOUT_MS });
      } catch (err) {
        this.log.debug({ peer: peer.atom_id, sha256, err: (err as Error).message }, "peer does not have the model file");
        continue;
      }
      try {
        const staged = await store.stage(res);
        if (staged.sha256 !== sha256) {
          await store.discard(staged);
          this.log.warn({ peer: peer.atom_id, expected: sha256, got: staged.sha256 }, "fetched model file does not match its sha256: discarded");
          continue;
        }
        await store.commit(staged);
        this.log.info({ peer: peer.atom_id, sha256, size: staged.size }, "model file fetched from a peer");
        return true;
      } catch (err) {
        res.destroy();
        this.log.warn({ peer: peer.atom_id, sha256, err: (err as Error).message }, "fetching a model file from a peer failed");
      }
    }
    return false;
  }
}
