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

const handler = serve({ client: inngest, functions: [onboarding, hello] });
const server = http.createServer((req, res) => {
  if (req.url.startsWith("/api/inngest")) {
    return handler(req, res);
  }
  res.writeHead(404).end();
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
