/**
 * Builds sections from a flow document (DOCX, ODT) read as a stream of headings and paragraphs:
 * a heading starts a new section and is its first line; paragraphs follow, a blank line apart.
 */
import type { Section } from "./extract.js";
import { normalizeInline } from "./normalize-text.js";

export class FlowSections {
  private readonly sections: Section[] = [];
  private heading: string | null = null;
  private paragraphs: string[] = [];

  addHeading(raw: string): void {
    const text = normalizeInline(raw);
    if (!text) return;
    this.flush();
    this.heading = text;
    this.paragraphs.push(text);
  }

  addParagraph(raw: string): void {
    const text = normalizeInline(raw);
    if (text) this.paragraphs.push(text);
  }

  finish(): Section[] {
    this.flush();
    return this.sections;
  }

  private flush(): void {
    if (this.paragraphs.length > 0) this.sections.push({ page: null, heading: this.heading, text: this.paragraphs.join("\n\n") });
    this.paragraphs = [];
  }
}
