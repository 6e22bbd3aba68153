/** The wizard's progress indicator: every step named, the current one marked for screen readers. */
import { useI18n } from "../i18n/index.js";

export function Progress(p: { steps: string[]; current: number; reached: number; onJump: (i: number) => void }) {
  const { t } = useI18n();
  return (
    <nav class="progress" aria-label={t("wizard.progressLabel")}>
      <p class="progress-count">{t("wizard.progress", { n: p.current + 1, total: p.steps.length })}</p>
      <div class="progress-bar" aria-hidden="true">
        <div style={{ width: `${((p.current + 1) / p.steps.length) * 100}%` }} />
      </div>
      <ol>
        {p.steps.map((label, i) => (
          <li key={label} class={i === p.current ? "current" : i < p.current ? "done" : undefined} aria-current={i === p.current ? "step" : undefined}>
            {i <= p.reached && i !== p.current ? (
              <button type="button" class="linklike" onClick={() => p.onJump(i)}>
                {label}
              </button>
            ) : (
              <span>{label}</span>
            )}
          </li>
        ))}
      </ol>
    </nav>
  );
}
