import { defineConfig } from "vitest/config";

// Unit tests sit next to the code (src/**/*.test.ts); multi-process end-to-end tests live in test/.
// End-to-end files start real processes, so they run one file at a time on this 2-core machine.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
