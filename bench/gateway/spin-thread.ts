/** Source of a worker thread that busy-loops for the milliseconds it is sent, then answers (a stand-in for a compute thread). */
export const SPIN_THREAD = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (ms) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
  parentPort.postMessage(1);
});`;
