/** Progress lines of bench:rag (stderr). */
import { progressOf } from "../report.js";

export const progress = progressOf("rag");
