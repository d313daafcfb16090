// Drives the fan-out through Restate's ingress: for each of N events (the Clerk user.created
// fixture's `data` with a unique id), one call to FanA and one to FanB (request-response, so a
// call returns when its invocation has completed), CONCURRENCY calls at a time. Then
// LATENCY_EVENTS events one at a time (both calls together, 2 ms apart): the time from the
// call to the first step's body, which the service returns (both on this machine's clock).
// Prints `RESULT events=N runs=M failed=F seconds=S runs_per_s=R` and `FIRST_STEP_MS v,v,...`.
"use strict";
const fs = require("node:fs");

const [fixture, n, concurrency, ingress, latencyEvents] = process.argv.slice(2);
const template = JSON.parse(fs.readFileSync(fixture, "utf8")).data;
const total = Number(n);
const jobs = [];
for (let i = 0; i < total; i++) {
  const user = { ...template, id: `user_restate_${String(i).padStart(7, "0")}` };
  jobs.push(["FanA", user], ["FanB", user]);
}
const nowMs = () => performance.timeOrigin + performance.now();

async function call(service, user) {
  const res = await fetch(`${ingress}/${service}/run`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(user),
  });
  const body = await res.text();
  if (!res.ok) throw new Error(`${service}: ${res.status} ${body}`);
  return JSON.parse(body);
}

let next = 0;
let done = 0;
let failed = 0;
async function worker() {
  while (next < jobs.length) {
    const [service, user] = jobs[next++];
    try {
      await call(service, user);
      done++;
    } catch (e) {
      failed++;
    }
  }
}

(async () => {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const firstStep = [];
  for (let i = 0; i < Number(latencyEvents || 0); i++) {
    const user = { ...template, id: `user_restate_lat_${String(i).padStart(7, "0")}` };
    const sent = nowMs();
    const results = await Promise.all([call("FanA", user), call("FanB", user)]);
    for (const r of results) firstStep.push(r.first_step_at_ms - sent);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  console.log(
    `RESULT events=${total} runs=${done} failed=${failed} seconds=${seconds.toFixed(3)} runs_per_s=${(done / seconds).toFixed(1)}`,
  );
  console.log(`FIRST_STEP_MS ${firstStep.map((v) => v.toFixed(3)).join(",")}`);
})();
