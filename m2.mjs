import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite-pgvector";
const r = () => Math.round(process.memoryUsage().rss/1e6);
const variant = process.argv[2];
const opts = { dataDir: "/tmp/rss/pg3", extensions: { vector } };
if (variant === "small") { opts.postgresqlconf = ["shared_buffers = 16MB", "work_mem = 4MB", "maintenance_work_mem = 32MB", "wal_buffers = 1MB"]; }
const t=Date.now();
const db = await PGlite.create(opts);
await db.exec("create extension if not exists vector; create table if not exists t(x int)");
const m = process.memoryUsage();
console.log(variant, "rss", r(), "external", Math.round(m.external/1e6), "ab", Math.round(m.arrayBuffers/1e6), Date.now()-t, "ms");
console.log((await db.query("show shared_buffers")).rows);
