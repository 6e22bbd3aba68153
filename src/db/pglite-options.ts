/** How every PGlite of Cellule is created (the pool's, and the one-off initdb child's). */
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";

/**
 * PostgreSQL's default shared_buffers (128 MB) lives inside PGlite's WebAssembly memory, in the pool
 * process: measured here, opening an existing data dir took ~530 MB RSS and ~9 s with the defaults,
 * ~170 MB and ~1.2 s with these settings. maintenance_work_mem bounds HNSW index builds.
 */
const MEMORY_SETTINGS = ["shared_buffers = 16MB", "work_mem = 4MB", "maintenance_work_mem = 64MB", "wal_buffers = 1MB", "temp_buffers = 4MB"];

/** `loadDataDir`: a dump (PGlite's dumpDataDir tar) to create the data dir from (`cellule restore`). */
export function createPglite(dataDir: string | undefined, loadDataDir?: Blob): Promise<PGlite> {
  return PGlite.create({ dataDir, extensions: { vector }, postgresqlconf: MEMORY_SETTINGS, ...(loadDataDir ? { loadDataDir } : {}) });
}
