/**
 * `GET /v1/workers/models/:sha256`: an auto worker downloads an assigned model file (issue 19).
 * Authenticated by the download token of its connection (`Authorization: Bearer`, see
 * model-distribution.ts), not by an API key: the route is `open` to the key check and refuses
 * anything else with 401. `Range: bytes=a-b` answers 206 (a cut download resumes), a range past the
 * end 416. On a satellite, `localFile` fetches the file from a peer first.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { MODEL_DOWNLOAD_PATH } from "../../protocol/worker.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger } from "../../shared/logger.js";
import type { ModelDistributor } from "./model-distribution.js";

const log = moduleLogger("hub.models.download");

/** `bytes=a-b` / `bytes=a-` / `bytes=-n` against a file of `size` bytes; null: not satisfiable; undefined: no (or an unsupported) range, the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const n = Number(m[2]);
    if (n === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

export async function modelDownloadRoutes(app: FastifyInstance, models: ModelDistributor): Promise<void> {
  app.get(
    `${MODEL_DOWNLOAD_PATH}/:sha256`,
    {
      // Open to the key check: the handler checks the connection's download token (401 otherwise).
      config: { auth: "open", setup: "gated", license: "exempt" },
      schema: {
        summary: "An auto worker downloads an assigned model file (its connection's download token as bearer; Range supported)",
        tags: ["workers"],
        params: z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
      },
    },
    async (req, reply) => {
      const { sha256 } = req.params as { sha256: string };
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
      const worker = models.authorize(bearer, sha256);
      if (!worker) throw new AppError("invalid_token", "a model download needs the download token of a connected worker this model is assigned to");
      const path = await models.localFile(sha256);
      if (!path) throw new AppError("file_not_found", `model file ${sha256} is not on this pool (nor on a peer it could fetch it from)`);
      const { size } = await stat(path);
      const range = parseRange(req.headers.range, size);
      reply.header("accept-ranges", "bytes").header("content-type", "application/octet-stream");
      if (range === null) return reply.code(416).header("content-range", `bytes */${size}`).send();
      const { start, end } = range ?? { start: 0, end: size - 1 };
      log.info({ workerId: worker.id, sha256, start, end, size }, "model download");
      if (range) reply.code(206).header("content-range", `bytes ${start}-${end}/${size}`);
      reply.header("content-length", String(size === 0 ? 0 : end - start + 1));
      if (size === 0) return reply.send("");
      // 1 MiB reads: a loopback download of a large file runs at disk speed, not at 64 KiB steps.
      return reply.send(createReadStream(path, { start, end, highWaterMark: 1024 * 1024 }));
    },
  );
}
