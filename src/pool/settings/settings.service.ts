/**
 * Runtime settings: the registry's options with their current values — saved by an admin (wins),
 * else the pool's configuration at boot (env / config file), else built in. A change is validated
 * against the option's rule, saved, audited (`settings.update {key, from, to}`), applied at once
 * through the appliers the composition registered (no restart), and emitted as `changed`.
 *
 * `apply(key, value, actor)` is the one entry point that changes a setting: the admin route uses
 * it, and so will replication of settings signed by a federation master.
 */
import { EventEmitter } from "node:events";
import { poolFields } from "../../config/pool.config.js";
import type { Setting, SettingKey, SettingSource, SettingsValues, SettingsView, SettingValue } from "../../protocol/settings.protocol.js";
import { AppError } from "../../shared/errors.js";
import { moduleLogger, type Logger } from "../../shared/logger.js";
import type { AuditService } from "../audit/audit.service.js";
import type { Replicator } from "../replicator.js";
import { CATEGORIES, PROFILES, ruleOf, schemaOf, settingDef, SETTINGS, type SettingDef } from "./settings.registry.js";
import type { SettingsRepository } from "./settings.repository.js";

export type SettingsConfig = Parameters<SettingDef["defaultValue"]>[0];
/** Puts a new value of `key` into effect. */
export type Applier<K extends SettingKey = SettingKey> = (value: SettingsValues[K], key: K) => void;

export interface SettingChanged {
  key: string;
  value: SettingValue;
}

interface Saved {
  value: SettingValue;
  updatedAt: Date;
  updatedBy: string | null;
}

export interface SettingsServiceDeps {
  repo: SettingsRepository;
  audit: AuditService;
  config: SettingsConfig;
  now?: () => Date;
}

export class SettingsService extends EventEmitter<{ changed: [SettingChanged] }> {
  private readonly log: Logger = moduleLogger("settings");
  private readonly saved = new Map<string, Saved>();
  /** Each applier as registered for its key: it is only ever called with that key's values. */
  private readonly appliers = new Map<string, ((value: SettingValue, key: string) => void)[]>();
  /** Federation replication (set by buildReplication): a change made here is signed and sent to the other pools. */
  replication?: Replicator | undefined;

  constructor(private readonly deps: SettingsServiceDeps) {
    super();
  }

  /**
   * Registers the code that puts a setting into effect. Called with the new value on every change,
   * and at load() for a value an admin saved (boot defaults are already in the services).
   */
  onApply<K extends SettingKey>(keys: K | readonly K[], fn: Applier<K>): void {
    for (const key of typeof keys === "string" ? [keys] : keys) {
      if (!settingDef(key)) throw new Error(`onApply: unknown setting '${key}'`);
      const list = this.appliers.get(key) ?? [];
      // runAppliers passes this key's values only, each checked against the key's rule.
      list.push(fn as (value: SettingValue, key: string) => void);
      this.appliers.set(key, list);
    }
  }

  hasApplier(key: string): boolean {
    return (this.appliers.get(key)?.length ?? 0) > 0;
  }

  /** Boot: reads the saved values (a value no longer valid is ignored, with a warning) and applies them. */
  async load(): Promise<void> {
    this.saved.clear();
    for (const row of await this.deps.repo.list()) {
      const def = settingDef(row.key);
      if (!def) {
        this.log.warn({ key: row.key }, "ignoring a saved setting this version does not know");
        continue;
      }
      const parsed = schemaOf(def).safeParse(row.value);
      if (!parsed.success) {
        this.log.warn({ key: row.key, rule: ruleOf(def) }, "ignoring a saved setting that breaks its rule: the default applies");
        continue;
      }
      this.saved.set(row.key, { value: parsed.data, updatedAt: row.updated_at, updatedBy: row.updated_by });
    }
    for (const [key, s] of this.saved) this.runAppliers(key, s.value);
    if (this.saved.size > 0) this.log.info({ keys: [...this.saved.keys()] }, "admin settings applied");
  }

  /** The current value of a setting, typed by its key. */
  get<K extends SettingKey>(key: K): SettingsValues[K] {
    const def = this.def(key) as SettingDef<K>;
    // A saved value passed the key's rule (schemaOf) before it was stored in `saved`.
    return (this.saved.get(key)?.value as SettingsValues[K] | undefined) ?? def.defaultValue(this.deps.config);
  }

  view(): SettingsView {
    return {
      profiles: PROFILES.map((p) => ({ id: p.id, label: p.label })),
      categories: CATEGORIES.map((c) => ({ id: c.id, label: c.label, settings: SETTINGS.filter((s) => s.category === c.id).map((s) => this.describe(s)) })),
    };
  }

  setting(key: string): Setting {
    return this.describe(this.def(key));
  }

  /**
   * Validates, saves, audits and applies a new value; returns the setting as listed.
   * 404 unknown_setting, 400 invalid_setting (the message names the key and its rule).
   */
  async apply(key: string, raw: unknown, actor: string, opts: { replicated?: boolean } = {}): Promise<Setting> {
    const def = this.def(key);
    const parsed = schemaOf(def).safeParse(raw);
    if (!parsed.success) {
      throw new AppError("invalid_setting", `Invalid value for setting '${key}': it must be ${ruleOf(def)} (got ${shown(raw)}).`, { param: key });
    }
    const from = this.current(def);
    const to = parsed.data;
    const row = await this.deps.repo.save(key, to, actor, this.now());
    this.saved.set(key, { value: to, updatedAt: row.updated_at, updatedBy: row.updated_by });
    await this.deps.audit.record({ actor, action: "settings.update", target: `setting:${key}`, details: { key, from, to } });
    this.runAppliers(key, to);
    this.log.info({ key, from, to, actor }, "setting changed");
    this.emit("changed", { key, value: to });
    // A change that came from another pool is not sent back out.
    if (!opts.replicated) await this.replication?.record("settings.update", { key, value: to });
    return this.describe(def);
  }

  private describe(def: SettingDef): Setting {
    const saved = this.saved.get(def.key);
    const out: Setting = {
      key: def.key,
      label: def.label,
      description: def.description,
      type: def.type,
      value: this.current(def),
      default: def.defaultValue(this.deps.config),
      unit: def.unit,
      recommended: { smb: def.recommended.smb, corporate: def.recommended.corporate },
      source: this.sourceOf(def),
      updated_at: saved ? saved.updatedAt.toISOString() : null,
      updated_by: saved?.updatedBy ?? null,
    };
    if (def.min !== undefined) out.min = def.min;
    if (def.max !== undefined) out.max = def.max;
    if (def.options) out.options = [...def.options];
    return out;
  }

  private current(def: SettingDef): SettingValue {
    return this.saved.get(def.key)?.value ?? def.defaultValue(this.deps.config);
  }

  private sourceOf(def: SettingDef): SettingSource {
    if (this.saved.has(def.key)) return "admin";
    if (def.configField && this.deps.config[def.configField] !== poolFields[def.configField].defaultValue) return "env";
    return "default";
  }

  private runAppliers(key: string, value: SettingValue): void {
    for (const fn of this.appliers.get(key) ?? []) {
      try {
        fn(value, key);
      } catch (err) {
        this.log.error({ key, err: (err as Error).message }, "could not apply a setting");
      }
    }
  }

  private def(key: string): SettingDef {
    const def = settingDef(key);
    if (!def) throw new AppError("unknown_setting", `Unknown setting '${key}'. Known settings: ${SETTINGS.map((s) => s.key).join(", ")}.`, { param: "key" });
    return def;
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }
}

function shown(raw: unknown): string {
  if (raw === undefined) return "nothing";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- only what JSON cannot write (a function, a symbol) reaches String()
  const s = JSON.stringify(raw) ?? String(raw);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
