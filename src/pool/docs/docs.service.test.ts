import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DocsService, GUIDE_FILES } from "./docs.service.js";

const NOW = new Date("2026-05-04T22:30:00Z");

describe("DocsService (the guides shipped in docs/)", () => {
  const docs = new DocsService({ branding: async () => ({ companyName: "Acme Légal" }), now: () => NOW });

  it("lists the three guides with the titles of their Markdown", async () => {
    expect(await docs.list()).toEqual([
      { id: "admin", title: "Administrator guide" },
      { id: "api", title: "API guide" },
      { id: "security", title: "Security guide" },
    ]);
  });

  it("renders a guide to HTML on the pool, headings with anchors, and keeps its Markdown", async () => {
    const g = await docs.rendered("admin");
    expect(g.markdown).toMatch(/^# Administrator guide/);
    expect(g.html).toContain('<h1 id="administrator-guide">Administrator guide</h1>');
    expect(g.html).toMatch(/<h2 id="[a-z0-9-]*dashboard[a-z0-9-]*">/);
    expect(g.html).toContain("<table>");
    expect(g.html).toContain("<code>cellule pool tokens create</code>");
  });

  it("shows raw HTML of a guide as text and links only web addresses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cellule-docs-"));
    writeFileSync(join(dir, GUIDE_FILES.admin), '# T\n\n<script>alert(1)</script>\n\nSee [rag](rag.md), [site](https://example.com) and [x](javascript:alert(1)).\n');
    const html = (await new DocsService({ branding: async () => ({ companyName: null }), dir }).rendered("admin")).html;
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain('<a href="https://example.com" rel="noopener noreferrer" target="_blank">site</a>');
    expect(html).not.toMatch(/href="(rag\.md|javascript:)/);
  });

  it("makes the branded PDF of one guide or all three, named cellule-<id>-guide-<date>.pdf", async () => {
    const one = await docs.pdf("security");
    expect(one.filename).toBe("cellule-security-guide-2026-05-04.pdf");
    expect(one.bytes.subarray(0, 5).toString()).toBe("%PDF-");
    const all = await docs.pdf("all");
    expect(all.filename).toBe("cellule-all-guide-2026-05-04.pdf");
    expect(all.bytes.length).toBeGreaterThan(one.bytes.length);
    // No company name yet (setup pending): a neutral name, never an empty header.
    const bare = await new DocsService({ branding: async () => ({ companyName: null }), now: () => NOW }).pdf("api");
    const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
    const doc = await pdfjs.getDocument({ data: new Uint8Array(bare.bytes), isEvalSupported: false, verbosity: 0 }).promise;
    expect(((await doc.getMetadata()).info as { Author?: string; Title?: string })).toMatchObject({ Author: "Cellule", Title: "API guide" });
    await doc.destroy();
  });
});
