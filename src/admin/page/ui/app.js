// The admin page: counts by status, a filterable list of sagas, and one saga
// (#/sagas/<id>) with its statechart, history and Retry / Cancel. It only
// talks to the admin JSON API, with relative URLs so it also works behind a
// path prefix. Data is always written with textContent, never as HTML.
// When the API answers 401 the page asks for the bearer token, keeps it in
// sessionStorage (gone with the tab) and sends it from then on.
import { renderChart } from "./chart.js";

const STATUSES = ["RUNNING", "NEEDS_ATTENTION", "COMPLETED", "CANCELLED"];
const TOKEN_KEY = "orchestrator-admin-token";
// Counting pages through the list API; past this the count says "2000+".
const COUNT_PAGE = 500;
const COUNT_PAGES = 4;
const REFRESH_MS = 5000;

const $ = (sel) => document.querySelector(sel);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  node.append(...children.flat().filter((c) => c !== undefined && c !== null));
  return node;
}

// --- API with the bearer token -------------------------------------------

let tokenPrompt = null;

function askToken(message) {
  tokenPrompt ??= new Promise((resolve) => {
    const dialog = $("#token-dialog");
    $("#token-message").textContent = message;
    const input = $("#token-input");
    input.value = "";
    $("#token-form").onsubmit = (e) => {
      e.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      dialog.close();
      tokenPrompt = null;
      resolve();
    };
    dialog.showModal();
    input.focus();
  });
  return tokenPrompt;
}

async function api(path, init = {}) {
  for (;;) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { accept: "application/json", ...init.headers };
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(path, { ...init, headers });
    if (res.status === 401) {
      await askToken(
        token
          ? "That token was refused. Bearer token:"
          : "The admin API needs its bearer token (ADMIN_TOKEN):",
      );
      continue;
    }
    const body = await res.json().catch(() => null);
    return { status: res.status, ok: res.ok, body };
  }
}

const machines = new Map();
async function machine(id) {
  if (!machines.has(id)) {
    machines.set(id, api(`machines/${encodeURIComponent(id)}`).then((r) => (r.ok ? r.body : null)));
  }
  return await machines.get(id);
}

// --- Counts ----------------------------------------------------------------

async function countStatus(status) {
  let n = 0;
  let cursor = null;
  for (let i = 0; i < COUNT_PAGES; i++) {
    const q = new URLSearchParams({ status, limit: String(COUNT_PAGE) });
    if (cursor) q.set("cursor", cursor);
    const r = await api(`sagas?${q}`);
    if (!r.ok) return "?";
    n += r.body.items.length;
    cursor = r.body.next_cursor;
    if (!cursor) return String(n);
  }
  return `${n}+`;
}

async function refreshCounts() {
  const counts = await Promise.all(STATUSES.map(countStatus));
  STATUSES.forEach((s, i) => ($(`[data-count="${s}"]`).textContent = counts[i]));
  const now = new Date();
  $("#updated").textContent = `Updated ${pad(now.getHours())}:${pad(now.getMinutes())}:${
    pad(now.getSeconds())
  }`;
}

// --- List ------------------------------------------------------------------

let nextCursor = null;

function statusBadge(status) {
  return h("span", { class: `badge ${String(status).toLowerCase()}` }, status);
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Local time as `2025-01-31 14:05:09`, with milliseconds where steps are close together. */
function when(iso, { ms = false } = {}) {
  const d = new Date(iso);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    (ms ? `.${pad(d.getMilliseconds(), 3)}` : "");
  return h("time", { datetime: iso, title: iso }, text);
}

async function loadList({ more = false } = {}) {
  const q = new URLSearchParams({ limit: "50" });
  if ($("#filter-status").value) q.set("status", $("#filter-status").value);
  if ($("#filter-state").value) q.set("state", $("#filter-state").value);
  if (more && nextCursor) q.set("cursor", nextCursor);
  const r = await api(`sagas?${q}`);
  const body = $("#sagas tbody");
  if (!more) body.replaceChildren();
  if (!r.ok) {
    body.append(
      h("tr", {}, h("td", { colspan: 4, class: "error" }, r.body?.error ?? `HTTP ${r.status}`)),
    );
    return;
  }
  for (const s of r.body.items) {
    body.append(
      h(
        "tr",
        { "data-order-id": s.order_id, onclick: () => (location.hash = `#/sagas/${s.order_id}`) },
        h("td", {}, h("a", { href: `#/sagas/${s.order_id}`, class: "mono" }, s.order_id)),
        h("td", {}, statusBadge(s.status)),
        h("td", {}, s.state),
        h("td", {}, when(s.updated_at)),
      ),
    );
  }
  if (!body.children.length) {
    body.append(h("tr", {}, h("td", { colspan: 4, class: "empty" }, "No sagas match.")));
  }
  nextCursor = r.body.next_cursor;
  $("#more").hidden = !nextCursor;
}

async function fillStateFilter() {
  const list = await api("machines");
  const current = list.ok ? list.body.find((m) => m.current && m.version) : null;
  const def = current ? await machine(current.id) : null;
  const select = $("#filter-state");
  for (const key of Object.keys(def?.states ?? {})) select.append(h("option", { value: key }, key));
}

// --- One saga --------------------------------------------------------------

let shown = null; // the order id on screen
let lastStatus = null; // its status when last loaded
let detailTimer = null;

const topOf = (path) => String(path ?? "").split(".")[0];

function statePath(value) {
  if (typeof value === "string") return value;
  const [key, child] = Object.entries(value ?? {})[0] ?? [];
  return key ? [key, statePath(child)].filter(Boolean).join(".") : "";
}

async function loadSaga(id) {
  clearTimeout(detailTimer);
  const r = await api(`sagas/${encodeURIComponent(id)}`);
  if (shown !== id) return; // navigated away meanwhile
  if (!r.ok) {
    $("#saga-facts").replaceChildren(
      h("p", { class: "error" }, r.body?.error ?? `HTTP ${r.status}`),
    );
    $("#chart").replaceChildren();
    $("#history tbody").replaceChildren();
    return;
  }
  const s = r.body;
  // The counts follow the saga on screen when it changes status.
  if (lastStatus && lastStatus !== s.status) refreshCounts();
  lastStatus = s.status;
  const path = statePath(s.snapshot?.value) || s.state;
  const facts = [
    ["Status", statusBadge(s.status)],
    ["State", h("span", { class: "mono" }, path)],
    ["Machine", h("span", { class: "mono" }, s.machine_version)],
    ["Updated", when(s.updated_at)],
    s.last_error ? ["Last error", h("span", { class: "error" }, s.last_error)] : null,
    s.snapshot?.context?.failure
      ? ["Failure", `${s.snapshot.context.failure.step}: ${s.snapshot.context.failure.reason}`]
      : null,
    s.cancel_requested ? ["Cancel", `requested: ${s.cancel_reason ?? ""}`] : null,
    s.retry_requested ? ["Retry", "requested"] : null,
  ].filter(Boolean);
  $("#saga-facts").replaceChildren(...facts.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
  $("#retry").disabled = s.status !== "NEEDS_ATTENTION";
  $("#cancel").disabled = s.status !== "RUNNING";

  const visited = new Set();
  const taken = new Set();
  for (const row of s.history) {
    visited.add(topOf(row.to));
    if (row.from && topOf(row.from) !== topOf(row.to)) {
      taken.add(`${topOf(row.from)}->${topOf(row.to)}`);
    }
  }
  const def = await machine(s.machine_version);
  $("#chart").replaceChildren(
    def
      ? renderChart(def, { current: s.state, visited, taken })
      : h("p", { class: "error" }, `Machine ${s.machine_version} is not available`),
  );
  $("#history tbody").replaceChildren(
    ...s.history.map((row) =>
      h(
        "tr",
        {},
        h("td", {}, when(row.at, { ms: true })),
        h("td", { class: "mono" }, row.event),
        h("td", { class: "mono" }, row.from ?? "—", h("span", { class: "arrow" }, " → "), row.to),
      )
    ),
  );
  $("#history-count").textContent = `${s.history.length} rows`;
  $("#snapshot").textContent = JSON.stringify(s.snapshot, null, 2);
  // A running saga moves on its own: follow it.
  if (s.status === "RUNNING") detailTimer = setTimeout(() => loadSaga(id), 2000);
}

async function act(action) {
  const id = shown;
  const out = $("#action-result");
  out.textContent = `POST ${action}…`;
  const r = await api(`sagas/${encodeURIComponent(id)}/${action}`, { method: "POST" });
  out.className = r.ok ? "ok" : "error";
  out.textContent = `POST ${action} → ${r.status}\n${JSON.stringify(r.body, null, 2)}`;
  setTimeout(() => shown === id && loadSaga(id), 400);
  refreshCounts();
}

// --- Routing ---------------------------------------------------------------

function route() {
  const m = /^#\/sagas\/([0-9a-fA-F-]{36})$/.exec(location.hash);
  $("#list-view").hidden = !!m;
  $("#saga-view").hidden = !m;
  if (m) {
    if (shown !== m[1]) {
      $("#action-result").textContent = "";
      lastStatus = null;
    }
    shown = m[1];
    $("#saga-id").textContent = shown;
    loadSaga(shown);
  } else {
    shown = null;
    clearTimeout(detailTimer);
    loadList();
  }
}

function init() {
  $("#filter-status").append(...STATUSES.map((s) => h("option", { value: s }, s)));
  $("#filters").addEventListener("submit", (e) => {
    e.preventDefault();
    loadList();
  });
  $("#filters").addEventListener("change", () => loadList());
  $("#more").addEventListener("click", () => loadList({ more: true }));
  $("#refresh").addEventListener("click", () => {
    refreshCounts();
    route();
  });
  $("#retry").addEventListener("click", () => act("retry"));
  $("#cancel").addEventListener("click", () => {
    if (confirm(`Cancel saga ${shown}?`)) act("cancel");
  });
  for (const card of document.querySelectorAll(".count")) {
    card.addEventListener("click", (e) => {
      e.preventDefault();
      $("#filter-status").value = card.dataset.status;
      if (location.hash.startsWith("#/sagas/")) location.hash = "#/";
      else loadList();
    });
  }
  globalThis.addEventListener("hashchange", route);
  refreshCounts();
  fillStateFilter();
  route();
  setInterval(() => document.visibilityState === "visible" && refreshCounts(), REFRESH_MS);
}

init();
