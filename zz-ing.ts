import { measureIngest } from "./bench/rag/ingest.js";
console.log(JSON.stringify(await measureIngest(30, 40, 128)));
process.exit(0);
