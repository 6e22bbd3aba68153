import { measureUploadMemory } from "./bench/rag/memory.js";
import { configureLogging } from "./src/shared/logger.js";
configureLogging("warn");
const r = await measureUploadMemory(50 * 1024 * 1024 - 1024);
console.log(JSON.stringify({ ...r, baselineMB: r.baselineRssBytes / 1e6, peakMB: r.peakRssBytes / 1e6, incMB: r.increaseBytes / 1e6, upIncMB: r.uploadPeakIncreaseBytes / 1e6 }, null, 1));
process.exit(0);
