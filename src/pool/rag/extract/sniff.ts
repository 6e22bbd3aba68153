/**
 * Decides what a file is from its bytes, never from its name (the name only tells markdown from
 * plain text). PDF by its `%PDF-` header; DOCX and ODT by looking inside the ZIP (DOCX:
 * `[Content_Types].xml` + `word/document.xml`; ODT: the `mimetype` entry); text when the bytes
 * decode as text (./text-encoding.ts). Anything else gets a human reason naming what it looks like.
 */
import { open } from "node:fs/promises";
import type { DocumentKind } from "./extract.js";
import { ExtractFailure } from "./extract-failure.js";
import { decodeText, detectTextEncoding } from "./text-encoding.js";
// Type only: the zip reader (yauzl) loads on the first zip sniffed, not with the pool (~0.07 s of CPU at each start).
import type { ZipArchive } from "./zip-archive.js";

export type SniffResult =
  | { kind: DocumentKind; mimeType: string }
  /** `failed`: the file is of a type we read but damaged (or a zip bomb), rather than unsupported. */
  | { kind: null; mimeType: string | null; reason: string; failed?: boolean };

export const MIME_TYPES: Record<DocumentKind, string> = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  odt: "application/vnd.oasis.opendocument.text",
  markdown: "text/markdown",
  text: "text/plain",
};

/** Bytes read for the decision (and for the text test). */
const HEAD_BYTES = 64 * 1024;

interface Signature {
  bytes: number[];
  offset?: number;
  looksLike: string;
  mimeType: string;
}

/** Formats made of text that we still do not read as text. */
const TEXT_FORMATS: Signature[] = [
  { bytes: [0x7b, 0x5c, 0x72, 0x74, 0x66], looksLike: "an RTF document; save it as DOCX or ODT", mimeType: "application/rtf" },
  { bytes: [0x25, 0x21, 0x50, 0x53], looksLike: "a PostScript file", mimeType: "application/postscript" },
];

/**
 * Leading bytes of common binary files, for a useful reason. Only consulted once the bytes are
 * known not to be text, so a text starting with "MZ" stays text.
 */
const SIGNATURES: Signature[] = [
  { bytes: [0x7f, 0x45, 0x4c, 0x46], looksLike: "an ELF executable", mimeType: "application/x-executable" },
  { bytes: [0x4d, 0x5a], looksLike: "a PE executable", mimeType: "application/vnd.microsoft.portable-executable" },
  { bytes: [0xcf, 0xfa, 0xed, 0xfe], looksLike: "a Mach-O executable", mimeType: "application/x-mach-binary" },
  { bytes: [0xce, 0xfa, 0xed, 0xfe], looksLike: "a Mach-O executable", mimeType: "application/x-mach-binary" },
  { bytes: [0xfe, 0xed, 0xfa, 0xcf], looksLike: "a Mach-O executable", mimeType: "application/x-mach-binary" },
  { bytes: [0xca, 0xfe, 0xba, 0xbe], looksLike: "a Mach-O executable or Java class", mimeType: "application/octet-stream" },
  { bytes: [0x00, 0x61, 0x73, 0x6d], looksLike: "a WebAssembly module", mimeType: "application/wasm" },
  { bytes: [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1], looksLike: "an old Office document (.doc, .xls); save it as DOCX or ODT", mimeType: "application/x-ole-storage" },
  { bytes: [0x89, 0x50, 0x4e, 0x47], looksLike: "a PNG image", mimeType: "image/png" },
  { bytes: [0xff, 0xd8, 0xff], looksLike: "a JPEG image", mimeType: "image/jpeg" },
  { bytes: [0x47, 0x49, 0x46, 0x38], looksLike: "a GIF image", mimeType: "image/gif" },
  { bytes: [0x49, 0x49, 0x2a, 0x00], looksLike: "a TIFF image", mimeType: "image/tiff" },
  { bytes: [0x4d, 0x4d, 0x00, 0x2a], looksLike: "a TIFF image", mimeType: "image/tiff" },
  { bytes: [0x52, 0x49, 0x46, 0x46], looksLike: "a RIFF media file (WAV, AVI, WebP)", mimeType: "application/octet-stream" },
  { bytes: [0x66, 0x74, 0x79, 0x70], offset: 4, looksLike: "an MP4/QuickTime media file", mimeType: "video/mp4" },
  { bytes: [0x49, 0x44, 0x33], looksLike: "an MP3 audio file", mimeType: "audio/mpeg" },
  { bytes: [0x4f, 0x67, 0x67, 0x53], looksLike: "an Ogg media file", mimeType: "audio/ogg" },
  { bytes: [0x1f, 0x8b], looksLike: "a gzip archive", mimeType: "application/gzip" },
  { bytes: [0x42, 0x5a, 0x68], looksLike: "a bzip2 archive", mimeType: "application/x-bzip2" },
  { bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], looksLike: "an xz archive", mimeType: "application/x-xz" },
  { bytes: [0x28, 0xb5, 0x2f, 0xfd], looksLike: "a zstd archive", mimeType: "application/zstd" },
  { bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c], looksLike: "a 7-Zip archive", mimeType: "application/x-7z-compressed" },
  { bytes: [0x52, 0x61, 0x72, 0x21], looksLike: "a RAR archive", mimeType: "application/vnd.rar" },
  { bytes: [0x53, 0x51, 0x4c, 0x69, 0x74, 0x65, 0x20, 0x66], looksLike: "an SQLite database", mimeType: "application/vnd.sqlite3" },
];

/**
 * What the file at `path` is. `fileName` (the uploaded name; default: `path`) only decides
 * between markdown and plain text. Never throws: an unreadable file gets a reason too.
 */
export async function sniffFile(path: string, fileName: string = path): Promise<SniffResult> {
  let head: Buffer;
  let size: number;
  try {
    const fh = await open(path, "r");
    try {
      size = (await fh.stat()).size;
      const buf = Buffer.alloc(Math.min(HEAD_BYTES, size));
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    // The code (ENOENT, EACCES), not the message: that one holds the server's paths.
    const e = err as NodeJS.ErrnoException;
    return { kind: null, mimeType: null, reason: `the file could not be read: ${e.code ?? e.message}`, failed: true };
  }
  if (head.length === 0) return { kind: null, mimeType: null, reason: "the file is empty" };

  // PDF readers accept the header anywhere in the first KB (some generators prepend junk); a
  // text that merely mentions "%PDF-" is not a PDF, though.
  const pdfAt = head.subarray(0, 1024).indexOf("%PDF-");
  if (pdfAt === 0 || (pdfAt > 0 && !detectTextEncoding(head, head.length === size))) return { kind: "pdf", mimeType: MIME_TYPES.pdf };
  if (startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06])) return sniffZip(path);

  for (const sig of TEXT_FORMATS) if (startsWith(head, sig.bytes, sig.offset)) return unsupported(sig.looksLike, sig.mimeType);

  const encoding = detectTextEncoding(head, head.length === size);
  if (!encoding) {
    // Word, Excel and PowerPoint save a password-protected file as an OLE2 container holding an
    // "EncryptedPackage" stream, whatever its extension: say so rather than "old Office document".
    if (startsWith(head, OLE2) && (await fileContains(path, ENCRYPTED_PACKAGE))) {
      return { kind: null, mimeType: "application/x-ole-storage", reason: "the document is password-protected (an encrypted Office file)", failed: true };
    }
    for (const sig of SIGNATURES) if (startsWith(head, sig.bytes, sig.offset)) return unsupported(sig.looksLike, sig.mimeType);
    return unsupported("binary data", "application/octet-stream");
  }
  const sample = decodeText(head, encoding);
  // A script's "# comment" lines are not headings.
  const script = sample.startsWith("#!");
  if (/\.(md|markdown)$/i.test(fileName) || (!script && looksLikeMarkdown(sample))) return { kind: "markdown", mimeType: MIME_TYPES.markdown };
  return { kind: "text", mimeType: MIME_TYPES.text };
}

const OLE2 = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const ENCRYPTED_PACKAGE = Buffer.from("EncryptedPackage", "utf16le");

/** Whether `needle` occurs anywhere in the file, read 1 MB at a time. */
async function fileContains(path: string, needle: Buffer): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(1024 * 1024 + needle.length);
    let carried = 0;
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, carried, buf.length - carried, pos);
      if (bytesRead === 0) return false;
      const filled = carried + bytesRead;
      if (buf.subarray(0, filled).includes(needle)) return true;
      pos += bytesRead;
      // Keep the tail, in case the needle straddles two reads.
      carried = Math.min(needle.length - 1, filled);
      buf.copy(buf, 0, filled - carried, filled);
    }
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}

async function sniffZip(path: string): Promise<SniffResult> {
  const { ZipArchive } = await import("./zip-archive.js");
  let zip: ZipArchive;
  try {
    zip = await ZipArchive.open(path, "ZIP", { checkSizes: false });
  } catch (err) {
    return zipFailure(err, "application/zip");
  }
  try {
    const found = await classifyZip(zip);
    // A zip bomb is refused whatever it claims to be, but named for what it claims.
    zip.checkDeclaredSizes();
    return found;
  } catch (err) {
    return zipFailure(err, zipMimeType(zip));
  } finally {
    zip.close();
  }
}

async function classifyZip(zip: ZipArchive): Promise<SniffResult> {
  if (zip.has("[Content_Types].xml")) {
    if (zip.has("word/document.xml")) return { kind: "docx", mimeType: MIME_TYPES.docx };
    if (zip.has("xl/workbook.xml")) return unsupported("an Excel workbook", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    if (zip.has("ppt/presentation.xml")) return unsupported("a PowerPoint presentation", "application/vnd.openxmlformats-officedocument.presentationml.presentation");
  }
  if (zip.has("mimetype")) {
    const declared = (await zip.read("mimetype", 256)).toString("latin1").trim();
    if (declared === MIME_TYPES.odt) return { kind: "odt", mimeType: MIME_TYPES.odt };
    const odf = /^application\/vnd\.oasis\.opendocument\.([a-z-]+)$/.exec(declared);
    if (odf) return unsupported(`an OpenDocument ${odf[1]}`, declared);
    if (declared === "application/epub+zip") return unsupported("an EPUB e-book", declared);
  }
  if (zip.has("META-INF/MANIFEST.MF")) return unsupported("a Java archive", "application/java-archive");
  return unsupported("a ZIP archive", "application/zip");
}

function zipMimeType(zip: ZipArchive): string {
  if (zip.has("[Content_Types].xml") && zip.has("word/document.xml")) return MIME_TYPES.docx;
  if (zip.has("mimetype") && zip.has("content.xml")) return MIME_TYPES.odt;
  return "application/zip";
}

function zipFailure(err: unknown, mimeType: string): SniffResult {
  if (err instanceof ExtractFailure) return { kind: null, mimeType, reason: err.message, failed: err.status === "failed" };
  return { kind: null, mimeType, reason: `the ZIP archive is damaged: ${(err as Error).message}`, failed: true };
}

function unsupported(looksLike: string, mimeType: string | null): SniffResult {
  return { kind: null, mimeType, reason: `unsupported file type (looks like ${looksLike})` };
}

function startsWith(buf: Buffer, bytes: number[], offset = 0): boolean {
  if (buf.length < offset + bytes.length) return false;
  return bytes.every((b, i) => buf[offset + i] === b);
}

/** An ATX heading (`# Title`) or a setext one (`Title` over `===`), as markdown writes them. */
export function looksLikeMarkdown(sample: string): boolean {
  return /^ {0,3}#{1,6}[ \t]+\S/m.test(sample) || /^[^\n]*\S[^\n]*\r?\n {0,3}=+[ \t]*\r?$/m.test(sample);
}
