/**
 * Splits extracted sections into overlapping chunks for embedding and full-text search.
 *
 * Token-aware with the conservative estimate of ./tokens.ts: no chunk's estimate ever exceeds
 * `maxTokens`, so an embedding model whose input limit is `maxTokens` sees all of it. A chunk
 * never spans two sections, so each one keeps the page and heading it came from (citations).
 * Inside a section the text is read word by word (a sliding window, never the whole section at
 * once); when the window is full the chunk ends at the strongest boundary in its second half —
 * paragraph, then sentence, then line, then word — and a very long "word" (a base64 blob, CJK
 * text without punctuation) is split hard. The next chunk starts with the last sentences (or
 * words) of the previous one, up to `overlapTokens`. Pure and deterministic.
 */
import type { Section } from "./extract/extract.js";
import { estimateTokens } from "./tokens.js";

export interface Chunk {
  /** 0-based position in the document. */
  index: number;
  text: string;
  page: number | null;
  heading: string | null;
  /** estimateTokens(text); never above maxTokens. */
  tokens: number;
}

export interface ChunkOptions {
  /** Largest estimate allowed for one chunk (the embedding model's input limit at most). */
  maxTokens: number;
  /** Tokens repeated from the end of a chunk at the start of the next; capped at maxTokens / 2. */
  overlapTokens: number;
}

/** Boundary before a piece, weakest to strongest. */
const Break = { Hard: -1, Word: 0, Line: 1, Sentence: 2, Paragraph: 3 } as const;
type Break = (typeof Break)[keyof typeof Break];

interface Piece {
  start: number;
  end: number;
  tokens: number;
  /** Boundary between the previous piece and this one. */
  before: Break;
  /** No whitespace between the previous piece and this one (hard splits, CJK sentences). */
  glued: boolean;
}

/** Words; CJK sentence ends also end a word, since such text has no spaces. */
const WORD = /[^\s。！？]+[。！？]*|[。！？]+/gu;
const SENTENCE_END = /[.!?…。！？]["'”’»)\]]*$/u;
const MIN_MAX_TOKENS = 8;

/** Chunks of `sections`, numbered from 0 in document order. */
export function chunkSections(sections: Section[], opts: ChunkOptions): Chunk[] {
  return [...iterateChunks(sections, opts)];
}

/**
 * The same chunks one at a time, so a caller with a very large document (50 MB of text is a few
 * seconds of work) can hand the event loop back between batches.
 */
export function* iterateChunks(sections: Section[], opts: ChunkOptions): Generator<Chunk> {
  const maxTokens = Math.floor(opts.maxTokens);
  // Below this one character (an emoji costs 5) might not fit in a chunk.
  if (!(maxTokens >= MIN_MAX_TOKENS)) throw new RangeError(`maxTokens must be at least ${MIN_MAX_TOKENS} (got ${opts.maxTokens})`);
  const overlapTokens = Math.max(0, Math.min(Math.floor(opts.overlapTokens) || 0, Math.floor(maxTokens / 2)));
  let index = 0;
  for (const section of mergeSections(sections)) {
    for (const { text, tokens } of chunkText(section.text, maxTokens, overlapTokens)) {
      yield { index: index++, text, page: section.page, heading: section.heading, tokens };
    }
  }
}

/** Adjacent sections with the same page and heading are one run of text. */
function mergeSections(sections: Section[]): Section[] {
  const merged: Section[] = [];
  for (const s of sections) {
    const text = s.text.trim();
    if (!text) continue;
    const last = merged[merged.length - 1];
    if (last && last.page === s.page && last.heading === s.heading) last.text += `\n\n${text}`;
    else merged.push({ page: s.page, heading: s.heading, text });
  }
  return merged;
}

function* chunkText(text: string, maxTokens: number, overlapTokens: number): Generator<{ text: string; tokens: number }> {
  let window: Piece[] = [];
  let sum = 0;
  let overlapCount = 0; // leading pieces of the window already emitted in the previous chunk

  for (const piece of pieces(text, maxTokens)) {
    while (window.length > 0 && sum + piece.tokens > maxTokens) {
      if (overlapCount >= window.length) {
        sum -= window.shift()!.tokens;
        overlapCount--;
        continue;
      }
      const chunk = fit(text, window, chooseCut(window, overlapCount + 1, piece.before, maxTokens), overlapCount, maxTokens);
      yield chunk;
      const { from, to } = chunk;
      const next = to < window.length ? window[to]!.before : piece.before;
      const start = next === Break.Hard ? to : overlapStart(window, from, to, overlapTokens);
      window = window.slice(start);
      overlapCount = to - start;
      sum = window.reduce((acc, p) => acc + p.tokens, 0);
    }
    window.push(piece);
    sum += piece.tokens;
  }
  if (window.length > overlapCount) {
    const chunk = fit(text, window, window.length, overlapCount, maxTokens);
    yield chunk;
    // Pieces dropped by fit (only possible around hard splits) are chunked on their own.
    if (chunk.to < window.length) yield* chunkText(text.slice(window[chunk.to]!.start), maxTokens, overlapTokens);
  }
}

/**
 * Where the chunk window[0..cut) ends: the strongest boundary, latest on ties, among the cuts
 * that keep at least maxTokens / 2 in the chunk (a paragraph break near the start would make a
 * uselessly small chunk). `nextBreak` is the boundary after the window.
 */
function chooseCut(window: Piece[], minCut: number, nextBreak: Break, maxTokens: number): number {
  const total = window.reduce((acc, p) => acc + p.tokens, 0);
  const minFill = Math.min(total, maxTokens / 2);
  let best = window.length;
  let bestBreak = nextBreak;
  let prefix = total;
  for (let c = window.length - 1; c >= minCut; c--) {
    prefix -= window[c]!.tokens;
    if (prefix < minFill) break;
    if (window[c]!.before > bestBreak) {
      best = c;
      bestBreak = window[c]!.before;
    }
  }
  return best;
}

/**
 * The first piece of the next chunk: back from the cut while the overlap stays within budget,
 * then forward to the first sentence start inside it, if any, so the overlap reads naturally.
 */
function overlapStart(window: Piece[], from: number, cut: number, overlapTokens: number): number {
  let start = cut;
  let acc = 0;
  while (start - 1 > from && acc + window[start - 1]!.tokens <= overlapTokens) {
    start--;
    acc += window[start]!.tokens;
  }
  for (let i = start; i < cut; i++) if (window[i]!.before >= Break.Sentence) return i;
  return start;
}

/**
 * The chunk window[from..to) as text, with its estimate. The estimate of words joined by
 * whitespace is the sum of theirs; only pieces joined without any (hard-split slices of one word,
 * CJK sentences) can count more together than apart, so then the joined text is measured, and
 * the range shrunk (overlap first) until it fits.
 */
function fit(text: string, window: Piece[], to: number, overlapCount: number, maxTokens: number): { text: string; tokens: number; from: number; to: number } {
  let from = 0;
  let joined = false;
  let sum = 0;
  for (let i = from; i < to; i++) {
    sum += window[i]!.tokens;
    if (i > from && window[i]!.glued) joined = true;
  }
  if (!joined) return { text: text.slice(window[from]!.start, window[to - 1]!.end), tokens: sum, from, to };
  for (;;) {
    const slice = text.slice(window[from]!.start, window[to - 1]!.end);
    const tokens = estimateTokens(slice);
    if (tokens <= maxTokens || to - from === 1) return { text: slice, tokens, from, to }; // one piece always fits: pieces() sees to it
    if (from < overlapCount) from++;
    else to--;
  }
}

/** The words of `text` with their costs and the boundary before each, long words split hard. */
function* pieces(text: string, maxTokens: number): Generator<Piece> {
  let prevEnd = -1;
  let prevWord = "";
  for (const m of text.matchAll(WORD)) {
    const word = m[0];
    const start = m.index;
    let before: Break = Break.Word;
    if (prevEnd >= 0) {
      const newlines = countNewlines(text, prevEnd, start);
      if (newlines >= 2) before = Break.Paragraph;
      else if (SENTENCE_END.test(prevWord)) before = Break.Sentence;
      else if (newlines === 1) before = Break.Line;
      else if (start === prevEnd) before = Break.Hard;
    }
    const tokens = estimateTokens(word);
    if (tokens <= maxTokens) {
      yield { start, end: start + word.length, tokens, before, glued: start === prevEnd };
    } else {
      let first = true;
      for (const [s, e, t] of hardSplit(word, maxTokens)) {
        yield { start: start + s, end: start + e, tokens: t, before: first ? before : Break.Hard, glued: first ? start === prevEnd : true };
        first = false;
      }
    }
    prevEnd = start + word.length;
    prevWord = word;
  }
}

/** Line feeds in text[from..to) (the whitespace between two words), counting up to 2. */
function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to && n < 2; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Slices [start, end, tokens] of a word too long for one chunk, each as long as fits. */
function* hardSplit(word: string, maxTokens: number): Generator<[number, number, number]> {
  let pos = 0;
  while (pos < word.length) {
    // Largest end with estimate ≤ maxTokens: the estimate only grows as a slice grows.
    let lo = pos + 1;
    let hi = word.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (estimateTokens(word.slice(pos, mid)) <= maxTokens) lo = mid;
      else hi = mid - 1;
    }
    let end = lo;
    // Never cut between the two halves of a surrogate pair.
    if (end < word.length && isLowSurrogate(word.charCodeAt(end)) && end - 1 > pos) end--;
    else if (end < word.length && isLowSurrogate(word.charCodeAt(end))) end++;
    yield [pos, end, estimateTokens(word.slice(pos, end))];
    pos = end;
  }
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
