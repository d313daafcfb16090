// The fan-out workload of `bench all` (the "Inngest TypeScript SDK via hookflow dev" row), written
// with the official Inngest TypeScript SDK: per `clerk/user.created`, two functions of two
// `step.run`s each. `hookflow dev -u <this app>` syncs and runs it. Served with the SDK's
// node:http adapter at /api/inngest on 127.0.0.1 and a free port; prints `listening <port>`.
//
// `GET /first-steps` answers (and forgets) when each run's first step began, as
// [event id, function id, milliseconds since the Unix epoch], so the bench can measure
// event → first step on one clock (this machine's).
import http from "node:http";
import { Inngest } from "inngest";
import { serve } from "inngest/node";

// The SDK's default mode (checkpointing: steps reported to the executor as they run);
// CHECKPOINTING=0 measures plain call requests instead.
const inngest = new Inngest({
  id: "bench-fanout",
  ...(process.env.CHECKPOINTING === "0" ? { checkpointing: false } : {}),
});

let firstSteps = [];
const nowMs = () => performance.timeOrigin + performance.now();

const fan = (id) =>
  inngest.createFunction({ id, triggers: [{ event: "clerk/user.created" }] }, async ({ event, step }) => {
    const user = await step.run("one", () => {
      firstSteps.push([event.id, id, nowMs()]);
      return event.data.id;
    });
    return step.run("two", () => `${user} done`);
  });

const handler = serve({ client: inngest, functions: [fan("fan-a"), fan("fan-b")] });
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/inngest")) {
    return handler(req, res);
  }
  if (req.url === "/first-steps") {
    const body = JSON.stringify(firstSteps);
    firstSteps = [];
    res.writeHead(200, { "content-type": "application/json" }).end(body);
    return;
  }
  res.writeHead(404).end();
});
// Many runs at once: keep connections to hookflow's executor alive.
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
