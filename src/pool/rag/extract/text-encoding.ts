/**
 * Is this byte buffer text, and in which encoding? UTF-8 (with or without BOM), UTF-16 with a
 * BOM, else Windows-1252 (the superset of Latin-1 that "Latin-1" files really use) — but only
 * when no control byte other than tab, CR, LF or form feed appears: those mean binary data.
 */
import { isUtf8 } from "node:buffer";

export type TextEncodingName = "utf-8" | "utf-16le" | "utf-16be" | "windows-1252";

export interface TextEncoding {
  encoding: TextEncodingName;
  /** Bytes of byte-order mark to skip. */
  bomLength: number;
}

/**
 * The encoding of `bytes`, or null when they are not text. `complete` is false for the first
 * bytes of a longer file: a multi-byte character cut at the end is then not an error.
 */
export function detectTextEncoding(bytes: Uint8Array, complete: boolean): TextEncoding | null {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xfe) return utf16(bytes, "utf-16le", complete);
  if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) return utf16(bytes, "utf-16be", complete);
  if (hasControlBytes(bytes)) return null;
  const bomLength = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return isValidUtf8(bytes.subarray(bomLength), complete) ? { encoding: "utf-8", bomLength } : { encoding: "windows-1252", bomLength: 0 };
}

function isValidUtf8(bytes: Uint8Array, complete: boolean): boolean {
  // Whole files are checked without decoding them (no string as large as the file).
  if (complete) return isUtf8(bytes);
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** The text of `bytes` in a detected encoding, BOM removed. */
export function decodeText(bytes: Uint8Array, enc: TextEncoding): string {
  if (enc.encoding === "windows-1252") return decodeWindows1252(bytes);
  return new TextDecoder(enc.encoding).decode(bytes.subarray(enc.bomLength));
}

/**
 * Windows-1252 done by hand: Node's TextDecoder decodes that label as ISO-8859-1, leaving
 * 0x80–0x9F (€, curly quotes, dashes, œ…) as invisible C1 controls.
 */
const CP1252_HIGH = "€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ";

function decodeWindows1252(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .toString("latin1")
    .replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!);
}

function utf16(bytes: Uint8Array, encoding: "utf-16le" | "utf-16be", complete: boolean): TextEncoding | null {
  let text: string;
  try {
    const usable = complete ? bytes : bytes.subarray(0, bytes.length - (bytes.length % 2));
    text = new TextDecoder(encoding, { fatal: true }).decode(usable.subarray(2), { stream: !complete });
  } catch {
    return null;
  }
  return /[\u0000-\u0008\u000b\u000e-\u001f]/.test(text) ? null : { encoding, bomLength: 2 };
}

function hasControlBytes(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return true;
  }
  return false;
}
