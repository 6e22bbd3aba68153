/**
 * Logo upload check: size first (≤ 500 KB decoded), then the type from the content's magic bytes
 * — never from a file name or a declared type (a PNG named logo.svg is stored as a PNG; text named
 * logo.png is refused). SVGs are stored sanitised.
 */
import { LOGO_MAX_BYTES } from "../../protocol/setup.protocol.js";
import { sanitiseSvg, SvgRejected } from "./svg-sanitiser.js";

export type LogoMime = "image/png" | "image/jpeg" | "image/svg+xml";

export type LogoCheck =
  | { ok: true; bytes: Buffer; mime: LogoMime; removed: string[] }
  | { ok: false; code: "logo_too_large" | "logo_invalid_base64" | "logo_type" | "logo_svg_invalid" | "logo_svg_empty"; detail?: string };

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Type from the first bytes of the content. */
export function sniffImage(bytes: Buffer): LogoMime | undefined {
  if (bytes.subarray(0, 8).equals(PNG)) return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  // SVG: text (UTF-8, optional BOM) whose first markup is an XML declaration, a comment or <svg.
  const head = bytes.subarray(0, 1024).toString("utf8").replace(/^\uFEFF/, "").trimStart();
  if (/^<(\?xml[\s?]|!--|svg[\s>/])/i.test(head) && !head.includes("\u0000")) {
    if (/^<svg[\s>/]/i.test(head) || /<svg[\s>/]/i.test(bytes.toString("utf8"))) return "image/svg+xml";
  }
  return undefined;
}

export function checkLogo(base64: string): LogoCheck {
  const clean = base64.replace(/^data:[^,]*,/, "").replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) return { ok: false, code: "logo_invalid_base64" };
  const bytes = Buffer.from(clean, "base64");
  if (bytes.length > LOGO_MAX_BYTES) return { ok: false, code: "logo_too_large", detail: `${bytes.length} bytes` };
  if (bytes.length === 0) return { ok: false, code: "logo_type" };
  const mime = sniffImage(bytes);
  if (!mime) return { ok: false, code: "logo_type" };
  if (mime !== "image/svg+xml") return { ok: true, bytes, mime, removed: [] };
  try {
    const { svg, removed } = sanitiseSvg(bytes.toString("utf8"));
    return { ok: true, bytes: Buffer.from(svg, "utf8"), mime, removed };
  } catch (err) {
    if (err instanceof SvgRejected) return { ok: false, code: err.code, detail: err.message };
    throw err;
  }
}
