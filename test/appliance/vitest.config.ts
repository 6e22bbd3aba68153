import { defineConfig } from "vitest/config";

// `npm run test:appliance`: the Docker appliance test alone, one file, in order, with the long
// timeouts an image build and three containers need (no global setup: it starts no dist/ process).
export default defineConfig({
  test: {
    include: ["test/appliance/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
