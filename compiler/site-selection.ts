// Which sites a compile caches: every cross-attention site by default; --include/--exclude
// globs on a site's scope or id narrow that. Each site gets the reason for its fate, which the
// manifest records.
import { TgateError } from './errors.js';
import type { Site } from '../passes/attention/find-sites.js';

export interface SiteFilter {
  /** Which kinds of site to cache: cross (TGATE, the default), self, or all. */
  kinds?: 'cross' | 'self' | 'all';
  include?: string[];
  exclude?: string[];
}

export interface SiteChoice {
  site: Site;
  cached: boolean;
  reason: string;
}

/** `*` matches any run of characters (slashes included), `?` one character; the rest literally. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function matches(site: Site, globs: string[]): string | undefined {
  return globs.find((g) => {
    const re = globToRegExp(g);
    return re.test(site.id) || (site.scope !== null && re.test(site.scope));
  });
}

export function chooseSites(sites: Site[], filter: SiteFilter = {}): SiteChoice[] {
  const kinds = filter.kinds ?? 'cross';
  const choices = sites.map((site): SiteChoice => {
    if (kinds !== 'all' && site.kind !== kinds) {
      return { site, cached: false, reason: site.kind === 'self' ? 'self-attention: computed every step (--sites self|all caches it)' : 'cross-attention: not cached with --sites self' };
    }
    if (filter.include?.length) {
      const hit = matches(site, filter.include);
      if (!hit) return { site, cached: false, reason: `not matched by --include ${filter.include.map((g) => `'${g}'`).join(' ')}` };
    }
    const ex = filter.exclude?.length ? matches(site, filter.exclude) : undefined;
    if (ex) return { site, cached: false, reason: `excluded by --exclude '${ex}'` };
    const what = site.kind === 'cross' ? 'cross-attention' : 'self-attention, chosen by --sites';
    return { site, cached: true, reason: filter.include?.length ? `${what}, matched by --include` : what };
  });
  if (!choices.some((c) => c.cached)) {
    const eligible = sites.filter((s) => kinds === 'all' || s.kind === kinds);
    throw new TgateError('E_USAGE', `--sites/--include/--exclude left no site to cache (${kinds} sites: ${eligible.map((s) => s.scope ?? s.id).join(', ') || 'none'}).`, {
      hint: 'Loosen the globs; `tgate inspect` lists every site with its scope and id.',
    });
  }
  return choices;
}
