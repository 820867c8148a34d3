import { type ComponentType, lazy } from 'react';

/**
 * A code-split page: its JS chunk and its CSS bundle (named in index.html by the build) load together,
 * so a page never renders unstyled.
 */
function pageCss(): Record<string, string> {
  const el = document.getElementById('page-css');
  return el?.textContent ? (JSON.parse(el.textContent) as Record<string, string>) : {};
}

function linkCss(href: string): Promise<void> {
  if (document.querySelector(`link[href="${href}"]`)) return Promise.resolve();
  return new Promise((resolve) => {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = href;
    link.onload = () => resolve();
    link.onerror = () => resolve();
    document.head.appendChild(link);
  });
}

// biome-ignore lint/suspicious/noExplicitAny: page props differ per page
export function lazyPage<P extends Record<string, any>>(
  name: string,
  load: () => Promise<{ default: ComponentType<P> }>,
) {
  return lazy(async () => {
    const href = pageCss()[name];
    const [module] = await Promise.all([load(), href ? linkCss(href) : undefined]);
    return module;
  });
}
