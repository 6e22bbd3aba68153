/** `cellule keys create`: a new API key, printed once (only its hash is stored). */
import type { Command } from "commander";
import { KeysRepository } from "../pool/keys/keys.repository.js";
import { KeysService } from "../pool/keys/keys.service.js";
import { withAdminDatabase } from "./admin-db.js";
import { CliError } from "../shared/errors.js";
import { action } from "./run.js";

export function registerKeysCommand(program: Command): Command {
  const keys = program.command("keys").description("Manage API keys");
  keys
    .command("create")
    .description("Create an API key and print it once (stdout); works while the pool runs")
    .option("--name <name>", "label for the key", "default")
    .option("--admin", "admin scope (pool administration API)")
    .option("--project <id>", "confine the key to one project: it sees and touches only that project")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const projectId = typeof opts.project === "string" ? opts.project : undefined;
        if (projectId && opts.admin) throw new CliError("--admin and --project cannot be combined: an admin key cannot be confined to a project.");
        const created = await withAdminDatabase(opts, ({ opened, audit, actor }) =>
          new KeysService({ keys: new KeysRepository(opened.db), audit }).create(String(opts.name), opts.admin ? "admin" : "user", actor, { projectId }),
        );
        process.stderr.write(`API key "${created.name}" (${created.scope}${projectId ? `, project ${projectId}` : ""}) created. Store it now: it is shown only once.\n`);
        process.stdout.write(`${created.key}\n`);
      }),
    );
  return keys;
}
