/**
 * Token estimate for chunking, without loading any model's vocabulary.
 *
 * It must not be lower than what a real subword tokenizer (BERT WordPiece as in
 * all-MiniLM-L6-v2, LLaMA-style SentencePiece) counts for normal text, because an embedding
 * model silently truncates whatever goes past its input limit. So it errs high:
 * - a run of Latin letters (accented ones too) costs 1 token up to 3 letters, then one token per
 *   2.5 letters (common words are 1 token, but rare and foreign words break into short pieces);
 * - every digit costs a token (SentencePiece splits numbers digit by digit), so does every
 *   punctuation mark and symbol, and every letter of another alphabet (Greek, Cyrillic, Arabic…);
 * - other characters of the Basic Multilingual Plane (CJK, Thai, dingbats…) cost 2, characters
 *   beyond it (emoji) 4: byte-level fallbacks spend one token per UTF-8 byte on them;
 * - a word that starts with a digit or a non-Latin character costs one more (SentencePiece's
 *   lone "▁" word marker).
 * English prose comes out about 1.8 times its WordPiece count (tokens.test.ts measures it).
 * Special tokens ([CLS]/[SEP], BOS) are not included: callers leave room for them. Toy
 * vocabularies (stories260K's 512 tokens) cut text finer than any of this: not covered.
 * The cost of a text is the sum of the costs of its whitespace-separated words.
 */

/** Conservative number of subword tokens in `text` (see the module header). */
export function estimateTokens(text: string): number {
  let tokens = 0;
  let letters = 0; // Latin letters in the current run
  let wordStart = true;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let cost: number;
    if (c < 0x80) {
      if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a)) {
        letters++;
        wordStart = false;
        continue;
      }
      if (c <= 0x20 || c === 0x7f) {
        if (letters > 0) tokens += letterRunCost(letters);
        letters = 0;
        wordStart = true;
        continue;
      }
      cost = c >= 0x30 && c <= 0x39 ? (wordStart ? 2 : 1) : 1;
    } else if (isLatinLetter(c)) {
      letters++;
      wordStart = false;
      continue;
    } else if (isSpace(c)) {
      if (letters > 0) tokens += letterRunCost(letters);
      letters = 0;
      wordStart = true;
      continue;
    } else if (isFree(c)) {
      // Combining accents are stripped (uncased BERT) or merged; zero-width marks vanish.
      continue;
    } else if (c < 0x800 || (c >= 0x2000 && c <= 0x20cf)) {
      // Other alphabets; general punctuation (quotes, dashes, ellipsis) and currency signs.
      cost = c >= 0x250 && c < 0x800 && wordStart ? 2 : 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && isLowSurrogate(text.charCodeAt(i + 1))) {
      i++;
      cost = wordStart ? 5 : 4;
    } else {
      cost = wordStart ? 3 : 2;
    }
    if (letters > 0) tokens += letterRunCost(letters);
    letters = 0;
    wordStart = false;
    tokens += cost;
  }
  if (letters > 0) tokens += letterRunCost(letters);
  return tokens;
}

function letterRunCost(letters: number): number {
  return letters <= 3 ? 1 : Math.ceil((2 * letters - 2) / 5);
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Letters of the Latin script (accented ones included): they behave like ASCII letters. */
function isLatinLetter(c: number): boolean {
  return (
    (c >= 0xc0 && c <= 0x24f && c !== 0xd7 && c !== 0xf7) || // Latin-1 Supplement, Extended-A/B
    (c >= 0x1e00 && c <= 0x1eff) || // Latin Extended Additional
    c === 0xaa ||
    c === 0xba
  );
}

/** Characters that cost nothing and do not end a word: combining marks, zero-width and format characters. */
function isFree(c: number): boolean {
  return (c >= 0x300 && c <= 0x36f) || c === 0xad || (c >= 0x200b && c <= 0x200f) || c === 0x2060 || (c >= 0xfe00 && c <= 0xfe0f);
}

function isSpace(c: number): boolean {
  return (
    c === 0xa0 ||
    c === 0x85 ||
    (c >= 0x80 && c < 0xa0) || // C1 controls
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff // JavaScript's \s counts it as a space: so must we, for the sum over words to hold
  );
}
