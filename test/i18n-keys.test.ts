/**
 * The web app merges the wizard's strings (web/i18n/en.ts) with one file per dashboard area
 * (web/i18n/areas/*.ts). A key defined twice would silently replace another page's text, so every
 * key must be defined exactly once, and French must cover English in every file.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { en as baseEn } from "../web/i18n/en.js";
import { fr as baseFr } from "../web/i18n/fr.js";

const areasDir = fileURLToPath(new URL("../web/i18n/areas/", import.meta.url));

describe("web strings", () => {
  it("defines every key once across en.ts and the area files, each with a French text", async () => {
    const owner = new Map<string, string>(Object.keys(baseEn).map((k) => [k, "en.ts"]));
    const duplicates: string[] = [];
    const files = readdirSync(areasDir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const area = (await import(new URL(file, `file://${areasDir}`).href)) as { en: Record<string, string>; fr: Record<string, string> };
      for (const key of Object.keys(area.en)) {
        const first = owner.get(key);
        if (first) duplicates.push(`${key} (${first} and ${file})`);
        else owner.set(key, file);
        expect(area.fr[key], `${file}: French text for ${key}`).toBeTruthy();
      }
    }
    expect(duplicates).toEqual([]);
    for (const key of Object.keys(baseEn)) expect((baseFr as Record<string, string>)[key], `fr.ts: ${key}`).toBeTruthy();
  });
});
