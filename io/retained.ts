// The IR's opaque `Retained` tokens are protobuf messages the decoder kept: the only place that
// turns one into the other, checking the message type when it turns back.
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { TgateError } from '../base/errors.js';
import type { Retained } from '../ir/retained.js';

export function retain(message: { $typeName: string }): Retained {
  return message as unknown as Retained;
}

/** The kept message, or null when there is none; an error when it is another message type. */
export function retained<D extends DescMessage>(schema: D, token: Retained | null): MessageShape<D> | null {
  if (token === null) return null;
  const m = token as unknown as { $typeName?: string };
  if (m.$typeName !== schema.typeName)
    throw new TgateError('E_INTERNAL', `IR inconsistency: a retained ${m.$typeName ?? 'value'} where ${schema.typeName} was expected.`);
  return token as unknown as MessageShape<D>;
}
