/**
 * Separates a thinking model's `<think>…</think>` reasoning from its answer, incrementally, so it
 * works on a stream where a tag may be split across chunks. The answer goes to `content`, the
 * reasoning to `reasoning_content` (as other OpenAI-compatible servers expose it).
 */
const OPEN = "<think>";
const CLOSE = "</think>";

export interface Split {
  content: string;
  reasoning: string;
}

export class ThinkFilter {
  private inThink = false;
  private pending = "";
  /** Drop whitespace right after a closing tag, so the answer does not start with blank lines. */
  private trimNext = false;

  push(text: string): Split {
    const out: Split = { content: "", reasoning: "" };
    let buf = this.pending + text;
    this.pending = "";
    while (buf.length > 0) {
      const tag = this.inThink ? CLOSE : OPEN;
      const at = buf.indexOf(tag);
      if (at >= 0) {
        this.emit(out, buf.slice(0, at));
        buf = buf.slice(at + tag.length);
        this.inThink = !this.inThink;
        this.trimNext = true;
        continue;
      }
      // Hold back a tail that could be the start of the tag.
      const keep = partialTagSuffix(buf, tag);
      this.emit(out, buf.slice(0, buf.length - keep));
      this.pending = buf.slice(buf.length - keep);
      break;
    }
    return out;
  }

  /** Releases anything held back (end of stream). */
  flush(): Split {
    const out: Split = { content: "", reasoning: "" };
    this.emit(out, this.pending);
    this.pending = "";
    return out;
  }

  private emit(out: Split, text: string): void {
    if (this.trimNext) {
      text = text.replace(/^\s+/, "");
      if (text) this.trimNext = false;
    }
    if (!text) return;
    if (this.inThink) out.reasoning += text;
    else out.content += text;
  }
}

/** Length of the longest suffix of `s` that is a proper prefix of `tag`. */
function partialTagSuffix(s: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, s.length); n > 0; n--) {
    if (tag.startsWith(s.slice(s.length - n))) return n;
  }
  return 0;
}

/** Whole-text convenience for non-streamed answers. */
export function splitThinking(text: string): Split {
  const f = new ThinkFilter();
  const a = f.push(text);
  const b = f.flush();
  return { content: a.content + b.content, reasoning: a.reasoning + b.reasoning };
}
