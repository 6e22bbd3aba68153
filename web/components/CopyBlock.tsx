/** A code block with a Copy button (clipboard API, falling back to selecting the text). */
import { useRef, useState } from "preact/hooks";
import { useI18n } from "../i18n/index.js";

export function CopyBlock(p: { id: string; text: string; title?: string }) {
  const { t } = useI18n();
  const pre = useRef<HTMLPreElement>(null);
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");

  const copy = async () => {
    try {
      if (!navigator.clipboard) throw new Error("no clipboard");
      await navigator.clipboard.writeText(p.text);
      setState("copied");
    } catch {
      // Plain-HTTP pools have no clipboard API: select the text so Ctrl+C works.
      const sel = getSelection();
      if (pre.current && sel) {
        const range = document.createRange();
        range.selectNodeContents(pre.current);
        sel.removeAllRanges();
        sel.addRange(range);
      }
      setState(document.execCommand?.("copy") ? "copied" : "failed");
    }
    setTimeout(() => setState("idle"), 2500);
  };

  return (
    <div class="copyblock">
      <div class="copyblock-head">
        <span class="file">{p.title}</span>
        <span>
          <span class="muted" role="status">
            {state === "copied" ? t("ui.copied") : state === "failed" ? t("ui.copyFailed") : ""}
          </span>{" "}
          <button type="button" class="button secondary small" id={`${p.id}-copy`} aria-label={t("ui.copyLabel", { name: p.title ?? "" })} onClick={() => void copy()}>
            {t("ui.copy")}
          </button>
        </span>
      </div>
      <pre class="snippet" id={p.id} tabIndex={0}>
        {p.text}
      </pre>
    </div>
  );
}
