/**
 * Helpers for the projects / documents end-to-end tests: HTTP calls with a key, multipart upload,
 * waiting for indexing, and direct SQL on a running pool's database through its admin socket.
 */
import { join } from "node:path";
import pg from "pg";
import { waitFor } from "./helpers.js";

export interface Api {
  (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** JSON calls to a pool with one key. */
export function api(url: string, key: string): Api {
  return async (method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };
}

/** Uploads bytes as a multipart file part, like any HTTP client would. */
export async function uploadDocument(url: string, key: string, projectId: string, name: string, bytes: Uint8Array): Promise<{ status: number; body: any }> {
  const form = new FormData();
  form.append("file", new Blob([bytes]), name);
  const r = await fetch(`${url}/v1/projects/${projectId}/documents`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: form });
  return { status: r.status, body: await r.json() };
}

export interface DocumentInfo {
  id: string;
  name: string;
  indexed_status: "pending" | "done" | "skipped" | "failed";
  reason: string | null;
  chunks_count: number;
  embedded_count: number;
  mime_type: string | null;
  pages: number | null;
}

export async function listDocuments(call: Api, projectId: string): Promise<DocumentInfo[]> {
  const r = await call("GET", `/v1/projects/${projectId}/documents`);
  if (r.status !== 200) throw new Error(`GET documents: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data as DocumentInfo[];
}

/** Waits until every listed document satisfies `ok`; returns them. */
export async function waitDocuments(call: Api, projectId: string, ok: (d: DocumentInfo) => boolean, what: string, timeoutMs = 60_000): Promise<DocumentInfo[]> {
  return waitFor(
    async () => {
      const docs = await listDocuments(call, projectId);
      return docs.length > 0 && docs.every(ok) ? docs : undefined;
    },
    what,
    timeoutMs,
    200,
  );
}

/** A `pg` client on the running pool's embedded database (its admin Unix socket). */
export async function sql(dataDir: string): Promise<pg.Client> {
  const client = new pg.Client({ host: join(dataDir, "run"), port: 5432, user: "postgres", database: "postgres" });
  await client.connect();
  return client;
}
