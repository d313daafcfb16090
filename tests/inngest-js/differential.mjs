// The differential corpus's TypeScript side: the functions of tests/tests/inngest_differential.rs
// written with the official Inngest TypeScript SDK (npm `inngest`, pinned in package-lock.json),
// as app `diff`, served with its node:http adapter at /api/inngest on 127.0.0.1 and a free port
// (it prints `listening <port>`). The test sends the same recorded call requests
// (tests/fixtures/inngest-differential/corpus.json) here and to hookflow's serve handler and
// compares the answers. Checkpointing is off: the corpus is about plain call requests.
import http from "node:http";
import { Inngest, NonRetriableError, RetryAfterError } from "inngest";
import { serve } from "inngest/node";

const inngest = new Inngest({ id: "diff", checkpointing: false });

const double = inngest.createFunction(
  { id: "double", triggers: [{ event: "diff/double" }] },
  async ({ event }) => (event.data.x ?? 0) * 2,
);

const flow = inngest.createFunction(
  { id: "flow", retries: 2, triggers: [{ event: "diff/flow" }] },
  async ({ event, step }) => {
    const a = await step.run("a", () => 1);
    await step.sleep("nap", "1h");
    const approval = await step.waitForEvent("approval", {
      event: "diff/approved",
      timeout: "1d",
      if: "async.data.id == event.data.id",
    });
    const doubled = await step.invoke("double", { function: double, data: { x: a } });
    return { a, approved: approval !== null, doubled, user: event.data.id };
  },
);

const fan = inngest.createFunction({ id: "fan", triggers: [{ event: "diff/fan" }] }, async ({ step }) => {
  const [x, y] = await Promise.all([step.run("x", () => 10), step.run("y", () => 20)]);
  return await step.run("sum", () => x + y);
});

const charge = inngest.createFunction(
  { id: "charge", retries: 2, triggers: [{ event: "diff/charge" }] },
  async ({ event, step }) => {
    return await step.run("charge-card", () => {
      switch (event.data.mode) {
        case "later":
          throw new RetryAfterError("the bank asks to come back later", "30s");
        case "never":
          throw new NonRetriableError("the card is stolen");
        default:
          throw new Error("card declined");
      }
    });
  },
);

const boom = inngest.createFunction({ id: "boom", retries: 1, triggers: [{ event: "diff/boom" }] }, async ({ event }) => {
  if (event.data.mode === "never") {
    throw new NonRetriableError("never again");
  }
  throw new Error("boom");
});

const handler = serve({ client: inngest, functions: [double, flow, fan, charge, boom] });
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/inngest")) {
    return handler(req, res);
  }
  res.writeHead(404).end();
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
