/**
 * A minimal keep-alive HTTP/1.1 client (node:http Agent, keepAlive) for the benchmark: the same
 * client code drives the pool and the baseline server, so its own cost cancels out.
 */
import http from "node:http";

export interface WholeResponse {
  status: number;
  body: string;
  /** Request start to last byte of the response, ms. */
  ms: number;
}

export interface StreamedResponse {
  status: number;
  /** Concatenated `delta.content` of the chat chunks. */
  text: string;
  /** Request start to the first chunk carrying non-empty content, ms (NaN if none). */
  ttftMs: number;
  ms: number;
  /** usage.completion_tokens of the final chunk (requests with stream_options.include_usage). */
  completionTokens: number | undefined;
}

/** Incremental parser for the pool's chat SSE stream (`data: {...}\n\n`, `data: [DONE]`). */
class ChatSseCollector {
  text = "";
  firstContentAt: number | undefined;
  error: string | undefined;
  completionTokens: number | undefined;
  done = false;
  private buffer = "";

  push(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const event = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      for (const line of event.split("\n")) if (line.startsWith("data: ")) this.onData(line.slice(6));
    }
  }

  private onData(data: string): void {
    if (data === "[DONE]") {
      this.done = true;
      return;
    }
    const payload = JSON.parse(data) as { error?: { message?: string }; choices?: { delta?: { content?: string } }[]; usage?: { completion_tokens?: number } };
    if (payload.error) {
      this.error = payload.error.message ?? "stream error";
      return;
    }
    if (payload.usage) this.completionTokens = payload.usage.completion_tokens;
    const content = payload.choices?.[0]?.delta?.content;
    if (content) {
      this.firstContentAt ??= performance.now();
      this.text += content;
    }
  }
}

export class KeepAliveClient {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(baseUrl: string, private readonly apiKey: string | undefined, maxSockets: number) {
    this.target = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, keepAliveMsecs: 30_000 });
  }

  /** POST a JSON body and read the whole response. */
  async post(path: string, body: string): Promise<WholeResponse> {
    const start = performance.now();
    let text = "";
    const { status } = await this.request(path, body, (chunk) => (text += chunk));
    return { status, body: text, ms: performance.now() - start };
  }

  /** POST a streamed chat request and time its first content chunk. Throws on a stream error. */
  async postChatStream(path: string, body: string): Promise<StreamedResponse> {
    const sse = new ChatSseCollector();
    let raw = "";
    const start = performance.now();
    const { status } = await this.request(path, body, (chunk) => {
      raw += raw.length < 2048 ? chunk : "";
      sse.push(chunk);
    });
    const ms = performance.now() - start;
    if (status !== 200) throw new Error(`HTTP ${status}: ${raw.slice(0, 300)}`);
    if (sse.error) throw new Error(`stream error: ${sse.error}`);
    if (!sse.done) throw new Error("stream ended without [DONE]");
    return { status, text: sse.text, ttftMs: sse.firstContentAt === undefined ? Number.NaN : sse.firstContentAt - start, ms, completionTokens: sse.completionTokens };
  }

  close(): void {
    this.agent.destroy();
  }

  private request(path: string, body: string, onChunk: (chunk: string) => void): Promise<{ status: number }> {
    const headers: http.OutgoingHttpHeaders = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    return new Promise((resolve, reject) => {
      const req = http.request({ agent: this.agent, host: this.target.hostname, port: this.target.port, path, method: "POST", headers }, (res) => {
        res.setEncoding("utf8");
        res.on("data", onChunk);
        res.on("end", () => resolve({ status: res.statusCode ?? 0 }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }
}
