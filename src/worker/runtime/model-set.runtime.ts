/**
 * An auto worker's runtime (issue 19): the set of runtimes its assigned models run on (one per
 * model), routing each job to the one serving its model, and replaced as a whole on a swap. Its
 * slot count stays the worker's (each runtime of the set has that many sequences), so the pool's
 * view of its capacity does not change with the models.
 */
import type { GenerateJob, ServedModel } from "../../protocol/worker.protocol.js";
import { InvalidJobError, type GenerateOutcome, type Runtime } from "./runtime.js";

export class ModelSetRuntime implements Runtime {
  private set: Runtime[] = [];

  constructor(
    readonly slots: number,
    /** Disposes what the set shares (the llama.cpp instance) at close. */
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  get models(): ServedModel[] {
    return this.set.flatMap((r) => r.models);
  }

  /** Serves `next` from now on; the previous set is closed first (its memory is needed for the new one). */
  async replace(load: () => Promise<Runtime[]>): Promise<void> {
    const old = this.set;
    this.set = [];
    for (const r of old) await r.close();
    this.set = await load();
  }

  generate(job: GenerateJob, signal: AbortSignal, onText: (text: string, tokens: number) => void): Promise<GenerateOutcome> {
    const r = this.set.find((x) => x.models.some((m) => m.id === job.model && m.capabilities.includes("prompt" in job.input ? "completion" : "chat")));
    if (!r) return Promise.reject(new InvalidJobError("model_not_served", `This worker does not serve '${job.model}'.`));
    return r.generate(job, signal, onText);
  }

  embed(model: string, input: string[], signal: AbortSignal): Promise<{ vectors: number[][]; promptTokens: number }> {
    const r = this.set.find((x) => x.models.some((m) => m.id === model && m.capabilities.includes("embedding")));
    if (!r) return Promise.reject(new InvalidJobError("model_not_served", `This worker has no embedding model '${model}'.`));
    return r.embed(model, input, signal);
  }

  async close(): Promise<void> {
    await this.replace(async () => []);
    await this.onClose();
  }
}
