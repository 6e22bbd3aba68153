-- 005: projects, project-scoped API keys, documents, chunks (full text), memories.
-- The vector table (chunk_embeddings) is not here: its width is a pool setting
-- (CELLULE_EMBEDDING_DIMS), so the pool creates it at boot (src/pool/rag/embedding-schema.ts).
-- Everything that belongs to a project hangs off it with ON DELETE CASCADE: deleting the project
-- row erases its keys, documents, chunks, vectors and memories in one statement.

CREATE TABLE projects (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  -- Text search configuration for this project's chunks and queries.
  language    text NOT NULL DEFAULT 'simple' CHECK (language IN ('french', 'english', 'simple')),
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- A key with a project_id sees only that project (any other project answers 404).
ALTER TABLE api_keys ADD COLUMN project_id text REFERENCES projects (id) ON DELETE CASCADE;
CREATE INDEX api_keys_project_idx ON api_keys (project_id);

CREATE TABLE documents (
  id              text PRIMARY KEY,
  project_id      text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  name            text NOT NULL,
  size_bytes      bigint NOT NULL,
  mime_type       text,
  kind            text,
  -- sha256 of the bytes, hex; the stored file is named after it inside the project's folder.
  content_hash    text NOT NULL,
  indexed_status  text NOT NULL DEFAULT 'pending' CHECK (indexed_status IN ('pending', 'done', 'skipped', 'failed')),
  -- Human reason for skipped / failed.
  reason          text,
  pages           integer,
  chunks_count    integer NOT NULL DEFAULT 0,
  embedded_count  integer NOT NULL DEFAULT 0,
  -- Set once every chunk of the current extraction is stored (full-text search works from then on).
  extracted_at    timestamptz,
  indexed_at      timestamptz,
  created_by      text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (project_id, content_hash)
);
CREATE INDEX documents_status_idx ON documents (indexed_status);

CREATE TABLE chunks (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  document_id  text NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
  project_id   text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  ord          integer NOT NULL,
  page         integer,
  heading      text,
  text         text NOT NULL,
  tokens       integer NOT NULL,
  tsv          tsvector NOT NULL,
  UNIQUE (document_id, ord)
);
CREATE INDEX chunks_project_idx ON chunks (project_id);
CREATE INDEX chunks_tsv_idx ON chunks USING gin (tsv);

CREATE TABLE memories (
  id          text PRIMARY KEY,
  project_id  text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
  text        text NOT NULL,
  created_by  text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX memories_project_idx ON memories (project_id, created_at);
