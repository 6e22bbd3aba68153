/**
 * Dashboard page: Documentation. The three guides (rendered to HTML on the pool from our own
 * docs/), a table of contents built from the headings, and the branded PDF downloads.
 */
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, errorText } from "../../api.js";
import { Notice } from "../../components/Shell.js";
import { useI18n } from "../../i18n/index.js";
import type { DocBody, DocList, DocSummary } from "../../../src/protocol/docs.protocol.js";
import type { AdminPageProps } from "./pages.js";
import "./content.css";

interface Heading {
  id: string;
  text: string;
  level: number;
}

const slug = (s: string) =>
  s
    .toLowerCase()
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "") || "section";

/** Gives every h2/h3 an id (kept if the pool set one) and returns the HTML with its headings. */
function withAnchors(html: string): { html: string; headings: Heading[] } {
  const doc = new DOMParser().parseFromString(`<div>${html}</div>`, "text/html");
  const root = doc.body.firstElementChild!;
  const seen = new Set<string>();
  const headings: Heading[] = [];
  for (const h of Array.from(root.querySelectorAll("h1, h2, h3"))) {
    const text = h.textContent?.trim() ?? "";
    let id = h.id || `doc-${slug(text)}`;
    for (let n = 2; seen.has(id); n++) id = `${h.id || `doc-${slug(text)}`}-${n}`;
    seen.add(id);
    h.id = id;
    const level = Number(h.tagName.slice(1));
    if (level > 1) headings.push({ id, text, level });
  }
  return { html: root.innerHTML, headings };
}

export function DocsPage(_p: AdminPageProps) {
  const { t } = useI18n();
  const [guides, setGuides] = useState<DocSummary[]>();
  const [current, setCurrent] = useState<string>();
  const [body, setBody] = useState<DocBody>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    api<DocList>("GET", "/v1/admin/docs").then(
      (r) => {
        setGuides(r.data);
        setCurrent((c) => c ?? r.data[0]?.id);
      },
      (err: unknown) => setError(errorText(err, t("common.network"))),
    );
  }, []);

  useEffect(() => {
    if (!current) return;
    setBody(undefined);
    api<DocBody>("GET", `/v1/admin/docs/${encodeURIComponent(current)}`).then(setBody, (err: unknown) => setError(errorText(err, t("common.network"))));
  }, [current]);

  const rendered = useMemo(() => (body ? withAnchors(body.html) : undefined), [body]);

  return (
    <div class="content-page" id="docs-page">
      <div class="page-head">
        <h1>{t("docs.title")}</h1>
        <a class="button primary" id="docs-pdf-all" href="/v1/admin/docs/all/pdf" download>
          {t("docs.pdfAll")}
        </a>
      </div>
      <p class="lead">{t("docs.intro")}</p>
      {error && <Notice kind="error">{error}</Notice>}
      {guides && guides.length === 0 && <p class="empty">{t("docs.none")}</p>}
      {guides && guides.length > 0 && (
        <div class="tabs" role="tablist" aria-label={t("docs.guides")}>
          {guides.map((g) => (
            <button
              type="button"
              role="tab"
              key={g.id}
              id={`docs-tab-${g.id}`}
              aria-selected={g.id === current}
              aria-controls="docs-panel"
              tabIndex={g.id === current ? 0 : -1}
              class={`tab${g.id === current ? " active" : ""}`}
              onClick={() => setCurrent(g.id)}
              onKeyDown={(e) => {
                const i = guides.findIndex((x) => x.id === g.id);
                const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
                if (!step) return;
                e.preventDefault();
                const next = guides[(i + step + guides.length) % guides.length]!;
                setCurrent(next.id);
                document.getElementById(`docs-tab-${next.id}`)?.focus();
              }}
            >
              {g.title}
            </button>
          ))}
        </div>
      )}
      {current && (
        <div class="docs-layout" id="docs-panel" role="tabpanel" aria-labelledby={`docs-tab-${current}`}>
          <aside class="docs-toc card" aria-labelledby="docs-toc-title">
            <h2 id="docs-toc-title">{t("docs.toc")}</h2>
            {rendered && (
              <ol>
                {rendered.headings.map((h) => (
                  <li key={h.id} class={`toc-l${h.level}`}>
                    <a href={`#${h.id}`}>{h.text}</a>
                  </li>
                ))}
              </ol>
            )}
            <a class="button secondary" id="docs-pdf" href={`/v1/admin/docs/${encodeURIComponent(current)}/pdf`} download>
              {t("docs.pdf")}
            </a>
          </aside>
          {rendered ? (
            // Our own guides, rendered by the pool from docs/ (raw HTML in the sources is escaped there).
            <article class="doc card" id="doc-body" dangerouslySetInnerHTML={{ __html: rendered.html }} />
          ) : (
            <p class="muted">{t("ui.loading")}</p>
          )}
        </div>
      )}
    </div>
  );
}
