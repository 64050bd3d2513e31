// The table of shape rules by op type, gathered from the per-family files. An op type absent
// here has no rule: inferShapes counts it as unsupported and makes its outputs unknown.
import type { Rule } from '../facts.js';
import { ATTENTION_RULES } from './attention.js';
import { CONSTANT_RULES } from './constants.js';
import { ELEMENTWISE_RULES, SAME_SHAPE_RULES } from './elementwise.js';
import { LAYOUT_RULES } from './layout.js';
import { MATMUL_RULES } from './matmul.js';
import { REDUCE_RULES } from './reduce.js';
import { SPATIAL_RULES } from './spatial.js';

// The same-shape defaults first, so a family's specific rule wins for an op listed in both.
export const RULES: Readonly<Record<string, Rule>> = {
  ...SAME_SHAPE_RULES,
  ...ELEMENTWISE_RULES,
  ...CONSTANT_RULES,
  ...LAYOUT_RULES,
  ...SPATIAL_RULES,
  ...MATMUL_RULES,
  ...REDUCE_RULES,
  ...ATTENTION_RULES,
};
