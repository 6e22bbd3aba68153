/**
 * The branded PDF of the guides, made on the pool from the guides' Markdown: the request types and
 * the entry point. The writer (pdf-writer.ts) walks marked's lexer tokens with pdfkit; inline
 * spans come from pdf-spans.ts and every string goes through the standard fonts' transliteration
 * (pdf-text.ts).
 *
 * The writer (and pdfkit with its fonts, ~0.2 s of CPU to load) is loaded on the first PDF only,
 * not at every pool start: most pools never render one.
 */

export { winAnsi } from "./pdf-text.js";

export interface PdfGuide {
  title: string;
  markdown: string;
}

export interface PdfBranding {
  /** The company name from the setup wizard; a neutral fallback is used when there is none. */
  companyName: string;
  /** The stored logo; only PNG and JPEG are drawn (an SVG is skipped, the name stays). */
  logo?: { bytes: Buffer; mime: string } | undefined;
  /** This pool's human name (POOL_NAME or the dashboard's), on the cover and in the page header. */
  poolName?: string | undefined;
}

export interface PdfRequest {
  /** Cover title: the guide's, or a collection title when several guides are bound together. */
  title: string;
  guides: PdfGuide[];
  branding: PdfBranding;
  date: Date;
}

/** Renders the guides as one branded PDF. */
export async function renderGuidesPdf(req: PdfRequest): Promise<Buffer> {
  const { GuideWriter } = await import("./pdf-writer.js");
  return new GuideWriter(req).render();
}
