/**
 * ODT: content.xml inflated from the archive as a stream (byte-counted by ZipArchive) straight
 * into a streaming XML parser, never held whole. text:h is a heading, text:p a paragraph (also
 * inside lists, tables, frames and notes); deleted tracked changes, comments and note numbers are
 * left out.
 */
import { SaxesParser, type SaxesTagNS } from "saxes";
import type { Section } from "./extract.js";
import { failed, NO_TEXT, skipped } from "./extract-failure.js";
import { FlowSections } from "./flow-sections.js";
import { ZipArchive } from "./zip-archive.js";

const TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0";
const OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0";

export async function extractOdt(path: string): Promise<Section[]> {
  const zip = await ZipArchive.open(path, "ODT");
  try {
    if (!zip.has("content.xml")) throw failed("the ODT file is damaged: content.xml is missing");
    const reader = new OdtContentReader();
    const decoder = new TextDecoder("utf-8");
    try {
      for await (const chunk of zip.stream("content.xml")) reader.write(decoder.decode(chunk, { stream: true }));
      reader.write(decoder.decode());
      const sections = reader.finish();
      if (sections.length === 0) throw skipped(NO_TEXT);
      return sections;
    } catch (err) {
      if (err instanceof Error && err.name === "ExtractFailure") throw err;
      throw failed(`the ODT file is damaged: ${err instanceof Error ? err.message : String(err)}`);
    }
  } finally {
    zip.close();
  }
}

class OdtContentReader {
  private readonly parser = new SaxesParser({ xmlns: true });
  private readonly flow = new FlowSections();
  private readonly stack: { heading: boolean; text: string }[] = [];
  /** Depth inside elements whose text is not document text. */
  private skipDepth = 0;

  constructor() {
    this.parser.on("opentag", (tag) => this.open(tag));
    this.parser.on("closetag", (tag) => this.close(tag));
    this.parser.on("text", (text) => {
      const top = this.stack[this.stack.length - 1];
      if (top && this.skipDepth === 0) top.text += text;
    });
    this.parser.on("error", (err) => {
      throw err;
    });
  }

  write(xml: string): void {
    if (xml) this.parser.write(xml);
  }

  finish(): Section[] {
    this.parser.close();
    return this.flow.finish();
  }

  private open(tag: SaxesTagNS): void {
    if (this.skipDepth > 0 || isSkipped(tag)) {
      this.skipDepth++;
      return;
    }
    if (tag.uri !== TEXT_NS) return;
    const top = this.stack[this.stack.length - 1];
    switch (tag.local) {
      case "h":
      case "p":
        // A paragraph inside another (a footnote's body): emit what came before it first.
        if (top?.text.trim()) this.emit(top);
        this.stack.push({ heading: tag.local === "h", text: "" });
        break;
      case "s": {
        const count = Number(tag.attributes["text:c"]?.value ?? 1);
        if (top) top.text += " ".repeat(Math.min(Number.isFinite(count) ? count : 1, 100));
        break;
      }
      case "tab":
      case "line-break":
        if (top) top.text += " ";
        break;
    }
  }

  private close(tag: SaxesTagNS): void {
    if (this.skipDepth > 0) {
      this.skipDepth--;
      return;
    }
    if (tag.uri === TEXT_NS && (tag.local === "h" || tag.local === "p")) {
      const block = this.stack.pop();
      if (block) this.emit(block);
    }
  }

  private emit(block: { heading: boolean; text: string }): void {
    if (block.heading) this.flow.addHeading(block.text);
    else this.flow.addParagraph(block.text);
    block.text = "";
  }
}

function isSkipped(tag: SaxesTagNS): boolean {
  if (tag.uri === TEXT_NS) return tag.local === "tracked-changes" || tag.local === "note-citation" || tag.local === "sequence-decls";
  return tag.uri === OFFICE_NS && tag.local === "annotation";
}
