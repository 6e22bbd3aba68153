/**
 * vitest global setup: names a per-run directory for the migrated template database that end-to-end
 * pools start from (see templatePgdata in test/helpers.ts), and removes it when the run ends. The
 * template itself is built by the first test that starts a pool, so a run of unit tests only pays
 * nothing for it. Every project of the config runs this setup in the same vitest process before any
 * test and tears down after all of them: the first names the directory, the others keep it.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export default function setup(): (() => void) | undefined {
  const named = process.env.CELLULE_TEST_TEMPLATE_DIR;
  if (named && existsSync(named)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "cellule-test-template-"));
  process.env.CELLULE_TEST_TEMPLATE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
