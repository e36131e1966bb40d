// A table whose column headers sort it. Cells are built by the caller with h() (text only).
import { h } from "./dom.js";

function compare(a, b) {
  const na = a === null || a === undefined;
  const nb = b === null || b === undefined;
  if (na || nb) return na && nb ? 0 : na ? 1 : -1; // blanks last, whichever the direction
  return typeof a === "string" ? a.localeCompare(b) : a - b;
}

/**
 * columns: [{key, label, value(row) -> sortable, cell(row) -> Node|string, numeric?, title?}]
 * state: {key, dir: 1|-1}; onSort(newState) is called when a header is clicked.
 */
export function sortableTable({ columns, rows, state, onSort, rowAttrs, id, caption }) {
  const col = columns.find((c) => c.key === state.key) || columns[0];
  const sorted = [...rows].sort((a, b) => {
    const av = col.value(a);
    const bv = col.value(b);
    if (av === null || av === undefined || bv === null || bv === undefined) return compare(av, bv);
    return compare(av, bv) * state.dir;
  });
  const head = h("tr", null, columns.map((c) => {
    const active = c.key === col.key;
    const label = active ? `${c.label} ${state.dir > 0 ? "▲" : "▼"}` : c.label;
    return h("th", { class: [c.numeric && "num", active && "sorted"], scope: "col", title: c.title, "aria-sort": active ? (state.dir > 0 ? "ascending" : "descending") : null },
      c.value ? h("button", { type: "button", class: "th-sort", onclick: () => onSort({ key: c.key, dir: active ? -state.dir : c.numeric ? -1 : 1 }) }, label) : c.label);
  }));
  const body = sorted.map((row) => h("tr", rowAttrs ? rowAttrs(row) : null,
    columns.map((c) => h("td", { class: c.numeric && "num" }, c.cell ? c.cell(row) : String(c.value(row) ?? "")))));
  return h("table", { class: "grid-table", id }, caption ? h("caption", null, caption) : null, h("thead", null, head), h("tbody", null, body));
}
