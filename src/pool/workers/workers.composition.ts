/**
 * Wires workers for buildPool: the stored workers, enrolment (tokens, credentials), "Add a
 * worker" provisioning codes, and the admin routes (tokens, list, revocation, provisioning). The
 * hub is built after this (its socket admits workers through enrolment), so the live registry the
 * admin list and revocation use is reached through `registry()` once the hub exists.
 */
import type { FastifyInstance } from "fastify";
import type { PoolConfig } from "../../config/pool.config.js";
import type { Db } from "../../db/database.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Feature } from "../feature.js";
import type { WorkerRegistry } from "../hub/worker-registry.js";
import type { Replicator } from "../replicator.js";
import { EnrolmentService } from "./enrolment.service.js";
import type { ProvisioningDefaults } from "../../protocol/branding.protocol.js";
import { ProvisioningService } from "./provisioning/provisioning.service.js";
import { WorkersRepository } from "./workers.repository.js";
import { workersRoutes } from "./workers.routes.js";
import { WorkersService, type WorkerLocator } from "./workers.service.js";

export interface WorkersDeps {
  config: Pick<PoolConfig, "tokenTtlHours">;
  db: Db;
  audit: AuditService;
  /** The hub's live registry (called when the routes are registered, after the hub is built). */
  registry: () => WorkerRegistry;
  /** The "Add a worker" defaults from the wizard's hardware answers (branding feature); absent: built-in. */
  provisioningDefaults?: () => Promise<Pick<ProvisioningDefaults, "hardware">>;
}

export interface Workers extends Feature {
  repo: WorkersRepository;
  enrolment: EnrolmentService;
  provisioning: ProvisioningService;
  /** Set by replication: enrolments and revocations go to the trusted peers. */
  setReplication(replication: Pick<Replicator, "record">): void;
  /** Set by the cluster: where the workers not connected here are. */
  useLocator(locator: WorkerLocator): void;
  routes(app: FastifyInstance): Promise<void>;
}

export function buildWorkers(deps: WorkersDeps): Workers {
  const repo = new WorkersRepository(deps.db);
  const enrolment = new EnrolmentService({ workers: repo, audit: deps.audit, tokenTtlHours: deps.config.tokenTtlHours });
  const provisioning = new ProvisioningService({ enrolment, defaults: deps.provisioningDefaults });
  let replication: Pick<Replicator, "record"> | undefined;
  let locator: WorkerLocator | undefined;
  return {
    repo,
    enrolment,
    provisioning,
    setReplication(r) {
      replication = r;
      enrolment.replication = r;
    },
    useLocator(l) {
      locator = l;
    },
    async routes(app) {
      const workers = new WorkersService({ workers: repo, registry: deps.registry(), audit: deps.audit, replication: () => replication, locator: () => locator });
      await app.register(workersRoutes, { enrolment, workers, provisioning });
    },
  };
}
