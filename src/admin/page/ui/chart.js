// Draws a machine's top-level states as an SVG statechart from GET /machines/:id
// (`machine.toJSON()`). No layout library: the saga has a natural shape, and
// following each state's first "done" transition finds it. Rows are chains:
// from the initial state, follow the first internal (done/always) transition
// (in the order written: the saga lists success first) to an unplaced state until a final state ends the row; a chain that stops
// short (e.g. `compensating`, whose eventless routing toJSON() leaves out)
// continues in the same row with the next unplaced state. For the saga that
// gives forward steps, then compensations, then needsAttention.
// Edges between rows pass through the gaps of the rows in between; two
// opposite edges are drawn as one line with two arrowheads; labels are
// tooltips, so the chart stays readable.

const SVG = "http://www.w3.org/2000/svg";
const BOX_H = 40;
const GAP_X = 44;
const ROW_STEP = 104;
const MARGIN = 28;

/** Top-level states and the transitions between them. */
export function topLevelGraph(def) {
  const keys = Object.keys(def.states ?? {});
  const top = new Map(); // state node id → top-level key
  const index = (node, key) => {
    top.set(node.id, key);
    for (const child of Object.values(node.states ?? {})) index(child, key);
  };
  for (const key of keys) index(def.states[key], key);

  const edges = new Map();
  let seq = 0; // transition order: among equal ranks, the first one written wins
  const walk = (node, key) => {
    const own = node.transitions ?? Object.values(node.on ?? {}).flat();
    for (const t of [...own, ...(node.always ?? [])]) {
      for (const target of t.target ?? []) {
        const to = top.get(String(target).replace(/^#/, ""));
        if (!to || to === key) continue;
        const id = `${key}->${to}`;
        const edge = edges.get(id) ?? { from: key, to, labels: [], rank: Infinity, seq: 0 };
        const label = labelOf(t);
        if (!edge.labels.includes(label)) edge.labels.push(label);
        if (rankOf(t.eventType) < edge.rank) {
          Object.assign(edge, { rank: rankOf(t.eventType), seq });
        }
        seq++;
        edges.set(id, edge);
      }
    }
    for (const child of Object.values(node.states ?? {})) walk(child, key);
  };
  for (const key of keys) walk(def.states[key], key);

  const initial = String(def.initial?.target?.[0] ?? "").replace(/^#/, "");
  return {
    keys,
    types: Object.fromEntries(keys.map((k) => [k, def.states[k].type])),
    initial: top.get(initial) ?? keys[0],
    edges: [...edges.values()],
  };
}

/** Internal progress (done, eventless) is the natural order; operator events come last. */
function rankOf(type) {
  if (!type || type.startsWith("xstate.done.")) return 0;
  if (type.startsWith("xstate.after.")) return 1;
  return 2;
}

function labelOf(t) {
  const type = t.eventType ?? "";
  const event = type.startsWith("xstate.done.")
    ? "done"
    : type.startsWith("xstate.after.")
    ? "after delay"
    : type || "always";
  const guard = typeof t.guard === "string" ? t.guard : t.guard?.type;
  return guard ? `${event} [${guard}]` : event;
}

/** Rows of state keys, as described at the top of this file. */
export function rowsOf(graph) {
  const placed = new Set();
  const rows = [];
  let row = [];
  const next = (key) =>
    graph.edges
      .filter((e) => e.from === key && !placed.has(e.to))
      .sort((a, b) => a.rank - b.rank || a.seq - b.seq)[0]?.to;
  for (const start of [graph.initial, ...graph.keys]) {
    let key = start;
    while (key && !placed.has(key)) {
      placed.add(key);
      row.push(key);
      if (graph.types[key] === "final") break;
      key = next(key);
    }
    if (row.length && graph.types[row.at(-1)] === "final") {
      rows.push(row);
      row = [];
    }
  }
  if (row.length) rows.push(row);
  return rows;
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * An <svg> of `def`'s top-level states. `current` is marked (class `current`,
 * aria-current="true"); `visited` states and `taken` edges ("from->to") are
 * emphasised.
 */
export function renderChart(def, { current, visited = new Set(), taken = new Set() } = {}) {
  const graph = topLevelGraph(def);
  const rows = rowsOf(graph);
  const widthOf = (key) => Math.max(104, Math.round(key.length * 7.6) + 30);
  const rowWidth = (row) => row.reduce((w, k) => w + widthOf(k), 0) + GAP_X * (row.length - 1);
  const inner = Math.max(...rows.map(rowWidth));
  // Room above the first row and below the last for the arcs that bulge there.
  const at = new Map(rows.flatMap((row, r) => row.map((k, c) => [k, { r, c }])));
  const arcRoom = (r) =>
    Math.max(
      0,
      ...graph.edges.map(({ from, to }) => {
        const [a, b] = [at.get(from), at.get(to)];
        return a.r === r && b.r === r && Math.abs(a.c - b.c) > 1 ? arcBulge(a.c, b.c) : 0;
      }),
    );
  const top = MARGIN + arcRoom(0);
  const bottom = MARGIN + (rows.length > 1 ? arcRoom(rows.length - 1) : 0);
  const boxes = new Map();
  rows.forEach((row, r) => {
    let x = MARGIN + (inner - rowWidth(row)) / 2;
    const y = top + r * ROW_STEP;
    row.forEach((key, c) => {
      boxes.set(key, { key, x, y, w: widthOf(key), h: BOX_H, row: r, col: c });
      x += widthOf(key) + GAP_X;
    });
  });
  const height = top + (rows.length - 1) * ROW_STEP + BOX_H + bottom;
  const svg = el("svg", {
    viewBox: `0 0 ${inner + MARGIN * 2} ${height}`,
    role: "img",
    "aria-label": `Statechart of ${def.id}`,
    class: "chart",
  });
  svg.append(markers());

  const lines = mergeOpposite(graph.edges, taken);
  const ports = assignPorts(lines, boxes);
  const edgeLayer = el("g", { class: "edges" });
  for (const line of lines) {
    const path = el("path", {
      d: pathOf(line, boxes, rows, ports),
      class: `edge${line.taken ? " taken" : ""}`,
      "marker-end": `url(#arrow${line.taken ? "-taken" : ""})`,
    });
    if (line.both) path.setAttribute("marker-start", `url(#arrow${line.taken ? "-taken" : ""})`);
    path.append(el("title", {}, line.titles.join("\n")));
    edgeLayer.append(path);
  }
  svg.append(edgeLayer);

  for (const b of boxes.values()) {
    const classes = ["state", graph.types[b.key]];
    if (visited.has(b.key)) classes.push("visited");
    if (b.key === current) classes.push("current");
    const g = el("g", { class: classes.join(" "), "data-state": b.key });
    if (b.key === current) g.setAttribute("aria-current", "true");
    g.append(el("rect", { x: b.x, y: b.y, width: b.w, height: b.h, rx: 9 }));
    if (graph.types[b.key] === "final") {
      g.append(
        el("rect", {
          class: "inner",
          x: b.x + 3,
          y: b.y + 3,
          width: b.w - 6,
          height: b.h - 6,
          rx: 7,
        }),
      );
    }
    g.append(
      el("text", { x: b.x + b.w / 2, y: b.y + b.h / 2 + 4.5, "text-anchor": "middle" }, b.key),
    );
    svg.append(g);
  }
  const start = boxes.get(graph.initial);
  if (start) {
    svg.append(el("circle", { class: "initial", cx: start.x - 16, cy: start.y + BOX_H / 2, r: 5 }));
  }
  return svg;
}

/** One line per pair of states; `both` when transitions go both ways. */
function mergeOpposite(edges, taken) {
  const lines = new Map();
  for (const e of edges) {
    const back = lines.get(`${e.to}->${e.from}`);
    const titles = [`${e.from} → ${e.to}: ${e.labels.join(", ")}`];
    const isTaken = taken.has(`${e.from}->${e.to}`);
    if (back) {
      back.both = true;
      back.titles.push(...titles);
      back.taken ||= isTaken;
    } else {lines.set(`${e.from}->${e.to}`, {
        from: e.from,
        to: e.to,
        both: false,
        titles,
        taken: isTaken,
      });}
  }
  return [...lines.values()];
}

/** Which side of each box an end of a line attaches to. */
function sideOf(line, end, boxes) {
  const a = boxes.get(line.from);
  const b = boxes.get(line.to);
  const self = end === "from" ? a : b;
  const other = end === "from" ? b : a;
  if (a.row === b.row) {
    if (Math.abs(a.col - b.col) === 1) return self.col < other.col ? "right" : "left";
    return a.row === 0 ? "top" : "bottom"; // arcs bulge away from the other rows
  }
  return self.row < other.row ? "bottom" : "top";
}

/** Spreads the lines meeting one side of a box along it, ordered by where they go. */
function assignPorts(lines, boxes) {
  const sides = new Map();
  for (const line of lines) {
    for (const end of ["from", "to"]) {
      const key = `${line[end]}:${sideOf(line, end, boxes)}`;
      const list = sides.get(key) ?? [];
      list.push({ line, end });
      sides.set(key, list);
    }
  }
  const ports = new Map();
  for (const [key, list] of sides) {
    const [state, side] = key.split(":");
    const box = boxes.get(state);
    const far = (p) => {
      const o = boxes.get(p.end === "from" ? p.line.to : p.line.from);
      return o.x + o.w / 2;
    };
    list.sort((p, q) => far(p) - far(q));
    list.forEach((p, i) => {
      const t = (i + 1) / (list.length + 1);
      const point = side === "right"
        ? { x: box.x + box.w, y: box.y + box.h / 2 }
        : side === "left"
        ? { x: box.x, y: box.y + box.h / 2 }
        : {
          x: box.x + box.w * (list.length === 1 ? 0.5 : 0.2 + 0.6 * t),
          y: side === "top" ? box.y : box.y + box.h,
        };
      ports.set(p.line, { ...ports.get(p.line), [p.end]: point });
    });
  }
  return ports;
}

function pathOf(line, boxes, rows, ports) {
  const a = boxes.get(line.from);
  const b = boxes.get(line.to);
  const { from: p, to: q } = ports.get(line);
  if (a.row === b.row && Math.abs(a.col - b.col) === 1) return `M${p.x},${p.y} L${q.x},${q.y}`;
  if (a.row === b.row) {
    const bulge = (a.row === 0 ? -1 : 1) * arcBulge(a.col, b.col);
    return `M${p.x},${p.y} C${p.x},${p.y + bulge} ${q.x},${q.y + bulge} ${q.x},${q.y}`;
  }
  // Through the gap of every row in between, nearest to the straight line.
  const down = b.row > a.row;
  const points = [p];
  for (let r = a.row + (down ? 1 : -1); r !== b.row; r += down ? 1 : -1) {
    const t = (r - a.row) / (b.row - a.row);
    const x = gapNear(rows[r], boxes, p.x + (q.x - p.x) * t);
    const y = boxes.get(rows[r][0]).y;
    points.push({ x, y: down ? y - 8 : y + BOX_H + 8 }, { x, y: down ? y + BOX_H + 8 : y - 8 });
  }
  points.push(q);
  let d = `M${p.x},${p.y}`;
  for (let i = 1; i < points.length; i++) {
    const [s, e] = [points[i - 1], points[i]];
    const my = (s.y + e.y) / 2;
    d += ` C${s.x},${my} ${e.x},${my} ${e.x},${e.y}`;
  }
  return d;
}

/** How far an arc between two boxes of one row bulges out (its control points; the curve reaches 3/4). */
const arcBulge = (c1, c2) => 22 + 6 * Math.abs(c1 - c2);

function gapNear(row, boxes, x) {
  const list = row.map((k) => boxes.get(k));
  const gaps = [list[0].x - GAP_X / 2];
  for (let i = 1; i < list.length; i++) gaps.push(list[i].x - GAP_X / 2);
  gaps.push(list.at(-1).x + list.at(-1).w + GAP_X / 2);
  return gaps.reduce((best, g) => (Math.abs(g - x) < Math.abs(best - x) ? g : best));
}

function markers() {
  const defs = el("defs");
  for (const id of ["arrow", "arrow-taken"]) {
    const m = el("marker", {
      id,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      // In user units: a thicker (taken) line keeps the same arrowhead.
      markerUnits: "userSpaceOnUse",
      markerWidth: 10,
      markerHeight: 10,
      orient: "auto-start-reverse",
      class: id,
    });
    m.append(el("path", { d: "M0,0 L10,5 L0,10 z" }));
    defs.append(m);
  }
  return defs;
}
