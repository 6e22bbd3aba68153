/** Labelled form controls with help text and an inline error, wired for screen readers. */
import type { ComponentChildren } from "preact";

interface Common {
  id: string;
  label: string;
  help?: string | undefined;
  error?: string | undefined;
  optional?: string | undefined;
}

function Described({ id, help, error }: Pick<Common, "id" | "help" | "error">) {
  return (
    <>
      {help && (
        <p class="help" id={`${id}-help`}>
          {help}
        </p>
      )}
      {error && (
        <p class="error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </>
  );
}

const describedBy = (c: Common) => [c.help && `${c.id}-help`, c.error && `${c.id}-error`].filter(Boolean).join(" ") || undefined;

export function TextField(p: Common & { value: string; onInput: (v: string) => void; type?: "text" | "email" | "password" | "url" | "number"; autoComplete?: string; required?: boolean; inputMode?: "numeric" | "email" | "url" | "text" }) {
  return (
    <div class={`field${p.error ? " invalid" : ""}`}>
      <label for={p.id}>
        {p.label}
        {p.optional && <span class="optional"> ({p.optional})</span>}
      </label>
      <input
        id={p.id}
        name={p.id}
        // Preact 11 types each input type separately; the union is checked by our own prop type.
        {...({ type: p.type ?? "text" } as { type: "text" })}
        value={p.value}
        autoComplete={p.autoComplete}
        inputMode={p.inputMode}
        required={p.required}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={describedBy(p)}
        onInput={(e) => p.onInput(e.currentTarget.value)}
      />
      <Described {...p} />
    </div>
  );
}

export function SelectField(p: Common & { value: string; onChange: (v: string) => void; options: { value: string; label: string }[] }) {
  return (
    <div class={`field${p.error ? " invalid" : ""}`}>
      <label for={p.id}>{p.label}</label>
      <select id={p.id} name={p.id} value={p.value} aria-invalid={p.error ? "true" : undefined} aria-describedby={describedBy(p)} onChange={(e) => p.onChange(e.currentTarget.value)}>
        {p.options.map((o) => (
          <option value={o.value} key={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <Described {...p} />
    </div>
  );
}

export function CheckboxField(p: Common & { checked: boolean; onChange: (v: boolean) => void }) {
  return (
    <div class={`field checkbox${p.error ? " invalid" : ""}`}>
      <input id={p.id} name={p.id} type="checkbox" checked={p.checked} aria-describedby={describedBy(p)} onChange={(e) => p.onChange(e.currentTarget.checked)} />
      <label for={p.id}>{p.label}</label>
      <Described {...p} />
    </div>
  );
}

export function Fieldset(p: { legend: string; error?: string | undefined; id: string; children: ComponentChildren }) {
  return (
    <fieldset class={p.error ? "invalid" : undefined} aria-describedby={p.error ? `${p.id}-error` : undefined}>
      <legend>{p.legend}</legend>
      {p.children}
      {p.error && (
        <p class="error" id={`${p.id}-error`} role="alert">
          {p.error}
        </p>
      )}
    </fieldset>
  );
}
