/**
 * A modal built on the native <dialog>: showModal() makes the rest of the page inert (focus stays
 * inside), Escape closes it (the dialog's `cancel` event), and focus returns to where it was.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { useI18n } from "../i18n/index.js";

export function Modal(p: {
  id: string;
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Buttons at the bottom; a Close button is always in the header. */
  footer?: ComponentChildren;
}) {
  const { t } = useI18n();
  const ref = useRef<HTMLDialogElement>(null);
  const returnTo = useRef<Element | null>(null);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (p.open && !d.open) {
      returnTo.current = document.activeElement;
      d.showModal();
    } else if (!p.open && d.open) {
      d.close();
    }
  }, [p.open]);

  useEffect(() => {
    const d = ref.current;
    return () => {
      if (d?.open) d.close();
    };
  }, []);

  const onClose = () => {
    const back = returnTo.current;
    if (back instanceof HTMLElement) back.focus();
    if (p.open) p.onClose();
  };

  return (
    <dialog
      ref={ref}
      class="modal"
      id={p.id}
      aria-labelledby={`${p.id}-title`}
      onCancel={(e) => {
        e.preventDefault();
        p.onClose();
      }}
      onClose={onClose}
    >
      {p.open && (
        <>
          <div class="modal-head">
            <h2 id={`${p.id}-title`}>{p.title}</h2>
            <button type="button" class="button secondary small" id={`${p.id}-close`} onClick={p.onClose}>
              {t("ui.close")}
            </button>
          </div>
          <div class="modal-body">{p.children}</div>
          {p.footer && <div class="modal-foot">{p.footer}</div>}
        </>
      )}
    </dialog>
  );
}
