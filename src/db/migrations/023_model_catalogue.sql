-- 023: the model catalogue (issue 19, admin guide §4.6.3). Each uploaded GGUF is one row, named by
-- the name clients send as `model`; its file lives at <dataDir>/models/<sha256>.gguf on every pool
-- that holds it (satellites fetch it from a trusted peer on demand). `hardware_classes` empty means
-- every worker it fits. An upload in progress is a row of model_uploads (resumable by offset).
CREATE TABLE model_catalogue (
  model_id text PRIMARY KEY,
  name text NOT NULL UNIQUE,
  sha256 text NOT NULL,
  size_bytes bigint NOT NULL,
  role text NOT NULL,
  hardware_classes jsonb NOT NULL DEFAULT '[]'::jsonb,
  architecture text,
  parameter_count bigint,
  quantisation text,
  context_length integer,
  embedding_length integer,
  chat_template boolean NOT NULL DEFAULT false,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_uploads (
  upload_id text PRIMARY KEY,
  file_name text NOT NULL,
  expected_size bigint,
  received_bytes bigint NOT NULL DEFAULT 0,
  -- What the uploader asked for at creation (null: the defaults, decided when the file is complete).
  name text,
  role text,
  hardware_classes jsonb,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Which pool of the cluster is the catalogue master: one row; `epoch` grows with every promotion
-- (the highest epoch wins, so an old master that comes back learns it is a satellite). No row: this
-- pool has never heard of another master and acts as master of its own catalogue.
CREATE TABLE catalogue_master (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  master_atom text NOT NULL,
  epoch integer NOT NULL,
  promoted_by text,
  promoted_at timestamptz NOT NULL DEFAULT now(),
  signature text
);
