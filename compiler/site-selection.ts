// Which sites a compile caches: every cross-attention site by default; --include/--exclude
// globs on a site's scope or id narrow that. Each site gets the reason for its fate, which the
// manifest records.
import { TgateError } from './errors.js';
import type { Site } from '../passes/attention/find-sites.js';

export interface SiteFilter {
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
  const choices = sites.map((site): SiteChoice => {
    if (site.kind !== 'cross') return { site, cached: false, reason: 'self-attention: computed every step (self caching is TGATE v2)' };
    if (filter.include?.length) {
      const hit = matches(site, filter.include);
      if (!hit) return { site, cached: false, reason: `not matched by --include ${filter.include.map((g) => `'${g}'`).join(' ')}` };
    }
    const ex = filter.exclude?.length ? matches(site, filter.exclude) : undefined;
    if (ex) return { site, cached: false, reason: `excluded by --exclude '${ex}'` };
    return { site, cached: true, reason: filter.include?.length ? 'cross-attention, matched by --include' : 'cross-attention' };
  });
  if (sites.some((s) => s.kind === 'cross') && !choices.some((c) => c.cached)) {
    throw new TgateError('E_USAGE', `--include/--exclude left no cross-attention site to cache (sites: ${sites.filter((s) => s.kind === 'cross').map((s) => s.scope ?? s.id).join(', ')}).`, {
      hint: 'Loosen the globs; `tgate inspect` lists every site with its scope and id.',
    });
  }
  return choices;
}
