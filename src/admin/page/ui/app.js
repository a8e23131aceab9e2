// The admin page: counts by status, a filterable list of sagas with "Retry
// all parked", the dead letters with a Redrive each, and one saga
// (#/sagas/<id>) with its statechart, history and Retry / Cancel. It only
// talks to the admin JSON API, with relative URLs so it also works behind a
// path prefix. Data is always written with textContent, never as HTML.
// When the API answers 401 the page asks for the bearer token, keeps it in
// sessionStorage (gone with the tab) and sends it from then on.
import { renderChart } from "./chart.js";

const STATUSES = ["RUNNING", "NEEDS_ATTENTION", "COMPLETED", "CANCELLED"];
const TOKEN_KEY = "orchestrator-admin-token";
const REFRESH_MS = 5000;
const DEAD_PAGE = 20;
// What one bulk retry may name (the API's cap), listed in pages of the list API's largest.
const BULK_PAGE = 500;
const BULK_PAGES = 2;

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

// Maintained by the database (GET /sagas/counts): one cheap request at any size.
async function refreshCounts() {
  const r = await api("sagas/counts");
  for (const s of STATUSES) {
    $(`[data-count="${s}"]`).textContent = r.ok ? String(r.body[s] ?? 0) : "?";
  }
  $("#retry-parked").disabled = !(r.ok && r.body.NEEDS_ATTENTION > 0);
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

// --- Bulk retry ------------------------------------------------------------

/** Ids of parked sagas, as many as one bulk retry takes. */
async function parkedIds() {
  const ids = [];
  let cursor = null;
  for (let i = 0; i < BULK_PAGES; i++) {
    const q = new URLSearchParams({ status: "NEEDS_ATTENTION", limit: String(BULK_PAGE) });
    if (cursor) q.set("cursor", cursor);
    const r = await api(`sagas?${q}`);
    if (!r.ok) break;
    ids.push(...r.body.items.map((s) => s.order_id));
    cursor = r.body.next_cursor;
    if (!cursor) break;
  }
  return ids;
}

function showResult(out, label, r) {
  out.className = `result ${r.ok ? "ok" : "error"}`;
  out.textContent = `${label} → ${r.status}\n${JSON.stringify(r.body, null, 2)}`;
}

// With a state chosen, every parked saga in that state (the API's bound
// applies); without one, the parked sagas the list API gives, by id.
async function retryParked() {
  const out = $("#bulk-result");
  const state = $("#filter-state").value;
  let body;
  let what;
  if (state) {
    body = { state };
    what = `every parked saga in state ${state}`;
  } else {
    const ids = await parkedIds();
    if (ids.length === 0) {
      out.className = "result";
      out.textContent = "No parked sagas.";
      return;
    }
    body = { order_ids: ids };
    what = `${ids.length} parked saga${ids.length === 1 ? "" : "s"}`;
  }
  if (!confirm(`Retry ${what}?`)) return;
  const r = await api("sagas/retry", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  showResult(out, "POST sagas/retry", r);
  refreshCounts();
  loadList();
}

// --- Dead letters ----------------------------------------------------------

let deadCursor = null;
let deadPaged = false; // "More" was used: leave the list alone on refresh

async function loadDeadLetters({ more = false } = {}) {
  const q = new URLSearchParams({ status: "DEAD", limit: String(DEAD_PAGE) });
  if (more && deadCursor) q.set("cursor", deadCursor);
  const r = await api(`outbox?${q}`);
  const body = $("#dead-letters tbody");
  if (!more) body.replaceChildren();
  deadPaged = more;
  if (!r.ok) {
    body.append(
      h("tr", {}, h("td", { colspan: 7, class: "error" }, r.body?.error ?? `HTTP ${r.status}`)),
    );
    return;
  }
  for (const e of r.body.items) {
    body.append(
      h(
        "tr",
        { "data-event-id": e.id },
        h("td", { class: "mono" }, e.id),
        h("td", {}, h("a", { href: `#/sagas/${e.order_id}`, class: "mono" }, e.order_id)),
        h("td", { class: "mono" }, e.event_type),
        h("td", {}, String(e.attempts)),
        h("td", { class: "error reason" }, e.last_error ?? ""),
        h("td", {}, when(e.created_at)),
        h(
          "td",
          {},
          h("button", { type: "button", onclick: (ev) => redrive(e.id, ev.target) }, "Redrive"),
        ),
      ),
    );
  }
  if (!body.children.length) {
    body.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No dead letters.")));
  }
  deadCursor = r.body.next_cursor;
  $("#dead-more").hidden = !deadCursor;
  const shown = body.querySelectorAll("tr[data-event-id]").length;
  $("#dead-count").textContent = shown ? `${shown}${deadCursor ? "+" : ""}` : "";
}

async function redrive(id, button) {
  button.disabled = true;
  const r = await api(`outbox/${encodeURIComponent(id)}/redrive`, { method: "POST" });
  showResult($("#dead-result"), `POST outbox/${id}/redrive`, r);
  loadDeadLetters();
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
  // The saga's definition says what an operator may do (GET /sagas/:id `actions`).
  for (const action of ["retry", "cancel"]) {
    const verdict = s.actions?.[action];
    $(`#${action}`).disabled = !verdict?.allowed;
    $(`#${action}`).title = verdict && !verdict.allowed ? verdict.reason : "";
  }

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
  $("#dead-letters").hidden = !!m;
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
    loadDeadLetters();
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
  $("#dead-more").addEventListener("click", () => loadDeadLetters({ more: true }));
  $("#retry-parked").addEventListener("click", () => retryParked());
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
  setInterval(() => {
    if (document.visibilityState !== "visible") return;
    refreshCounts();
    if (!shown && !deadPaged) loadDeadLetters();
  }, REFRESH_MS);
}

init();
