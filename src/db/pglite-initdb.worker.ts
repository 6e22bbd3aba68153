/**
 * Child-process entry: creates a new PGlite data dir (initdb) and exits. initdb grows the
 * WebAssembly heap to ~800 MB, which a long-running process never gives back to the OS; doing it
 * in a short-lived child keeps the pool at the footprint of opening an existing data dir.
 */
import { createPglite } from "./pglite-options.js";

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write("usage: pglite-initdb.worker <dataDir>\n");
  process.exit(2);
}
const db = await createPglite(dataDir);
await db.close();
process.exit(0);
