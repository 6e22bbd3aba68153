/** HTTP methods that only read: never license-gated, never CSRF-checked. */
const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const isReadMethod = (method: string): boolean => READ_METHODS.has(method.toUpperCase());
