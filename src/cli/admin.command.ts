/**
 * `cellule admin reset-password --email=…`: the air-gap password reset, typed on the pool's host.
 * Prompts twice without echo on a terminal, or reads one line with --password-stdin (scripts).
 * Same rules as the wizard; updates the Argon2id hash in the database directly (no network), ends
 * the account's sessions and lockout, and is audited.
 */
import type { Command } from "commander";
import { AdminUsersRepository } from "../pool/admin-users/admin-users.repository.js";
import { AdminUsersService, normaliseEmail } from "../pool/admin-users/admin-users.service.js";
import { passwordProblem } from "../pool/admin-users/password-policy.js";
import { fieldMessage } from "../protocol/setup.protocol.js";
import { CliError } from "../shared/errors.js";
import { withAdminDatabase } from "./admin-db.js";
import { action } from "./run.js";

/** Reads lines from a raw-mode terminal without echoing them (characters typed ahead are kept). */
export class HiddenLineReader {
  private pending = "";
  private waiter: ((line: string | undefined) => void) | undefined;
  private ended = false;
  private cancelled = false;

  constructor(private readonly input: NodeJS.ReadStream) {
    input.setRawMode(true);
    input.setEncoding("utf8");
    input.on("data", this.onData);
    input.on("end", () => this.finish(undefined));
  }

  private readonly onData = (chunk: string) => {
    for (const ch of chunk) {
      if (ch === "\u0003") {
        this.cancelled = true;
        this.finish(undefined);
        return;
      }
      this.pending += ch;
    }
    this.flush();
  };

  private flush(): void {
    const m = /[\r\n]/.exec(this.pending);
    if (!m || !this.waiter) return;
    let line = this.pending.slice(0, m.index);
    this.pending = this.pending.slice(m.index + 1).replace(/^\n/, "");
    // Backspace / delete edit the line as a terminal would.
    let out = "";
    for (const ch of line) out = ch === "\u007f" || ch === "\b" ? [...out].slice(0, -1).join("") : out + ch;
    line = out;
    this.finish(line);
  }

  private finish(line: string | undefined): void {
    const w = this.waiter;
    this.waiter = undefined;
    if (line === undefined) this.ended = true;
    w?.(line);
  }

  async prompt(question: string): Promise<string> {
    process.stderr.write(question);
    const line = await new Promise<string | undefined>((resolve) => {
      if (this.ended || this.cancelled) return resolve(undefined);
      this.waiter = resolve;
      this.input.resume();
      this.flush();
    });
    process.stderr.write("\n");
    if (this.cancelled) throw new CliError("Cancelled; nothing was changed.", 130);
    if (line === undefined) throw new CliError("No password given (end of input).");
    return line;
  }

  close(): void {
    this.input.off("data", this.onData);
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
  }
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text.replace(/\r?\n$/, "");
}

async function askPassword(email: string, fromStdin: boolean): Promise<string> {
  if (fromStdin) return readStdinLine();
  if (!process.stdin.isTTY) throw new CliError("No terminal to prompt on: pipe the new password with --password-stdin.");
  const reader = new HiddenLineReader(process.stdin);
  try {
    const first = await reader.prompt(`New password for ${email}: `);
    const problem = passwordProblem(first, email);
    if (problem) throw new CliError(fieldMessage(problem));
    const second = await reader.prompt("Confirm password: ");
    if (first !== second) throw new CliError("The two passwords do not match; nothing was changed.");
    return first;
  } finally {
    reader.close();
  }
}

export function registerAdminCommand(program: Command): Command {
  const admin = program.command("admin").description("Admin accounts (works offline, on the pool's host)");
  admin
    .command("reset-password")
    .description("Set a new password for an admin account; prompts twice without echo")
    .requiredOption("--email <email>", "the admin account's email")
    .option("--password-stdin", "read the new password from standard input (one line) instead of prompting")
    .option("--data-dir <dir>", "pool data directory (env CELLULE_DATA_DIR, default ./data)")
    .option("--config <file>", "pool JSON config file (env CELLULE_CONFIG)")
    .action(
      action(async (opts: Record<string, unknown>) => {
        const email = normaliseEmail(String(opts.email));
        // A password piped in is read before the database is opened: stdin is then free again.
        const piped = opts.passwordStdin ? await askPassword(email, true) : undefined;
        await withAdminDatabase(opts, async ({ opened, audit, actor }) => {
          const repo = new AdminUsersRepository(opened.db);
          if (!(await repo.findByEmail(email))) throw new CliError(`No admin account with email ${email}.`);
          const password = piped ?? (await askPassword(email, false));
          const lifted = await new AdminUsersService({ users: repo, audit }).resetPassword(email, password, actor);
          if (lifted.account || lifted.addresses.length > 0) {
            const where = lifted.addresses.length > 0 ? ` and ${lifted.addresses.length === 1 ? "address" : "addresses"} ${lifted.addresses.join(", ")}` : "";
            process.stdout.write(`Lockout lifted for the account${where}.\n`);
          }
        });
        process.stdout.write(`OK: password reset for ${email}\n`);
      }),
    );
  return admin;
}
