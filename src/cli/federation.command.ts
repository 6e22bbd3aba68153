/** `cellule federation generate-keypair --out DIR`: a pool identity for CELLULE_FED_KEY_DIR (offline). */
import type { Command } from "commander";
import { generateKeypairFiles } from "../pool/federation/keypair.js";
import { CliError } from "../shared/errors.js";
import { action } from "./run.js";

export function registerFederationCommand(program: Command): Command {
  const fed = program.command("federation").description("Federation tools (pool identity)");
  fed
    .command("generate-keypair")
    .description("Write federation_self.privkey (0600) and federation_self.pubkey into DIR and print the atom_id")
    .requiredOption("--out <dir>", "key directory (mount it on a persistent volume; point CELLULE_FED_KEY_DIR at it)")
    .option("--force", "replace an existing key pair (new atom_id: every bond must be made again)")
    .action(
      action(async (opts: { out: string; force?: boolean }) => {
        let r: ReturnType<typeof generateKeypairFiles>;
        try {
          r = generateKeypairFiles(opts.out, { force: opts.force === true });
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        process.stdout.write(`atom_id: ${r.atomId}\npublic_key: ${r.publicKeyHex}\nprivate key: ${r.privPath} (mode 0600)\npublic key: ${r.pubPath}\nStart the pool with CELLULE_FED_KEY_DIR=${opts.out}\n`);
      }),
    );
  return fed;
}
