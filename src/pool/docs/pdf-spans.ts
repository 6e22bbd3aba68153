/** Markdown inline spans (marked's lexer tokens) flattened into styled runs of text: bold, italic, code, links. */
import type { Token, Tokens } from "marked";

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", apos: "'", nbsp: "\u00a0" };
const decodeEntities = (s: string) => s.replace(/&(amp|lt|gt|quot|#39|apos|nbsp);/g, (_m, e: string) => ENTITIES[e]!);

/** A line break inside a Markdown paragraph is a space (hard breaks are `br` tokens). */
const soft = (s: string) => s.replace(/[ \t]*\n[ \t]*/g, " ");

export interface Span {
  text: string;
  bold?: boolean;
  italic?: boolean;
  code?: boolean;
  link?: string;
}

export type Style = Omit<Span, "text">;

export function spans(tokens: Token[] | undefined, style: Style = {}): Span[] {
  const out: Span[] = [];
  for (const t of tokens ?? []) {
    switch (t.type) {
      case "strong":
        out.push(...spans(t.tokens, { ...style, bold: true }));
        break;
      case "em":
        out.push(...spans(t.tokens, { ...style, italic: true }));
        break;
      case "del":
        out.push(...spans(t.tokens, style));
        break;
      case "codespan":
        out.push({ ...style, code: true, text: soft(decodeEntities((t as Tokens.Codespan).text)) });
        break;
      case "link": {
        const link = t as Tokens.Link; // Token includes Tokens.Generic (any-typed fields): name the case's type
        const href = /^https?:\/\//i.test(link.href) ? link.href : undefined;
        out.push(...spans(t.tokens, href ? { ...style, link: href } : style));
        break;
      }
      case "image":
        out.push({ ...style, text: `[${(t as Tokens.Image).text || "image"}]` });
        break;
      case "br":
        out.push({ ...style, text: "\n" });
        break;
      case "escape":
      case "html":
        out.push({ ...style, text: (t as Tokens.Escape | Tokens.HTML).text });
        break;
      default: {
        const g = t as Tokens.Generic;
        if (g.tokens && g.tokens.length > 0) out.push(...spans(g.tokens, style));
        else if (typeof g.text === "string") out.push({ ...style, text: soft(decodeEntities(g.text)) });
      }
    }
  }
  return out;
}

export const plain = (tokens: Token[] | undefined) => spans(tokens).map((s) => s.text).join("");
