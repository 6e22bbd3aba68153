import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { loggerTo, REDACTED, redactSecrets } from "./logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw += chunk.toString();
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: loggerTo(stream, "debug"), lines, raw: () => raw };
}

describe("logger redaction", () => {
  it("censors secret-named fields at any depth, in objects and arrays", () => {
    const { log, lines, raw } = capture();
    log.info(
      {
        password: "pw-top-1",
        headers: { authorization: "Bearer sk-depth1", Cookie: "cellule_session=cookie-depth1", "set-cookie": ["s=setcookie-depth1"] },
        a: { b: { c: { d: { token: "tok-depth4", apiKey: "key-depth4" }, secret: "sec-depth3" } } },
        list: [{ credential: "cred-in-array" }, { nested: [{ API_KEY: "key-in-nested-array" }] }],
        jobId: "job-1",
        completionTokens: 12,
      },
      "something happened",
    );
    const out = raw();
    for (const s of ["pw-top-1", "sk-depth1", "cookie-depth1", "setcookie-depth1", "tok-depth4", "key-depth4", "sec-depth3", "cred-in-array", "key-in-nested-array"]) {
      expect(out).not.toContain(s);
    }
    const line = lines[0]!;
    expect(line.password).toBe(REDACTED);
    expect(line.headers).toEqual({ authorization: REDACTED, Cookie: REDACTED, "set-cookie": REDACTED });
    expect(line.a).toEqual({ b: { c: { d: { token: REDACTED, apiKey: REDACTED }, secret: REDACTED } } });
    expect(line.list).toEqual([{ credential: REDACTED }, { nested: [{ API_KEY: REDACTED }] }]);
    // Ordinary fields, including ones that merely contain a secret word, are kept.
    expect(line.jobId).toBe("job-1");
    expect(line.completionTokens).toBe(12);
    expect(line.msg).toBe("something happened");
  });

  it("does not modify the caller's object, and keeps errors for the err serializer", () => {
    const input = { user: { password: "pw" }, keep: 1 };
    const out = redactSecrets(input);
    expect(input.user.password).toBe("pw");
    expect(out).toEqual({ user: { password: REDACTED }, keep: 1 });
    const clean = { a: { b: 1 } };
    expect(redactSecrets(clean)).toBe(clean);

    const { log, lines } = capture();
    log.error({ err: new Error("boom") }, "failed");
    expect((lines[0]!.err as { message: string }).message).toBe("boom");
  });

  it("gives up on absurdly deep objects instead of logging them unredacted", () => {
    let deep: Record<string, unknown> = { token: "deep-secret" };
    for (let i = 0; i < 20; i++) deep = { n: deep };
    const { log, raw } = capture();
    log.info({ deep }, "deep");
    expect(raw()).not.toContain("deep-secret");
  });
});

describe("log format (CELLULE_LOG_FORMAT)", () => {
  it("auto is pretty on a terminal and JSON otherwise; json and pretty are taken as asked", async () => {
    const { chooseLogFormat } = await import("./logger.js");
    expect(chooseLogFormat("auto", true)).toBe("pretty");
    expect(chooseLogFormat("auto", false)).toBe("json");
    expect(chooseLogFormat("auto", undefined)).toBe("json");
    expect(chooseLogFormat("json", true)).toBe("json");
    expect(chooseLogFormat("pretty", false)).toBe("pretty");
  });

  it("writes one readable line per entry, secrets redacted like the JSON", () => {
    let out = "";
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = loggerTo(stream, "info", "pretty").child({ name: "cellule.pool" });
    log.info({ url: "http://localhost:18080", headers: { authorization: "Bearer sk-pretty-secret" }, password: "pw-pretty", config: { adminPassword: "pw-config" } }, "pool listening");
    log.warn("second line");
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(cellule\.pool\): pool listening /);
    expect(lines[0]).toContain('"url":"http://localhost:18080"');
    expect(lines[0]).toContain(`"authorization":"${REDACTED}"`);
    expect(out).not.toContain("sk-pretty-secret");
    expect(out).not.toContain("pw-pretty");
    expect(out).not.toContain("pw-config");
    expect(lines[1]).toMatch(/WARN \(cellule\.pool\): second line$/);
    expect(() => JSON.parse(lines[0]!) as unknown).toThrow();
  });
});
