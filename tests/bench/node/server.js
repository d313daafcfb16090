// The webhook receiver Node apps write today, as the peer of `bench webhook`: verify the Svix
// signature (npm `svix`, `Webhook.verify`, which also parses the JSON body), then insert the
// delivery into SQLite in WAL mode with better-sqlite3 (one autocommit insert per request).
//
//   npm ci --prefix tests/bench/node
//   PORT=8300 DB=/tmp/webhooks.db CLERK_WEBHOOK_SIGNING_SECRET=whsec_... node tests/bench/node/server.js
//
// SYNCHRONOUS=NORMAL relaxes durability (default FULL, as hookflow's default). Prints
// `listening <port>` once it accepts connections.
"use strict";

const http = require("node:http");
const { Webhook } = require("svix");
const Database = require("better-sqlite3");

const secret = process.env.CLERK_WEBHOOK_SIGNING_SECRET;
if (!secret) {
  console.error("set CLERK_WEBHOOK_SIGNING_SECRET to the whsec_... signing secret");
  process.exit(2);
}
const wh = new Webhook(secret);

const db = new Database(process.env.DB || "webhooks.db");
db.pragma("journal_mode = WAL");
db.pragma(`synchronous = ${process.env.SYNCHRONOUS === "NORMAL" ? "NORMAL" : "FULL"}`);
db.exec(`CREATE TABLE IF NOT EXISTS webhooks (
  svix_id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  received_at INTEGER NOT NULL
)`);
const insert = db.prepare(
  "INSERT OR IGNORE INTO webhooks (svix_id, type, payload, received_at) VALUES (?, ?, ?, ?)",
);

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/webhooks/clerk") {
    reply(res, 404, { error: "not found" });
    return;
  }
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    let event;
    try {
      event = wh.verify(body, req.headers);
    } catch (err) {
      reply(res, 401, { error: String(err && err.message) });
      return;
    }
    const id = req.headers["svix-id"];
    try {
      insert.run(id, String(event.type), body, Date.now());
    } catch (err) {
      reply(res, 500, { error: String(err && err.message) });
      return;
    }
    reply(res, 200, { ids: [id] });
  });
});

server.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});

process.on("SIGTERM", () => server.close(() => process.exit(0)));
