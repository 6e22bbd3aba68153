/** `cellule pool tokens create`: a single-use worker enrolment token, printed once. */
import type { Command } from "commander";
import { EnrolmentService } from "../pool/workers/enrolment.service.js";
import { WorkersRepository } from "../pool/workers/workers.repository.js";
import { withAdminDatabase } from "./admin-db.js";
import { CliError } from "../shared/errors.js";
import { action } from "./run.js";

export function registerTokensCommand(pool: Command): Command {
  const tokens = pool.command("tokens").description("Manage worker enrolment tokens");
  tokens
    .command("create")
    .description("Create a single-use enrolment token for 'cellule worker --token'; works while the pool runs")
    .option("--note <text>", "what the token is for")
    .option("--site <name>", "site (branch) the worker enrolled with this token belongs to")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const t = await withAdminDatabase(opts, ({ opened, audit, config, actor }) =>
          new EnrolmentService({ workers: new WorkersRepository(opened.db), audit, tokenTtlHours: config.tokenTtlHours }).createToken(opts.note as string | undefined, actor, { site: siteOption(opts.site) }),
        );
        process.stderr.write(`Enrolment token created (single use, expires ${t.expiresAt.toISOString()}). It is shown only once.\n`);
        process.stdout.write(`${t.token}\n`);
      }),
    );
  return tokens;
}

function siteOption(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a commander option value (a string); String() is the intended conversion
  const site = String(v).trim();
  if (!site || site.length > 100) throw new CliError("--site must be 1 to 100 characters.");
  return site;
}
