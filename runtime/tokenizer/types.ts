// The tokenizer contract of the text-to-image pipelines: one prompt in, the ids the text encoder
// reads out, exactly as diffusers calls its tokenizer:
//   tokenizer(text, padding="max_length", max_length=tokenizer.model_max_length, truncation=True)
// plus what diffusers needs to warn about a truncated prompt (the untruncated length and the
// removed ids, which it decodes and prints).

export interface TokenizerOutput {
  /** Padded/truncated to maxLength, as the pipelines call it: tokenizer(text, padding="max_length", max_length=model_max_length, truncation=True). */
  ids: number[];
  /** Tokens the text had before truncation, BOS/EOS included (diffusers warns when > maxLength). */
  length: number;
  truncated: boolean;
  /**
   * The ids truncation removed (empty when not truncated): what diffusers decodes for its warning,
   * `untruncated_ids[:, model_max_length - 1 : -1]`, so `decode(removed)` is its "removed text".
   */
  removed: number[];
}

export interface Tokenizer {
  readonly maxLength: number;
  readonly padId: number;
  encode(text: string): TokenizerOutput;
  /** Decodes ids back to text (for the truncation warning: diffusers prints the removed part). */
  decode(ids: number[]): string;
}
