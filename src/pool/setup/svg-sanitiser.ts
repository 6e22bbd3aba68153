/**
 * SVG logos: a strict allow-list walk over a real XML parser (saxes). The output is rebuilt from
 * the parse events, so only what the lists below name can reach it: no <script>, no event
 * handler (on*), no foreignObject, no animation, no <image>, no DOCTYPE/entities, and no
 * reference outside the document (href / xlink:href / url() must point to a #fragment; CSS may use
 * only an allow-list of functions that cannot load, no escapes, no at-rule but @media: see safeCss).
 * Elements outside the allow-list are removed with their subtree.
 */
import { createRequire } from "node:module";
import type { SaxesParser as Parser, SaxesTagNS } from "saxes";

/**
 * The XML parser, loaded (synchronously: saxes is CommonJS) on the first SVG logo rather than with
 * every pool (~0.07 s of CPU at each start; most pools never see an SVG).
 */
let SaxesParserClass: typeof Parser | undefined;
function saxesParser(): typeof Parser {
  SaxesParserClass ??= (createRequire(import.meta.url)("saxes") as typeof import("saxes")).SaxesParser;
  return SaxesParserClass;
}

const SVG_NS = "http://www.w3.org/2000/svg";
const XLINK_NS = "http://www.w3.org/1999/xlink";
const XML_NS = "http://www.w3.org/XML/1998/namespace";

const ELEMENTS = new Set(
  (
    "svg g defs title desc symbol use path rect circle ellipse line polyline polygon text tspan textPath " +
    "linearGradient radialGradient stop clipPath mask pattern marker style filter feBlend feColorMatrix " +
    "feComponentTransfer feComposite feDropShadow feFlood feFuncA feFuncB feFuncG feFuncR feGaussianBlur " +
    "feMerge feMergeNode feMorphology feOffset"
  ).split(" "),
);

const ATTRIBUTES = new Set(
  (
    "id class style transform d x y x1 y1 x2 y2 cx cy r rx ry fx fy fr width height viewBox preserveAspectRatio " +
    "points pathLength fill fill-opacity fill-rule stroke stroke-width stroke-linecap stroke-linejoin " +
    "stroke-miterlimit stroke-dasharray stroke-dashoffset stroke-opacity opacity clip-path clip-rule mask " +
    "font-family font-size font-weight font-style font-variant font-stretch text-anchor dominant-baseline " +
    "alignment-baseline baseline-shift letter-spacing word-spacing text-decoration writing-mode dx dy rotate " +
    "textLength lengthAdjust startOffset method spacing side offset stop-color stop-opacity gradientUnits " +
    "gradientTransform spreadMethod patternUnits patternContentUnits patternTransform clipPathUnits maskUnits " +
    "maskContentUnits markerWidth markerHeight refX refY orient markerUnits marker-start marker-mid marker-end " +
    "version display visibility overflow color color-interpolation color-interpolation-filters filter " +
    "filterUnits primitiveUnits in in2 result stdDeviation mode type values operator k1 k2 k3 k4 radius " +
    "tableValues slope intercept amplitude exponent flood-color flood-opacity shape-rendering text-rendering " +
    "image-rendering vector-effect paint-order mix-blend-mode isolation enable-background media"
  ).split(" "),
);

/** Elements whose reference attribute may point inside the document (#id) only. */
const HREF_ELEMENTS = new Set(["use", "linearGradient", "radialGradient", "pattern", "textPath", "filter"]);

export interface SanitisedSvg {
  svg: string;
  /** What was removed, e.g. `<script>`, `onload`, `href="http://…"`: for the wizard's warning. */
  removed: string[];
}

export class SvgRejected extends Error {
  constructor(readonly code: "logo_svg_invalid" | "logo_svg_empty", message: string) {
    super(message);
  }
}

const escapeText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s: string) => escapeText(s).replace(/"/g, "&quot;");

/**
 * CSS functions that only compute a value (colours, maths, transforms, filters, generated
 * gradients): none of them can fetch anything. Every other function is refused, whatever its name,
 * so that loaders this list does not know about (image-set(), -webkit-image-set(), image(),
 * cross-fade(), element(), src(), paint(), a future one) are refused too. url() is the one
 * exception, and only as url(#fragment).
 */
const CSS_FUNCTIONS = new Set(
  (
    "rgb rgba hsl hsla hwb lab lch oklab oklch color color-mix " +
    "calc min max clamp abs sign round mod rem sin cos tan asin acos atan atan2 pow sqrt hypot log exp var " +
    "matrix matrix3d translate translatex translatey translatez translate3d scale scalex scaley scalez scale3d " +
    "rotate rotatex rotatey rotatez rotate3d skew skewx skewy perspective " +
    "blur brightness contrast drop-shadow grayscale hue-rotate invert opacity saturate sepia " +
    "linear-gradient radial-gradient conic-gradient repeating-linear-gradient repeating-radial-gradient repeating-conic-gradient " +
    "cubic-bezier steps"
  ).split(" "),
);

/** At-rules allowed in a <style>: @media only sets conditions (@import, @font-face, @namespace... load). */
const CSS_AT_RULES = new Set(["media"]);

/**
 * Whether a stylesheet, a style="" value or a presentation attribute value is harmless: every
 * function in it is on the allow-list above, url() points to a #fragment, no at-rule but @media.
 * Escapes are refused outright (`\75 rl(` spells url(), `u\rl(` too), and comments are read as the
 * white space they are (u, a comment, then rl( is the function rl(), which is not on the list either).
 */
export function safeCss(css: string): boolean {
  // A backslash can spell any name; `</` could end the <style> element; control characters have no place here.
  if (/[\\\u0000-\u0008\u000b\u000e-\u001f]|<\//.test(css)) return false;
  const text = css.replace(/\/\*[\s\S]*?\*\//g, " ");
  if (text.includes("/*")) return false;
  if (/javascript:|vbscript:|data:|behavior\s*:|-moz-binding/i.test(text)) return false;
  for (const m of text.matchAll(/@([-\w\u0080-\uffff]*)/g)) if (!CSS_AT_RULES.has((m[1] ?? "").toLowerCase())) return false;
  // A CSS function is a name immediately followed by "(" (`and (min-width…)` in @media is not one).
  for (const m of text.matchAll(/([-\w\u0080-\uffff]+)\(/g)) {
    const name = (m[1] ?? "").toLowerCase();
    if (CSS_FUNCTIONS.has(name)) continue;
    if (name === "url" && /^url\s*\(\s*(['"]?)#[\w.:-]*\1\s*\)/i.test(text.slice(m.index))) continue;
    return false;
  }
  return true;
}

/** Parses and rebuilds an SVG document from its allowed parts only. Throws SvgRejected. */
export function sanitiseSvg(source: string): SanitisedSvg {
  const removed = new Set<string>();
  const out: string[] = [];
  const stack: { kept: boolean; name: string }[] = [];
  let skipDepth = 0;
  let rootSeen = false;
  let rootIsSvg = false;
  let keptShapes = 0;

  const SaxesParser = saxesParser();
  const parser = new SaxesParser({ xmlns: true, position: false });
  parser.on("doctype", () => {
    throw new SvgRejected("logo_svg_invalid", "SVG with a DOCTYPE (entities) is refused");
  });
  parser.on("processinginstruction", () => removed.add("processing instruction"));
  parser.on("opentag", (tag: SaxesTagNS) => {
    if (!rootSeen) {
      rootSeen = true;
      rootIsSvg = tag.local === "svg" && (tag.uri === SVG_NS || tag.uri === "");
      if (!rootIsSvg) throw new SvgRejected("logo_svg_invalid", "root element is not <svg>");
    }
    const inSvgNs = tag.uri === SVG_NS || tag.uri === "";
    if (skipDepth > 0 || !inSvgNs || !ELEMENTS.has(tag.local)) {
      if (skipDepth === 0) removed.add(`<${tag.name}>`);
      skipDepth++;
      stack.push({ kept: false, name: tag.name });
      return;
    }
    const attrs: string[] = [];
    if (stack.length === 0) attrs.push(`xmlns="${SVG_NS}"`, `xmlns:xlink="${XLINK_NS}"`);
    for (const a of Object.values(tag.attributes)) {
      if (a.prefix === "xmlns" || a.name === "xmlns") continue;
      const isHref = (a.local === "href" && (a.uri === XLINK_NS || (a.uri === "" && a.prefix === ""))) || false;
      if (isHref) {
        if (HREF_ELEMENTS.has(tag.local) && /^#[\w.:-]*$/.test(a.value.trim())) attrs.push(`xlink:href="${escapeAttr(a.value.trim())}"`);
        else removed.add(`${a.name}="${a.value.slice(0, 40)}"`);
        continue;
      }
      if (a.uri === XML_NS && a.local === "space") {
        attrs.push(`xml:space="${a.value === "preserve" ? "preserve" : "default"}"`);
        continue;
      }
      if (a.uri !== "" || /^on/i.test(a.local) || !ATTRIBUTES.has(a.local)) {
        removed.add(a.name);
        continue;
      }
      // Presentation attributes are CSS values too (fill="image-set(…)" loads like style= does).
      if (!safeCss(a.value)) {
        removed.add(`${a.name}="${a.value.slice(0, 40)}"`);
        continue;
      }
      attrs.push(`${a.local}="${escapeAttr(a.value)}"`);
    }
    if (tag.local !== "svg" && tag.local !== "g" && tag.local !== "defs" && tag.local !== "style") keptShapes++;
    out.push(`<${tag.local}${attrs.length ? " " + attrs.join(" ") : ""}>`);
    stack.push({ kept: true, name: tag.local });
  });
  const onText = (text: string) => {
    if (skipDepth > 0 || stack.length === 0) return;
    const top = stack[stack.length - 1]!;
    if (top.name === "style" && !safeCss(text)) {
      removed.add("unsafe CSS in <style>");
      return;
    }
    out.push(escapeText(text));
  };
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("closetag", () => {
    const top = stack.pop();
    if (!top) return;
    if (!top.kept) skipDepth--;
    else out.push(`</${top.name}>`);
  });
  try {
    parser.write(source).close();
  } catch (err) {
    if (err instanceof SvgRejected) throw err;
    throw new SvgRejected("logo_svg_invalid", `not well-formed XML: ${(err as Error).message}`);
  }
  if (!rootIsSvg) throw new SvgRejected("logo_svg_invalid", "no <svg> root element");
  if (keptShapes === 0) throw new SvgRejected("logo_svg_empty", "nothing drawable left");
  return { svg: out.join(""), removed: [...removed] };
}
