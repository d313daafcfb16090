// hookflow dev UI, end to end in headless Chromium.
//
//   HOOKFLOW_URL=http://127.0.0.1:8288 CLERK_WEBHOOK_SIGNING_SECRET=whsec_... node run.mjs
//
// Optional: HOOKFLOW_UI_TOKEN (when the dev UI has a token), HOOKFLOW_WEBHOOK_PATH (default
// /webhooks/clerk), CHROMIUM (default /usr/bin/chromium), HOOKFLOW_SLEEPING_FUNCTION (default
// onboarding-emails), HOOKFLOW_FAILING_FUNCTION (default delete-user-from-clerk: fails on a
// `clerk/user.deleted` without an id), HOOKFLOW_EMPTY_URL (a second dev UI, of an app without
// functions; its test is skipped without it), HOOKFLOW_STORY_URL (a dev UI of an app with the
// `story` function of examples/tests/browser.rs: retries, a sleep, waits and an invoke on the
// real clock; its test is skipped without it), HOOKFLOW_APPS_URL (a dev server as `hookflow dev -u`
// builds it, with one Inngest SDK app synced, `browser-sdk-app`, and one that is down; its
// Apps page test is skipped without it), HOOKFLOW_DEPLOYED_URL and HOOKFLOW_LOCAL_URL (a
// "deployed" dev UI and a local dev server that trusts its origin, for "Send to dev server";
// skipped without them). Signs a Clerk `user.created` webhook itself (Svix scheme), posts it, then
// drives the UI: live runs, run detail and steps, payload search, replay, edit & replay, rerun
// from a step, cancel a sleeping run, escaping, themes and phone width. Screenshots go to
// ./artifacts/. Prints `N passed, N failed` last and exits non-zero on any failure.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = (process.env.HOOKFLOW_URL || "http://127.0.0.1:8288").replace(/\/+$/, "");
const SECRET = process.env.CLERK_WEBHOOK_SIGNING_SECRET || "";
const TOKEN = process.env.HOOKFLOW_UI_TOKEN || "";
const WEBHOOK_PATH = process.env.HOOKFLOW_WEBHOOK_PATH || "/webhooks/clerk";
const SLEEPER = process.env.HOOKFLOW_SLEEPING_FUNCTION || "onboarding-emails";
const FAILER = process.env.HOOKFLOW_FAILING_FUNCTION || "delete-user-from-clerk";
const EMPTY_URL = (process.env.HOOKFLOW_EMPTY_URL || "").replace(/\/+$/, "");
const STORY_URL = (process.env.HOOKFLOW_STORY_URL || "").replace(/\/+$/, "");
const APPS_URL = (process.env.HOOKFLOW_APPS_URL || "").replace(/\/+$/, "");
const DEPLOYED_URL = (process.env.HOOKFLOW_DEPLOYED_URL || "").replace(/\/+$/, "");
const LOCAL_URL = (process.env.HOOKFLOW_LOCAL_URL || "").replace(/\/+$/, "");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ARTIFACTS = path.join(here, "artifacts");
const TIMEOUT = 15_000;

const results = [];
let page;
let browser;

function log(...args) {
  console.log(...args);
}

/** A test that needs a setting the run did not get: said, and counted neither way. */
function skip(name, why) {
  log(`skip ${name}: ${why}`);
}

async function test(name, fn) {
  const started = Date.now();
  try {
    await fn();
    results.push({ name, ok: true });
    log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push({ name, ok: false, error: e });
    log(`FAIL ${name}: ${e && e.stack ? e.stack.split("\n").slice(0, 4).join("\n     ") : e}`);
    if (page) {
      const file = path.join(ARTIFACTS, `fail-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    }
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function apiHeaders() {
  return TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};
}

async function api(p, init = {}, base = BASE) {
  const res = await fetch(base + p, { ...init, headers: { ...apiHeaders(), ...(init.headers || {}) } });
  const text = await res.text();
  let body = null;
  try { body = JSON.parse(text); } catch { body = text; }
  if (!res.ok) throw new Error(`${init.method || "GET"} ${p} → ${res.status}: ${text.slice(0, 300)}`);
  return body;
}

/** Builds a Clerk `user.created` envelope for a fresh user, from the repository's sample. */
function userCreatedBody(userId, firstName, email) {
  const sample = path.join(here, "..", "..", "runtime", "fixtures", "clerk", "user.created.json");
  const envelope = JSON.parse(fs.readFileSync(sample, "utf8"));
  const now = Date.now();
  const emailId = "idn_" + crypto.randomBytes(10).toString("hex");
  Object.assign(envelope.data, {
    id: userId,
    first_name: firstName,
    last_name: "Tester",
    primary_email_address_id: emailId,
    email_addresses: [{
      id: emailId, object: "email_address", email_address: email,
      verification: { status: "verified", strategy: "email_code", attempts: null, expire_at: null },
      linked_to: [], reserved: false, created_at: now, updated_at: now,
    }],
    created_at: now, updated_at: now, last_sign_in_at: null, last_active_at: null,
  });
  envelope.timestamp = now;
  return JSON.stringify(envelope);
}

/** Signs and posts a webhook as Svix does: HMAC-SHA256 over `${id}.${ts}.${body}`, base64. */
async function postClerkWebhook(body) {
  assert(SECRET.startsWith("whsec_"), "CLERK_WEBHOOK_SIGNING_SECRET must be set to the server's whsec_ secret");
  const key = Buffer.from(SECRET.slice("whsec_".length), "base64");
  const msgId = "msg_" + crypto.randomBytes(12).toString("hex");
  const ts = Math.floor(Date.now() / 1000).toString();
  const signature = crypto.createHmac("sha256", key).update(`${msgId}.${ts}.${body}`).digest("base64");
  const res = await fetch(BASE + WEBHOOK_PATH, {
    method: "POST",
    headers: { "Content-Type": "application/json", "svix-id": msgId, "svix-timestamp": ts, "svix-signature": `v1,${signature}` },
    body,
  });
  const text = await res.text();
  assert(res.ok, `webhook answered ${res.status}: ${text.slice(0, 300)}`);
  return msgId;
}

/** Sends one event through the dev UI's API of the app at `base`; its id. */
async function sendTo(base, name, data) {
  return (await api("/api/v1/events", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name, data }),
  }, base)).ids[0];
}

async function goto(p) {
  await page.goto(BASE + p, { waitUntil: "domcontentloaded" });
}

async function waitLive() {
  await page.locator('#live[data-state="on"]').waitFor({ timeout: TIMEOUT });
}

/** The row of the runs table triggered by `eventId` for `fn`. */
function runRow(eventId, fn) {
  return page.locator("table.runs-table tbody tr")
    .filter({ has: page.locator(`a[href="/events/${eventId}"]`) })
    .filter({ has: page.locator(`a[href="/functions/${fn}"]`) });
}

async function runsOf(eventId) {
  return (await api(`/api/v1/runs?event=${encodeURIComponent(eventId)}`)).runs;
}

async function waitFor(what, check, timeout = TIMEOUT) {
  const until = Date.now() + timeout;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function shot(name) {
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: false });
}

/** Labels, names and overflow: what keyboard and screen-reader users need at least. */
async function auditPage(label, width) {
  const problems = await page.evaluate((w) => {
    const out = [];
    const name = (el) => (el.getAttribute("aria-label") || el.textContent || el.getAttribute("title") || "").trim();
    for (const el of document.querySelectorAll("button, a[href]")) {
      if (el.offsetParent !== null && !name(el) && !el.querySelector("img[alt]:not([alt=''])")) out.push(`unnamed ${el.tagName.toLowerCase()}: ${el.outerHTML.slice(0, 80)}`);
    }
    for (const el of document.querySelectorAll("input, select, textarea")) {
      if (el.type === "hidden" || el.classList.contains("offscreen")) continue;
      const labelled = (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) || el.closest("label") || el.getAttribute("aria-label");
      if (!labelled) out.push(`unlabelled ${el.tagName.toLowerCase()}#${el.id}`);
    }
    const walker = document.createTreeWalker(document.getElementById("main"), NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (n.parentElement.closest("pre, code, textarea")) continue;
      const t = n.textContent.trim();
      if (t === "null" || t === "undefined" || t.includes("[object Object]") || t === "NaN") out.push(`stray text "${t}" in <${n.parentElement.tagName.toLowerCase()}>`);
    }
    if (w && document.documentElement.scrollWidth > w + 1) out.push(`horizontal overflow: ${document.documentElement.scrollWidth}px > ${w}px`);
    return out;
  }, width || 0);
  assert(!problems.length, `${label}: ${problems.join("; ")}`);
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
  page = await context.newPage();
  const consoleErrors = [];
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });

  const suffix = crypto.randomBytes(5).toString("hex");
  const userId = `user_browser_${suffix}`;
  const email = `browser.${suffix}@example.com`;
  let eventId = null;
  let replayId = null;
  let editedId = null;

  await test("the UI opens and connects to the live stream", async () => {
    await goto(TOKEN ? `/runs?token=${encodeURIComponent(TOKEN)}` : "/runs");
    await page.locator("h1", { hasText: "Runs" }).waitFor({ timeout: TIMEOUT });
    await waitLive();
    assert(new URL(page.url()).pathname === "/runs", `landed on ${page.url()}`);
    assert(!new URL(page.url()).searchParams.has("token"), "the token left the address");
  });

  await test("runs of a signed Clerk webhook appear live", async () => {
    await page.evaluate(() => { window.__noReload = true; });
    eventId = await postClerkWebhook(userCreatedBody(userId, "Browser", email));
    for (const fn of ["sync-user-from-clerk", "send-welcome-email", SLEEPER]) {
      await runRow(eventId, fn).first().waitFor({ timeout: TIMEOUT });
    }
    assert(await page.evaluate(() => window.__noReload === true), "the page reloaded instead of updating live");
    await runRow(eventId, SLEEPER).locator(".status", { hasText: "Sleeping" }).waitFor({ timeout: TIMEOUT });
    await runRow(eventId, "sync-user-from-clerk").locator(".status", { hasText: "Completed" }).waitFor({ timeout: TIMEOUT });
    await shot("runs-light.png");
    await auditPage("runs page", 1280);
  });

  await test("the Runs page shows how long ago each run was queued, beside the time", async () => {
    const cell = runRow(eventId, "sync-user-from-clerk").locator(".time-ago");
    await cell.waitFor({ timeout: TIMEOUT });
    const absolute = await cell.locator("time").textContent();
    assert(/\d{1,2}:\d{2}/.test(absolute), `the absolute time is shown (${absolute})`);
    const ago = cell.locator(".ago");
    const first = await ago.textContent();
    assert(/^(now|\d+ seconds? ago)$/.test(first), `a fresh run reads "N seconds ago" (${first})`);
    // It keeps time: under a minute old, the text changes within a few seconds.
    await waitFor("the relative time to tick", async () => (await ago.textContent()) !== first, 5000);
  });

  await test("filters live in the address", async () => {
    await page.locator("#f-status-Sleeping").check();
    await page.waitForURL(/status=Sleeping/, { timeout: TIMEOUT });
    await runRow(eventId, SLEEPER).waitFor({ timeout: TIMEOUT });
    await waitFor("only sleeping runs", async () => (await page.locator("table.runs-table tbody tr").evaluateAll(
      (rows) => rows.length > 0 && rows.every((r) => r.dataset.status === "Sleeping"))));
    await page.reload({ waitUntil: "domcontentloaded" });
    assert(await page.locator("#f-status-Sleeping").isChecked(), "the status filter survives a reload");
    await page.locator("#f-status-Sleeping").uncheck();
    await page.waitForURL((u) => !u.search.includes("status="), { timeout: TIMEOUT });
  });

  await test("a sleeping run shows what it waits for", async () => {
    await runRow(eventId, SLEEPER).locator("td a.mono").first().click();
    await page.waitForURL(/\/runs\/[^/?]+/, { timeout: TIMEOUT });
    await page.locator('.pending-row[data-pending="sleep"]', { hasText: "until" }).waitFor({ timeout: TIMEOUT });
    assert(await page.locator(".page-head .status", { hasText: "Sleeping" }).count() === 1, "the run is shown as sleeping");
    const trigger = page.locator(".detail-panel .code-body").last();
    assert((await trigger.textContent()).includes(userId), "the trigger payload is shown");
    await shot("run-detail-light.png");
    await auditPage("run page", 1280);
  });

  await test("a run's steps open with their output", async () => {
    await page.goBack();
    await runRow(eventId, "sync-user-from-clerk").locator("td a.mono").first().click();
    await page.waitForURL(/\/runs\/[^/?]+/, { timeout: TIMEOUT });
    const steps = page.locator(".timeline .tl-btn[data-step]");
    await steps.first().waitFor({ timeout: TIMEOUT });
    await steps.first().click();
    await page.locator(".detail-panel", { hasText: "Step hash" }).waitFor({ timeout: TIMEOUT });
    await page.locator(".detail-panel .code-label", { hasText: /Step (output|error)/ }).waitFor({ timeout: TIMEOUT });
    await page.locator("button", { hasText: "Rerun from this step" }).waitFor({ timeout: TIMEOUT });
    assert(new URL(page.url()).searchParams.has("step"), "the selected step is in the address");
    await shot("step-detail-light.png");
    await page.locator("button", { hasText: "Back to run" }).click();
    await page.locator(".detail-panel h2", { hasText: "Result" }).waitFor({ timeout: TIMEOUT });
  });

  await test("a step's tracing log lines show beside it", async () => {
    await goto("/runs");
    await runRow(eventId, "send-welcome-email").locator("td a.mono").first().click();
    await page.waitForURL(/\/runs\/[^/?]+/, { timeout: TIMEOUT });
    const step = page.locator(".timeline .tl-btn[data-step]").first();
    await step.waitFor({ timeout: TIMEOUT });
    await step.click();
    const line = page.locator(".detail-panel .log-lines .log-line", { hasText: "sending the welcome email" });
    await line.waitFor({ timeout: TIMEOUT });
    assert((await line.textContent()).includes("INFO"), "the level is shown");
    await shot("step-logs-light.png");
  });

  await test("events can be found by a payload field", async () => {
    await page.locator('.nav a[href="/events"]').click();
    await page.locator("h1", { hasText: "Events" }).waitFor({ timeout: TIMEOUT });
    await page.locator("#f-q").fill(userId);
    await page.waitForURL(new RegExp(`q=${userId}`), { timeout: TIMEOUT });
    await page.locator(`table.events-table a[href="/events/${eventId}"]`).waitFor({ timeout: TIMEOUT });
    await waitFor("only matching events", async () => (await page.locator("table.events-table tbody tr").count()) === 1);
    const pills = await page.locator(`table.events-table tr[data-id="${eventId}"] .pill.fn`).count();
    assert(pills >= 3, `the row lists the functions it triggered (${pills})`);
    await shot("events-search-light.png");
    await page.locator("#f-q").fill(email.split("@")[0]);
    await page.locator(`table.events-table a[href="/events/${eventId}"]`).waitFor({ timeout: TIMEOUT });
    await auditPage("events page", 1280);
  });

  await test("event detail shows payload and runs, and Replay sends it again", async () => {
    await page.locator(`table.events-table a[href="/events/${eventId}"]`).click();
    await page.waitForURL(new RegExp(`/events/${eventId}$`), { timeout: TIMEOUT });
    await page.locator("#payload .code-body").waitFor({ timeout: TIMEOUT });
    assert((await page.locator("#payload .code-body").textContent()).includes(userId), "payload shown");
    assert(await page.locator("#payload button.copy").count() === 1, "payload has a copy button");
    await waitFor("three runs listed", async () => (await page.locator(".run-list li").count()) >= 3);
    await shot("event-detail-light.png");
    await page.locator("button", { hasText: /^Replay$/ }).click();
    await page.waitForURL((u) => /\/events\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith(eventId), { timeout: TIMEOUT });
    replayId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    await page.locator(".fields", { hasText: "replay" }).waitFor({ timeout: TIMEOUT });
    await waitFor("the replay's runs", async () => (await page.locator(".run-list li").count()) >= 3);
    const runs = await runsOf(replayId);
    assert(runs.length >= 3, `replay started ${runs.length} runs`);
  });

  await test("Edit & Replay validates JSON and sends the edited data", async () => {
    await goto(`/events/${eventId}`);
    await page.locator("button", { hasText: "Edit & Replay" }).click();
    const editor = page.locator("#edit-data");
    await editor.waitFor({ timeout: TIMEOUT });
    // It opens at the top: the box in view, the editor focused on the payload's first line.
    const opened = await page.evaluate(() => {
      const box = document.querySelector("#edit-replay").getBoundingClientRect();
      const ta = document.querySelector("#edit-data");
      return { boxTop: box.top, header: document.querySelector("header.top").getBoundingClientRect().bottom, height: innerHeight,
        focused: document.activeElement === ta, caret: ta.selectionStart, scrollTop: ta.scrollTop, overflows: ta.scrollHeight > ta.clientHeight };
    });
    assert(opened.boxTop >= opened.header && opened.boxTop < opened.height / 2, `the box is in view at the top (${JSON.stringify(opened)})`);
    assert(opened.focused && opened.caret === 0, `the editor has the focus, at its start (${JSON.stringify(opened)})`);
    assert(opened.overflows && opened.scrollTop === 0, `a long payload shows its first line (${JSON.stringify(opened)})`);
    const original = JSON.parse(await editor.inputValue());
    await editor.fill('{"id": "broken",');
    await page.locator("#edit-data-error", { hasText: "Invalid JSON" }).waitFor({ timeout: TIMEOUT });
    assert(await page.locator("button", { hasText: "Replay with this data" }).isDisabled(), "sending is disabled while invalid");
    await shot("edit-replay-invalid-light.png");
    original.first_name = "Edited";
    await editor.fill(JSON.stringify(original, null, 2));
    await page.locator("#edit-data-error").filter({ hasText: /^$/ }).waitFor({ timeout: TIMEOUT });
    await page.locator("button", { hasText: "Replay with this data" }).click();
    await page.waitForURL((u) => /\/events\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith(eventId), { timeout: TIMEOUT });
    editedId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    await page.locator("#payload .code-body", { hasText: '"Edited"' }).waitFor({ timeout: TIMEOUT });
    const stored = await api(`/api/v1/events/${encodeURIComponent(editedId)}`);
    assert(stored.event.data.first_name === "Edited" && stored.event.data.id === userId, "the edited data was sent");
  });

  await test("rerun from a step starts a new run", async () => {
    const runs = await runsOf(eventId);
    const done = runs.find((r) => r.function_id === "sync-user-from-clerk");
    assert(done, "sync-user-from-clerk ran");
    await goto(`/runs/${done.id}`);
    const steps = page.locator(".timeline .tl-btn[data-step]");
    await steps.first().waitFor({ timeout: TIMEOUT });
    await steps.last().click();
    await page.locator("button", { hasText: "Rerun from this step" }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/runs/") && !u.pathname.endsWith(done.id), { timeout: TIMEOUT });
    const newId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    try {
      await page.locator(".fields", { hasText: "Rerun of" }).waitFor({ timeout: TIMEOUT });
      await page.locator(".page-head .status", { hasText: "Completed" }).waitFor({ timeout: TIMEOUT });
    } catch (e) {
      const detail = await api(`/api/v1/runs/${encodeURIComponent(newId)}`).catch((err) => String(err));
      const head = await page.locator(".page-head").textContent().catch(() => "?");
      throw new Error(`${e.message}; page head: ${head}; run: ${JSON.stringify(detail).slice(0, 600)}`);
    }
    const detail = await api(`/api/v1/runs/${encodeURIComponent(newId)}`);
    assert(detail.run.rerun_of === done.id, "the new run is a rerun of the old one");
  });

  await test("rerun from a step with an edited input", async () => {
    const runs = await runsOf(eventId);
    const done = runs.find((r) => r.function_id === "sync-user-from-clerk");
    await goto(`/runs/${done.id}`);
    const steps = page.locator(".timeline .tl-btn[data-step]");
    await steps.first().waitFor({ timeout: TIMEOUT });
    await steps.last().click();
    await page.locator("summary", { hasText: "Edit the input" }).click();
    const editor = page.locator("#rerun-input");
    const data = JSON.parse(await editor.inputValue());
    data.first_name = "Edited";
    await editor.fill(JSON.stringify(data, null, 2));
    await page.locator("button", { hasText: "Rerun with this input" }).click();
    await page.waitForURL((u) => u.pathname.startsWith("/runs/") && !u.pathname.endsWith(done.id), { timeout: TIMEOUT });
    const newId = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    await waitFor("the edited rerun completes", async () => (await api(`/api/v1/runs/${encodeURIComponent(newId)}`)).run.status === "Completed");
    const detail = await api(`/api/v1/runs/${encodeURIComponent(newId)}`);
    assert(detail.run.rerun_of === done.id, "it is a rerun");
    assert(detail.events[0].data.first_name === "Edited", "the new run got the edited input");
    assert(detail.events[0].id !== eventId, "under a new event");
  });

  await test("a sleeping run can be cancelled", async () => {
    const runs = await runsOf(replayId || eventId);
    const sleeping = runs.find((r) => r.function_id === SLEEPER && r.status === "Sleeping");
    assert(sleeping, `a sleeping ${SLEEPER} run (${runs.map((r) => `${r.function_id}:${r.status}`).join(", ")})`);
    await goto(`/runs/${sleeping.id}`);
    const cancel = page.locator(".page-head button", { hasText: "Cancel" });
    await cancel.waitFor({ timeout: TIMEOUT });
    await waitLive();
    assert(await cancel.isEnabled(), "Cancel is enabled while the run sleeps");
    await cancel.click();
    await page.locator(".page-head .status", { hasText: "Cancelled" }).waitFor({ timeout: TIMEOUT });
    assert(await page.locator(".page-head button", { hasText: "Cancel" }).isDisabled(), "Cancel is disabled once ended");
    const detail = await api(`/api/v1/runs/${encodeURIComponent(sleeping.id)}`);
    assert(detail.run.status === "Cancelled", "the store agrees");
    await page.locator(".cancel-reason", { hasText: "Cancelled from the dev UI" }).waitFor({ timeout: TIMEOUT });
    await page.locator('.pending-row.stopped[data-pending="sleep"]', { hasText: "Cancelled while sleeping" }).waitFor({ timeout: TIMEOUT });
  });

  await test("a failed run's error is said once", async () => {
    const sent = await api("/api/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "clerk/user.deleted", data: { object: "user", deleted: true } }),
    });
    const failed = await waitFor(`a failed ${FAILER} run`, async () =>
      (await runsOf(sent.ids[0])).find((r) => r.function_id === FAILER && r.status === "Failed"));
    const { run } = await api(`/api/v1/runs/${encodeURIComponent(failed.id)}`);
    assert(run.error && run.error.message, "the run has an error");
    await goto(`/runs/${encodeURIComponent(failed.id)}`);
    await page.locator(".detail-panel .error-view").waitFor({ timeout: TIMEOUT });
    const text = await page.locator("#main").innerText();
    const times = text.split(run.error.message).length - 1;
    assert(times === 1, `"${run.error.message}" appears ${times} times on the run page`);
    assert((await page.locator(".detail-panel .error-view h3").textContent()).includes(run.error.name), "with its name");
    await page.locator(".timeline .tl-row.note", { hasText: "outside any step" }).waitFor({ timeout: TIMEOUT });
    assert(await page.locator(".error-view button.copy").count() === 1, "the error can be copied");
    await shot("run-failed-light.png");
    await auditPage("failed run page", 1280);
  });

  await test("payloads are shown as text, never as HTML", async () => {
    const evil = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`;
    const sent = await api("/api/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: `test/xss<b>${suffix}</b>`, data: { html: evil } }),
    });
    const id = sent.ids[0];
    await goto(`/events/${encodeURIComponent(id)}`);
    await page.locator("#payload .code-body").waitFor({ timeout: TIMEOUT });
    assert((await page.locator("#payload .code-body").textContent()).includes("<img src=x"), "the markup is shown literally");
    assert((await page.locator("h1").textContent()).includes("<b>"), "the name is shown literally");
    await goto(`/events?q=${encodeURIComponent("onerror")}`);
    await page.locator(`tr[data-id="${id}"]`).waitFor({ timeout: TIMEOUT });
    assert(await page.evaluate(() => window.__xss === undefined), "no injected code ran");
    assert(await page.locator("#main img").count() === 0, "no injected element");
  });

  await test("Send event page: Clerk templates and a cURL line", async () => {
    await goto("/send");
    await page.locator("#send-template optgroup").first().waitFor({ state: "attached", timeout: TIMEOUT });
    const options = await page.locator("#send-template option").count();
    assert(options >= 47, `every Clerk event type is a template (${options - 1})`);
    await page.locator("#send-template").selectOption("user.deleted");
    await waitFor("the template", async () => (await page.locator("#send-name").inputValue()) === "clerk/user.deleted");
    assert((await page.locator("#send-data").inputValue()).includes('"deleted"'), "the sample payload is loaded");
    const curl = await page.locator(".run-side .code-body").textContent();
    assert(curl.includes("/e/") && curl.includes("clerk/user.deleted"), "the cURL line follows the form");
    await page.locator("#send-data").fill("{ nope");
    await page.locator("#send-data-error", { hasText: "Invalid JSON" }).waitFor({ timeout: TIMEOUT });
    await page.locator("#send-name").fill(`test/sent.${suffix}`);
    await page.locator("#send-data").fill(`{"from": "the send page", "n": 1}`);
    await page.locator("button", { hasText: "Send event" }).last().click();
    await page.locator(".send-result a").waitFor({ timeout: TIMEOUT });
    await shot("send-light.png");
    await auditPage("send page", 1280);
  });

  await test("functions list and detail", async () => {
    await goto("/functions");
    for (const fn of ["sync-user-from-clerk", "send-welcome-email", SLEEPER]) {
      await page.locator(`table.functions-table a[href="/functions/${fn}"]`).first().waitFor({ timeout: TIMEOUT });
    }
    await shot("functions-light.png");
    await auditPage("functions page", 1280);
    await page.locator(`table.functions-table a[href="/functions/${SLEEPER}"]`).first().click();
    await page.locator("#invoke-data").waitFor({ timeout: TIMEOUT });
    assert((await page.locator(".fields").first().textContent()).includes("clerk/user.created"), "triggers shown");
  });

  const emptyTest = "an app without functions says where functions come from";
  if (!EMPTY_URL) skip(emptyTest, "HOOKFLOW_EMPTY_URL is not set");
  else await test(emptyTest, async () => {
    await page.goto(EMPTY_URL + "/functions", { waitUntil: "domcontentloaded" });
    const empty = page.locator(".no-functions");
    await empty.waitFor({ timeout: TIMEOUT });
    const text = await empty.textContent();
    for (const words of ["No functions are registered", "#[inngest_fn]", "App::dev_ui()", "hookflow dev"]) {
      assert(text.includes(words), `the empty page mentions ${words}: ${text}`);
    }
    await shot("functions-empty-light.png");
    await auditPage("empty functions page", 1280);
  });

  await test("dark theme (system preference and toggle)", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    const runs = await runsOf(eventId);
    const sleeper = runs.find((r) => r.function_id === SLEEPER);
    await goto(`/runs/${sleeper.id}`);
    await page.locator('.pending-row[data-pending="sleep"]').waitFor({ timeout: TIMEOUT });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert(bg === "rgb(14, 17, 22)", `dark background from prefers-color-scheme (${bg})`);
    await shot("run-detail-dark.png");
    await goto("/runs");
    await runRow(eventId, SLEEPER).waitFor({ timeout: TIMEOUT });
    await shot("runs-dark.png");
    // The toggle overrides the system: System → Light → Dark.
    await page.locator("#theme").click();
    assert(await page.evaluate(() => document.documentElement.dataset.theme) === "light", "toggle to light");
    const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert(light !== bg, "light overrides the dark system preference");
    await page.locator("#theme").click();
    assert(await page.evaluate(() => document.documentElement.dataset.theme) === "dark", "toggle to dark");
    await page.reload({ waitUntil: "domcontentloaded" });
    assert(await page.evaluate(() => document.documentElement.dataset.theme) === "dark", "the choice is remembered");
    await page.locator("#theme").click();
    await page.emulateMedia({ colorScheme: "light" });
  });

  await test("keyboard: skip link, focusable controls, Enter opens a run", async () => {
    await goto("/runs");
    await runRow(eventId, SLEEPER).waitFor({ timeout: TIMEOUT });
    await page.keyboard.press("Tab");
    assert(await page.evaluate(() => document.activeElement.classList.contains("skip")), "the first Tab reaches the skip link");
    const link = runRow(eventId, "sync-user-from-clerk").locator("td a.mono").first();
    await link.focus();
    const outline = await link.evaluate((el) => getComputedStyle(el).outlineStyle);
    assert(outline !== "none", "focused links show a focus ring");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/runs\/[^/?]+/, { timeout: TIMEOUT });
    const step = page.locator(".timeline .tl-btn[data-step]").first();
    await step.focus();
    await page.keyboard.press("Enter");
    await page.locator(".detail-panel", { hasText: "Step hash" }).waitFor({ timeout: TIMEOUT });
  });

  await test("phone width (390 px)", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await goto("/runs");
    await runRow(eventId, SLEEPER).waitFor({ timeout: TIMEOUT });
    await auditPage("runs at 390px", 390);
    await shot("runs-phone.png");
    const runs = await runsOf(eventId);
    await goto(`/runs/${runs.find((r) => r.function_id === SLEEPER).id}`);
    await page.locator(".timeline .tl-btn").first().waitFor({ timeout: TIMEOUT });
    await auditPage("run at 390px", 390);
    await shot("run-detail-phone.png");
    await page.screenshot({ path: path.join(ARTIFACTS, "run-detail-phone-full.png"), fullPage: true });
    await goto(`/events/${eventId}`);
    await page.locator("#payload").waitFor({ timeout: TIMEOUT });
    await auditPage("event at 390px", 390);
    await shot("event-detail-phone.png");
    await goto("/events");
    await page.locator("table.events-table tbody tr").first().waitFor({ timeout: TIMEOUT });
    await auditPage("events at 390px", 390);
    await shot("events-phone.png");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await test("a run an event cancelled says which, and the event lists it", async () => {
    const runs = await runsOf(eventId);
    const sleeper = runs.find((r) => r.function_id === SLEEPER && r.status === "Sleeping");
    assert(sleeper, `the first ${SLEEPER} run still sleeps (${runs.map((r) => `${r.function_id}:${r.status}`).join(", ")})`);
    const sent = await api("/api/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: "clerk/user.deleted", data: { id: userId, object: "user", deleted: true } }),
    });
    const deletedId = sent.ids[0];
    await waitFor("the run to be cancelled", async () => (await api(`/api/v1/runs/${encodeURIComponent(sleeper.id)}`)).run.status === "Cancelled");
    await goto(`/runs/${sleeper.id}`);
    const reason = page.locator(".cancel-reason", { hasText: "Cancelled by the event" });
    await reason.waitFor({ timeout: TIMEOUT });
    assert(await reason.locator(`a[href="/events/${deletedId}"]`).count() === 1, "the reason links to the event");
    await page.locator('.pending-row.stopped[data-pending="sleep"]', { hasText: "wait-3-days" }).waitFor({ timeout: TIMEOUT });
    await shot("run-cancelled-by-event-light.png");
    await auditPage("cancelled run page", 1280);
    await reason.locator("a").click();
    await page.waitForURL(new RegExp(`/events/${deletedId}$`), { timeout: TIMEOUT });
    await page.locator(`.cancelled-runs a[href="/runs/${sleeper.id}"]`).waitFor({ timeout: TIMEOUT });
    await auditPage("cancelling event page", 1280);
  });

  const storyTest = "the timeline shows retries, sleeps, waits and invokes as they happened";
  if (!STORY_URL) skip(storyTest, "HOOKFLOW_STORY_URL is not set");
  else await test(storyTest, async () => {
    const storyApi = (p, init) => api(p, init, STORY_URL);
    const send = (name, data) => sendTo(STORY_URL, name, data);
    const id = `story-${suffix}`;
    const started = await send("app/story", { id });
    const run = await waitFor("the story run", async () => (await storyApi(`/api/v1/runs?event=${encodeURIComponent(started)}&function=story`)).runs[0]);
    await page.goto(`${STORY_URL}/runs/${encodeURIComponent(run.id)}`, { waitUntil: "domcontentloaded" });
    // In a retry's back-off the run reads Retrying, not Sleeping.
    await page.locator(".page-head .status", { hasText: "Retrying" }).waitFor({ timeout: TIMEOUT });
    await page.locator('.pending-row[data-pending="retry"]', { hasText: "attempt 1 timed out" }).waitFor({ timeout: TIMEOUT });
    await waitFor("the wait for the approval", async () => (await storyApi(`/api/v1/runs/${encodeURIComponent(run.id)}`)).run.status === "Waiting", 30_000);
    const approved = await send("app/story.approved", { id });
    await page.locator(".page-head .status", { hasText: "Completed" }).waitFor({ timeout: 30_000 });

    const row = (name) => page.locator(".timeline .tl-row").filter({ has: page.locator(".step-name", { hasText: new RegExp(`^${name}$`) }) });
    const sleep = row("cool-down");
    await sleep.locator('.waited[data-waited="sleep"]', { hasText: "slept" }).waitFor({ timeout: TIMEOUT });
    const width = await sleep.locator(".bar").evaluate((el) => parseFloat(el.style.width));
    assert(width > 5, `the sleep is a bar over the time it slept, not a blip (${width}%)`);
    const approval = row("approval").locator('.waited[data-waited="wait"]');
    await approval.waitFor({ timeout: TIMEOUT });
    assert((await approval.textContent()).includes("app/story.approved"), "the wait says what it waited for");
    assert(await approval.locator(`a[href="/events/${approved}"]`).count() === 1, "and links the event that resumed it");
    await row("reminder").locator('.waited[data-waited="wait"]', { hasText: "timed out" }).waitFor({ timeout: TIMEOUT });
    const invoked = row("child").locator('.waited[data-waited="invoke"] a[href^="/runs/"]');
    await invoked.waitFor({ timeout: TIMEOUT });
    await shot("run-story-light.png");
    await auditPage("story run page", 1280);

    await row("fetch").locator(".tl-btn").click();
    const attempts = page.locator(".detail-panel .attempt-list li");
    await attempts.first().waitFor({ timeout: TIMEOUT });
    assert(await attempts.count() === 3, `three attempts listed (${await attempts.count()})`);
    for (const n of [1, 2]) {
      const text = await page.locator(`.detail-panel .attempt-failed[data-attempt="${n}"]`).textContent();
      assert(text.includes(`attempt ${n} timed out`), `attempt ${n} says what it failed with: ${text}`);
      assert(/\d+ms|\d+(\.\d+)?s/.test(text), `attempt ${n} has its duration: ${text}`);
    }
    await shot("step-attempts-light.png");
    await auditPage("step attempts", 1280);
  });

  const flowTest = "a held-back run, a cron schedule and a skipped event say so";
  if (!STORY_URL) skip(flowTest, "HOOKFLOW_STORY_URL is not set");
  else await test(flowTest, async () => {
    const storyApi = (p, init) => api(p, init, STORY_URL);
    const send = (name, data) => sendTo(STORY_URL, name, data);
    await send("app/story.gate", { n: 1 });
    const second = await send("app/story.gate", { n: 2 });
    const held = await waitFor("the second gate run", async () => {
      const run = (await storyApi(`/api/v1/runs?event=${encodeURIComponent(second)}&function=story-gate`)).runs[0];
      return run && run.held_back ? run : null;
    });
    await page.goto(`${STORY_URL}/runs?function=story-gate`, { waitUntil: "domcontentloaded" });
    const pill = page.locator(`tr[data-id="${held.id}"]`).locator(".pill", { hasText: "limited" });
    await pill.waitFor({ timeout: TIMEOUT });
    const title = await pill.locator("xpath=..").getAttribute("title");
    assert(title && title.includes("Held back by a concurrency limit"), `the pill says why: ${title}`);
    await page.goto(`${STORY_URL}/runs/${encodeURIComponent(held.id)}`, { waitUntil: "domcontentloaded" });
    await page.locator(".page-head .status", { hasText: "Queued" }).waitFor({ timeout: TIMEOUT });
    await page.getByText("Held back by a concurrency limit").first().waitFor({ timeout: TIMEOUT });

    await page.goto(`${STORY_URL}/functions`, { waitUntil: "domcontentloaded" });
    const next = page.locator(".pill.cron .next-tick").first();
    await next.waitFor({ timeout: TIMEOUT });
    const text = await next.textContent();
    assert(/next/.test(text) && /in \d+/.test(text), `the cron pill shows the next tick: ${text}`);
    const when = await next.locator("time").getAttribute("datetime");
    assert(new Date(when).getUTCHours() === 3 && new Date(when).getUTCMinutes() === 0, `at 03:00 UTC: ${when}`);
    await auditPage("functions with a cron", 1280);

    // An idempotency skip is said on the event's page and counted on the function's.
    const order = `order-${suffix}`;
    await send("app/story.order", { order });
    const duplicate = await send("app/story.order", { order });
    await page.goto(`${STORY_URL}/events/${encodeURIComponent(duplicate)}`, { waitUntil: "domcontentloaded" });
    const reason = page.locator(".skip-reason", { hasText: "skipped by" });
    await reason.waitFor({ timeout: TIMEOUT });
    const said = await reason.textContent();
    assert(/idempoten/i.test(said), `the skip says why: ${said}`);
    await auditPage("event with a skip", 1280);
    await page.goto(`${STORY_URL}/functions/story-once`, { waitUntil: "domcontentloaded" });
    await page.locator(".skip-count", { hasText: "1 skipped" }).waitFor({ timeout: TIMEOUT });
    await page.locator(`.skips a[href="/events/${duplicate}"]`).waitFor({ timeout: TIMEOUT });
    await auditPage("function with skips", 1280);

    // A singleton skip links the run that was active, on the event's page and the function's.
    const user = `solo-${suffix}`;
    await send("app/story.solo", { user });
    const active = await waitFor("the active singleton run", async () => {
      const runs = (await storyApi(`/api/v1/runs?function=story-solo`)).runs;
      return runs.find((r) => r.status === "Sleeping") || null;
    });
    const soloSkip = await send("app/story.solo", { user });
    await page.goto(`${STORY_URL}/events/${encodeURIComponent(soloSkip)}`, { waitUntil: "domcontentloaded" });
    const link = page.locator(`a.active-run[href="/runs/${encodeURIComponent(active.id)}"]`);
    await link.waitFor({ timeout: TIMEOUT });
    await link.click();
    await page.locator(".page-head .status", { hasText: "Sleeping" }).waitFor({ timeout: TIMEOUT });
    await page.goto(`${STORY_URL}/functions/story-solo`, { waitUntil: "domcontentloaded" });
    await page.locator(`.skips a.active-run[href="/runs/${encodeURIComponent(active.id)}"]`).waitFor({ timeout: TIMEOUT });
  });

  const appsTest = "the Apps page lists each synced app, its error, and resyncs it";
  if (!APPS_URL) skip(appsTest, "HOOKFLOW_APPS_URL is not set");
  else await test(appsTest, async () => {
    await page.emulateMedia({ colorScheme: "light" });
    await page.goto(APPS_URL + "/apps", { waitUntil: "domcontentloaded" });
    const rows = page.locator("table.apps-table tbody tr");
    await waitFor("two apps listed", async () => (await rows.count()) === 2);
    assert(await page.locator('.nav a[data-nav="apps"][aria-current="page"]').count() === 1, "the Apps nav link is current");
    const good = rows.filter({ hasText: "browser-sdk-app" });
    const text = await good.textContent();
    for (const words of ["rust", "/api/inngest", "browser-sdk-app-story-child", "synced"]) {
      assert(text.includes(words), `the synced app's row shows ${words}: ${text}`);
    }
    assert(await good.locator("time").count() === 1, "the last sync time is shown");
    const bad = rows.filter({ has: page.locator(".app-error") });
    assert((await bad.locator(".app-error").textContent()).includes("could not reach"), "the failing app shows its error");
    await shot("apps-light.png");
    await auditPage("apps page", 1280);

    await good.getByRole("button", { name: /^Resync/ }).click();
    await page.locator(".toast", { hasText: "browser-sdk-app synced" }).waitFor({ timeout: TIMEOUT });
    await bad.getByRole("button", { name: /^Resync/ }).click();
    await page.locator(".toast.error", { hasText: "did not sync" }).waitFor({ timeout: TIMEOUT });

    await good.locator('a[href="/functions/browser-sdk-app-story-child"]').click();
    await page.waitForURL(/\/functions\/browser-sdk-app-story-child$/, { timeout: TIMEOUT });
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(APPS_URL + "/apps", { waitUntil: "domcontentloaded" });
    await waitFor("the apps at phone width", async () => (await rows.count()) === 2);
    await auditPage("apps page at phone width", 390);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  const devSendTest = "a deployed UI's event page sends the event to the local dev server";
  if (!DEPLOYED_URL || !LOCAL_URL) skip(devSendTest, "HOOKFLOW_DEPLOYED_URL or HOOKFLOW_LOCAL_URL is not set");
  else await test(devSendTest, async () => {
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1280, height: 900 });
    const order = `prod-${suffix}`;
    const id = await sendTo(DEPLOYED_URL, "app/story.order", { order });
    await page.goto(`${DEPLOYED_URL}/events/${encodeURIComponent(id)}`, { waitUntil: "domcontentloaded" });
    await page.getByRole("button", { name: "Send to dev server" }).click();
    const target = page.locator("#dev-server-url");
    assert(await target.inputValue() === "http://127.0.0.1:8288", `the default target: ${await target.inputValue()}`);
    await target.fill(LOCAL_URL);
    await shot("send-to-dev-light.png");
    await auditPage("send to dev server", 1280);
    await page.locator("#send-dev").getByRole("button", { name: "Send" }).click();
    const sent = page.locator(".toast", { hasText: `Sent to the dev server at ${LOCAL_URL}` });
    await sent.waitFor({ timeout: TIMEOUT });
    assert(await sent.locator("a").getAttribute("href") === `${LOCAL_URL}/events/${encodeURIComponent(id)}`, "the toast links the copy");

    // The local dev server has it under the same id, from `import`, and ran its function.
    const copy = await api(`/api/v1/events/${encodeURIComponent(id)}`, {}, LOCAL_URL);
    assert(copy.event.source === "import" && copy.event.data.order === order, `the copy: ${JSON.stringify(copy.event)}`);
    await waitFor("the local run", async () => (await api(`/api/v1/runs?event=${encodeURIComponent(id)}`, {}, LOCAL_URL)).runs[0]);
    await page.goto(`${LOCAL_URL}/events/${encodeURIComponent(id)}`, { waitUntil: "domcontentloaded" });
    await page.locator(".fields", { hasText: "import" }).waitFor({ timeout: TIMEOUT });
    await page.locator('.run-list a[href^="/runs/"]', { hasText: "story-once" }).first().waitFor({ timeout: TIMEOUT });

    // The target is remembered; sending again says the dev server has it already.
    await page.goto(`${DEPLOYED_URL}/events/${encodeURIComponent(id)}`, { waitUntil: "domcontentloaded" });
    await page.getByRole("button", { name: "Send to dev server" }).click();
    assert(await page.locator("#dev-server-url").inputValue() === LOCAL_URL, "the target is remembered");
    await page.locator("#send-dev").getByRole("button", { name: "Send" }).click();
    await page.locator(".toast", { hasText: "already has this event" }).waitFor({ timeout: TIMEOUT });

    // A bad address is said in the form, and nothing is sent.
    await page.getByRole("button", { name: "Send to dev server" }).click();
    await page.locator("#dev-server-url").fill("ftp://127.0.0.1:1");
    await page.locator("#send-dev").getByRole("button", { name: "Send" }).click();
    const problem = page.locator("#send-dev .field-error");
    await waitFor("the form's error", async () => /not an http address/.test(await problem.textContent()));
  });

  await test("no script errors in the console", async () => {
    const real = consoleErrors.filter((e) => !/Failed to load resource/.test(e));
    assert(!real.length, real.join("\n"));
  });

  await browser.close();
}

try {
  await main();
} catch (e) {
  results.push({ name: "setup", ok: false, error: e });
  log(`FAIL setup: ${e && e.stack ? e.stack : e}`);
  if (browser) await browser.close().catch(() => {});
}

const passed = results.filter((r) => r.ok).length;
const failed = results.length - passed;
log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
