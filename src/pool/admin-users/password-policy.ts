/**
 * The admin password rules, shared by the wizard, `cellule setup apply` and the reset CLI:
 * 12..128 characters, not the email, not on the list of common passwords shipped in the repo
 * (common-passwords.txt), nor one of them with digits or symbols tacked on ("sunshine2024!").
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PASSWORD_MAX, PASSWORD_MIN } from "../../protocol/setup.protocol.js";

// src/pool/admin-users/ and dist/pool/admin-users/ both sit three levels under the package root;
// the list is read from src/ (like the migrations), so the build does not need to copy it.
export const COMMON_PASSWORDS_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/pool/admin-users/common-passwords.txt");

let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  if (!common) {
    common = new Set(
      readFileSync(COMMON_PASSWORDS_FILE, "utf8")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith("#")),
    );
  }
  return common;
}

export type PasswordProblem = "password_too_short" | "password_too_long" | "password_common" | "password_is_email";

/** The first rule the password breaks, or undefined when it is acceptable. Length counts characters, not bytes. */
export function passwordProblem(password: string, email?: string): PasswordProblem | undefined {
  const length = [...password].length;
  if (length < PASSWORD_MIN) return "password_too_short";
  if (length > PASSWORD_MAX) return "password_too_long";
  const lower = password.toLowerCase();
  if (email && lower === email.trim().toLowerCase()) return "password_is_email";
  const list = commonPasswords();
  if (list.has(lower)) return "password_common";
  // A common word with digits/symbols appended or prepended is still a dictionary guess.
  const core = lower.replace(/^[\d\W_]+|[\d\W_]+$/g, "");
  if (core.length >= 4 && list.has(core)) return "password_common";
  // One character or one short pattern repeated ("aaaaaaaaaaaa", "abcabcabcabc").
  if (/^(.{1,4})\1+$/.test(lower)) return "password_common";
  return undefined;
}
