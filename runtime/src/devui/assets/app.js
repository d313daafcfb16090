// hookflow dev UI: a small framework-free single-page app over /api/v1.
//
// Rule: data from the server is only ever put into the page as text (textContent, text nodes,
// attribute values through setAttribute), never parsed as HTML.

"use strict";

// ------------------------------------------------------------------------------------------
// DOM helpers

/** Creates an element. `props`: class, text, attrs (setAttribute), on* handlers, dataset, other properties. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "attrs") for (const [a, av] of Object.entries(v)) { if (av !== undefined && av !== null && av !== false) el.setAttribute(a, av === true ? "" : String(av)); }
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "style") Object.assign(el.style, v);
      else el[k] = v;
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replaces an element's children (skipping null, false and undefined, unlike Element.append). */
function fill(el, ...children) {
  return append(clear(el), children);
}

const main = () => document.getElementById("main");

// ------------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

let serverOffset = 0; // server clock minus browser clock (the engine may run on a test clock)
const serverNow = () => Date.now() + serverOffset;

async function api(path, { method = "GET", body, json } = {}) {
  const init = { method, headers: {}, credentials: "same-origin" };
  if (json !== undefined) body = JSON.stringify(json);
  if (body !== undefined) {
    init.body = body;
    init.headers["Content-Type"] = "application/json";
  }
  let res;
  try {
    res = await fetch("/api/v1" + path, init);
  } catch (e) {
    throw new ApiError("The dev server cannot be reached: is it still running?", 0);
  }
  let data = null;
  try { data = await res.json(); } catch (e) { /* not JSON */ }
  if (!res.ok) throw new ApiError((data && data.error) || `${res.status} ${res.statusText}`, res.status);
  if (data && typeof data.now === "number") serverOffset = data.now - Date.now();
  return data;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "" || (Array.isArray(v) && !v.length)) continue;
    u.set(k, Array.isArray(v) ? v.join(",") : String(v));
  }
  const s = u.toString();
  return s ? "?" + s : "";
}

// ------------------------------------------------------------------------------------------
// Formatting

const STATUSES = ["Queued", "Running", "Sleeping", "Waiting", "Completed", "Failed", "Cancelled"];
const TERMINAL = new Set(["Completed", "Failed", "Cancelled"]);

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", fractionalSecondDigits: 3, timeZoneName: "short" });

function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  const today = new Date(serverNow());
  return d.toDateString() === today.toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

function fmtFull(ms) {
  if (ms === null || ms === undefined) return "";
  try { return fullFmt.format(new Date(ms)); } catch (e) { return new Date(ms).toISOString(); }
}

function fmtDur(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(2) : s.toFixed(1)}s`;
  const m = Math.floor(s / 60), rs = Math.floor(s % 60);
  if (m < 60) return `${m}m ${rs}s`;
  const hr = Math.floor(m / 60), rm = m % 60;
  if (hr < 24) return `${hr}h ${rm}m`;
  const d = Math.floor(hr / 24), rh = hr % 24;
  return `${d}d ${rh}h`;
}

function fmtRelative(ms) {
  const diff = ms - serverNow();
  if (Math.abs(diff) < 1000) return "now";
  return diff > 0 ? `in ${fmtDur(diff)}` : `${fmtDur(-diff)} ago`;
}

const agoFmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const AGO_UNITS = [["day", 86_400_000], ["hour", 3_600_000], ["minute", 60_000], ["second", 1000]];

/** "2 minutes ago", in the largest whole unit (seconds under a minute). */
function fmtAgo(ms) {
  const diff = ms - serverNow();
  const [unit, size] = AGO_UNITS.find(([, size]) => Math.abs(diff) >= size) || AGO_UNITS[AGO_UNITS.length - 1];
  return agoFmt.format(Math.trunc(diff / size), unit);
}

/** An absolute time with how long ago it was beside it, kept current by `tickAgo`. */
function timeAgoEl(ms) {
  if (ms === null || ms === undefined) return timeEl(ms);
  return h("span", { class: "time-ago" }, timeEl(ms), h("span", { class: "ago", dataset: { ts: String(ms) }, text: fmtAgo(ms) }));
}

function tickAgo(root) {
  for (const el of root.querySelectorAll(".ago[data-ts]")) el.textContent = fmtAgo(Number(el.dataset.ts));
}

/** A <time> with the full date in its title. */
function timeEl(ms, text) {
  if (ms === null || ms === undefined) return h("span", { class: "muted", text: "—" });
  return h("time", { attrs: { datetime: new Date(ms).toISOString(), title: fmtFull(ms) }, text: text || fmtTime(ms) });
}

/** A run's status; a run sleeping only in a step's retry back-off reads "Retrying". */
function statusBadge(status, retrying = false) {
  const label = retrying && status === "Sleeping" ? "Retrying" : status;
  return h("span", { class: `status s-${label}` }, h("span", { class: "dot", attrs: { "aria-hidden": "true" } }), label);
}

/** What cancelled a run, in words, with a link to the event when an event did. */
function cancelledBy(c) {
  if (!c) return "The run was cancelled.";
  const by = c.by || {};
  const at = c.at ? h("span", {}, " at ", timeEl(c.at, fmtFull(c.at))) : null;
  switch (by.kind) {
    case "event":
      return h("span", { class: "cancelled-by" }, "Cancelled by the event ",
        h("a", { attrs: { href: "/events/" + encodeURIComponent(by.event_id) } }, h("code", { class: "mono", text: by.event_name })),
        " (it matched the function's ", h("code", { text: "cancel_on" }), ")", at, ".");
    case "request":
      return h("span", { class: "cancelled-by" },
        by.via === "ui" ? "Cancelled from the dev UI" : by.via === "api" ? "Cancelled through the REST API" : `Cancelled by a call from ${by.via}`, at, ".");
    case "timeout":
      return h("span", { class: "cancelled-by" }, `Cancelled by its ${by.which} timeout`, at, ".");
    case "singleton":
      return h("span", { class: "cancelled-by" }, "Replaced by a newer singleton run, ",
        h("a", { attrs: { href: "/runs/" + encodeURIComponent(by.run_id) } }, h("code", { class: "mono", text: shortId(by.run_id) })), at, ".");
    default:
      return h("span", { class: "cancelled-by" }, "Cancelled", at, ".");
  }
}

/** Why flow control holds a queued run back, in words (`null` when it does not). */
function heldBackText(held) {
  if (!held) return null;
  if (held.kind === "concurrency") return `Held back by a concurrency limit (${held.bucket})`;
  if (held.kind === "throttle") return `Held back by a throttle until ${fmtFull(held.until)}`;
  return "Held back by flow control";
}

function shortId(id) {
  return id && id.length > 10 ? "…" + id.slice(-8) : id;
}

function mono(text, cls = "") {
  return h("code", { class: "mono " + cls, text });
}

// ------------------------------------------------------------------------------------------
// JSON rendering (as text, with token spans)

const JSON_TOKEN = /("(?:\\.|[^"\\])*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g;
const MAX_RENDER = 400_000;

function jsonText(value) {
  return value === undefined ? "undefined" : JSON.stringify(value, null, 2);
}

function highlight(code, text) {
  let last = 0;
  for (const m of text.matchAll(JSON_TOKEN)) {
    if (m.index > last) code.append(document.createTextNode(text.slice(last, m.index)));
    let cls = "j-num";
    if (m[1] !== undefined) cls = m[2] ? "j-key" : "j-str";
    else if (m[3] !== undefined) cls = m[3] === "null" ? "j-null" : "j-bool";
    code.append(h("span", { class: cls, text: m[1] !== undefined ? m[1] : m[0] }));
    if (m[2]) code.append(document.createTextNode(m[2]));
    last = m.index + m[0].length;
  }
  if (last < text.length) code.append(document.createTextNode(text.slice(last)));
}

/** A read-only code block with a Copy button. */
function codeBlock(value, { label = "Payload", raw = false, id } = {}) {
  const text = raw ? String(value) : jsonText(value);
  const code = h("code");
  if (raw || text.length > MAX_RENDER) code.textContent = text.length > MAX_RENDER ? text.slice(0, MAX_RENDER) : text;
  else highlight(code, text);
  const pre = h("pre", { class: "code-body", attrs: { tabindex: "0", "aria-label": label } }, code);
  const wrap = h("div", { class: "code", attrs: { id } },
    h("div", { class: "code-head" },
      h("span", { class: "code-label", text: label }),
      h("span", { class: "code-actions" },
        h("button", { type: "button", class: "btn small ghost wrap-toggle", attrs: { "aria-pressed": "true" }, text: "Wrap", onclick: (e) => {
          const on = pre.classList.toggle("nowrap");
          e.currentTarget.setAttribute("aria-pressed", on ? "false" : "true");
        } }),
        copyButton(() => text, `Copy ${label.toLowerCase()}`))),
    pre);
  if (text.length > MAX_RENDER) wrap.append(h("p", { class: "muted small", text: `Showing the first ${MAX_RENDER.toLocaleString()} characters of ${text.length.toLocaleString()}; Copy copies everything.` }));
  return wrap;
}

function copyButton(getText, label = "Copy") {
  const btn = h("button", { type: "button", class: "btn small copy", attrs: { "aria-label": label }, text: "Copy" });
  btn.addEventListener("click", async () => {
    const ok = await copyText(getText());
    btn.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => { btn.textContent = "Copy"; }, 1500);
  });
  return btn;
}

async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch (e) { /* fall back below */ }
  // Plain-HTTP pages on another host have no clipboard API.
  const ta = h("textarea", { class: "offscreen", attrs: { readonly: true, "aria-hidden": "true" } });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  ta.remove();
  return ok;
}

/** Validates JSON text; returns { value } or { error } with line/column when the engine can tell. */
function parseJson(text) {
  if (!text.trim()) return { error: "Empty: enter a JSON value, e.g. {}" };
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    let msg = e.message || String(e);
    const pos = /position (\d+)/.exec(msg);
    if (pos) {
      const upto = text.slice(0, Number(pos[1]));
      const line = upto.split("\n").length;
      const col = upto.length - upto.lastIndexOf("\n");
      msg = `${msg.replace(/\s*\(line \d+ column \d+\)/, "")} (line ${line}, column ${col})`;
    }
    return { error: msg };
  }
}

/** A labelled JSON textarea with live validation. Returns { el, textarea, get() }. */
function jsonEditor({ id, label, value, rows = 14, onValidity }) {
  const errId = id + "-error";
  const textarea = h("textarea", { id, class: "json-editor", spellcheck: false, rows, attrs: { "aria-describedby": errId, autocomplete: "off", autocapitalize: "off" } });
  textarea.value = typeof value === "string" ? value : jsonText(value);
  const err = h("p", { id: errId, class: "field-error", attrs: { role: "alert" } });
  const check = () => {
    const r = parseJson(textarea.value);
    err.textContent = r.error ? `Invalid JSON: ${r.error}` : "";
    textarea.setAttribute("aria-invalid", r.error ? "true" : "false");
    if (onValidity) onValidity(!r.error);
    return r;
  };
  textarea.addEventListener("input", check);
  textarea.addEventListener("keydown", (e) => {
    // Tab indents inside the editor; Escape then Tab leaves it (keyboard users are not trapped).
    if (e.key === "Tab" && !e.shiftKey && textarea.dataset.tabIndent === "1") {
      e.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      check();
    } else if (e.key === "Escape") {
      textarea.dataset.tabIndent = "0";
    } else if (e.key !== "Tab") {
      textarea.dataset.tabIndent = "1";
    }
  });
  const el = h("div", { class: "field" },
    h("div", { class: "field-head" },
      h("label", { attrs: { for: id }, text: label }),
      h("button", { type: "button", class: "btn small ghost", text: "Format", onclick: () => {
        const r = check();
        if (!r.error) { textarea.value = jsonText(r.value); check(); }
      } })),
    textarea, err);
  /** Focuses the editor showing its first line (a new value puts the caret, and the view, at the end). */
  const focusStart = () => {
    textarea.focus({ preventScroll: true });
    textarea.setSelectionRange(0, 0);
    textarea.scrollTop = 0;
  };
  return { el, textarea, get: check, check, focusStart };
}

// ------------------------------------------------------------------------------------------
// Toasts

function toast(message, { link, kind = "info" } = {}) {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast ${kind}` }, h("span", { text: message }));
  if (link) t.append(" ", h("a", { attrs: { href: link.href }, text: link.text }));
  t.append(h("button", { type: "button", class: "btn small ghost", attrs: { "aria-label": "Dismiss" }, text: "×", onclick: () => t.remove() }));
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 10000 : 6000);
}

function errorBox(e) {
  return h("div", { class: "error-box", attrs: { role: "alert" } }, h("strong", { text: e.status === 404 ? "Not found" : "Error" }), " ", e.message || String(e));
}

// ------------------------------------------------------------------------------------------
// Live updates (server-sent events)

let currentPage = null;
let live = null;

function connectLive() {
  const indicator = document.getElementById("live");
  const setState = (state, text) => {
    indicator.dataset.state = state;
    indicator.querySelector(".live-text").textContent = text;
  };
  let wasDown = false;
  live = new EventSource("/api/v1/stream");
  live.addEventListener("hello", (e) => {
    try { serverOffset = JSON.parse(e.data).now - Date.now(); } catch (err) { /* ignore */ }
    setState("on", "Live");
    if (wasDown) dispatch({ type: "resync" });
    wasDown = false;
  });
  for (const type of ["run", "event"]) {
    live.addEventListener(type, (e) => {
      let data;
      try { data = JSON.parse(e.data); } catch (err) { return; }
      dispatch({ type, ...data });
    });
  }
  live.addEventListener("resync", () => dispatch({ type: "resync" }));
  live.addEventListener("error", () => {
    wasDown = true;
    setState("off", "Reconnecting");
  });
}

function dispatch(change) {
  if (currentPage && currentPage.onChange) {
    try { currentPage.onChange(change); } catch (e) { console.error(e); }
  }
}

/** Coalesces bursts of changes into one reload. */
function debounce(fn, ms) {
  let t = null;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

// ------------------------------------------------------------------------------------------
// Router

const routes = [
  [/^\/runs\/?$/, runsPage, "runs"],
  [/^\/runs\/([^/]+)\/?$/, runPage, "runs"],
  [/^\/events\/?$/, eventsPage, "events"],
  [/^\/events\/([^/]+)\/?$/, eventPage, "events"],
  [/^\/functions\/?$/, functionsPage, "functions"],
  [/^\/functions\/([^/]+)\/?$/, functionPage, "functions"],
  [/^\/send\/?$/, sendPage, "send"],
  [/^\/apps\/?$/, appsPage, "apps"],
];

function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render();
}

/** Updates the address (filters) without re-rendering the page. */
function setQuery(params) {
  const url = location.pathname + qs(params);
  if (url !== location.pathname + location.search) history.replaceState(null, "", url);
}

function render() {
  if (currentPage && currentPage.dispose) currentPage.dispose();
  currentPage = null;
  if (location.pathname === "/" || location.pathname === "/index.html") {
    history.replaceState(null, "", "/runs" + location.search);
  }
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  let found = null;
  for (const [re, page, nav] of routes) {
    const m = re.exec(path);
    if (m) { found = { page, nav, args: m.slice(1).map(decodeURIComponent) }; break; }
  }
  for (const a of document.querySelectorAll(".nav a")) {
    if (found && a.dataset.nav === found.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = clear(main());
  if (!found) {
    document.title = "Not found · hookflow";
    root.append(h("section", { class: "page" }, h("h1", { text: "Page not found" }), h("p", {}, h("a", { attrs: { href: "/runs" }, text: "Go to runs" }))));
    return;
  }
  currentPage = found.page(root, params, ...found.args) || null;
}

document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/") || url.pathname.startsWith("/v1/")) return;
  e.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search && url.hash) return;
  navigate(url.pathname + url.search);
  main().focus({ preventScroll: true });
  window.scrollTo(0, 0);
});

window.addEventListener("popstate", render);

// ------------------------------------------------------------------------------------------
// Shared page parts

function pageHead(title, { back, actions = [], sub } = {}) {
  return h("div", { class: "page-head" },
    h("div", { class: "page-title" },
      back ? h("a", { class: "back", attrs: { href: back.href }, text: "← " + back.text }) : null,
      h("h1", {}, title),
      sub || null),
    actions.length ? h("div", { class: "actions" }, actions) : null);
}

let functionsCache = null;
async function functionsList(force = false) {
  if (!functionsCache || force) functionsCache = (await api("/functions")).functions;
  return functionsCache;
}

const TIME_RANGES = [["", "Any time"], ["15m", "Last 15 minutes"], ["1h", "Last hour"], ["1d", "Last day"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]];

function select(id, label, options, value, onChange) {
  const sel = h("select", { id, name: id, onchange: () => onChange(sel.value) },
    options.map(([v, t]) => h("option", { value: v, text: t, selected: v === value })));
  return h("div", { class: "field inline" }, h("label", { attrs: { for: id }, text: label }), sel);
}

function searchField(id, label, value, placeholder, onSearch) {
  const input = h("input", { id, type: "search", value: value || "", attrs: { placeholder, autocomplete: "off", spellcheck: "false" } });
  const fire = debounce(() => onSearch(input.value.trim()), 300);
  input.addEventListener("input", fire);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); onSearch(input.value.trim()); } });
  return h("div", { class: "field inline grow" }, h("label", { attrs: { for: id }, text: label }), input);
}

/** A list that pages with a cursor and merges live refreshes of its first page. */
class PagedList {
  constructor({ fetchPage, key = (r) => r.id, renderRow, tbody, footer, emptyText, moreLabel }) {
    Object.assign(this, { fetchPage, key, renderRow, tbody, footer, emptyText, moreLabel });
    this.rows = [];
    this.cursor = null;
    this.loading = false;
    this.seq = 0;
  }

  async reload() {
    const seq = ++this.seq;
    this.renderFooter("Loading…");
    try {
      const { rows, cursor } = await this.fetchPage(null);
      if (seq !== this.seq) return;
      this.rows = rows;
      this.cursor = cursor;
      this.draw(new Set());
    } catch (e) {
      if (seq !== this.seq) return;
      clear(this.tbody);
      fill(this.footer, errorBox(e), h("button", { type: "button", class: "btn", text: "Retry", onclick: () => this.reload() }));
    }
  }

  async more() {
    if (this.loading || !this.cursor) return;
    this.loading = true;
    const seq = this.seq;
    this.renderFooter("Loading…");
    try {
      const { rows, cursor } = await this.fetchPage(this.cursor);
      if (seq !== this.seq) return;
      const have = new Set(this.rows.map(this.key));
      this.rows.push(...rows.filter((r) => !have.has(this.key(r))));
      this.cursor = cursor;
      this.draw(new Set());
    } catch (e) {
      toast(e.message, { kind: "error" });
      this.renderFooter();
    } finally {
      this.loading = false;
    }
  }

  /**
   * Re-fetches the first page and merges it: rows down to the page's last row are replaced,
   * older rows that were loaded with "load more" are kept.
   */
  async refresh(extra) {
    const seq = this.seq;
    try {
      const { rows, cursor } = await this.fetchPage(null);
      if (seq !== this.seq) return;
      const before = new Set(this.rows.map(this.key));
      let merged = rows;
      const edge = rows.length ? this.rows.findIndex((r) => this.key(r) === this.key(rows[rows.length - 1])) : -1;
      if (edge >= 0) {
        const have = new Set(rows.map(this.key));
        merged = rows.concat(this.rows.slice(edge + 1).filter((r) => !have.has(this.key(r))));
      } else {
        this.cursor = cursor;
      }
      if (extra) merged = await extra(merged);
      if (seq !== this.seq) return;
      this.rows = merged;
      this.draw(new Set(rows.map(this.key).filter((k) => !before.has(k))));
    } catch (e) {
      /* the next change tries again */
    }
  }

  draw(fresh) {
    clear(this.tbody);
    for (const r of this.rows) {
      const tr = this.renderRow(r);
      if (fresh.has(this.key(r))) tr.classList.add("fresh");
      this.tbody.append(tr);
    }
    this.renderFooter();
  }

  renderFooter(text) {
    clear(this.footer);
    if (text) { this.footer.append(h("p", { class: "muted", text })); return; }
    if (!this.rows.length) { this.footer.append(h("p", { class: "empty", text: this.emptyText })); return; }
    if (this.cursor) this.footer.append(h("button", { type: "button", class: "btn", text: this.moreLabel, onclick: () => this.more() }));
    else this.footer.append(h("p", { class: "muted small", text: `${this.rows.length} shown · no more` }));
  }
}

function table(headers, cls) {
  const tbody = h("tbody");
  const t = h("table", { class: "table " + (cls || "") },
    h("thead", {}, h("tr", {}, headers.map(([text, c]) => h("th", { attrs: { scope: "col" }, class: c || "", text })))),
    tbody);
  return { table: h("div", { class: "table-wrap" }, t), tbody };
}

// ------------------------------------------------------------------------------------------
// Runs

function runsPage(root, params) {
  document.title = "Runs · hookflow";
  const state = {
    function: params.get("function") || "",
    status: (params.get("status") || "").split(",").filter((s) => STATUSES.includes(s)),
    last: params.get("last") || "",
    q: params.get("q") || "",
  };
  const sync = () => setQuery({ function: state.function, status: state.status, last: state.last, q: state.q });

  const fnSelect = select("f-function", "Function", [["", "All functions"]], state.function, (v) => { state.function = v; sync(); list.reload(); });
  functionsList().then((fns) => {
    const sel = fnSelect.querySelector("select");
    for (const f of fns) sel.append(h("option", { value: f.id, text: f.name === f.id ? f.id : `${f.name} (${f.id})`, selected: f.id === state.function }));
  }).catch(() => {});

  const statusBox = h("fieldset", { class: "status-filter" }, h("legend", { text: "Status" }),
    STATUSES.map((s) => {
      const id = "f-status-" + s;
      const cb = h("input", { type: "checkbox", id, value: s, checked: state.status.includes(s), onchange: () => {
        state.status = STATUSES.filter((x) => statusBox.querySelector("#f-status-" + x).checked);
        sync();
        list.reload();
      } });
      return h("label", { class: `chip s-${s}`, attrs: { for: id } }, cb, h("span", { class: "dot", attrs: { "aria-hidden": "true" } }), s);
    }));

  const filters = h("form", { class: "filters", attrs: { role: "search", "aria-label": "Filter runs" }, onsubmit: (e) => e.preventDefault() },
    searchField("f-q", "Search", state.q, "Text in the payload, output or error…", (v) => { state.q = v; sync(); list.reload(); }),
    fnSelect,
    select("f-last", "Queued", TIME_RANGES, state.last, (v) => { state.last = v; sync(); list.reload(); }),
    statusBox);

  const { table: tableEl, tbody } = table([["Status"], ["Run"], ["Trigger", "hide-sm"], ["Function"], ["Queued", "hide-sm"], ["Started", "hide-md"], ["Ended", "hide-md"], ["Duration"]], "runs-table");
  const footer = h("div", { class: "list-footer" });

  const list = new PagedList({
    tbody, footer, emptyText: "No runs match. Send an event to start one.", moreLabel: "Load more runs",
    fetchPage: async (before) => {
      const data = await api("/runs" + qs({ function: state.function, status: state.status, last: state.last, q: state.q, before, limit: 50 }));
      return { rows: data.runs, cursor: data.next_cursor };
    },
    renderRow: runRow,
  });

  root.append(h("section", { class: "page" },
    pageHead("Runs", { actions: [h("a", { class: "btn primary", attrs: { href: "/send" }, text: "Send event" })] }),
    filters, tableEl, footer));
  list.reload();

  const pendingIds = new Set();
  const refresh = debounce(() => {
    const ids = new Set(pendingIds);
    pendingIds.clear();
    list.refresh(async (merged) => {
      // Rows past the first page that changed are fetched one by one.
      const byId = new Map(merged.map((r) => [r.id, r]));
      const stale = [...ids].filter((id) => byId.has(id) && !merged.slice(0, 50).some((r) => r.id === id));
      for (const id of stale.slice(0, 20)) {
        try { byId.set(id, (await api("/runs/" + encodeURIComponent(id))).run); } catch (e) { /* gone */ }
      }
      return merged.map((r) => byId.get(r.id) || r);
    });
  }, 200);

  const ticker = setInterval(() => { tickDurations(tbody); tickAgo(tbody); }, 1000);
  return {
    onChange(c) {
      if (c.type === "run") { pendingIds.add(c.id); refresh(); }
      if (c.type === "resync") list.reload();
    },
    dispose() { clearInterval(ticker); },
  };
}

/** A runs-table row; `compact` leaves out the function and the start/end columns. */
function runRow(r, { compact = false } = {}) {
  const live = !TERMINAL.has(r.status);
  const tr = h("tr", { dataset: { id: r.id, status: r.status } },
    h("td", { attrs: r.held_back ? { title: heldBackText(r.held_back) } : {} }, statusBadge(r.status, r.retrying),
      r.held_back ? h("span", { class: "pill", text: r.held_back.kind === "throttle" ? "throttled" : "limited" }) : null),
    h("td", {}, h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(r.id), title: r.id, "aria-label": `Run ${r.id} of ${r.function_name}, ${r.retrying ? "Retrying" : r.status}` }, text: shortId(r.id) }),
      r.rerun_of ? h("span", { class: "pill", attrs: { title: "Rerun of " + r.rerun_of }, text: "rerun" }) : null),
    h("td", { class: "hide-sm" }, r.event_name ? h("a", { class: "pill event", attrs: { href: "/events/" + encodeURIComponent(r.event_id) }, text: r.event_name }) : h("span", { class: "muted", text: "—" })),
    compact ? null : h("td", {}, h("a", { attrs: { href: "/functions/" + encodeURIComponent(r.function_id) }, text: r.function_name })),
    h("td", { class: "hide-sm" }, timeAgoEl(r.queued_at)),
    compact ? null : h("td", { class: "hide-md" }, timeEl(r.started_at)),
    compact ? null : h("td", { class: "hide-md" }, timeEl(r.ended_at)),
    h("td", { class: "num" + (live ? " ticking" : ""), dataset: { from: String(r.queued_at) }, text: fmtDur(r.duration_ms) }));
  tr.addEventListener("click", (e) => {
    if (e.target.closest("a, button") || window.getSelection().toString()) return;
    navigate("/runs/" + encodeURIComponent(r.id));
  });
  return tr;
}

function tickDurations(root) {
  for (const td of root.querySelectorAll(".ticking")) {
    td.textContent = fmtDur(serverNow() - Number(td.dataset.from));
  }
}

// ------------------------------------------------------------------------------------------
// Run detail

function runPage(root, params, id) {
  document.title = `Run ${shortId(id)} · hookflow`;
  const section = h("section", { class: "page" }, h("p", { class: "loading", text: "Loading run…" }));
  root.append(section);
  let data = null;
  let selected = params.get("step") || null;
  let seq = 0;

  const load = async () => {
    const my = ++seq;
    try {
      const d = await api("/runs/" + encodeURIComponent(id));
      if (my !== seq) return;
      data = d;
      draw();
    } catch (e) {
      if (my !== seq) return;
      fill(section, pageHead("Run", { back: { href: "/runs", text: "Runs" } }), errorBox(e));
    }
  };

  const select = (hash) => {
    selected = hash;
    const url = new URL(location.href);
    if (hash) url.searchParams.set("step", hash); else url.searchParams.delete("step");
    history.replaceState(null, "", url.pathname + url.search);
    draw();
    const focusTarget = section.querySelector(".detail-panel h2");
    if (focusTarget) focusTarget.focus();
  };

  const draw = () => {
    const { run, events, steps, pending, children } = data;
    const logs = data.logs || [];
    document.title = `${run.function_name} ${shortId(run.id)} · hookflow`;
    const ended = TERMINAL.has(run.status);
    const cancelBtn = h("button", { type: "button", class: "btn danger", text: "Cancel", disabled: ended, attrs: { title: ended ? "Only runs that have not ended can be cancelled" : "Cancel this run" }, onclick: async () => {
      cancelBtn.disabled = true;
      try {
        await api(`/runs/${encodeURIComponent(run.id)}/cancel`, { method: "POST" });
        toast("Run cancelled");
        load();
      } catch (e) { toast(e.message, { kind: "error" }); cancelBtn.disabled = false; }
    } });
    const rerunBtn = h("button", { type: "button", class: "btn", text: "Rerun", disabled: !run.registered, attrs: { title: run.registered ? "Start a new run of this function with the same event" : "The function is not registered in this app" }, onclick: () => rerun(run.id, null) });

    const info = h("div", { class: "card" },
      h("h2", { class: "card-title", text: "Run" }),
      h("dl", { class: "fields" },
        field("Function", h("a", { attrs: { href: "/functions/" + encodeURIComponent(run.function_id) }, text: run.function_name })),
        field("Run ID", h("span", { class: "with-copy" }, mono(run.id), copyButton(() => run.id, "Copy run ID"))),
        field("Trigger", run.event_id ? h("a", { attrs: { href: "/events/" + encodeURIComponent(run.event_id) } }, run.event_name || run.event_id) : "—",
          run.event_count > 1 ? h("span", { class: "pill", text: `batch of ${run.event_count}` }) : null),
        field("Queued", timeEl(run.queued_at, fmtFull(run.queued_at))),
        run.held_back ? field("Waiting", heldBackText(run.held_back)) : null,
        field("Started", timeEl(run.started_at, run.started_at ? fmtFull(run.started_at) : null)),
        field("Ended", timeEl(run.ended_at, run.ended_at ? fmtFull(run.ended_at) : null)),
        field("Duration", h("span", { class: ended ? "" : "ticking", dataset: { from: String(run.queued_at) }, text: fmtDur(run.duration_ms) })),
        run.attempt > 0 ? field("Attempts", `${run.attempt} failed of ${run.max_attempts ?? "?"}`) : null,
        run.rerun_of ? field("Rerun of", h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(run.rerun_of) }, text: run.rerun_of })) : null,
        run.parent_run_id ? field("Invoked by", h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(run.parent_run_id) }, text: run.parent_run_id })) : null,
        run.wake_at && !ended ? field("Wakes", timeEl(run.wake_at, `${fmtFull(run.wake_at)} (${fmtRelative(run.wake_at)})`)) : null));

    const tl = timeline(data, selected, select);
    const panel = selected && steps.find((s) => s.hash === selected)
      ? stepPanel(run, steps.find((s) => s.hash === selected), select, logs, events)
      : runPanel(run, events, children, logs);

    fill(section, 
      pageHead(h("span", {}, run.function_name, " ", statusBadge(run.status, run.retrying)), {
        back: { href: "/runs", text: "Runs" },
        sub: h("p", { class: "muted mono small", text: run.id }),
        actions: [cancelBtn, rerunBtn],
      }),
      h("div", { class: "run-grid" },
        h("div", { class: "run-main" }, info, tl),
        h("div", { class: "run-side" }, panel)));
  };

  const rerun = async (runId, fromStep, data) => {
    try {
      const body = {};
      if (fromStep) body.from_step = fromStep;
      if (data !== undefined) body.data = data;
      const r = await api(`/runs/${encodeURIComponent(runId)}/rerun`, { method: "POST", json: body });
      toast(fromStep ? "Rerun from step queued" : "Rerun queued", { link: { href: "/runs/" + encodeURIComponent(r.run_id), text: "Open it" } });
      navigate("/runs/" + encodeURIComponent(r.run_id));
    } catch (e) { toast(e.message, { kind: "error" }); }
  };
  runPage.rerun = rerun;

  load();
  const reload = debounce(load, 150);
  const ticker = setInterval(() => tickDurations(section), 1000);
  return {
    onChange(c) {
      // A change that lands while the first load is in flight must not be lost: load again.
      if (!data) {
        if (c.type === "resync" || (c.type === "run" && c.id === id)) reload();
        return;
      }
      const related = c.type === "resync" || (c.type === "run" && (c.id === id || data.children.some((k) => k.id === c.id) || (data.run.status !== "Completed" && c.status === "Queued")));
      if (related) reload();
    },
    dispose() { clearInterval(ticker); },
  };
}

function field(label, ...value) {
  return h("div", { class: "field-row" }, h("dt", { text: label }), h("dd", {}, value));
}

const KIND_LABEL = { run: "step.run", sleep: "step.sleep", wait: "step.wait_for_event", send: "step.send_event", invoke: "step.invoke" };

/** The step timeline: one bar per step, scaled between the run's queue time and its end (or now). */
function timeline(data, selected, onSelect) {
  const { run, steps, pending } = data;
  const t0 = run.queued_at;
  const lastActivity = Math.max(run.started_at || t0, ...steps.map((s) => s.ended_at));
  const end = run.ended_at || Math.max(serverNow(), lastActivity);
  const span = Math.max(1, end - t0);
  const pct = (t) => Math.min(100, Math.max(0, ((t - t0) / span) * 100));

  const bar = (from, to, cls, label) => {
    const left = pct(from);
    const width = Math.max(0.6, pct(to) - left);
    return h("div", { class: "track" }, h("div", { class: "bar " + cls, style: { left: left + "%", width: width + "%" }, attrs: { title: label } }));
  };

  const rows = [];
  rows.push(h("li", { class: "tl-row root" },
    h("button", { type: "button", class: "tl-btn", attrs: { "aria-pressed": selected ? "false" : "true" }, onclick: () => onSelect(null) },
      h("span", { class: "tl-name" }, h("strong", { text: "Run" }), " ", statusBadge(run.status, run.retrying)),
      bar(t0, end, "b-run s-" + run.status, `Queued ${fmtFull(t0)}`),
      h("span", { class: "tl-dur", text: fmtDur(end - t0) }))));
  if (run.started_at && run.started_at - t0 > 0) {
    rows.push(h("li", { class: "tl-row sub" },
      h("div", { class: "tl-static" },
        h("span", { class: "tl-name muted", text: "Queue delay" }),
        bar(t0, run.started_at, "b-queue", "Queued → started"),
        h("span", { class: "tl-dur", text: fmtDur(run.started_at - t0) }))));
  }
  for (const s of steps) {
    rows.push(h("li", { class: "tl-row" },
      h("button", { type: "button", class: "tl-btn", attrs: { "aria-pressed": selected === s.hash ? "true" : "false", "aria-label": `Step ${s.name}, ${KIND_LABEL[s.kind] || s.kind}, ${s.status}, ${fmtDur(s.duration_ms)}${s.retries ? `, ${s.retries} ${s.retries === 1 ? "retry" : "retries"}` : ""}` }, dataset: { step: s.hash }, onclick: () => onSelect(s.hash) },
        h("span", { class: "tl-name" },
          h("span", { class: "step-name", text: s.name || s.hash.slice(0, 8) }),
          h("span", { class: "kind", text: KIND_LABEL[s.kind] || s.kind }),
          s.retries ? h("span", { class: "pill warn", text: `${s.retries} ${s.retries === 1 ? "retry" : "retries"}` }) : null,
          s.status === "failed" ? h("span", { class: "pill bad", text: "failed" }) : null,
          s.timed_out ? h("span", { class: "pill warn", text: "timed out" }) : null),
        bar(s.started_at, s.ended_at, `b-${s.kind} ${s.status === "failed" ? "b-failed" : ""}`, `${fmtFull(s.started_at)} → ${fmtFull(s.ended_at)}`),
        h("span", { class: "tl-dur", text: fmtDur(s.duration_ms) })),
      waitedDetail(s)));
  }
  const ended = TERMINAL.has(run.status);
  for (const p of pending) rows.push(pendingRow(p, lastActivity, end, bar, ended ? run.status : null));
  if (run.status === "Queued" && !run.started_at) {
    rows.push(h("li", { class: "tl-row note" }, h("p", { class: "muted", text: "Queued run awaiting start…" })));
  }
  if (run.status === "Failed" && run.error && !steps.some((s) => s.status === "failed")) {
    // Where it failed; what it said is in the Result panel, once.
    rows.push(h("li", { class: "tl-row note" }, h("p", { class: "bad-text", text: "Failed in the function's body, outside any step." })));
  }

  const tick = (ms) => (span < 20 ? `${ms.toFixed(1)}ms` : fmtDur(ms));
  const ticks = [0, 25, 50, 75, 100].map((p) => h("span", { class: "tick", style: { left: p + "%" }, text: tick((span * p) / 100) }));
  return h("div", { class: "card" },
    h("h2", { class: "card-title", text: "Timeline" }),
    h("div", { class: "tl-scale", attrs: { "aria-hidden": "true" } }, h("span"), h("div", { class: "ticks" }, ticks), h("span")),
    h("ol", { class: "timeline", attrs: { "aria-label": "Steps" } }, rows));
}

/** Under a sleep, wait or invoke that ended: how long it waited, for what, and what resumed it. */
function waitedDetail(s) {
  const waited = fmtDur(s.duration_ms);
  const by = s.resumed_by || {};
  let parts;
  switch (s.kind) {
    case "sleep":
      parts = [`slept ${waited}, woke `, timeEl(s.ended_at, fmtFull(s.ended_at))];
      break;
    case "wait": {
      const w = s.waited_for;
      const what = w ? h("span", {}, "for ", h("code", { class: "mono", text: w.event }), w.expr ? h("span", {}, " if ", h("code", { class: "mono", text: w.expr })) : null) : "for an event";
      const resumed = by.kind === "event"
        ? h("span", {}, " · resumed by ", h("a", { class: "mono", attrs: { href: "/events/" + encodeURIComponent(by.event_id) }, text: `${by.event_name} ${shortId(by.event_id)}` }))
        : by.kind === "timeout" || s.timed_out ? " · timed out" : null;
      parts = [`waited ${waited} `, what, resumed];
      break;
    }
    case "invoke": {
      const run = by.kind === "run" ? by.run_id : s.invoked_run_id;
      const child = run ? h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(run) }, text: `run ${shortId(run)}` }) : "a run";
      parts = [`waited ${waited} for `, child, by.kind === "timeout" ? " · timed out" : " · resumed when it ended"];
      break;
    }
    default:
      parts = null;
  }
  const copied = s.copied_from
    ? h("span", { class: "pill", attrs: { title: "Result reused from run " + s.copied_from }, text: "reused" })
    : null;
  if (!parts && !copied) return null;
  return h("p", { class: "pending-detail waited", dataset: { waited: s.kind } }, parts ? h("span", {}, ...parts) : null, copied ? " " : null, copied);
}

/** What a run waits on now; with `endedAs`, what it was waiting on when it ended. */
function pendingRow(p, from, end, bar, endedAs = null) {
  if (endedAs) {
    const what = { sleep: "sleeping", wait: "waiting for an event", retry: "waiting to retry", invoke: "waiting for an invoked run" }[p.kind] || p.kind;
    const label = `${endedAs} while ${what}`;
    const target = p.kind === "wait" ? h("span", {}, " for ", h("code", { class: "mono", text: p.event })) : p.kind === "sleep" ? h("span", {}, " (until ", timeEl(p.until, fmtFull(p.until)), ")") : null;
    return h("li", { class: "tl-row pending-row stopped", dataset: { pending: p.kind, stopped: "true" } },
      h("div", { class: "tl-static" },
        h("span", { class: "tl-name" }, h("span", { class: "step-name", text: p.name }), h("span", { class: "kind", text: label })),
        bar(p.since || from, end, `b-${p.kind === "retry" ? "retry" : p.kind} stopped`, label),
        h("span", { class: "tl-dur", text: fmtDur(end - (p.since || from)) })),
      h("p", { class: "pending-detail" }, label, target));
  }
  let label, cls, detail;
  switch (p.kind) {
    case "sleep":
      label = "Sleeping";
      cls = "b-sleep pending";
      detail = h("span", {}, "until ", timeEl(p.until, fmtFull(p.until)), ` (${fmtRelative(p.until)})`);
      break;
    case "wait":
      label = "Waiting for event";
      cls = "b-wait pending";
      detail = h("span", {}, "for ", h("code", { class: "mono", text: p.event }), p.expr ? h("span", {}, " if ", h("code", { class: "mono", text: p.expr })) : null, " · times out ", timeEl(p.until, fmtRelative(p.until)));
      break;
    case "retry":
      label = "Retrying";
      cls = "b-retry pending";
      detail = h("span", {}, `attempt ${p.failed_attempts}${p.max_attempts ? " of " + p.max_attempts : ""} failed: `, h("strong", { text: p.error.name }), " ", p.error.message, " · next attempt ", timeEl(p.at, fmtRelative(p.at)));
      break;
    case "invoke":
      label = "Invoked";
      cls = "b-invoke pending";
      detail = h("span", {}, p.child_run_id ? h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(p.child_run_id) }, text: `${p.child_function_id || "run"} ${shortId(p.child_run_id)}` }) : "run starting", " · times out ", timeEl(p.until, fmtRelative(p.until)));
      break;
    default:
      label = p.kind;
      cls = "pending";
  }
  return h("li", { class: "tl-row pending-row", dataset: { pending: p.kind } },
    h("div", { class: "tl-static" },
      h("span", { class: "tl-name" }, h("span", { class: "step-name", text: p.name }), h("span", { class: "kind", text: label })),
      bar(p.since || from, end, cls, label),
      h("span", { class: "tl-dur", text: "…" })),
    h("p", { class: "pending-detail" }, detail));
}

/** An error, said once: its name and message, its cause, and only then any other fields. */
function errorView(err, label = "Error") {
  const { name, message, cause, stack, ...rest } = err;
  return h("div", { class: "error-view" },
    h("div", { class: "error-head" },
      h("h3", { class: "bad-text" }, h("span", { text: name || "Error" }), ": ", h("span", { text: message || "" })),
      copyButton(() => jsonText(err), `Copy ${label.toLowerCase()} as JSON`)),
    cause ? h("p", {}, h("strong", { text: "Cause: " }), cause) : null,
    typeof stack === "string" && stack ? h("details", { class: "error-stack" }, h("summary", { text: "Stack" }), h("pre", { class: "code code-body", attrs: { tabindex: "0", "aria-label": "Stack" }, text: stack })) : null,
    Object.keys(rest).length ? codeBlock(rest, { label: `${label} details` }) : null);
}

/** The lines a step (or, with step "", the function body) logged through `tracing`. */
function logView(lines, title) {
  if (!lines.length) return null;
  return h("div", { class: "logs" },
    h("h3", { text: title }),
    h("ol", { class: "log-lines plain", attrs: { "aria-label": title } }, lines.map((l) => h("li", { class: "log-line level-" + l.level.toLowerCase() },
      h("span", { class: "log-level", text: l.level }), " ",
      timeEl(l.ts), " ",
      l.attempt > 0 ? h("span", { class: "pill", text: `attempt ${l.attempt + 1}` }) : null, " ",
      h("span", { class: "log-message", text: l.message })))));
}

function runPanel(run, events, children, logs = []) {
  const panel = h("div", { class: "card detail-panel" }, h("h2", { class: "card-title", attrs: { tabindex: "-1" }, text: "Result" }));
  if (run.status === "Failed" && run.error) panel.append(errorView(run.error, "Run error"));
  else if (run.status === "Completed") panel.append(codeBlock(run.output, { label: "Output" }));
  else if (run.status === "Cancelled") panel.append(h("p", { class: "muted cancel-reason" }, cancelledBy(run.cancellation)));
  else panel.append(h("p", { class: "muted", text: "The run has not ended yet." }));
  if (children && children.length) {
    panel.append(h("h3", { text: "Invoked runs" }), h("ul", { class: "plain" }, children.map((c) => h("li", {},
      h("a", { attrs: { href: "/runs/" + encodeURIComponent(c.id) } }, c.function_name, " ", mono(shortId(c.id))), " ", statusBadge(c.status)))));
  }
  const bodyLogs = logView(logs.filter((l) => !l.step), "Function logs");
  if (bodyLogs) panel.append(bodyLogs);
  for (const e of events) {
    panel.append(h("h3", {}, "Trigger: ", h("a", { attrs: { href: "/events/" + encodeURIComponent(e.id) }, text: e.name })),
      h("p", { class: "muted small" }, "Received ", timeEl(e.received_at), " · ", mono(e.id)),
      codeBlock(e.data, { label: "Event data" }));
  }
  return panel;
}

/** "Rerun from this step" with the trigger's data edited first: the new run gets its own event. */
function editedRerun(run, s, events) {
  const trigger = events && events[0];
  if (!trigger || !run.registered) return null;
  const button = h("button", { type: "submit", class: "btn", text: "Rerun with this input" });
  const editor = jsonEditor({ id: "rerun-input", label: "Input: the triggering event's data (JSON)", value: trigger.data, rows: 10, onValidity: (ok) => { button.disabled = !ok; } });
  const form = h("form", { class: "rerun-edit", onsubmit: async (e) => {
    e.preventDefault();
    const r = editor.check();
    if (r.error) { editor.textarea.focus(); return; }
    button.disabled = true;
    await runPage.rerun(run.id, s.hash, r.value);
    button.disabled = false;
  } }, editor.el, h("div", { class: "actions" }, button));
  return h("details", { class: "rerun-details" }, h("summary", { text: "Edit the input, then rerun from this step" }), form);
}

/** Every attempt of a retried step: when it ran, how long, and what the failed ones said. */
function attemptsView(s) {
  const log = s.attempt_log || [];
  if (log.length < 2) return null;
  return h("div", { class: "attempts" },
    h("h3", { text: `Attempts (${log.length})` }),
    h("ol", { class: "attempt-list plain", attrs: { "aria-label": "Attempts" } }, log.map((a) => h("li", { class: "attempt " + (a.status === "failed" ? "attempt-failed" : "attempt-ok"), dataset: { attempt: String(a.attempt) } },
      h("div", { class: "attempt-head" },
        h("strong", { text: `Attempt ${a.attempt}` }), " ",
        h("span", { class: a.status === "failed" ? "pill bad" : "pill", text: a.status }), " ",
        a.started_at !== null && a.started_at !== undefined ? timeEl(a.started_at, fmtFull(a.started_at)) : h("span", { class: "muted", text: "ended " }),
        a.started_at === null || a.started_at === undefined ? timeEl(a.ended_at, fmtFull(a.ended_at)) : null,
        a.duration_ms !== null && a.duration_ms !== undefined ? h("span", { class: "muted" }, " · ", fmtDur(a.duration_ms)) : null),
      a.error ? h("p", { class: "attempt-error" }, h("strong", { class: "bad-text", text: a.error.name || "Error" }), ": ", h("span", { text: a.error.message || "" })) : null))));
}

function stepPanel(run, s, onSelect, logs = [], events = []) {
  const rerunBtn = h("button", { type: "button", class: "btn primary", text: "Rerun from this step", disabled: !run.registered,
    attrs: { title: "Start a new run that reuses the results of the steps before this one and runs again from here" },
    onclick: () => runPage.rerun(run.id, s.hash) });
  return h("div", { class: "card detail-panel" },
    h("div", { class: "panel-head" },
      h("h2", { class: "card-title", attrs: { tabindex: "-1" } }, s.name || s.hash, " ", h("span", { class: "kind", text: KIND_LABEL[s.kind] || s.kind })),
      h("button", { type: "button", class: "btn small ghost", text: "Back to run", onclick: () => onSelect(null) })),
    h("dl", { class: "fields" },
      field("Status", s.status === "failed" ? h("span", { class: "bad-text", text: "Failed" }) : "Completed"),
      field("Attempts", String(s.attempts), s.retries ? h("span", { class: "pill warn", text: `${s.retries} ${s.retries === 1 ? "retry" : "retries"}` }) : null),
      field("Started", timeEl(s.started_at, fmtFull(s.started_at))),
      field("Ended", timeEl(s.ended_at, fmtFull(s.ended_at))),
      field("Duration", fmtDur(s.duration_ms)),
      field("Step hash", h("span", { class: "with-copy" }, mono(s.hash), copyButton(() => s.hash, "Copy step hash"))),
      s.invoked_run_id ? field("Invoked run", h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(s.invoked_run_id) }, text: s.invoked_run_id })) : null,
      s.timed_out !== null && s.timed_out !== undefined ? field("Timed out", s.timed_out ? "yes" : "no") : null,
      s.waited_for ? field("Waited for", h("code", { class: "mono", text: s.waited_for.event }), s.waited_for.expr ? h("span", {}, " if ", h("code", { class: "mono", text: s.waited_for.expr })) : null) : null,
      s.resumed_by && s.resumed_by.kind === "event" ? field("Resumed by", h("a", { class: "mono", attrs: { href: "/events/" + encodeURIComponent(s.resumed_by.event_id) }, text: `${s.resumed_by.event_name} ${s.resumed_by.event_id}` })) : null,
      s.resumed_by && s.resumed_by.kind === "timeout" ? field("Resumed by", "its timeout") : null,
      s.copied_from ? field("Reused from", h("a", { class: "mono", attrs: { href: "/runs/" + encodeURIComponent(s.copied_from) }, text: s.copied_from })) : null),
    h("div", { class: "actions" }, rerunBtn),
    editedRerun(run, s, events),
    attemptsView(s),
    s.error ? errorView(s.error, "Step error") : codeBlock(s.output, { label: s.kind === "wait" ? "Matched event" : "Step output" }),
    logView(logs.filter((l) => l.step === s.name), "Step logs") || h("p", { class: "muted small", text: "This step logged nothing through tracing." }));
}

// ------------------------------------------------------------------------------------------
// Events

function eventsPage(root, params) {
  document.title = "Events · hookflow";
  const state = { q: params.get("q") || "", internal: params.get("internal") === "true", last: params.get("last") || "" };
  const sync = () => setQuery({ q: state.q, internal: state.internal ? "true" : "", last: state.last });
  const internal = h("input", { type: "checkbox", id: "f-internal", checked: state.internal, onchange: () => { state.internal = internal.checked; sync(); list.reload(); } });
  const filters = h("form", { class: "filters", attrs: { role: "search", "aria-label": "Filter events" }, onsubmit: (e) => e.preventDefault() },
    searchField("f-q", "Search", state.q, "Event name or any text in the payload…", (v) => { state.q = v; sync(); list.reload(); }),
    select("f-last", "Received", TIME_RANGES, state.last, (v) => { state.last = v; sync(); list.reload(); }),
    h("div", { class: "field inline check" }, internal, h("label", { attrs: { for: "f-internal" }, text: "Show internal events" })));
  const { table: tableEl, tbody } = table([["Received"], ["Event"], ["Functions triggered"], ["Payload", "hide-sm"]], "events-table");
  const footer = h("div", { class: "list-footer" });
  const list = new PagedList({
    tbody, footer, emptyText: state.q ? "No event matches this search." : "No events yet. Send one, or point a Clerk webhook here.", moreLabel: "Load more events",
    fetchPage: async (before) => {
      const data = await api("/events" + qs({ q: state.q, internal: state.internal ? "true" : "", last: state.last, before, limit: 50 }));
      return { rows: data.events, cursor: data.next_cursor };
    },
    renderRow: eventRow,
  });
  root.append(h("section", { class: "page" },
    pageHead("Events", { actions: [h("a", { class: "btn primary", attrs: { href: "/send" }, text: "Send event" })] }),
    filters, tableEl, footer));
  list.reload();
  const refresh = debounce(() => list.refresh(), 250);
  return {
    onChange(c) {
      if (c.type === "resync") list.reload();
      else refresh();
    },
  };
}

function runPills(runs, limit = 3) {
  if (!runs.length) return h("span", { class: "muted", text: "none" });
  const shown = runs.slice(0, limit).map((r) => h("a", { class: `pill fn s-${r.status}`, attrs: { href: "/runs/" + encodeURIComponent(r.id), title: `${r.function_name}: ${r.status}` } },
    h("span", { class: "dot", attrs: { "aria-hidden": "true" } }), r.function_name, h("span", { class: "visually-hidden", text: `, ${r.status}` })));
  if (runs.length > limit) shown.push(h("span", { class: "pill", text: `+${runs.length - limit}` }));
  return h("span", { class: "pills" }, shown);
}

function eventRow(e) {
  const tr = h("tr", { dataset: { id: e.id } },
    h("td", {}, timeEl(e.received_at)),
    h("td", {}, h("a", { class: "event-link", attrs: { href: "/events/" + encodeURIComponent(e.id) }, text: e.name }),
      e.source === "replay" ? h("span", { class: "pill", text: "replay" }) : null,
      e.internal ? h("span", { class: "pill", text: "internal" }) : null),
    h("td", {}, runPills(e.runs)),
    h("td", { class: "hide-sm preview" }, h("code", { class: "mono muted", text: e.preview })));
  tr.addEventListener("click", (ev) => {
    if (ev.target.closest("a, button") || window.getSelection().toString()) return;
    navigate("/events/" + encodeURIComponent(e.id));
  });
  return tr;
}

// ------------------------------------------------------------------------------------------
// Event detail

// ------------------------------------------------------------------------------------------
// Send to dev server: one event, from this (deployed) UI to a dev server on this machine

const DEV_SERVER_KEY = "hookflow-dev-server";
const DEV_SERVER_DEFAULT = "http://127.0.0.1:8288";

function devServerUrl() {
  try { return localStorage.getItem(DEV_SERVER_KEY) || DEV_SERVER_DEFAULT; } catch (e) { return DEV_SERVER_DEFAULT; }
}

/** Posts `e` to the dev server's import route, from the browser: `{imported, known}`. */
async function sendToDevServer(target, e) {
  const base = target.trim().replace(/\/+$/, "");
  let url;
  try { url = new URL(base); } catch (err) { throw new ApiError(`${base || "(empty)"} is not an address: give the dev server's, e.g. ${DEV_SERVER_DEFAULT}`, 400); }
  if (!/^https?:$/.test(url.protocol)) throw new ApiError(`${base} is not an http address: give the dev server's, e.g. ${DEV_SERVER_DEFAULT}`, 400);
  try { localStorage.setItem(DEV_SERVER_KEY, base); } catch (err) { /* storage disabled */ }
  const event = { id: e.id, name: e.name, data: e.data, ts: e.ts };
  if (e.user) event.user = e.user;
  let res;
  try {
    res = await fetch(base + "/api/v1/import", {
      method: "POST", mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify([event]),
    });
  } catch (err) {
    // The browser hides why (down, refused preflight, blocked address): say what to check.
    throw new ApiError(`The dev server at ${base} could not be reached, or does not trust this page: run it on this machine with \`hookflow dev --trust-origin ${location.origin}\``, 0);
  }
  let data = null;
  try { data = await res.json(); } catch (err) { /* not JSON */ }
  if (!res.ok) throw new ApiError((data && data.error) || `${res.status} ${res.statusText}`, res.status);
  return { base, ...data };
}

function eventPage(root, params, id) {
  document.title = `Event ${shortId(id)} · hookflow`;
  const section = h("section", { class: "page" }, h("p", { class: "loading", text: "Loading event…" }));
  root.append(section);
  let data = null;
  let editing = false;
  let editor = null;
  let sending = false;
  let runsBox = null;

  const load = async (full = true) => {
    try {
      data = await api("/events/" + encodeURIComponent(id));
      if (full || !runsBox) draw(); else drawRuns();
    } catch (e) {
      fill(section, pageHead("Event", { back: { href: "/events", text: "Events" } }), errorBox(e));
    }
  };

  const replay = async (body) => {
    try {
      const r = await api(`/events/${encodeURIComponent(id)}/replay`, { method: "POST", body });
      toast(body === undefined ? "Event replayed" : "Edited event replayed", { link: { href: "/events/" + encodeURIComponent(r.event_id), text: "Open it" } });
      navigate("/events/" + encodeURIComponent(r.event_id));
    } catch (e) {
      if (editor && e.status === 400) {
        editor.el.querySelector(".field-error").textContent = e.message;
      } else toast(e.message, { kind: "error" });
    }
  };

  const drawRuns = () => {
    const { runs, skipped } = data;
    const cancelled = data.cancelled || [];
    const debounced = data.debounced || [];
    const batched = data.batched || [];
    fill(runsBox, 
      h("h2", { class: "card-title", text: "Functions triggered" }),
      runs.length ? h("ul", { class: "run-list" }, runs.map((r) => h("li", {},
        h("div", {},
          h("a", { attrs: { href: "/runs/" + encodeURIComponent(r.id) } }, h("strong", { text: r.function_name })),
          " ", statusBadge(r.status),
          r.rerun_of ? h("span", { class: "pill", attrs: { title: "Rerun of " + r.rerun_of }, text: "rerun" }) : null),
        h("div", { class: "muted small" }, mono(shortId(r.id)), " · queued ", timeEl(r.queued_at), " · ", fmtDur(r.duration_ms))))) : h("p", { class: "muted", text: "No run was started by this event." }),
      skipped.length ? h("div", {}, h("h3", { text: "Skipped" }), h("ul", { class: "run-list" }, skipped.map((s) => h("li", {},
        h("a", { attrs: { href: "/functions/" + encodeURIComponent(s.function_id) } }, h("strong", { text: s.function_name })),
        " ", h("span", { class: "status s-Skipped", text: "Skipped" }),
        h("p", { class: "muted small skip-reason", text: `skipped by ${s.function_name}: ${s.reason}` }), activeRunLink(s.detail))))) : null,
      debounced.length ? h("div", { class: "debounced" }, h("h3", { text: "Debounced" }), h("ul", { class: "run-list" }, debounced.map((d) => h("li", {},
        h("a", { attrs: { href: "/runs/" + encodeURIComponent(d.run_id) } }, h("strong", { text: d.function_name })),
        " ", statusBadge(d.run_status || "Queued"),
        h("p", { class: "muted small", text: `debounced into ${d.key ? "the window of key " + d.key : "its window"}: run ${shortId(d.run_id)}${d.receives ? " receives this event" : " receives a newer event"}` }))))) : null,
      batched.length ? h("div", { class: "batched" }, h("h3", { text: "Batched" }), h("ul", { class: "run-list" }, batched.map((b) => h("li", {},
        h("a", { attrs: { href: "/runs/" + encodeURIComponent(b.run_id) } }, h("strong", { text: b.function_name })),
        " ", statusBadge(b.run_status || "Queued"),
        h("p", { class: "muted small", text: `batched into ${b.key ? "the batch of key " + b.key : "its batch"}: run ${shortId(b.run_id)}${b.run_status && b.run_status !== "Queued" ? " took it" : " waits for its batch to fill or time out"}` }))))) : null,
      cancelled.length ? h("div", { class: "cancelled-runs" }, h("h3", { text: "Runs this event cancelled" }), h("ul", { class: "run-list" }, cancelled.map((r) => h("li", {},
        h("a", { attrs: { href: "/runs/" + encodeURIComponent(r.id) } }, h("strong", { text: r.function_name })),
        " ", statusBadge(r.status), " ", mono(shortId(r.id)))))) : null);
  };

  const draw = () => {
    const e = data.event;
    document.title = `${e.name} · hookflow`;
    const replayBtn = h("button", { type: "button", class: "btn", text: "Replay", disabled: e.internal,
      attrs: { title: e.internal ? "Internal events cannot be replayed" : "Send this event again under a new id" },
      onclick: async () => { replayBtn.disabled = true; await replay(undefined); replayBtn.disabled = false; } });
    const editBtn = h("button", { type: "button", class: "btn primary", text: "Edit & Replay", disabled: e.internal, attrs: { "aria-expanded": editing ? "true" : "false", "aria-controls": "edit-replay" },
      onclick: () => {
        editing = !editing;
        draw();
        if (!editing) return;
        editor.focusStart();
        section.querySelector("#edit-replay").scrollIntoView({ block: "nearest" });
      } });

    const devBtn = h("button", { type: "button", class: "btn", text: "Send to dev server", disabled: e.internal, attrs: { "aria-expanded": sending ? "true" : "false", "aria-controls": "send-dev",
      title: e.internal ? "Internal events are not copied" : "Copy this event, with its id and time, into a dev server on this machine" },
      onclick: () => {
        sending = !sending;
        draw();
        if (sending) section.querySelector("#dev-server-url").focus();
      } });
    let devPanel = null;
    if (sending) {
      const input = h("input", { id: "dev-server-url", type: "url", value: devServerUrl(), attrs: { autocomplete: "url", spellcheck: "false", required: "" } });
      const problem = h("p", { class: "field-error", attrs: { role: "alert" } });
      const submit = h("button", { type: "submit", class: "btn primary", text: "Send" });
      devPanel = h("form", { id: "send-dev", class: "card edit-panel", onsubmit: async (ev) => {
        ev.preventDefault();
        submit.disabled = true;
        problem.textContent = "";
        try {
          const r = await sendToDevServer(input.value, e);
          const link = { href: `${r.base}/events/${encodeURIComponent(e.id)}`, text: "Open it there" };
          toast((r.imported || []).length ? `Sent to the dev server at ${r.base}` : `The dev server at ${r.base} already has this event`, { link });
          sending = false;
          draw();
        } catch (err) {
          problem.textContent = err.message;
          submit.disabled = false;
        }
      } },
        h("h2", { class: "card-title", text: "Send to dev server" }),
        h("p", { class: "muted small", text: "Copies this event, with its id and time, into a dev server running on this machine, which shows it with the source import and runs its functions. The dev server must trust this page's origin: " },
          h("code", { text: `hookflow dev --trust-origin ${location.origin}` })),
        h("div", { class: "field" }, h("label", { attrs: { for: "dev-server-url" }, text: "Dev server" }), input),
        problem,
        h("div", { class: "actions" }, submit, h("button", { type: "button", class: "btn ghost", text: "Cancel", onclick: () => { sending = false; draw(); } })));
    }

    let editPanel = null;
    if (editing) {
      const sendBtn = h("button", { type: "submit", class: "btn primary", text: "Replay with this data" });
      editor = jsonEditor({ id: "edit-data", label: "Event data (JSON)", value: e.data, rows: 16, onValidity: (ok) => { sendBtn.disabled = !ok; } });
      editPanel = h("form", { id: "edit-replay", class: "card edit-panel", onsubmit: (ev) => {
        ev.preventDefault();
        const r = editor.check();
        if (r.error) { editor.textarea.focus(); return; }
        replay(JSON.stringify(r.value));
      } },
        h("h2", { class: "card-title", text: `Edit & Replay ${e.name}` }),
        h("p", { class: "muted small", text: "Sends a new event with the same name and this data; the original stays as it is." }),
        editor.el,
        h("div", { class: "actions" }, sendBtn, h("button", { type: "button", class: "btn ghost", text: "Cancel", onclick: () => { editing = false; editor = null; draw(); } })));
    } else editor = null;

    runsBox = h("div", { class: "card" });
    fill(section, 
      pageHead(e.name, { back: { href: "/events", text: "Events" }, sub: h("p", { class: "muted mono small", text: e.id }), actions: [replayBtn, devBtn, editBtn] }),
      devPanel,
      editPanel,
      h("div", { class: "run-grid event-grid" },
        h("div", { class: "run-main" },
          h("div", { class: "card" },
            h("h2", { class: "card-title", text: "Event" }),
            h("dl", { class: "fields" },
              field("Event ID", h("span", { class: "with-copy" }, mono(e.id), copyButton(() => e.id, "Copy event ID"))),
              field("Name", e.name),
              field("Source", e.source),
              field("Received", timeEl(e.received_at, fmtFull(e.received_at))),
              field("Occurred (ts)", timeEl(e.ts, fmtFull(e.ts))))),
          codeBlock(e.data, { label: "Payload", id: "payload" }),
          e.user ? h("details", { class: "card" }, h("summary", { text: "user (envelope)" }), codeBlock(e.user, { label: "User" })) : null),
        h("div", { class: "run-side" }, runsBox)));
    drawRuns();
  };

  load();
  const reload = debounce(() => load(false), 200);
  return {
    onChange(c) {
      if (c.type === "run" || c.type === "resync") reload();
    },
  };
}

// ------------------------------------------------------------------------------------------
// Send event

function shellQuote(s) {
  return "'" + s.replace(/'/g, "'\\''") + "'";
}

function sendPage(root, params) {
  document.title = "Send event · hookflow";
  let info = null;
  const nameInput = h("input", { id: "send-name", type: "text", required: true, value: params.get("name") || "", attrs: { list: "event-names", autocomplete: "off", spellcheck: "false", placeholder: "app/user.signup" } });
  const names = h("datalist", { id: "event-names" });
  const sendBtn = h("button", { type: "submit", class: "btn primary", text: "Send event" });
  const editor = jsonEditor({ id: "send-data", label: "Data (JSON)", value: "{}", rows: 18, onValidity: (ok) => { sendBtn.disabled = !ok; updateCurl(); } });
  const result = h("div", { class: "send-result", attrs: { "aria-live": "polite" } });
  const curl = h("code");
  const curlBlock = h("div", { class: "code" },
    h("div", { class: "code-head" }, h("span", { class: "code-label", text: "cURL" }), copyButton(() => curl.textContent, "Copy cURL command")),
    h("pre", { class: "code-body", attrs: { tabindex: "0", "aria-label": "cURL command" } }, curl));

  function updateCurl() {
    const r = parseJson(editor.textarea.value);
    const body = JSON.stringify({ name: nameInput.value || "app/event.name", data: r.error ? {} : r.value });
    const key = info ? info.event_key : "dev";
    curl.textContent = `curl -X POST ${shellQuote(location.origin + "/e/" + encodeURIComponent(key))} \\\n  -H 'Content-Type: application/json' \\\n  -d ${shellQuote(body)}`;
  }
  nameInput.addEventListener("input", updateCurl);

  const template = h("select", { id: "send-template", onchange: async () => {
    const t = template.value;
    if (!t) return;
    try {
      const d = await api("/templates/" + encodeURIComponent(t));
      nameInput.value = d.event_name;
      editor.textarea.value = jsonText(d.data);
      editor.check();
      updateCurl();
    } catch (e) { toast(e.message, { kind: "error" }); }
  } }, h("option", { value: "", text: "Choose a Clerk event…" }));

  const form = h("form", { class: "card send-form", attrs: { "aria-label": "Send an event" }, onsubmit: async (e) => {
    e.preventDefault();
    const r = editor.check();
    if (r.error) { editor.textarea.focus(); return; }
    if (!nameInput.value.trim()) { nameInput.focus(); return; }
    sendBtn.disabled = true;
    try {
      const res = await api("/events", { method: "POST", json: { name: nameInput.value.trim(), data: r.value } });
      const id = res.ids[0];
      fill(result, h("p", { class: "ok-text" }, "Sent ", h("a", { class: "mono", attrs: { href: "/events/" + encodeURIComponent(id) }, text: id })));
      toast("Event sent", { link: { href: "/events/" + encodeURIComponent(id), text: "Open it" } });
    } catch (err) {
      fill(result, errorBox(err));
    } finally { sendBtn.disabled = false; }
  } },
    h("div", { class: "field" }, h("label", { attrs: { for: "send-template" }, text: "Template" }), template,
      h("p", { class: "muted small", text: "Sample payloads for every Clerk webhook event." })),
    h("div", { class: "field" }, h("label", { attrs: { for: "send-name" }, text: "Event name" }), nameInput, names),
    editor.el,
    h("div", { class: "actions" }, sendBtn),
    result);

  root.append(h("section", { class: "page" },
    pageHead("Send event"),
    h("div", { class: "run-grid" },
      h("div", { class: "run-main" }, form),
      h("div", { class: "run-side" },
        h("div", { class: "card" },
          h("h2", { class: "card-title", text: "From a terminal" }),
          h("p", { class: "muted small", text: "The same event through Inngest's event API, POST /e/{key}:" }),
          curlBlock)))));
  updateCurl();

  api("/info").then((i) => {
    info = i;
    for (const n of i.event_names) names.append(h("option", { value: n }));
    updateCurl();
  }).catch(() => {});
  api("/templates").then((d) => {
    const groups = new Map();
    for (const t of d.templates) {
      const family = t.clerk_type.split(".")[0];
      if (!groups.has(family)) groups.set(family, h("optgroup", { label: family }));
      groups.get(family).append(h("option", { value: t.clerk_type, text: t.event_name, attrs: { title: t.doc } }));
    }
    for (const g of groups.values()) template.append(g);
    const want = params.get("template");
    if (want) { template.value = want; template.dispatchEvent(new Event("change")); }
  }).catch((e) => toast(e.message, { kind: "error" }));
  return null;
}

// ------------------------------------------------------------------------------------------
// Functions

function triggerPills(triggers) {
  return h("span", { class: "pills" }, triggers.map((t) => t.type === "event"
    ? h("span", { class: "pill event" }, t.event, t.if ? h("span", { class: "muted" }, " if ", h("code", { text: t.if })) : null)
    : h("span", { class: "pill cron" }, "cron ", h("code", { text: t.cron }),
      t.next === null || t.next === undefined ? null
        : h("span", { class: "muted next-tick" }, " · next ", timeEl(t.next), ` (${fmtRelative(t.next)})`))));
}

/** For a singleton skip: a link to the run that was active and made the event skip. */
function activeRunLink(detail) {
  if (!detail || detail.kind !== "singleton" || typeof detail.run_id !== "string") return null;
  return h("p", { class: "muted small" }, "active run: ",
    h("a", { class: "active-run", attrs: { href: "/runs/" + encodeURIComponent(detail.run_id) } }, mono(shortId(detail.run_id))));
}

function countChips(fnId, counts, skipped) {
  const nonzero = STATUSES.filter((s) => counts[s]);
  const skips = skipped ? h("a", { class: "pill fn s-Skipped skip-count", attrs: { href: "/functions/" + encodeURIComponent(fnId) + "#skips", title: "Events this function skipped (rate limit, idempotency, singleton)" } },
    h("span", { class: "dot", attrs: { "aria-hidden": "true" } }), `${skipped} skipped`) : null;
  if (!nonzero.length && !skips) return h("span", { class: "muted", text: "no runs" });
  return h("span", { class: "pills" }, nonzero.map((s) => h("a", { class: `pill fn s-${s}`, attrs: { href: "/runs" + qs({ function: fnId, status: s }) } },
    h("span", { class: "dot", attrs: { "aria-hidden": "true" } }), `${counts[s]} ${s}`)), skips);
}

/** The Functions page of an app without functions: where functions come from. */
// ------------------------------------------------------------------------------------------
// Apps: the Inngest SDK apps `hookflow dev -u URL` syncs and runs (GET /api/v1/apps)

function noApps(unsupported) {
  return h("div", { class: "empty no-apps" },
    h("p", { text: unsupported ? "This server does not run Inngest SDK apps." : "No app has synced yet." }),
    h("p", { class: "muted small" }, "Apps written with an Inngest SDK sync here when the dev server is started with ",
      h("code", { text: "hookflow dev -u http://localhost:3000/api/inngest" }),
      " (or when they register at ", h("code", { text: "POST /fn/register" }), "), and their functions then run through this engine."));
}

function appsPage(root) {
  document.title = "Apps · hookflow";
  const { table: tableEl, tbody } = table([["App"], ["SDK"], ["Functions", "hide-sm"], ["Last sync"], ["", "actions-col"]], "apps-table");
  const status = h("div", { class: "list-footer" }, h("p", { class: "muted", text: "Loading…" }));
  root.append(h("section", { class: "page" }, pageHead("Apps", { sub: h("p", { class: "muted small", text: "Inngest SDK apps synced with this dev server" }) }), tableEl, status));
  const row = (app) => {
    const resync = h("button", { type: "button", class: "btn small", text: "Resync", attrs: { "aria-label": `Resync ${app.name || app.url}` }, onclick: async () => {
      resync.disabled = true;
      try {
        await api("/apps/" + encodeURIComponent(app.id) + "/resync", { method: "POST" });
        toast(`${app.name || app.url} synced`);
      } catch (e) { toast(e.message, { kind: "error" }); }
      resync.disabled = false;
      load();
    } });
    return h("tr", { attrs: { "data-app": app.id } },
      h("td", {}, h("strong", { text: app.name || "(not synced yet)" }), h("div", { class: "muted mono small app-url", text: app.url })),
      h("td", {}, app.sdk ? h("span", { class: "mono small app-sdk", text: `${app.sdk_language} ${app.sdk_version}` }) : h("span", { class: "muted", text: "—" })),
      h("td", { class: "hide-sm" }, app.functions.length
        ? h("ul", { class: "opts app-functions" }, app.functions.map((f) => h("li", {}, h("a", { class: "mono small", attrs: { href: "/functions/" + encodeURIComponent(f) }, text: f }))))
        : h("span", { class: "muted", text: "none" })),
      h("td", {}, h("time", { attrs: { datetime: new Date(app.synced_at).toISOString(), title: fmtFull(app.synced_at) }, text: fmtTime(app.synced_at) }),
        app.error
          ? h("div", { class: "small app-error", attrs: { role: "note" }, text: app.error })
          : h("div", { class: "muted small app-ok", text: "synced" })),
      h("td", { class: "actions-col" }, resync));
  };
  const load = async () => {
    try {
      const { apps } = await api("/apps");
      clear(tbody);
      for (const app of apps) tbody.append(row(app));
      fill(status, apps.length ? h("p", { class: "muted small", text: `${apps.length} app${apps.length === 1 ? "" : "s"}` }) : noApps(false));
    } catch (e) {
      clear(tbody);
      fill(status, e.status === 404 ? noApps(true) : errorBox(e));
    }
  };
  load();
  // Apps sync on their own (the poll, their own registration): keep the list current.
  const ticker = setInterval(load, 5000);
  return { dispose() { clearInterval(ticker); } };
}

function noFunctions() {
  return h("div", { class: "empty no-functions" },
    h("p", { text: "No functions are registered in this app." }),
    h("p", { class: "muted small" }, "Functions are the ", h("code", { text: "#[inngest_fn]" }),
      " async fns compiled into the binary that serves this page. Run your app with ", h("code", { text: "App::dev_ui()" }),
      " and its functions are listed here. ", h("code", { text: "hookflow dev" }),
      " on its own has none: it shows the runs and events in its store."));
}

function functionsPage(root, params) {
  document.title = "Functions · hookflow";
  const filter = params.get("query") || "";
  const { table: tableEl, tbody } = table([["Function"], ["Triggers"], ["Options", "hide-md"], ["Recent runs", "hide-sm"], ["", "actions-col"]], "functions-table");
  const status = h("div", { class: "list-footer" }, h("p", { class: "muted", text: "Loading…" }));
  let fns = [];
  const draw = (q) => {
    clear(tbody);
    const needle = q.toLowerCase();
    const shown = fns.filter((f) => !needle || f.id.toLowerCase().includes(needle) || f.name.toLowerCase().includes(needle));
    for (const f of shown) {
      tbody.append(h("tr", {},
        h("td", {}, h("a", { attrs: { href: "/functions/" + encodeURIComponent(f.id) } }, h("strong", { text: f.name })),
          f.name !== f.id ? h("div", { class: "muted mono small", text: f.id }) : null,
          f.failure_handler_of ? h("div", { class: "muted small", text: `on_failure handler of ${f.failure_handler_of}` }) : null),
        h("td", {}, triggerPills(f.triggers)),
        h("td", { class: "hide-md" }, h("ul", { class: "opts" }, f.options.map(([k, v]) => h("li", {}, h("code", { text: k }), " ", h("span", { class: "muted", text: v }))))),
        h("td", { class: "hide-sm" }, countChips(f.id, f.counts, f.skipped)),
        h("td", { class: "actions-col" }, h("a", { class: "btn small", attrs: { href: "/functions/" + encodeURIComponent(f.id) + "#invoke", "aria-label": `Invoke ${f.name}` }, text: "Invoke" }))));
    }
    if (shown.length) fill(status, h("p", { class: "muted small", text: `${shown.length} of ${fns.length} functions` }));
    else if (fns.length) fill(status, h("p", { class: "empty", text: "No function matches." }));
    else fill(status, noFunctions());
  };
  const search = searchField("f-fn", "Search", filter, "Function name or id…", (v) => { setQuery({ query: v }); draw(v); });
  root.append(h("section", { class: "page" }, pageHead("Functions"),
    h("form", { class: "filters", attrs: { role: "search", "aria-label": "Filter functions" }, onsubmit: (e) => e.preventDefault() }, search),
    tableEl, status));
  const load = async () => {
    try {
      fns = await functionsList(true);
      draw(search.querySelector("input").value.trim());
    } catch (e) { fill(status, errorBox(e)); }
  };
  load();
  const reload = debounce(load, 1000);
  return { onChange(c) { if (c.type === "run" || c.type === "resync" || (c.type === "event" && c.name === "inngest/function.skipped")) reload(); } };
}

function functionPage(root, params, id) {
  document.title = `${id} · hookflow`;
  const section = h("section", { class: "page" }, h("p", { class: "loading", text: "Loading function…" }));
  root.append(section);
  let editor = null;
  let runsBody = null;

  const load = async (full) => {
    let d;
    try { d = await api("/functions/" + encodeURIComponent(id)); } catch (e) {
      fill(section, pageHead("Function", { back: { href: "/functions", text: "Functions" } }), errorBox(e));
      return;
    }
    if (!full && runsBody) { drawRuns(d); return; }
    const f = d.function;
    document.title = `${f.name} · hookflow`;
    const invokeBtn = h("button", { type: "submit", class: "btn primary", text: "Invoke" });
    editor = jsonEditor({ id: "invoke-data", label: "Test payload: the event's data (JSON)", value: d.sample, rows: 14, onValidity: (ok) => { invokeBtn.disabled = !ok; } });
    const invokeForm = h("form", { id: "invoke", class: "card", onsubmit: async (e) => {
      e.preventDefault();
      const r = editor.check();
      if (r.error) { editor.textarea.focus(); return; }
      invokeBtn.disabled = true;
      try {
        const res = await api(`/functions/${encodeURIComponent(f.id)}/invoke`, { method: "POST", body: JSON.stringify(r.value) });
        toast(`Invoked ${f.id}`, { link: { href: "/events/" + encodeURIComponent(res.event_id), text: "Event" } });
        navigate(res.run_id ? "/runs/" + encodeURIComponent(res.run_id) : "/events/" + encodeURIComponent(res.event_id));
      } catch (err) {
        editor.el.querySelector(".field-error").textContent = err.message;
      } finally { invokeBtn.disabled = false; }
    } },
      h("h2", { class: "card-title", text: "Invoke" }),
      h("p", { class: "muted small" }, "Runs this function alone, with an ", h("code", { text: "inngest/function.invoked" }), " event carrying this data."),
      editor.el,
      h("div", { class: "actions" }, invokeBtn));

    const runsTable = table([["Status"], ["Run"], ["Trigger", "hide-sm"], ["Queued", "hide-sm"], ["Duration"]], "runs-table compact");
    runsBody = runsTable.tbody;
    fill(section, 
      pageHead(f.name, { back: { href: "/functions", text: "Functions" }, sub: h("p", { class: "muted mono small", text: f.id }),
        actions: [h("a", { class: "btn", attrs: { href: "/runs" + qs({ function: f.id }) }, text: "All runs" })] }),
      h("div", { class: "run-grid" },
        h("div", { class: "run-main" },
          h("div", { class: "card" },
            h("h2", { class: "card-title", text: "Configuration" }),
            h("dl", { class: "fields" },
              field("Triggers", triggerPills(f.triggers)),
              f.options.map(([k, v]) => field(k, h("code", { text: v }))),
              f.failure_handler_of ? field("Handles failures of", h("a", { attrs: { href: "/functions/" + encodeURIComponent(f.failure_handler_of) }, text: f.failure_handler_of })) : null,
              field("Defined at", h("code", { class: "small", text: f.source })))),
          h("div", { class: "card" },
            h("h2", { class: "card-title", text: "Recent runs" }),
            h("div", { class: "counts" }),
            runsTable.table),
          h("div", { class: "card skips", attrs: { id: "skips" } })),
        h("div", { class: "run-side" }, invokeForm)));
    drawRuns(d);
    if (location.hash === "#invoke") editor.focusStart();
  };

  const drawRuns = (d) => {
    clear(runsBody);
    for (const r of d.runs) runsBody.append(runRow(r, { compact: true }));
    if (!d.runs.length) runsBody.append(h("tr", {}, h("td", { attrs: { colspan: "5" }, class: "empty", text: "No runs yet." })));
    const counts = section.querySelector(".counts");
    if (counts) fill(counts, countChips(d.function.id, d.function.counts, d.function.skipped));
    const skips = section.querySelector(".skips");
    if (skips) fill(skips, h("h2", { class: "card-title", text: `Skipped events (${d.function.skipped})` }),
      (d.skips || []).length ? h("ul", { class: "run-list" }, d.skips.map((s) => h("li", {},
        h("a", { attrs: { href: "/events/" + encodeURIComponent(s.event_id) } }, mono(shortId(s.event_id))),
        " ", h("span", { class: "status s-Skipped", text: "Skipped" }), " ", timeEl(s.at),
        h("p", { class: "muted small skip-reason", text: s.reason }), activeRunLink(s.detail)))) : h("p", { class: "muted", text: "No event was skipped." }));
  };

  load(true);
  const reload = debounce(() => load(false), 300);
  return { onChange(c) { if ((c.type === "run" && c.function_id === id) || c.type === "resync" || (c.type === "event" && c.name === "inngest/function.skipped")) reload(); } };
}

// ------------------------------------------------------------------------------------------
// Theme

const THEMES = ["system", "light", "dark"];

function applyTheme(t) {
  const btn = document.getElementById("theme");
  if (t === "system") document.documentElement.removeAttribute("data-theme");
  else document.documentElement.setAttribute("data-theme", t);
  btn.querySelector(".theme-text").textContent = t[0].toUpperCase() + t.slice(1);
  btn.setAttribute("aria-label", `Colour theme: ${t}. Change theme`);
}

function initTheme() {
  let t = "system";
  try { t = localStorage.getItem("hookflow-theme") || "system"; } catch (e) { /* storage disabled */ }
  if (!THEMES.includes(t)) t = "system";
  applyTheme(t);
  document.getElementById("theme").addEventListener("click", () => {
    t = THEMES[(THEMES.indexOf(t) + 1) % THEMES.length];
    try { localStorage.setItem("hookflow-theme", t); } catch (e) { /* storage disabled */ }
    applyTheme(t);
  });
}

// ------------------------------------------------------------------------------------------

initTheme();
connectLive();
render();
