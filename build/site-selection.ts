// Which sites a compile caches: every attention site by default (cross-attention is gated, for
// TGATE v1 and v2; self-attention is reused on the v2 schedule); --sites cross leaves
// self-attention computed every step (v1 only); --include/--exclude globs on a site's scope or id
// narrow either. Each site gets the reason for its fate, which the
// manifest records.
import { TgateError } from '../base/errors.js';
import type { Site } from '../analyses/attention/find-sites.js';

export interface SiteFilter {
  /** Which kinds of site to cache: all (v1 and v2 schedules, the default) or cross (v1 only). */
  kinds?: 'cross' | 'all';
  include?: string[];
  exclude?: string[];
}

export interface SiteChoice {
  site: Site;
  cached: boolean;
  reason: string;
}

/**
 * Whether `text` matches the glob: `*` matches any run of characters (slashes included), `?` one
 * character, everything else itself. No RegExp: a translated pattern like `*?*?*?*?*X` makes a
 * backtracking engine (and picomatch, measured) take exponential time on a long scope. This is
 * the classic two-pointer match that, on a mismatch, retries only from the last `*`: O(n * m) in
 * the worst case, with no stack and no allocation.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  // Where the last `*` was, and the text position it currently absorbs up to.
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    const c = glob[g];
    if (c === '*') {
      star = g++;
      resume = t;
    } else if (g < glob.length && (c === '?' || c === text[t])) {
      g++;
      t++;
    } else if (star >= 0) {
      // Let the last `*` absorb one more character and retry what follows it.
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (glob[g] === '*') g++;
  return g === glob.length;
}

function matches(site: Site, globs: string[]): string | undefined {
  return globs.find((g) => globMatches(g, site.id) || (site.scope !== null && globMatches(g, site.scope)));
}

export function chooseSites(sites: Site[], filter: SiteFilter = {}): SiteChoice[] {
  const kinds = filter.kinds ?? 'all';
  const choices = sites.map((site): SiteChoice => {
    if (kinds === 'cross' && site.kind === 'self') {
      return { site, cached: false, reason: 'self-attention: computed every step (--sites cross; the default, all, reuses it on the v2 schedule)' };
    }
    if (filter.include?.length) {
      const hit = matches(site, filter.include);
      if (!hit) return { site, cached: false, reason: `not matched by --include ${filter.include.map((g) => `'${g}'`).join(' ')}` };
    }
    const ex = filter.exclude?.length ? matches(site, filter.exclude) : undefined;
    if (ex) return { site, cached: false, reason: `excluded by --exclude '${ex}'` };
    const what = site.kind === 'cross' ? 'cross-attention: cached at the gate step' : 'self-attention: reused on the v2 schedule';
    return { site, cached: true, reason: filter.include?.length ? `${what}, matched by --include` : what };
  });
  if (!choices.some((c) => c.cached && c.site.kind === 'cross')) {
    const eligible = sites.filter((s) => s.kind === 'cross');
    throw new TgateError(
      'E_USAGE',
      `--include/--exclude left no cross-attention site to gate (cross sites: ${eligible.map((s) => s.scope ?? s.id).join(', ') || 'none'}).`,
      {
        hint: 'Loosen the globs; `tgate inspect` lists every site with its scope and id.',
      },
    );
  }
  return choices;
}
