/**
 * Wires projects, documents, ingest, search, memories, RAG chat (and, with CELLULE_DEBUG_INGEST, the
 * admin debug ingest route) for buildPool (the composition
 * root calls this once): repositories → services → route plugins, plus the boot work — the vector
 * table for the configured width, the storage sweep, and the resumption of unfinished ingests.
 */
import { EventEmitter } from "node:events";
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import { storageDirOf } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import { ServedModel } from "../../protocol/worker.protocol.js";
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Dispatcher } from "../hub/dispatcher.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { Feature } from "../feature.js";
import type { KeysService } from "../keys/keys.service.js";
import { MemoriesRepository } from "../projects/memories.repository.js";
import { memoriesRoutes } from "../projects/memories.routes.js";
import { MemoriesService } from "../projects/memories.service.js";
import { ProjectsRepository } from "../projects/projects.repository.js";
import { projectsRoutes } from "../projects/projects.routes.js";
import { ProjectsService } from "../projects/projects.service.js";
import type { WorkersRepository } from "../workers/workers.repository.js";
import { debugIngestRoutes } from "./debug-ingest.routes.js";
import { DocumentStorage } from "./document-storage.js";
import { DocumentsRepository } from "./documents.repository.js";
import { documentsRoutes } from "./documents.routes.js";
import { DocumentsService } from "./documents.service.js";
import { EmbeddingClient } from "./embedding.client.js";
import { EmbeddingPump } from "./embedding-pump.js";
import { EmbeddingsRepository } from "./embeddings.repository.js";
import { IngestQueue } from "./ingest.queue.js";
import { ProjectSearch } from "./project-search.service.js";
import { RagChatService } from "./rag-chat.service.js";
import { SearchRepository } from "./search.repository.js";
import { searchRoutes } from "./search.routes.js";
import { SearchService } from "./search.service.js";

export interface RagDeps {
  config: Pick<PoolConfig, "embeddingDims" | "embeddingModel" | "storageDir" | "dataDir" | "chunkTokens"> & Partial<Pick<PoolConfig, "debugIngest">>;
  db: Db;
  registry: WorkerRegistry;
  dispatcher: Dispatcher;
  keys: KeysService;
  audit: AuditService;
  workers: WorkersRepository;
  license?: { requireFeature(name: string): Promise<void> } | undefined;
}

export interface Rag extends Feature {
  projects: ProjectsService;
  documents: DocumentsService;
  queue: IngestQueue;
  pump: EmbeddingPump;
  chat: RagChatService;
  search: SearchService;
  memories: MemoriesService;
  /** Emits "document" with `{ documentId }` when a document's indexing status or counts change (live dashboard). */
  progress: EventEmitter;
  /** Registers the /v1/projects routes (policy `apiKey`: an API key, or the admin session cookie). */
  routes(app: FastifyInstance): Promise<void>;
  /** Resumes documents left pending by a previous run (call once the pool listens). */
  recover(): Promise<void>;
  close(): Promise<void>;
}

export async function buildRag(deps: RagDeps): Promise<Rag> {
  const log = moduleLogger("rag");
  const { db, config } = deps;
  const embeddingsRepo = new EmbeddingsRepository(db);
  await embeddingsRepo.ensureSchema(config.embeddingDims);
  // Fresh planner statistics at boot (the embedded database has no autovacuum).
  await embeddingsRepo.analyze();

  const projectsRepo = new ProjectsRepository(db);
  const documentsRepo = new DocumentsRepository(db);
  const storage = new DocumentStorage(storageDirOf(config));
  const swept = await storage.sweep(async (projectId) => ((await projectsRepo.get(projectId)) ? documentsRepo.hashesOf(projectId) : undefined));
  if (swept.removed > 0) log.info({ removed: swept.removed }, "removed stored files no document references (interrupted uploads or erasures)");

  const client = new EmbeddingClient({ dispatcher: deps.dispatcher, registry: deps.registry, dims: config.embeddingDims, model: config.embeddingModel });
  for (const row of await deps.workers.listWorkers()) {
    const models = ServedModel.array().safeParse(row.models);
    if (models.success && !row.revoked_at) client.remember(models.data);
  }
  const progress = new EventEmitter();
  const onProgress = (documentId: string) => void progress.emit("document", { documentId });
  const pump = new EmbeddingPump({ documents: documentsRepo, embeddings: embeddingsRepo, client, onProgress, levelOf: (id) => projectsRepo.sensitivity(id) });
  const queue = new IngestQueue({ documents: documentsRepo, projects: projectsRepo, storage, pump, embeddings: client, maxChunkTokens: config.chunkTokens, onProgress });
  const documents = new DocumentsService({ documents: documentsRepo, storage, queue, audit: deps.audit, license: deps.license });
  const projects = new ProjectsService({
    projects: projectsRepo,
    keys: deps.keys,
    audit: deps.audit,
    eraser: {
      documentIds: async (projectId) => (await documentsRepo.list(projectId)).map((d) => d.id),
      stopDocuments: (ids) => queue.forgetAll(ids),
      removeFiles: (projectId) => storage.removeProject(projectId),
    },
  });
  const memories = new MemoriesService({ memories: new MemoriesRepository(db), audit: deps.audit });
  const search = new SearchService({ search: new SearchRepository(db), embeddings: embeddingsRepo, client });
  const chat = new RagChatService({ projects, search, memories, audit: deps.audit, registry: deps.registry });
  const projectSearch = new ProjectSearch({ search, audit: deps.audit });

  return {
    projects,
    documents,
    queue,
    pump,
    chat,
    search,
    memories,
    progress,
    async routes(app) {
      await app.register(projectsRoutes, { projects });
      await app.register(documentsRoutes, { projects, documents });
      await app.register(searchRoutes, { projects, search: projectSearch });
      await app.register(memoriesRoutes, { projects, memories });
      // CELLULE_DEBUG_INGEST: the guide's debug endpoint; unset, it does not exist (404).
      if (config.debugIngest) {
        await app.register(debugIngestRoutes, { client, audit: deps.audit, chunkTokens: config.chunkTokens });
        log.warn("CELLULE_DEBUG_INGEST is on: the admin debug route POST /v1/admin/debug/ingest_inline answers");
      }
    },
    async recover() {
      await queue.recover();
    },
    async close() {
      pump.close();
      await queue.close();
    },
  };
}
