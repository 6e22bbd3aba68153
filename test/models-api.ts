/**
 * Helpers for the model catalogue's end-to-end tests (issue 19): a multipart upload like any HTTP
 * client would send it, and the raw PUT of a resumable session's bytes.
 */
export interface Reply {
  status: number;
  body: any;
  /** The Connection header of the answer. */
  connection: string | null;
}

async function reply(r: Response): Promise<Reply> {
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, connection: r.headers.get("connection") };
}

/** POST /v1/admin/models: the text fields first, then the file part `file`. */
export async function uploadModel(url: string, adminKey: string, bytes: Uint8Array, fileName: string, fields: Record<string, string> = {}): Promise<Reply> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("file", new Blob([bytes]), fileName);
  return reply(await fetch(`${url}/v1/admin/models`, { method: "POST", headers: { authorization: `Bearer ${adminKey}` }, body: form }));
}

/** PUT /v1/admin/models/uploads/:id: bytes at an offset (`complete` ends a session of unknown size). */
export async function putUploadBytes(url: string, adminKey: string, uploadId: string, offset: number, bytes: Uint8Array, complete = false): Promise<Reply> {
  return reply(
    await fetch(`${url}/v1/admin/models/uploads/${uploadId}${complete ? "?complete=1" : ""}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/octet-stream", "upload-offset": String(offset) },
      body: bytes,
    }),
  );
}
