/**
 * The three guides (admin, API, security) as the dashboard shows them: read from the package's own
 * docs/ folder, rendered to HTML on the pool with marked, and bound into a branded PDF (company name
 * and logo from the setup wizard). The Markdown is ours; raw HTML in it is still shown as text.
 */
import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Marked, Tokens } from "marked";
import { DOC_IDS, type DocId, type DocPdfId } from "../../protocol/docs.protocol.js";
import { AppError } from "../../shared/errors.js";
import { renderGuidesPdf, type PdfBranding } from "./docs.pdf.js";

// src/pool/docs/ and dist/pool/docs/ both sit three levels under the package root, next to docs/.
export const DOCS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../../docs");

export const GUIDE_FILES: Record<DocId, string> = { admin: "admin-guide.md", api: "api-guide.md", security: "security-guide.md" };

export interface Guide {
  id: DocId;
  title: string;
  markdown: string;
}

/** Company name and logo for the PDF; supplied by the composition root (setup answers and stored logo). */
export type BrandingSource = () => Promise<{ companyName: string | null; logo?: { bytes: Buffer; mime: string } | undefined; poolName?: string | null }>;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** Anchor id of a heading: lower-case words joined by dashes (accents dropped). */
export function slug(text: string): string {
  return text
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/<[^>]*>/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** marked is loaded on the first guide rendered, not with every pool (most never render one). */
async function markdownRenderer(): Promise<Marked> {
  const { Marked } = await import("marked");
  const md = new Marked({ gfm: true });
  md.use({
    renderer: {
      // Raw HTML in the source is shown, never interpreted.
      html(token: Tokens.HTML | Tokens.Tag) {
        return escapeHtml(token.text);
      },
      heading(this: { parser: { parseInline(tokens: Tokens.Heading["tokens"]): string } }, token: Tokens.Heading) {
        const inner = this.parser.parseInline(token.tokens);
        return `<h${token.depth} id="${slug(token.text)}">${inner}</h${token.depth}>\n`;
      },
      link(this: { parser: { parseInline(tokens: Tokens.Link["tokens"]): string } }, token: Tokens.Link) {
        const inner = this.parser.parseInline(token.tokens);
        // Only web, mail and in-page links; a link to a sibling .md file stays as plain text.
        if (!/^(https?:|mailto:|#)/i.test(token.href)) return `<span class="doc-ref">${inner}</span>`;
        const external = /^https?:/i.test(token.href);
        return `<a href="${escapeHtml(token.href)}"${external ? ' rel="noopener noreferrer" target="_blank"' : ""}>${inner}</a>`;
      },
    },
  });
  return md;
}

export class DocsService {
  private md: Promise<Marked> | undefined;
  private readonly cache = new Map<DocId, Guide>();

  constructor(private readonly deps: { branding: BrandingSource; dir?: string; now?: () => Date }) {}

  async list(): Promise<{ id: DocId; title: string }[]> {
    const out: { id: DocId; title: string }[] = [];
    for (const id of DOC_IDS) out.push({ id, title: (await this.guide(id)).title });
    return out;
  }

  async guide(id: DocId): Promise<Guide> {
    const hit = this.cache.get(id);
    if (hit) return hit;
    const file = resolve(this.deps.dir ?? DOCS_DIR, GUIDE_FILES[id]);
    let markdown: string;
    try {
      markdown = await readFile(file, "utf8");
    } catch (err) {
      throw new AppError("doc_missing", `The ${id} guide is missing from this installation (${GUIDE_FILES[id]}).`, { cause: err });
    }
    const title = /^#\s+(.+?)\s*#*\s*$/m.exec(markdown)?.[1] ?? GUIDE_FILES[id];
    const guide = { id, title, markdown };
    this.cache.set(id, guide);
    return guide;
  }

  async rendered(id: DocId): Promise<Guide & { html: string }> {
    const g = await this.guide(id);
    this.md ??= markdownRenderer();
    return { ...g, html: await (await this.md).parse(g.markdown) };
  }

  /** The branded PDF of one guide, or of the three (`all`), and its download file name. */
  async pdf(id: DocPdfId): Promise<{ bytes: Buffer; filename: string }> {
    const now = (this.deps.now ?? (() => new Date()))();
    const guides = id === "all" ? await Promise.all(DOC_IDS.map((d) => this.guide(d))) : [await this.guide(id)];
    const b = await this.deps.branding();
    const branding: PdfBranding = { companyName: b.companyName?.trim() || "Cellule", logo: b.logo, poolName: b.poolName?.trim() || undefined };
    const bytes = await renderGuidesPdf({ title: id === "all" ? "Cellule guides" : guides[0]!.title, guides, branding, date: now });
    return { bytes, filename: `cellule-${id}-guide-${now.toISOString().slice(0, 10)}.pdf` };
  }
}
