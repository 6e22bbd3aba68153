/**
 * `cellule setup apply --file answers.json`: the unattended install (Ansible, tests). Same
 * validation as the wizard; works on the database directly (the running pool's socket, else the
 * data dir), and a running pool opens its API within a second. `identity.logo_file` (a path
 * relative to the answers file) may stand for `identity.logo_base64`.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { keyDirOf } from "../config/pool.config.js";
import { loadOrCreatePoolIdentity } from "../pool/identity/pool-identity.js";
import { SetupRepository } from "../pool/setup/setup.repository.js";
import { SetupService } from "../pool/setup/setup.service.js";
import { StepInvalid } from "../pool/setup/step-validation.js";
import { CliError } from "../shared/errors.js";
import { withAdminDatabase } from "./admin-db.js";
import { action } from "./run.js";

/** Reads the answers file; a `logo_file` is replaced by its content in base64. */
export function readAnswersFile(file: string): unknown {
  let answers: unknown;
  try {
    answers = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new CliError(`Cannot read the answers file ${file}: ${(err as Error).message}`);
  }
  const identity = (answers as { identity?: Record<string, unknown> } | null)?.identity;
  if (identity && typeof identity === "object" && typeof identity.logo_file === "string") {
    const logoPath = resolve(dirname(resolve(file)), identity.logo_file);
    try {
      identity.logo_base64 = readFileSync(logoPath).toString("base64");
    } catch (err) {
      throw new CliError(`Cannot read the logo file ${logoPath}: ${(err as Error).message}`);
    }
    delete identity.logo_file;
  }
  return answers;
}

export function registerSetupCommand(program: Command): Command {
  const setup = program.command("setup").description("First-boot setup without the web wizard");
  setup
    .command("apply")
    .description("Validate every step of an answers file and complete setup (see docs/setup.md)")
    .requiredOption("--file <answers.json>", "the answers file (format: docs/setup-answers.example.json)")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const answers = readAnswersFile(String(opts.file));
        const done = await withAdminDatabase(opts, async ({ opened, config, audit, actor }) => {
          const service = new SetupService({ setup: new SetupRepository(opened.db), audit, identity: loadOrCreatePoolIdentity(keyDirOf(config)) });
          try {
            return await service.apply(answers, { actor, via: "cli" });
          } catch (err) {
            if (err instanceof StepInvalid) {
              throw new CliError(`the answers file is invalid:\n${Object.entries(err.fields).map(([f, m]) => `  ${f}: ${m}`).join("\n")}`);
            }
            throw err;
          }
        });
        const applied = Object.entries(done.sector_defaults_applied.applied).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        process.stdout.write(`Setup complete: admin account ${done.admin_email}, sector ${done.sector_defaults_applied.sector}.\n`);
        process.stdout.write(`Sector defaults applied: ${applied.length ? applied.join(", ") : "none (every field was chosen explicitly)"}.\n`);
        for (const w of done.sector_defaults_applied.warnings) process.stderr.write(`warning: ${w}\n`);
      }),
    );
  return setup;
}
