/**
 * Uploads with progress for the dashboard (fetch cannot report upload progress): XMLHttpRequest,
 * same-origin cookie and the CSRF header like web/api.ts. A multipart POST of one file (project
 * documents, a model in one go), or any body (the raw chunks of a resumable model upload).
 */
import { ApiError, cookie } from "./api.js";

export interface UploadHandle<T> {
  /** Resolves with the parsed JSON answer; rejects with an ApiError (status 0 for network/abort). */
  done: Promise<T>;
  abort: () => void;
}

/** Sends `body` with `method` to `path`; `onProgress` gets the bytes sent so far and the total. */
export function sendWithProgress<T>(
  method: "POST" | "PUT",
  path: string,
  body: XMLHttpRequestBodyInit,
  onProgress: (loaded: number, total: number) => void,
  headers: Record<string, string> = {},
): UploadHandle<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open(method, path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("accept", "application/json");
    const csrf = cookie("cellule_csrf");
    if (csrf) xhr.setRequestHeader("x-csrf-token", csrf);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded, e.total);
    };
    xhr.onload = () => {
      let data: unknown;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        data = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data as T);
        return;
      }
      // Under /v1 errors are OpenAI-shaped ({error: {code, message}}); elsewhere {error, message}.
      const d = (data ?? {}) as { error?: unknown; message?: string };
      if (d.error && typeof d.error === "object") {
        const e = d.error as { code?: string; message?: string };
        reject(new ApiError(xhr.status, e.code ?? "error", e.message ?? xhr.statusText));
      } else reject(new ApiError(xhr.status, typeof d.error === "string" ? d.error : "error", d.message ?? xhr.statusText));
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "network"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "aborted"));
    xhr.send(body);
  });
  return { done, abort: () => xhr.abort() };
}

/** POSTs `file` as the multipart part `field` to `path`; `onProgress` gets 0..1 as bytes leave. */
export function uploadFile<T>(path: string, file: File, onProgress: (fraction: number) => void, field = "file"): UploadHandle<T> {
  const form = new FormData();
  form.append(field, file, file.name);
  const h = sendWithProgress<T>("POST", path, form, (loaded, total) => onProgress(loaded / total));
  return {
    done: h.done.then((v) => {
      onProgress(1);
      return v;
    }),
    abort: h.abort,
  };
}
