/**
 * Online backups of the embedded database: the pool's database process serves a consistent physical
 * copy of its PGlite data dir on a second Unix socket beside the admin one (run/backup.sock, mode
 * 0600: whoever may read the data dir may take it). `cellule backup` asks for it while the pool
 * keeps serving; the copy is taken under the session gate, so statements wait only for its duration.
 *
 * Wire: the server answers each connection with one JSON line ({"ok":true,"bytes":N} or
 * {"ok":false,"error":"…"}) followed by N bytes of tar, then closes.
 */
import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { createConnection, createServer, type Server } from "node:net";
import { dirname, join } from "node:path";
import { CliError } from "../shared/errors.js";

/** The backup socket beside the admin socket (`run/` of the data dir). */
export const backupSocketPathBeside = (adminSocketPath: string) => join(dirname(adminSocketPath), "backup.sock");

/** Serves `dump()` on `path`; one dump at a time (the gate serialises them anyway). */
export async function serveDumps(path: string, dump: () => Promise<Buffer>): Promise<Server> {
  if (existsSync(path)) unlinkSync(path); // left by a process that died; the caller holds the lock
  const server = createServer((socket) => {
    socket.on("error", () => {}); // the client went away: nothing to tell
    dump().then(
      (tar) => {
        socket.write(`${JSON.stringify({ ok: true, bytes: tar.length })}\n`);
        socket.end(tar);
      },
      (err: unknown) => socket.end(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o600);
  return server;
}

/**
 * Asks the running pool's database process for a dump. Undefined when nothing serves `path` (no
 * pool running: the caller opens the data dir itself).
 */
export async function requestDump(path: string, timeoutMs = 600_000): Promise<Buffer | undefined> {
  if (!existsSync(path)) return undefined;
  return new Promise<Buffer | undefined>((resolve, reject) => {
    const socket = createConnection(path);
    const chunks: Buffer[] = [];
    let connected = false;
    socket.setTimeout(timeoutMs, () => socket.destroy(new CliError(`The pool's database did not send its dump within ${timeoutMs / 1000} s.`)));
    socket.on("connect", () => (connected = true));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (!connected && (err.code === "ECONNREFUSED" || err.code === "ENOENT")) resolve(undefined);
      else reject(err);
    });
    socket.on("end", () => {
      const all = Buffer.concat(chunks);
      const nl = all.indexOf(10);
      if (nl < 0) return reject(new CliError("The pool's database closed the backup connection without an answer."));
      const head = JSON.parse(all.subarray(0, nl).toString("utf8")) as { ok: boolean; bytes?: number; error?: string };
      if (!head.ok) return reject(new CliError(`The pool's database could not dump itself: ${head.error ?? "unknown error"}`));
      const body = all.subarray(nl + 1);
      if (body.length !== head.bytes) return reject(new CliError(`The pool's database dump was cut short (${body.length} of ${head.bytes} bytes).`));
      resolve(body);
    });
  });
}
