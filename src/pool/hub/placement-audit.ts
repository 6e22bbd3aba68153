/**
 * The audit of sensitive placements (issue 21 must-have 3, admin guide §5.4): every time the
 * dispatcher places a `confidential` or `restricted` job — first placement, a queued job drained,
 * each failover re-placement, a forward to a peer pool — one entry says where it went (worker id
 * and its clearance, or the peer pool) so a DPO can show that the data stayed on cleared machines.
 * One append per placement, never per token; written off the request's path.
 */
import { moduleLogger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Dispatcher, JobPlaced } from "./dispatcher.js";

const log = moduleLogger("hub.placement-audit");

/** Subscribes the audit trail to the dispatcher's "placed" events. */
export function auditPlacements(dispatcher: Pick<Dispatcher, "events">, audit: Pick<AuditService, "record">): void {
  dispatcher.events.on("placed", ({ job, target, clearance }: JobPlaced) => {
    const peer = clearance === undefined;
    audit
      .record({
        actor: job.caller ? `key:${job.caller.keyId}` : "system",
        action: "job.placement",
        target: peer ? target.id : `worker:${target.id}`,
        projectId: job.projectId,
        details: {
          job_id: job.id,
          request_id: job.requestId ?? null,
          level: job.level,
          model: job.model,
          capability: job.capability,
          attempt: job.attempts,
          ...(peer ? { peer_pool: target.id.replace(/^pool:/, "") } : { worker_id: target.id, clearance }),
          ...(job.hop > 0 ? { forwarded_in: true } : {}),
        },
      })
      .catch((err: unknown) => log.error({ jobId: job.id, err: String(err) }, "could not write the audit entry of a sensitive placement"));
  });
}
