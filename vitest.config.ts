import { configDefaults, defineConfig } from "vitest/config";

// Unit tests sit next to the code (src/**/*.test.ts); multi-process end-to-end tests live in test/.
// Files run two at a time (the CI machine has 2 cores; vitest's default would be one less than the
// cores). A few end-to-end files bound a latency tightly while real inference runs, or measure a
// process's memory: they run after the others, one at a time, with the machine to themselves.
const ALONE = [
  "test/worker-socket.e2e.test.ts", // the pool's peak RSS under 4 × 30 MB frames; a chat within 5 s during a burst
  "test/worker-grammar.e2e.test.ts", // cancellations within 3 s while a grammar stalls the worker
  "test/failover.e2e.test.ts", // a cancelled generation frees its slot within 1 s
];

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    // Two files share the 2 cores: a test or hook that starts processes may take twice its time alone.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ["default"],
    projects: [
      { extends: true, test: { name: "parallel", include: ["src/**/*.test.ts", "test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...ALONE], sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: "alone", include: ALONE, sequence: { groupOrder: 1 }, poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
