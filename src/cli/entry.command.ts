/**
 * `cellule entry nginx --pools host:port,… [--listen PORT|ADDRESS:PORT] [--out FILE] [--prefix DIR]
 * [--foreground]`: the cluster's unified entry (guide §3.1–3.3) as a complete nginx.conf, printed or
 * written atomically (mode 0644). The pid file, logs and temp directories go under --prefix
 * (default: the directory of --out, else ./cellule-entry), which the command creates when it writes
 * a file, so nginx needs no root-owned directory.
 */
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { CliError } from "../shared/errors.js";
import { DEFAULT_ENTRY_PORT, parseListen, parsePools, renderNginxEntry } from "./nginx-entry.js";
import { action } from "./run.js";

interface NginxOpts {
  pools: string;
  listen?: string;
  out?: string;
  prefix?: string;
  foreground?: boolean;
}

/** Writes `text` to `file` through a temporary file in the same directory and a rename, mode 0644. */
export function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o644, flag: "wx" });
    chmodSync(tmp, 0o644); // whatever the umask
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new CliError(`Cannot write ${file}: ${(err as Error).message}`);
  }
}

export function registerEntryCommand(program: Command): Command {
  const entry = program.command("entry").description("The cluster's unified entry: one address in front of every pool (guide §3.1–3.3)");
  entry
    .command("nginx")
    .description("Print (or write) a complete nginx.conf spreading clients over the pools; run it with nginx -c FILE")
    .requiredOption("--pools <list>", "the pools, comma-separated host:port (IPv6 as [addr]:port)")
    .option("--listen <port|address:port>", `where nginx listens (default ${DEFAULT_ENTRY_PORT}, every address)`)
    .option("--out <file>", "write the file (atomically, mode 0644) instead of printing it")
    .option("--prefix <dir>", "directory for nginx's pid file, logs and temp files (default: the directory of --out, else ./cellule-entry)")
    .option("--foreground", "add 'daemon off;' (systemd Type=simple, containers, tests)")
    .action(
      action(async (opts: NginxOpts) => {
        const pools = parsePools(opts.pools);
        const listen = opts.listen === undefined ? { port: DEFAULT_ENTRY_PORT } : parseListen(opts.listen);
        const out = opts.out === undefined ? undefined : resolve(opts.out);
        const prefix = resolve(opts.prefix ?? (out ? dirname(out) : "cellule-entry"));
        const text = renderNginxEntry({ pools, listen, prefix, foreground: opts.foreground === true });
        if (!out) {
          process.stdout.write(text);
          return;
        }
        try {
          // nginx creates the last level of each temp path itself (owned by its worker user).
          mkdirSync(join(prefix, "tmp"), { recursive: true, mode: 0o755 });
        } catch (err) {
          throw new CliError(`Cannot create ${join(prefix, "tmp")}: ${(err as Error).message}`);
        }
        writeAtomically(out, text);
        process.stderr.write(`nginx entry written to ${out} (${pools.length} pool${pools.length === 1 ? "" : "s"}, listening on ${opts.listen ?? DEFAULT_ENTRY_PORT}).\nCheck: nginx -t -p ${prefix} -e ${join(prefix, "error.log")} -c ${out}\n`);
      }),
    );
  return program;
}
