/** One figure with its label (and an optional detail line), as a card. */
import type { ComponentChildren } from "preact";

export function StatCard(p: { id?: string; label: string; value: ComponentChildren; detail?: ComponentChildren }) {
  return (
    <div class="card stat" id={p.id}>
      <span class="stat-value">{p.value}</span>
      <span class="stat-label">{p.label}</span>
      {p.detail !== undefined && <span class="stat-detail">{p.detail}</span>}
    </div>
  );
}
