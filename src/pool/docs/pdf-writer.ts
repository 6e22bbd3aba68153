/**
 * The PDF writer (pdfkit): a cover page (company logo when it is a PNG or JPEG, company name,
 * title, date), then each guide from a new page — headings, paragraphs with bold, italic, code and
 * link spans, lists, code blocks in a monospace font, tables as rows, quotes, rules. Every page
 * carries the company name in its header and "Page n of N" in its footer. Only the 14 standard PDF
 * fonts are used (nothing to ship, nothing fetched).
 */
import PDFDocument from "pdfkit";
import { marked, type Token, type Tokens } from "marked";
import type { PdfRequest } from "./docs.pdf.js";
import { plain, spans, type Span, type Style } from "./pdf-spans.js";
import { winAnsi } from "./pdf-text.js";

const FONT = { regular: "Helvetica", bold: "Helvetica-Bold", italic: "Helvetica-Oblique", boldItalic: "Helvetica-BoldOblique", mono: "Courier", monoBold: "Courier-Bold" };
const COLOR = { text: "#1f2937", muted: "#6b7280", accent: "#1e3a5f", link: "#1d4ed8", rule: "#d1d5db", codeBg: "#f3f4f6", tableHead: "#e5e7eb" };
const SIZE = { body: 10, code: 8.5, table: 8.5, h: [0, 20, 15, 12.5, 11, 10, 10] };
const MARGIN = { top: 62, bottom: 60, side: 56 };
const INDENT = 16;

function fontOf(s: Style): string {
  if (s.code) return s.bold ? FONT.monoBold : FONT.mono;
  if (s.bold && s.italic) return FONT.boldItalic;
  if (s.bold) return FONT.bold;
  if (s.italic) return FONT.italic;
  return FONT.regular;
}

export class GuideWriter {
  readonly doc: PDFKit.PDFDocument;
  /** The section title shown in each page's header, by page index. */
  private readonly pageTitles: string[] = [];
  private section = "";

  constructor(private readonly req: PdfRequest) {
    this.doc = new PDFDocument({
      size: "A4",
      autoFirstPage: false,
      bufferPages: true,
      margins: { top: MARGIN.top, bottom: MARGIN.bottom, left: MARGIN.side, right: MARGIN.side },
      info: { Title: winAnsi(req.title), Author: winAnsi(req.branding.companyName), Creator: "Cellule", Producer: "Cellule (pdfkit)", CreationDate: req.date },
      lang: "en",
    });
    this.doc.on("pageAdded", () => this.pageTitles.push(this.section));
  }

  private get left(): number {
    return this.doc.page.margins.left;
  }
  private get width(): number {
    return this.doc.page.width - this.doc.page.margins.left - this.doc.page.margins.right;
  }
  private get bottom(): number {
    return this.doc.page.height - this.doc.page.margins.bottom;
  }

  /** Starts a new page when less than `height` points are left on this one. */
  private room(height: number): void {
    if (this.doc.y + height > this.bottom) this.doc.addPage();
  }

  async render(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    this.doc.on("data", (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve, reject) => {
      this.doc.on("end", () => resolve());
      this.doc.on("error", reject);
    });
    this.cover();
    for (const guide of this.req.guides) {
      this.section = guide.title;
      this.doc.addPage();
      this.blocks(marked.lexer(guide.markdown), 0);
    }
    this.decorate();
    this.doc.end();
    await ended;
    return Buffer.concat(chunks);
  }

  private cover(): void {
    const { doc } = this;
    const { branding } = this.req;
    this.section = this.req.title;
    doc.addPage();
    let y = 150;
    if (branding.logo && (branding.logo.mime === "image/png" || branding.logo.mime === "image/jpeg")) {
      try {
        doc.image(branding.logo.bytes, this.left, y, { fit: [this.width, 110], align: "center", valign: "center" });
        y += 130;
      } catch {
        // A file that passed the wizard's type check but that pdfkit cannot decode: the name stays.
      }
    }
    doc.font(FONT.bold).fontSize(26).fillColor(COLOR.accent).text(winAnsi(branding.companyName), this.left, y, { width: this.width, align: "center" });
    doc.moveDown(0.4);
    const ruleY = doc.y + 6;
    doc.moveTo(this.left + this.width / 2 - 60, ruleY).lineTo(this.left + this.width / 2 + 60, ruleY).lineWidth(1.5).strokeColor(COLOR.accent).stroke();
    doc.y = ruleY + 24;
    doc.font(FONT.bold).fontSize(20).fillColor(COLOR.text).text(winAnsi(this.req.title), this.left, doc.y, { width: this.width, align: "center" });
    doc.moveDown(0.3);
    doc.font(FONT.regular).fontSize(12).fillColor(COLOR.muted).text("Cellule, the private AI cluster", { width: this.width, align: "center" });
    doc.moveDown(1.5);
    doc.font(FONT.regular).fontSize(11).fillColor(COLOR.text).text(`Edition of ${this.req.date.toISOString().slice(0, 10)}`, { width: this.width, align: "center" });
    if (branding.poolName) doc.font(FONT.regular).fontSize(11).fillColor(COLOR.muted).text(winAnsi(`Pool: ${branding.poolName}`), { width: this.width, align: "center" });
    if (this.req.guides.length > 1) {
      doc.moveDown(2.5);
      doc.font(FONT.bold).fontSize(12).fillColor(COLOR.accent).text("Contents", { width: this.width, align: "center" });
      doc.moveDown(0.4);
      for (const g of this.req.guides) doc.font(FONT.regular).fontSize(11).fillColor(COLOR.text).text(winAnsi(g.title), { width: this.width, align: "center" });
    }
    doc
      .font(FONT.italic)
      .fontSize(9)
      .fillColor(COLOR.muted)
      .text(winAnsi(`Prepared for ${branding.companyName}. Generated by the Cellule pool on site; no data left the premises.`), this.left, this.bottom - 40, { width: this.width, align: "center" });
  }

  /** Header (company name, section) and footer (page numbers) on every page, once the count is known. */
  private decorate(): void {
    const { doc } = this;
    const range = doc.bufferedPageRange();
    const { companyName, poolName } = this.req.branding;
    const company = winAnsi(poolName ? `${companyName} · ${poolName}` : companyName);
    for (let i = range.start; i < range.start + range.count; i++) {
      doc.switchToPage(i);
      const margins = { ...doc.page.margins };
      // Writing inside the margins must not start new pages.
      doc.page.margins.top = 0;
      doc.page.margins.bottom = 0;
      const w = doc.page.width - 2 * MARGIN.side;
      doc.font(FONT.bold).fontSize(8.5).fillColor(COLOR.accent).text(company, MARGIN.side, 30, { width: w / 2, lineBreak: false, ellipsis: true });
      doc
        .font(FONT.regular)
        .fontSize(8.5)
        .fillColor(COLOR.muted)
        .text(winAnsi(this.pageTitles[i - range.start] ?? ""), MARGIN.side + w / 2, 30, { width: w / 2, align: "right", lineBreak: false, ellipsis: true });
      doc.moveTo(MARGIN.side, 44).lineTo(MARGIN.side + w, 44).lineWidth(0.5).strokeColor(COLOR.rule).stroke();
      doc
        .font(FONT.regular)
        .fontSize(8.5)
        .fillColor(COLOR.muted)
        .text(`Page ${i - range.start + 1} of ${range.count}`, MARGIN.side, doc.page.height - 38, { width: w, align: "center", lineBreak: false });
      doc.page.margins = margins;
    }
  }

  // --- blocks ---

  private blocks(tokens: Token[], indent: number): void {
    for (const t of tokens) this.block(t, indent);
  }

  private block(t: Token, indent: number): void {
    const { doc } = this;
    switch (t.type) {
      case "space":
        return;
      case "heading":
        return this.heading(t as Tokens.Heading);
      case "paragraph":
      case "text":
      case "html":
        this.inline(t.type === "html" ? [{ text: (t as Tokens.HTML).text.trim() }] : spans((t as Tokens.Paragraph).tokens ?? [{ type: "text", raw: t.raw, text: (t as Tokens.Text).text }]), indent);
        doc.moveDown(0.5);
        return;
      case "list":
        this.list(t as Tokens.List, indent);
        doc.moveDown(0.3);
        return;
      case "code":
        return this.code((t as Tokens.Code).text, indent);
      case "table":
        return this.table(t as Tokens.Table, indent);
      case "blockquote":
        return this.quote(t as Tokens.Blockquote, indent);
      case "hr": {
        this.room(12);
        const y = doc.y + 4;
        doc.moveTo(this.left + indent, y).lineTo(this.left + this.width, y).lineWidth(0.5).strokeColor(COLOR.rule).stroke();
        doc.y = y + 10;
        return;
      }
      default: {
        const g = t as Tokens.Generic;
        if (typeof g.text === "string" && g.text.trim()) {
          this.inline([{ text: g.text }], indent);
          doc.moveDown(0.5);
        }
      }
    }
  }

  private heading(t: Tokens.Heading): void {
    const { doc } = this;
    const size = SIZE.h[t.depth] ?? SIZE.body;
    const text = winAnsi(plain(t.tokens));
    if (t.depth === 1) {
      if (doc.y > doc.page.margins.top + 1) {
        this.room(120);
        doc.moveDown(1);
      }
      doc.font(FONT.bold).fontSize(size).fillColor(COLOR.accent).text(text, this.left, doc.y, { width: this.width });
      const y = doc.y + 4;
      doc.moveTo(this.left, y).lineTo(this.left + this.width, y).lineWidth(1).strokeColor(COLOR.accent).stroke();
      doc.y = y + 14;
      return;
    }
    // Keep a heading with at least a few lines of what follows it.
    this.room(size * 1.4 + 48);
    doc.moveDown(t.depth === 2 ? 0.6 : 0.3);
    doc.font(FONT.bold).fontSize(size).fillColor(t.depth === 2 ? COLOR.accent : COLOR.text).text(text, this.left, doc.y, { width: this.width });
    doc.moveDown(0.35);
  }

  /** A run of spans as one flowing paragraph at the given indent. */
  private inline(items: Span[], indent: number, opts: { size?: number; color?: string; x?: number; y?: number; width?: number } = {}): void {
    const { doc } = this;
    const list = items.map((s) => ({ ...s, text: winAnsi(s.text) })).filter((s) => s.text.length > 0);
    if (list.length === 0) return;
    const size = opts.size ?? SIZE.body;
    const x = opts.x ?? this.left + indent;
    const width = opts.width ?? this.width - indent;
    this.room(size * 1.5);
    const y = opts.y ?? doc.y;
    list.forEach((s, i) => {
      doc
        .font(fontOf(s))
        .fontSize(s.code ? size - 0.5 : size)
        .fillColor(s.link ? COLOR.link : (opts.color ?? COLOR.text));
      const o: PDFKit.Mixins.TextOptions = { continued: i < list.length - 1, link: s.link ?? null, underline: Boolean(s.link), lineGap: 2 };
      if (i === 0) doc.text(s.text, x, y, { ...o, width });
      else doc.text(s.text, o);
    });
  }

  private list(t: Tokens.List, indent: number): void {
    const { doc } = this;
    const start = typeof t.start === "number" ? t.start : 1;
    t.items.forEach((item, i) => {
      const marker = t.ordered ? `${start + i}.` : item.task ? (item.checked ? "[x]" : "[ ]") : "•";
      const markerWidth = t.ordered || item.task ? INDENT + 6 : INDENT;
      this.room(SIZE.body * 1.5);
      const y = doc.y;
      doc.font(FONT.regular).fontSize(SIZE.body).fillColor(COLOR.text).text(marker, this.left + indent, y, { width: markerWidth, lineBreak: false });
      doc.y = y;
      let first = true;
      for (const child of item.tokens) {
        if (first && (child.type === "text" || child.type === "paragraph")) {
          this.inline(spans((child as Tokens.Text).tokens ?? [{ type: "text", raw: child.raw, text: (child as Tokens.Text).text }]), indent + markerWidth, { y });
          if (child.type === "paragraph") doc.moveDown(0.3);
        } else if (child.type === "list") {
          this.list(child as Tokens.List, indent + markerWidth);
        } else {
          this.block(child, indent + markerWidth);
        }
        first = false;
      }
      doc.moveDown(0.15);
    });
  }

  private code(text: string, indent: number): void {
    const { doc } = this;
    const body = winAnsi(text.replace(/\n+$/, ""));
    const x = this.left + indent;
    const width = this.width - indent;
    doc.font(FONT.mono).fontSize(SIZE.code);
    const h = doc.heightOfString(body, { width: width - 12, lineGap: 1 }) + 12;
    const pageBody = this.doc.page.height - MARGIN.top - MARGIN.bottom;
    if (h <= pageBody) this.room(h);
    const y = doc.y;
    if (h <= pageBody) doc.rect(x, y, width, h).fillColor(COLOR.codeBg).fill();
    doc.font(FONT.mono).fontSize(SIZE.code).fillColor(COLOR.text).text(body, x + 6, y + 6, { width: width - 12, lineGap: 1 });
    doc.y = Math.max(doc.y, y + h);
    doc.x = this.left;
    doc.moveDown(0.6);
  }

  private table(t: Tokens.Table, indent: number): void {
    const { doc } = this;
    const x0 = this.left + indent;
    const width = this.width - indent;
    const header = t.header.map((c) => winAnsi(plain(c.tokens)));
    const rows = t.rows.map((r) => r.map((c) => winAnsi(plain(c.tokens))));
    // Columns share the width by their longest cell (each between 6 and 40 characters' weight).
    const weights = header.map((h, i) => Math.min(40, Math.max(6, h.length, ...rows.map((r) => (r[i] ?? "").length))));
    const total = weights.reduce((a, b) => a + b, 0);
    const widths = weights.map((w) => (w / total) * width);
    const pad = 4;
    const rowHeight = (cells: string[], font: string) => {
      doc.font(font).fontSize(SIZE.table);
      return Math.max(...cells.map((c, i) => doc.heightOfString(c || " ", { width: widths[i]! - 2 * pad }))) + 2 * pad;
    };
    const drawRow = (cells: string[], head: boolean) => {
      const font = head ? FONT.bold : FONT.regular;
      const h = rowHeight(cells, font);
      if (doc.y + h > this.bottom) {
        doc.addPage();
        if (!head) drawRow(header, true);
      }
      const y = doc.y;
      if (head) doc.rect(x0, y, width, h).fillColor(COLOR.tableHead).fill();
      let x = x0;
      cells.forEach((c, i) => {
        doc.font(font).fontSize(SIZE.table).fillColor(COLOR.text).text(c, x + pad, y + pad, { width: widths[i]! - 2 * pad });
        x += widths[i]!;
      });
      doc.moveTo(x0, y + h).lineTo(x0 + width, y + h).lineWidth(0.5).strokeColor(COLOR.rule).stroke();
      doc.y = y + h;
    };
    this.room(rowHeight(header, FONT.bold) + 20);
    drawRow(header, true);
    for (const r of rows) drawRow(header.map((_h, i) => r[i] ?? ""), false);
    doc.x = this.left;
    doc.moveDown(0.7);
  }

  private quote(t: Tokens.Blockquote, indent: number): void {
    const { doc } = this;
    this.room(SIZE.body * 2);
    const page = doc.page;
    const y0 = doc.y;
    this.blocks(t.tokens, indent + 12);
    if (doc.page === page) {
      const x = this.left + indent + 3;
      doc.moveTo(x, y0).lineTo(x, doc.y - 4).lineWidth(2).strokeColor(COLOR.rule).stroke();
    }
  }
}
