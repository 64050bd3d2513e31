// The coded error a promise rejects with (a test fails when it resolves or throws something else).
import { expect } from '@jest/globals';
import { TgateError } from '../../base/errors.js';

export async function refusal(p: Promise<unknown>): Promise<TgateError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TgateError);
  return e as TgateError;
}
