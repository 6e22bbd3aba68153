/** `cellule doctor`: one line per check (OK / WARN / FAIL), non-zero exit on a FAIL (src/ops/doctor-checks.ts). */
import type { Command } from "commander";
import { loadPoolConfig } from "../config/pool.config.js";
import { checkDisk, checkPeers, checkPool, checkProcesses, checkUnits, formatResults, UNITS, type CheckResult } from "../ops/doctor-checks.js";
import { realReaders, systemdRunning } from "../ops/doctor-readers.js";
import { CliError } from "../shared/errors.js";
import { action, givenFlags } from "./run.js";

export function registerDoctorCommand(program: Command): Command {
  return program
    .command("doctor")
    .description("Check this host: orphan cellule processes, systemd units, the pool and its peers, clock skew, disk space")
    .option("--url <url>", "the local pool's URL (default http://127.0.0.1:<CELLULE_PORT>)")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG)")
    .option("--disk-warn-percent <n>", "WARN under this much free space on the data dir's volume", "10")
    .option("--disk-fail-percent <n>", "FAIL under this much free space", "3")
    .option("--json", "print the results as JSON")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const config = loadPoolConfig({ flags: givenFlags(opts, ["dataDir"]), env: process.env, configFile: opts.config as string | undefined });
        const warnPercent = Number(opts.diskWarnPercent);
        const failPercent = Number(opts.diskFailPercent);
        if (!(warnPercent >= 0 && failPercent >= 0)) throw new CliError("--disk-warn-percent and --disk-fail-percent take numbers.");
        const url = (typeof opts.url === "string" ? opts.url : `http://127.0.0.1:${config.port}`).replace(/\/+$/, "");
        const readers = realReaders(config);
        // Federation refuses timestamps further ahead than CELLULE_FED_MAX_SKEW_MS: that is a FAIL.
        const skew = { warnMs: Math.min(5000, config.fedMaxSkewMs / 2), failMs: config.fedMaxSkewMs };
        const results: CheckResult[] = [
          checkProcesses(readers.processes(), systemdRunning(), process.pid),
          ...checkUnits(readers.units(UNITS)),
          ...(await checkPool(readers, url, skew)),
          ...(await checkPeers(readers, skew)),
          checkDisk(config.dataDir, readers.disk(config.dataDir), { warnPercent, failPercent }),
        ];
        const failed = results.some((r) => r.status === "FAIL");
        process.stdout.write(opts.json ? `${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n` : `${formatResults(results)}\n`);
        if (failed) process.exitCode = 1;
      }),
    );
}
