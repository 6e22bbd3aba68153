/** Dashboard strings: settings (English, then French with the same keys; the compiler checks both). */
export const en = {
} as const;

export const fr: Record<keyof typeof en, string> = {
};
