/**
 * A recording OrderIssuer for the routing unit tests (placement, balancer): it keeps the orders it
 * is asked for, refuses a second open order per worker like the migrations service, and lets a
 * test switch the policy's latency routing and balancer.
 */
import type { MigrationOrderView } from "../../src/protocol/migration.protocol.js";
import type { OrderIssuer } from "../../src/pool/migrations/routing/placement.js";

type IssueRequest = Parameters<OrderIssuer["issue"]>[0];

export class RecordingIssuer implements OrderIssuer {
  readonly orders: IssueRequest[] = [];
  readonly open = new Set<string>();
  latency = true;
  balancer = false;

  issue(req: IssueRequest): Promise<MigrationOrderView | undefined> {
    if (this.open.has(req.workerId)) return Promise.resolve(undefined);
    this.open.add(req.workerId);
    this.orders.push(req);
    return Promise.resolve({ id: `o${this.orders.length}` } as MigrationOrderView);
  }

  hasOpenOrder(workerId: string): Promise<boolean> {
    return Promise.resolve(this.open.has(workerId));
  }

  openOrdersAmong(workerIds: readonly string[]): Promise<Set<string>> {
    return Promise.resolve(new Set(workerIds.filter((id) => this.open.has(id))));
  }

  policy(): { latency_routing: boolean; balancer_enabled: boolean } {
    return { latency_routing: this.latency, balancer_enabled: this.balancer };
  }
}
