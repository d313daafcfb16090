// The `bench fanout` workload as a Restate service (TypeScript SDK): FanA and FanB, each a
// handler with two durable `ctx.run` steps, served on PORT (default 9080) for restate-server.
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
        const len = await ctx.run("load-user", () => user.id.length);
        return await ctx.run("record", () => len + 1);
      },
    },
  });
}
restate.endpoint().bind(fan("FanA")).bind(fan("FanB")).listen(Number(process.env.PORT || 9080));
