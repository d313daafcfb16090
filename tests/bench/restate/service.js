// The `bench all` fan-out workload as a Restate service (TypeScript SDK): FanA and FanB, each a
// handler with two durable `ctx.run` steps, served on PORT (default 9080) for restate-server.
// The first step notes when it ran (epoch ms, µs precision), for the driver's latency figure.
"use strict";
// Node 20 has no Promise.withResolvers, which the SDK uses.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
const restate = require("@restatedev/restate-sdk");
function fan(name) {
  return restate.service({
    name,
    handlers: {
      run: async (ctx, user) => {
        const first = await ctx.run("load-user", () => ({
          len: user.id.length,
          at_ms: performance.timeOrigin + performance.now(),
        }));
        const total = await ctx.run("record", () => first.len + 1);
        return { total, first_step_at_ms: first.at_ms };
      },
    },
  });
}
restate.endpoint().bind(fan("FanA")).bind(fan("FanB")).listen(Number(process.env.PORT || 9080));
