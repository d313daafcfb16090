// Drives the fan-out through Restate's ingress: for each of N events (the Clerk user.created
// fixture's `data` with a unique id), one call to FanA and one to FanB (request-response, so a
// call returns when its invocation has completed), CONCURRENCY calls at a time. Prints
// `RESULT events=N runs=M failed=F seconds=S runs_per_s=R`.
"use strict";
const fs = require("node:fs");

const [fixture, n, concurrency, ingress] = process.argv.slice(2);
const template = JSON.parse(fs.readFileSync(fixture, "utf8")).data;
const total = Number(n);
const jobs = [];
for (let i = 0; i < total; i++) {
  const user = { ...template, id: `user_restate_${String(i).padStart(7, "0")}` };
  jobs.push(["FanA", user], ["FanB", user]);
}

let next = 0;
let done = 0;
let failed = 0;
async function worker() {
  while (next < jobs.length) {
    const [service, user] = jobs[next++];
    const res = await fetch(`${ingress}/${service}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(user),
    });
    await res.text();
    if (res.ok) done++;
    else failed++;
  }
}

(async () => {
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(
    `RESULT events=${total} runs=${done} failed=${failed} seconds=${seconds.toFixed(3)} runs_per_s=${(done / seconds).toFixed(1)}`,
  );
})();
