import { describe, expect, it } from "vitest";
import { checkLogo, sniffImage } from "./logo-check.js";
import { safeCss, sanitiseSvg, SvgRejected } from "./svg-sanitiser.js";

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32, 1)]);
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(32, 2)]);
const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64");

describe("logo content check", () => {
  it("detects PNG, JPEG and SVG from the bytes, whatever the file was called", () => {
    expect(sniffImage(PNG)).toBe("image/png");
    expect(sniffImage(JPEG)).toBe("image/jpeg");
    expect(sniffImage(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe("image/svg+xml");
    expect(sniffImage(Buffer.from("<html><body>hi</body></html>"))).toBeUndefined();
    expect(sniffImage(Buffer.from("GIF89a........"))).toBeUndefined();
  });

  it("stores a PNG renamed .svg as a PNG (never parsed as SVG) and refuses text renamed .png", () => {
    const png = checkLogo(b64(PNG));
    expect(png).toMatchObject({ ok: true, mime: "image/png" });
    expect(checkLogo(b64("#!/bin/sh\necho pwned\n"))).toEqual({ ok: false, code: "logo_type" });
  });

  it("refuses more than 500 KB (decoded) and bad base64", () => {
    const big = Buffer.concat([PNG, Buffer.alloc(500 * 1024)]);
    expect(checkLogo(b64(big))).toMatchObject({ ok: false, code: "logo_too_large" });
    expect(checkLogo(b64(Buffer.concat([PNG, Buffer.alloc(500 * 1024 - PNG.length)])))).toMatchObject({ ok: true });
    expect(checkLogo("not base64 !!")).toMatchObject({ ok: false, code: "logo_invalid_base64" });
  });

  it("accepts a data: URL prefix", () => {
    expect(checkLogo(`data:image/png;base64,${b64(PNG)}`)).toMatchObject({ ok: true, mime: "image/png" });
  });
});

describe("SVG sanitiser", () => {
  const svg = (inner: string, rootAttrs = "") => `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10"${rootAttrs}>${inner}</svg>`;

  it("removes <script>, event handlers and foreignObject, keeping the drawing", () => {
    const out = sanitiseSvg(svg('<script>alert(1)</script><rect width="5" height="5" onclick="x()" ONMOUSEOVER="y()" fill="#f00"/><foreignObject><iframe src="http://evil"/></foreignObject>', ' onload="alert(1)"'));
    expect(out.svg).not.toMatch(/script|onload|onclick|onmouseover|foreignObject|iframe|evil/i);
    expect(out.svg).toContain('<rect width="5" height="5" fill="#f00"></rect>');
    expect(out.removed).toEqual(expect.arrayContaining(["<script>", "onload", "onclick", "<foreignObject>"]));
  });

  it("drops every reference outside the document but keeps #fragments", () => {
    const out = sanitiseSvg(
      svg(
        '<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient></defs>' +
          '<rect width="5" height="5" fill="url(#g)"/>' +
          '<rect width="5" height="5" fill="url(https://evil.example/x.svg#a)" style="background:url(http://evil/a.png)"/>' +
          '<use xlink:href="https://evil.example/sprite.svg#icon"/><use href="#g"/>' +
          '<image href="https://evil.example/track.png" width="1" height="1"/>' +
          '<a href="javascript:alert(1)"><circle r="1"/></a>' +
          "<style>@import url(https://evil.example/x.css); rect { fill: blue }</style>" +
          '<style>.a { fill: url("#g") }</style>',
      ),
    );
    expect(out.svg).not.toMatch(/evil|javascript|@import|<image|<a[ >]/);
    expect(out.svg).toContain('fill="url(#g)"');
    expect(out.svg).toContain('<use xlink:href="#g"></use>');
    expect(out.svg).toContain('.a { fill: url("#g") }');
  });

  it("escapes text and attribute values on output", () => {
    const out = sanitiseSvg(svg('<text x="1" y="2">a &lt;b&gt; &amp; "c"</text>'));
    expect(out.svg).toContain("<text x=\"1\" y=\"2\">a &lt;b&gt; &amp; \"c\"</text>");
  });

  it("refuses a DOCTYPE (entity expansion), malformed XML, a non-svg root, and an SVG with nothing left", () => {
    const doctype = '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x "boom">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>';
    expect(() => sanitiseSvg(doctype)).toThrow(SvgRejected);
    expect(() => sanitiseSvg("<svg xmlns='http://www.w3.org/2000/svg'><rect></svg>")).toThrow(SvgRejected);
    expect(() => sanitiseSvg("<html xmlns='http://www.w3.org/1999/xhtml'><script>x</script></html>")).toThrow(/root element/);
    expect(() => sanitiseSvg(svg("<script>alert(1)</script>"))).toThrow(expect.objectContaining({ code: "logo_svg_empty" }));
  });

  it("checkLogo stores the sanitised SVG, not the upload", () => {
    const c = checkLogo(b64(svg('<circle r="3" onload="alert(1)"/><script>alert(2)</script>')));
    expect(c.ok).toBe(true);
    if (!c.ok) return;
    expect(c.mime).toBe("image/svg+xml");
    expect(c.bytes.toString()).not.toMatch(/alert|script|onload/);
    expect(c.removed.length).toBeGreaterThan(0);
  });

  it("safeCss refuses escapes and non-fragment url()", () => {
    expect(safeCss("fill: red")).toBe(true);
    expect(safeCss("fill: url(#a)")).toBe(true);
    expect(safeCss("fill: url(http://x)")).toBe(false);
    expect(safeCss("fill: u\\72l(http://x)")).toBe(false);
  });
});

describe("SVG sanitiser: CSS that loads (hostile probe, finding 9)", () => {
  const svg = (inner: string) => `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">${inner}</svg>`;
  // Every way a stylesheet can fetch something: each must be dropped from <style> and style=.
  const loaders = [
    'background: image-set("http://evil.example/a.png" 1x)',
    "background: -webkit-image-set(url(http://evil.example/a.png) 1x)",
    "background: -WEBKIT-Image-Set('http://evil.example/a.png' 1x)",
    'background: image("http://evil.example/a.png")',
    'background: cross-fade(url(#a), "http://evil.example/a.png", 50%)',
    "background: element(#x)",
    'background: src("http://evil.example/a.png")',
    "background: paint(evil)",
    'background: url("http://evil.example/a.png")',
    "background: url( http://evil.example/a.png )",
    "background: URL(//evil.example/a.png)",
    "background: \\75 rl(http://evil.example/a.png)",
    "background: u\\rl(http://evil.example/a.png)",
    "background: u/**/rl(http://evil.example/a.png)",
    "background: image/**/-set('http://evil.example/a.png' 1x)",
    "background: url(#a) , url(http://evil.example/a.png)",
    "--x: image-set('http://evil.example/a.png' 1x); fill: var(--x)",
    "fill: red } @import 'http://evil.example/x.css'; rect {",
    "@import url(http://evil.example/x.css)",
    '@font-face { font-family: x; src: local(x), url("http://evil.example/f.woff") }',
    "@namespace url(http://evil.example/ns)",
    "fill: expression(alert(1))",
  ];

  it.each(loaders)("safeCss refuses %s", (css) => {
    expect(safeCss(css)).toBe(false);
  });

  it.each(loaders)("drops it from <style> and from style=: %s", (css) => {
    const attr = css.replace(/"/g, "&quot;");
    const out = sanitiseSvg(svg(`<style>rect { ${css} }</style><rect width="5" height="5" style="${attr}"/>`));
    expect(out.svg).not.toMatch(/evil|image-set|image\(|cross-fade|element\(|src\(|paint\(|@import|@font-face|@namespace|expression/i);
    expect(out.svg).toContain("<rect");
  });

  it("drops loading functions from presentation attributes too", () => {
    const out = sanitiseSvg(svg('<rect width="5" height="5" fill="image-set(&quot;http://evil.example/a.png&quot; 1x)" filter="url(#f)" transform="rotate(45) translate(1, 2)"/>'));
    expect(out.svg).not.toMatch(/evil|image-set/);
    expect(out.svg).toContain('filter="url(#f)"');
    expect(out.svg).toContain('transform="rotate(45) translate(1, 2)"');
  });

  it("keeps harmless CSS: colours, calc, transforms, #fragment url(), @media", () => {
    for (const css of [
      "fill: rgb(255, 0, 0); stroke: rgba(0,0,0,.5)",
      "fill: hsl(120 50% 50%); stroke: hsla(0, 0%, 0%, 0.2)",
      "stroke-width: calc(1px + 2px); opacity: min(1, 0.5)",
      "transform: translate(1px, 2px) rotate(10deg) scale(2) matrix(1,0,0,1,0,0)",
      "fill: url(#grad); mask: url('#m')",
      "@media screen and (max-width: 100px) { .a { fill: red } }",
      "fill: var(--brand, #123456)",
    ]) expect(safeCss(css), css).toBe(true);
  });
});
