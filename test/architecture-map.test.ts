/**
 * docs/ARCHITECTURE.md's file tree is the map of src/: this test fails when a file under src/ is
 * missing from it, or when it names a file that no longer exists.
 *
 * Tree format (the first fenced block after "## Tree"): two spaces of indentation per level; a line
 * starts with one or more names of the same folder (`name/` for a folder, whose entries follow one
 * level deeper), then its description. `x.ts +test` also lists `x.test.ts` beside it. A line indented
 * by 20 spaces or more continues the description above it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers.js";

const NAME = /^(?:[\w@-][\w@.-]*\/|[\w@-][\w@.-]*\.[a-z0-9]+|\+test)$/;
const CONTINUATION_INDENT = 20;

/** Every path (relative to the repository root) the tree names; folders end with "/". */
export function parseTree(markdown: string): string[] {
  const afterHeading = markdown.split(/^## Tree\s*$/m)[1];
  if (afterHeading === undefined) throw new Error("docs/ARCHITECTURE.md has no '## Tree' section");
  const block = /```[^\n]*\n([\s\S]*?)```/.exec(afterHeading)?.[1];
  if (block === undefined) throw new Error("the '## Tree' section has no fenced file tree");
  const folders: string[] = [];
  const paths: string[] = [];
  for (const line of block.split("\n")) {
    if (line.trim() === "") continue;
    const indent = line.length - line.trimStart().length;
    if (indent >= CONTINUATION_INDENT) continue;
    if (indent % 2 !== 0) throw new Error(`odd indentation in the tree: ${JSON.stringify(line)}`);
    const depth = indent / 2;
    if (depth > folders.length) throw new Error(`entry deeper than its folder: ${JSON.stringify(line)}`);
    folders.length = depth;
    const parent = folders.join("");
    let last: string | undefined;
    let folder: string | undefined;
    for (const token of line.trim().split(/\s+/)) {
      if (!NAME.test(token)) break;
      if (token === "+test") {
        if (!last?.endsWith(".ts")) throw new Error(`'+test' after a non-.ts name: ${JSON.stringify(line)}`);
        paths.push(last.replace(/\.ts$/, ".test.ts"));
        continue;
      }
      last = parent + token;
      paths.push(last);
      if (token.endsWith("/")) folder = token;
    }
    if (last === undefined) throw new Error(`tree line without a name: ${JSON.stringify(line)}`);
    if (folder !== undefined) folders.push(folder);
  }
  return paths;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [relative(ROOT, join(dir, e.name))]));
}

describe("docs/ARCHITECTURE.md file tree", () => {
  const listed = new Set(parseTree(readFileSync(join(ROOT, "docs", "ARCHITECTURE.md"), "utf8")));
  const files = filesUnder(join(ROOT, "src")).sort();

  it("lists every file under src/", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => !listed.has(f))).toEqual([]);
  });

  it("names no file under src/ that does not exist", () => {
    const existing = new Set(files);
    const folders = new Set(files.flatMap((f) => f.split("/").slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join("/") + "/")));
    const stale = [...listed].filter((p) => p.startsWith("src/") && !(p.endsWith("/") ? folders.has(p) : existing.has(p)));
    expect(stale).toEqual([]);
  });

  it("reads the tree format: folders, several names on a line, +test, continuation lines", () => {
    const md = ["## Tree", "```", "src/", "  a/   folder a", "    x.ts +test  y.ts   two files", "                        continued x.ts", "  b.ts  one file", "```"].join("\n");
    expect(parseTree(md)).toEqual(["src/", "src/a/", "src/a/x.ts", "src/a/x.test.ts", "src/a/y.ts", "src/b.ts"]);
  });
});
