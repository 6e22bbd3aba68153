/**
 * Text the 14 standard PDF fonts can draw: they cover Western European text (WinAnsi: accents, €,
 * quotes, dashes); other characters are written as a close ASCII equivalent (→ as ->, ≥ as >=) or "?".
 */
const REPLACEMENTS: Record<string, string> = {
  "→": "->", "←": "<-", "↔": "<->", "⇒": "=>", "≥": ">=", "≤": "<=", "≠": "!=", "≈": "~", "−": "-", "‑": "-", "‐": "-",
  "⅛": "1/8", "⅓": "1/3", "⅔": "2/3", "∞": "infinity", "Σ": "Sum", "✓": "v", "✔": "v", "✗": "x", "✘": "x",
  "\u202f": " ", "\u2009": " ", "\u2007": " ", "\u200b": "",
};
/** Windows-1252's characters above 0x7F outside Latin-1 (the standard fonts' WinAnsi encoding). */
const CP1252_EXTRA = new Set("€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ");

export function winAnsi(text: string): string {
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code === 0x0a || (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || CP1252_EXTRA.has(ch)) out += ch;
    else if (code === 0x09) out += "    ";
    else if (ch in REPLACEMENTS) out += REPLACEMENTS[ch];
    else if (code < 0x20) continue;
    else out += "?";
  }
  return out;
}
