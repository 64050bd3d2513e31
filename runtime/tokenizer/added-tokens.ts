// Added/special tokens of a slow transformers tokenizer: the strings that are cut out of the text
// before the model's own tokenization and map straight to their ids (PreTrainedTokenizer.tokenize
// with its Trie). Guarantees: the same pieces as transformers 4.40's Trie.split (a port of it,
// including its leftmost-first-completed / longest-lookahead rule) and the same lstrip / rstrip /
// single_word handling of the neighbouring text.
import { codePoints, fromCodePoints, pyLstrip, pyRstrip } from './python-text.js';

export interface AddedToken {
  content: string;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  special: boolean;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  end: boolean;
}

const node = (): TrieNode => ({ children: new Map(), end: false });

/** transformers.tokenization_utils.Trie, on code points. */
export class Trie {
  private readonly root = node();

  add(word: string): void {
    if (!word) return;
    let ref = this.root;
    for (const cp of codePoints(word)) {
      let next = ref.children.get(cp);
      if (!next) ref.children.set(cp, (next = node()));
      ref = next;
    }
    ref.end = true;
  }

  /** Trie.split: the text cut at the added tokens it contains. */
  split(text: readonly number[]): number[][] {
    // start -> trie node reached so far; Map keeps insertion order as Python's dict does.
    let states = new Map<number, TrieNode>();
    const offsets = [0];
    let skip = 0;
    for (let current = 0; current < text.length; current++) {
      if (skip && current < skip) continue;
      const currentChar = text[current]!;
      if (states.size === 0) {
        // (fast path: no partial match to extend, so the loop below would do nothing)
        if (current >= skip && this.root.children.has(currentChar)) states.set(current, this.root.children.get(currentChar)!);
        continue;
      }
      const toRemove: number[] = [];
      let reset = false;
      for (const [start0, pointer] of states) {
        let start = start0;
        if (pointer.end) {
          let end = 0;
          for (const [lookstart, looktrie0] of states) {
            let looktrie = looktrie0;
            let lookaheadIndex: number;
            if (lookstart > start) break;
            else if (lookstart < start) {
              lookaheadIndex = current + 1;
              end = current + 1;
            } else {
              lookaheadIndex = current;
              end = current;
            }
            let nextChar = lookaheadIndex < text.length ? text[lookaheadIndex] : undefined;
            if (looktrie.end) {
              start = lookstart;
              end = lookaheadIndex;
              skip = lookaheadIndex;
            }
            while (nextChar !== undefined && looktrie.children.has(nextChar)) {
              looktrie = looktrie.children.get(nextChar)!;
              lookaheadIndex += 1;
              if (looktrie.end) {
                start = lookstart;
                end = lookaheadIndex;
                skip = lookaheadIndex;
              }
              if (lookaheadIndex === text.length) break;
              nextChar = text[lookaheadIndex];
            }
          }
          offsets.push(start, end);
          reset = true;
          break;
        } else if (pointer.children.has(currentChar)) {
          states.set(start, pointer.children.get(currentChar)!);
        } else {
          toRemove.push(start);
        }
      }
      if (reset) states = new Map();
      else for (const s of toRemove) states.delete(s);
      if (current >= skip && this.root.children.has(currentChar)) states.set(current, this.root.children.get(currentChar)!);
    }
    for (const [start, pointer] of states) {
      if (pointer.end) {
        offsets.push(start, text.length);
        break;
      }
    }
    // cut_text
    offsets.push(text.length);
    const out: number[][] = [];
    let start = 0;
    for (const end of offsets) {
      if (start >= end) continue;
      out.push(text.slice(start, end));
      start = end;
    }
    return out;
  }
}

export type Piece = { added: true; content: string } | { added: false; text: number[] };

/**
 * PreTrainedTokenizer.tokenize's split: the text pieces to tokenize and the added tokens, with the
 * neighbours of lstrip/rstrip tokens stripped and single_word tokens glued back when not a word.
 */
export function splitAddedTokens(text: readonly number[], trie: Trie, added: ReadonlyMap<string, AddedToken>): Piece[] {
  const tokens = trie.split(text).map(fromCodePoints);
  for (let i = 0; i < tokens.length; i++) {
    const tok = added.get(tokens[i]!);
    if (!tok) continue;
    const left = i > 0 ? tokens[i - 1]! : null;
    const right = i < tokens.length - 1 ? tokens[i + 1]! : null;
    if (tok.rstrip && right) tokens[i + 1] = fromCodePoints(pyLstrip(codePoints(right)));
    if (tok.lstrip && left) tokens[i - 1] = fromCodePoints(pyRstrip(codePoints(left)));
    if (tok.singleWord && left && !left.endsWith(' ')) {
      tokens[i - 1] += tokens[i]!;
      tokens[i] = '';
    } else if (tok.singleWord && right && !right.startsWith(' ')) {
      tokens[i + 1] = tokens[i]! + tokens[i + 1]!;
      tokens[i] = '';
    }
  }
  const out: Piece[] = [];
  for (const t of tokens) {
    if (!t) continue;
    out.push(added.has(t) ? { added: true, content: t } : { added: false, text: codePoints(t) });
  }
  return out;
}
