// Plain-text tables for terminal summaries.

/** Renders rows under a header; numbers (and cells that look like them) are right-aligned. */
export function table(
  header: string[],
  rows: Array<Array<string | number>>,
  indent = "  ",
): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) =>
    rows.length > 0 &&
    rows.every((r) => typeof r[i] === "number" || /^[-+]?[\d.,]+( ?[a-z/%]+)?$/i.test(String(r[i])))
  );
  const line = (r: string[]) =>
    indent +
    r.map((c, i) => (numeric[i] && i > 0 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ").trimEnd();
  const rule = indent + widths.map((w) => "─".repeat(w)).join("  ");
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join("\n");
}

export function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "—";
}
