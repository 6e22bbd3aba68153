/**
 * Multipart upload with progress for the dashboard (fetch cannot report upload progress): one file
 * per request through XMLHttpRequest, same-origin cookie and the CSRF header like web/api.ts.
 */
import { ApiError, cookie } from "./api.js";

export interface UploadHandle<T> {
  /** Resolves with the parsed JSON answer; rejects with an ApiError (status 0 for network/abort). */
  done: Promise<T>;
  abort(): void;
}

/** POSTs `file` as the multipart part `field` to `path`; `onProgress` gets 0..1 as bytes leave. */
export function uploadFile<T>(path: string, file: File, onProgress: (fraction: number) => void, field = "file"): UploadHandle<T> {
  const xhr = new XMLHttpRequest();
  const done = new Promise<T>((resolve, reject) => {
    xhr.open("POST", path);
    xhr.withCredentials = true;
    xhr.setRequestHeader("accept", "application/json");
    const csrf = cookie("cellule_csrf");
    if (csrf) xhr.setRequestHeader("x-csrf-token", csrf);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let data: unknown;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : undefined;
      } catch {
        data = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
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
    const form = new FormData();
    form.append(field, file, file.name);
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
