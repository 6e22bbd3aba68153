import { describe, expect, it } from "vitest";
import { pdfPagesText, png } from "../../../test/fixtures/readers.js";
import { renderGuidesPdf, winAnsi } from "./docs.pdf.js";

const GUIDE = `# Administrator guide

Intro with **bold**, *italic*, \`code span\` and a [link](https://example.com).

## Backing up the data directory

1. Stop the pool.
2. Copy the folder:
   - \`data/\`
   - \`keys/\`

\`\`\`bash
tar czf backup.tgz data
\`\`\`

| status | meaning |
|---|---|
| 503 | no worker → retry ≥ 1 s later |

> A quote.

<script>alert(1)</script>
`;

const DATE = new Date("2026-05-04T10:00:00Z");
const hasImage = (pdf: Buffer) => /\/Subtype\s*\/Image/.test(pdf.toString("latin1"));

describe("renderGuidesPdf", () => {
  it("makes a valid PDF whose text has the company name, the title, the date and the guide's headings", async () => {
    const pdf = await renderGuidesPdf({ title: "Administrator guide", guides: [{ title: "Administrator guide", markdown: GUIDE }], branding: { companyName: "Étude Durand & Associés" }, date: DATE });
    expect(pdf.subarray(0, 5).toString("latin1")).toBe("%PDF-");
    expect(pdf.subarray(-6).toString("latin1")).toMatch(/%%EOF/);
    const pages = await pdfPagesText(pdf);
    expect(pages.length).toBeGreaterThanOrEqual(2);
    const all = pages.join("\n");
    expect(pages[0]).toContain("Étude Durand & Associés");
    expect(pages[0]).toContain("Administrator guide");
    expect(pages[0]).toContain("2026-05-04");
    expect(all).toContain("Backing up the data directory");
    expect(all).toContain("tar czf backup.tgz data");
    expect(all).toContain("retry >= 1 s later"); // ≥ is not in the standard fonts: written as >=
    expect(all).toContain("<script>alert(1)</script>"); // raw HTML is shown as text
    // Every page: the company name in the header, "Page n of N" in the footer.
    pages.forEach((p, i) => {
      expect(p).toContain("Étude Durand & Associés");
      expect(p).toContain(`Page ${i + 1} of ${pages.length}`);
    });
    expect(hasImage(pdf)).toBe(false);
  });

  it("embeds a PNG logo as an image XObject; an SVG or an undecodable logo is skipped and the name kept", async () => {
    const guides = [{ title: "API guide", markdown: "# API guide\n\nText." }];
    const withPng = await renderGuidesPdf({ title: "API guide", guides, branding: { companyName: "Acme", logo: { bytes: png(), mime: "image/png" } }, date: DATE });
    expect(hasImage(withPng)).toBe(true);

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4"/></svg>');
    const withSvg = await renderGuidesPdf({ title: "API guide", guides, branding: { companyName: "Acme SVG", logo: { bytes: svg, mime: "image/svg+xml" } }, date: DATE });
    expect(hasImage(withSvg)).toBe(false);
    expect((await pdfPagesText(withSvg))[0]).toContain("Acme SVG");

    // Passed the wizard's magic-byte check, but is not a decodable PNG.
    const broken = Buffer.concat([png().subarray(0, 8), Buffer.alloc(64, 3)]);
    const withBroken = await renderGuidesPdf({ title: "API guide", guides, branding: { companyName: "Acme Broken", logo: { bytes: broken, mime: "image/png" } }, date: DATE });
    expect((await pdfPagesText(withBroken))[0]).toContain("Acme Broken");
  });

  it("binds several guides, each from a new page, with a contents list on the cover", async () => {
    const guides = [
      { title: "Administrator guide", markdown: "# Administrator guide\n\nOne." },
      { title: "Security guide", markdown: "# Security guide\n\nTwo." },
    ];
    const pages = await pdfPagesText(await renderGuidesPdf({ title: "Cellule guides", guides, branding: { companyName: "Acme" }, date: DATE }));
    expect(pages).toHaveLength(3);
    expect(pages[0]).toMatch(/Contents.*Administrator guide.*Security guide/);
    expect(pages[1]).toContain("One.");
    expect(pages[2]).toContain("Two.");
  });
});

describe("winAnsi", () => {
  it("keeps Western European text and replaces what the standard fonts cannot draw", () => {
    expect(winAnsi("Étude à l'œil — “ok” € … x ≤ y → z ⅛ 中")).toBe("Étude à l'œil — “ok” € … x <= y -> z 1/8 ?");
  });
});
