/**
 * For the memory phase's "external database" variant: an in-memory PGlite (with pgvector) served
 * over TCP on 127.0.0.1 by pglite-socket, in its own process, so the pool can use it through
 * DATABASE_URL and its own RSS no longer includes the embedded database. Prints `listening <port>`.
 */
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

const port = Number(process.argv[2]);
const db = await PGlite.create({ extensions: { vector } });
const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port, maxConnections: 32 });
await server.start();
process.stdout.write(`listening ${port}\n`);
process.on("SIGTERM", () => void server.stop().finally(() => process.exit(0)));
