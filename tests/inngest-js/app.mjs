// The fixture app hookflow's executor drives: functions written with the official Inngest
// TypeScript SDK (npm `inngest`, pinned in package-lock.json), served with its node:http
// adapter at /api/inngest on 127.0.0.1 and a free port. It prints `listening <port>` once it
// is up. The dev server it syncs with is INNGEST_DEV (set by the test to hookflow's address).
//
// Each step body counts its executions in this process; the function returns the counts, so a
// test can tell that memoized steps were replayed, not run again.
import http from "node:http";
import { Inngest } from "inngest";
import { serve } from "inngest/node";

const inngest = new Inngest({ id: "js-shop", checkpointing: process.env.CHECKPOINTING !== "0" });

const ran = {};
const count = (id) => {
  ran[id] = (ran[id] ?? 0) + 1;
};

const onboarding = inngest.createFunction(
  { id: "onboarding", name: "Onboarding (TypeScript)", triggers: [{ event: "shop/user.created" }] },
  async ({ event, step }) => {
    const welcome = await step.run("welcome-email", () => {
      count("welcome-email");
      return `welcome sent to ${event.data.id}`;
    });
    await step.sleep("wait-a-bit", "1h");
    const approval = await step.waitForEvent("approval", {
      event: "shop/approved",
      timeout: "1d",
      if: "async.data.id == event.data.id",
    });
    const offer = await step.run("offer-email", () => {
      count("offer-email");
      return approval ? "offer sent" : "no offer";
    });
    return { welcome, offer, approvedBy: approval?.data?.by ?? null, ran: { ...ran } };
  },
);

const hello = inngest.createFunction(
  { id: "hello", triggers: [{ event: "shop/hello" }] },
  async ({ event, step }) => {
    const greeting = await step.run("greet", () => `hello ${event.data.name}`);
    return { greeting };
  },
);

// Fails its first two attempts (retries: 3 allows four).
let flakyCalls = 0;
const retrying = inngest.createFunction(
  { id: "retrying", retries: 3, triggers: [{ event: "shop/retry" }] },
  async ({ step }) => {
    const value = await step.run("flaky", () => {
      flakyCalls += 1;
      if (flakyCalls < 3) {
        throw new Error(`attempt ${flakyCalls} failed`);
      }
      return flakyCalls;
    });
    return { value };
  },
);

const double = inngest.createFunction(
  { id: "double", triggers: [{ event: "shop/double" }] },
  async ({ event }) => event.data.x * 2,
);

// Parallel steps, an event sent from a step, and an invoke of another function of the app.
const fanout = inngest.createFunction(
  { id: "fanout", triggers: [{ event: "shop/fanout" }] },
  async ({ step }) => {
    const [a, b] = await Promise.all([step.run("a", () => 1), step.run("b", () => 2)]);
    const sent = await step.sendEvent("notify", { name: "shop/notified", data: { sum: a + b } });
    const doubled = await step.invoke("double-it", { function: double, data: { x: a + b } });
    return { sum: a + b, sent: sent.ids.length, doubled };
  },
);

const cancellable = inngest.createFunction(
  {
    id: "cancellable",
    cancelOn: [{ event: "shop/cancel", match: "data.id" }],
    triggers: [{ event: "shop/cancellable" }],
  },
  async ({ step }) => {
    await step.sleep("long-nap", "1d");
    return "not cancelled";
  },
);

const handler = serve({
  client: inngest,
  functions: [onboarding, hello, retrying, double, fanout, cancellable],
});
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/inngest")) {
    return handler(req, res);
  }
  res.writeHead(404).end();
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
