/** Assertions shared by unit tests: the AppError a call throws or a promise rejects with. */
import { expect } from "vitest";
import { AppError } from "../src/shared/errors.js";

/** Runs fn and returns the AppError it throws (fails the test if it does not throw one). */
export function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error("expected an AppError to be thrown");
}

/** Awaits p and returns the AppError it rejects with (fails the test if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => {
      throw new Error("expected the promise to reject");
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
