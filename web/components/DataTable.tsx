/**
 * A data table: sticky header, striped rows, an empty state. Columns say how to render a cell;
 * the table stays keyboard-friendly because cells may hold real buttons and links.
 */
import type { ComponentChildren } from "preact";

export interface Column<Row> {
  /** Stable key, also the cell's `data-col` attribute (tests and CSS may target it). */
  key: string;
  header: ComponentChildren;
  cell: (row: Row) => ComponentChildren;
  /** Right-aligned numeric column. */
  num?: boolean;
}

export function DataTable<Row>(p: {
  id?: string;
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string;
  /** Shown instead of the table when there are no rows. */
  empty: ComponentChildren;
  caption?: string;
  /** Extra attributes per row (e.g. `data-status`). */
  rowProps?: (row: Row) => Record<string, string | undefined>;
}) {
  if (p.rows.length === 0)
    return (
      <p class="empty" id={p.id ? `${p.id}-empty` : undefined}>
        {p.empty}
      </p>
    );
  return (
    <div class="table-wrap">
      <table class="data" id={p.id}>
        {p.caption && <caption>{p.caption}</caption>}
        <thead>
          <tr>
            {p.columns.map((c) => (
              <th key={c.key} scope="col" class={c.num ? "num" : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {p.rows.map((r) => (
            <tr key={p.rowKey(r)} data-key={p.rowKey(r)} {...(p.rowProps?.(r) ?? {})}>
              {p.columns.map((c) => (
                <td key={c.key} data-col={c.key} class={c.num ? "num" : undefined}>
                  {c.cell(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
