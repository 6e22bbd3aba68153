/**
 * DOCX with mammoth. The archive's declared sizes are checked, and its XML parts — what mammoth
 * inflates — are inflated once here with byte counting, before mammoth (JSZip, which has no
 * limits of its own) touches them. Mammoth turns Word's Heading/Title styles into h1–h6; its
 * HTML is then read with a streaming XML parser into sections. Images are never read.
 */
import { readFile } from "node:fs/promises";
import mammoth from "mammoth";
import { SaxesParser } from "saxes";
import type { Section } from "./extract.js";
import { failed, NO_TEXT, skipped } from "./extract-failure.js";
import { FlowSections } from "./flow-sections.js";
import { ZipArchive } from "./zip-archive.js";

const BLOCKS = new Set(["p", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote"]);

export async function extractDocx(path: string): Promise<Section[]> {
  const zip = await ZipArchive.open(path, "DOCX");
  try {
    await zip.verify([...zip.entries.keys()].filter((name) => /\.(xml|rels)$/i.test(name)));
  } finally {
    zip.close();
  }

  let html: string;
  try {
    const result = await mammoth.convertToHtml(
      { buffer: await readFile(path) },
      {
        styleMap: ["p[style-name='Title'] => h1:fresh"],
        ignoreEmptyParagraphs: true,
        externalFileAccess: false,
        convertImage: mammoth.images.imgElement(async () => ({ src: "" })),
      },
    );
    html = result.value;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    if (/encrypt|password/i.test(msg)) throw failed("the DOCX file is password-protected");
    throw failed(`the DOCX file is damaged: ${msg}`);
  }

  const sections = htmlSections(html);
  if (sections.length === 0) throw skipped(NO_TEXT);
  return sections;
}

/** Mammoth's HTML (well-formed, XML entities only) to sections. */
function htmlSections(html: string): Section[] {
  const flow = new FlowSections();
  // Open blocks, innermost last; text goes to the innermost. A block that opens inside another
  // (a nested list) first emits the outer one's text so far, which keeps document order.
  const stack: { name: string; text: string }[] = [];
  const emit = (block: { name: string; text: string }) => {
    if (/^h[1-6]$/.test(block.name)) flow.addHeading(block.text);
    else flow.addParagraph(block.text);
    block.text = "";
  };
  const parser = new SaxesParser();
  parser.on("opentag", (tag) => {
    if (tag.name === "br") {
      const top = stack[stack.length - 1];
      if (top) top.text += "\n";
      return;
    }
    if (!BLOCKS.has(tag.name)) return;
    const top = stack[stack.length - 1];
    if (top?.text.trim()) emit(top);
    stack.push({ name: tag.name, text: "" });
  });
  parser.on("text", (text) => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
  });
  parser.on("closetag", (tag) => {
    if (!BLOCKS.has(tag.name)) return;
    const block = stack.pop();
    if (block) emit(block);
  });
  parser.on("error", (err) => {
    throw err;
  });
  parser.write(`<body>${html}</body>`).close();
  return flow.finish();
}
