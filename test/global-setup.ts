/**
 * vitest global setup: names a per-run directory for the migrated template database that end-to-end
 * pools start from (see templatePgdata in test/helpers.ts), and removes it when the run ends. The
 * template itself is built by the first test that starts a pool, so a run of unit tests only pays
 * nothing for it. Every project of the config runs this setup in the same vitest process before any
 * test and tears down after all of them: the first names the directory, the others keep it.
 *
 * It also lets modules run from source fork their children's compiled entries (see
 * src/shared/child-entry.ts) when dist/ is at least as new as every source file: `npm test` builds
 * first; a run on a stale or missing dist/ keeps forking the sources through tsx.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "..");

/** Every non-test .ts file under src/ has a compiled .js under dist/ written after it. */
function distIsFresh(): boolean {
  const src = join(ROOT, "src");
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts") || entry.name.endsWith(".d.ts")) continue;
    const source = join(entry.parentPath, entry.name);
    const compiled = join(ROOT, "dist", relative(src, source)).replace(/\.ts$/, ".js");
    if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(source).mtimeMs) return false;
  }
  return true;
}

export default function setup(): (() => void) | undefined {
  if (process.env.CELLULE_CHILDREN_FROM_DIST === undefined && distIsFresh()) process.env.CELLULE_CHILDREN_FROM_DIST = "1";
  const named = process.env.CELLULE_TEST_TEMPLATE_DIR;
  if (named && existsSync(named)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "cellule-test-template-"));
  process.env.CELLULE_TEST_TEMPLATE_DIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
