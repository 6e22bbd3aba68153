/**
 * A TCP echo server in its own process, for the wake-up measurement (wake.ts): it writes back
 * whatever it reads. Usage: echo-server.ts PORT; prints `listening <port>` when ready.
 */
import net from "node:net";

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on("data", (data) => socket.write(data));
});
const port = Number(process.argv[2]);
server.listen(port, "127.0.0.1", () => process.stdout.write(`listening ${port}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
