import { configDefaults, defineConfig } from "vitest/config";

// Unit tests sit next to the code (src/**/*.test.ts); multi-process end-to-end tests live in test/.
// Files run three at a time on the 2-core CI machine: end-to-end files spend part of their time
// waiting on other processes (a pool starting, a heartbeat, a worker loading), and a third file fills
// those gaps (measured: the run took ~11 min two at a time with a third of the CPU idle). A few files
// bound a latency tightly while real inference runs, compare timings, or measure a process's memory:
// they run after the others, one at a time, with the machine to themselves.
const ALONE = [
  "test/worker-socket.e2e.test.ts", // the pool's peak RSS under 4 × 30 MB frames; a chat within 5 s during a burst
  "test/worker-grammar.e2e.test.ts", // cancellations within 3 s while a grammar stalls the worker
  "test/failover.e2e.test.ts", // a cancelled generation frees its slot within 1 s
  "test/auth-hardening.e2e.test.ts", // a wrong secret for a real key id costs the same time as an unknown id
  "src/pool/federation/topology/topology.service.test.ts", // loopback round trips classed as LAN (< 5 ms median)
  "src/pool/workers/enrolment.service.test.ts", // an unknown credential id costs the same time as a known one
  "src/pool/federation/replication/envelope.test.ts", // verifying an envelope runs at >= 80% of a raw Ed25519 verify
  "test/cluster-access.e2e.test.ts", // a key revoked on one pool is refused on the two others within 1 s
  "test/vip.e2e.test.ts", // the VIP taken over within 3 s of a kill -9, sampled every 100 ms (keepalived timers)
  "test/entry.e2e.test.ts", // TTFT through nginx vs straight (+50 ms), chats paced at 20 req/s around a kill -9 and a SIGTERM
];

export default defineConfig({
  test: {
    globalSetup: ["test/global-setup.ts"],
    // Three files share the 2 cores: a test or hook that starts processes may take twice its time alone.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    maxWorkers: 3,
    minWorkers: 3,
    reporters: ["default"],
    projects: [
      // Not isolated: a fork runs file after file without loading every module again (the src/ unit
      // tests took 3.6 CPU-min isolated, 0.8 not). Test files therefore restore what they change
      // (spies, env). minWorkers = maxWorkers: tinypool ending an idle non-isolated fork fails the run.
      // test/appliance/ (Docker images and containers) has its own config and command: npm run test:appliance.
      { extends: true, test: { name: "parallel", include: ["src/**/*.test.ts", "test/**/*.test.ts"], exclude: [...configDefaults.exclude, ...ALONE, "test/appliance/**"], sequence: { groupOrder: 0 }, poolOptions: { forks: { isolate: false } } } },
      { extends: true, test: { name: "alone", include: ALONE, sequence: { groupOrder: 1 }, poolOptions: { forks: { singleFork: true } } } },
    ],
  },
});
