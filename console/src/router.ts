import { useEffect, useState } from 'react';

/** Plain History API routing: the console has a handful of pages, so no router library is needed. */
export function navigate(path: string): void {
  if (path === window.location.pathname + window.location.search) return;
  window.history.pushState(null, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The current path; re-renders on every navigation, a changed query string included. */
export function usePath(): string {
  const [location, setLocation] = useState(window.location.pathname + window.location.search);
  useEffect(() => {
    const update = () => setLocation(window.location.pathname + window.location.search);
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return location.split('?')[0]!;
}

export function useQueryParam(name: string): string | undefined {
  usePath();
  return new URLSearchParams(window.location.search).get(name) ?? undefined;
}

/** Follow handler for Cloudscape links and navigation: client-side unless a modifier key asks for a tab. */
export function follow(event: CustomEvent<{ href?: string; external?: boolean }>): void {
  const href = event.detail.href;
  if (!href || event.detail.external) return;
  event.preventDefault();
  navigate(href);
}
