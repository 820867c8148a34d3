import AppLayout from '@cloudscape-design/components/app-layout';
import SideNavigation, { type SideNavigationProps } from '@cloudscape-design/components/side-navigation';
import Spinner from '@cloudscape-design/components/spinner';
import { Suspense, useCallback, useEffect, useState } from 'react';
import { mayCall, type Role } from '../../resources/access.js';
import { type ConsoleConfig, loadConfig, type Me, resumeSession, signOut } from './auth.js';
import { lazyPage } from './lazy-page.js';
import { follow, navigate, usePath } from './router.js';
import { SignIn } from './SignIn.js';

// Each page is its own chunk: the first load carries only the shell and the sign-in.
const Profiles = lazyPage('Profiles', () => import('./pages/Profiles.js'));
const Segments = lazyPage('Segments', () => import('./pages/Segments.js'));
const SegmentEditor = lazyPage('SegmentEditor', () => import('./pages/SegmentEditor.js'));
const SegmentDetail = lazyPage('SegmentDetail', () => import('./pages/SegmentDetail.js'));
const Sources = lazyPage('Sources', () => import('./pages/Sources.js'));
const Regulations = lazyPage('Regulations', () => import('./pages/Regulations.js'));
const Debugger = lazyPage('Debugger', () => import('./pages/Debugger.js'));
const Overview = lazyPage('Overview', () => import('./pages/Overview.js'));

interface PageDef {
  readonly href: string;
  readonly text: string;
  /** The route whose roles decide whether the page is offered (the API enforces them regardless). */
  readonly needs: string;
}

// The first page a role may use is its landing page: operators (admins) and analysts land on the overview.
const PAGES: readonly PageDef[] = [
  { href: '/overview', text: 'Overview', needs: 'GET /v1/overview' },
  { href: '/profiles', text: 'Profiles', needs: 'GET /v1/profiles/{id}' },
  { href: '/segments', text: 'Segments', needs: 'GET /v1/segments' },
  { href: '/sources', text: 'Sources & write keys', needs: 'GET /v1/sources' },
  { href: '/debugger', text: 'Event debugger', needs: 'GET /v1/debug/events' },
  { href: '/regulations', text: 'Privacy regulations', needs: 'GET /v1/regulations' },
];

export const can = (roles: readonly Role[], routeKey: string) => mayCall(roles, routeKey);

function page(path: string, me: Me) {
  const seg = /^\/segments\/([^/]+)$/.exec(path);
  if (path === '/segments/new') return <SegmentEditor me={me} />;
  if (/^\/segments\/[^/]+\/edit$/.test(path)) return <SegmentEditor me={me} segmentId={path.split('/')[2]} />;
  if (seg) return <SegmentDetail me={me} segmentId={decodeURIComponent(seg[1]!)} />;
  if (path.startsWith('/profiles')) return <Profiles me={me} />;
  if (path.startsWith('/segments')) return <Segments me={me} />;
  if (path.startsWith('/sources')) return <Sources me={me} />;
  if (path.startsWith('/debugger')) return <Debugger me={me} />;
  if (path.startsWith('/regulations')) return <Regulations me={me} />;
  if (path.startsWith('/overview')) return <Overview me={me} />;
  return undefined;
}

export function App() {
  const [config, setConfig] = useState<ConsoleConfig>();
  const [me, setMe] = useState<Me | null>();
  const path = usePath();
  const expired = useCallback(() => setMe(null), []);

  useEffect(() => {
    void loadConfig().then(async (c) => {
      setConfig(c);
      setMe((await resumeSession(c, expired)) ?? null);
    });
  }, [expired]);

  if (me === undefined || !config)
    return (
      <main style={{ padding: 40 }}>
        <Spinner size="large" />
      </main>
    );
  if (me === null) return <SignIn config={config} onSignedIn={setMe} expired={expired} />;

  const offered = PAGES.filter((p) => can(me.roles, p.needs));
  if (path === '/' && offered[0]) navigate(offered[0].href);
  const items: SideNavigationProps.Item[] = [
    ...offered.map((p) => ({ type: 'link' as const, text: p.text, href: p.href })),
    { type: 'divider' },
    { type: 'link', text: `Signed in as ${me.id} (${me.roles.join(', ') || 'no role'})`, href: '#me' },
    { type: 'link', text: 'Sign out', href: '#sign-out' },
  ];
  const active = offered.find((p) => path.startsWith(p.href))?.href ?? '';

  return (
    <AppLayout
      toolsHide
      ariaLabels={{
        navigation: 'Console navigation',
        navigationClose: 'Close navigation',
        navigationToggle: 'Open navigation',
        notifications: 'Notifications',
      }}
      navigation={
        <SideNavigation
          header={{ text: 'Customer Data Platform', href: offered[0]?.href ?? '/' }}
          activeHref={active}
          items={items}
          onFollow={(e) => {
            if (e.detail.href === '#sign-out') void signOut(config).then(() => setMe(null));
            if (e.detail.href.startsWith('#')) return e.preventDefault();
            follow(e);
          }}
        />
      }
      content={
        <Suspense fallback={<Spinner size="large" />}>
          {page(path, me) ?? <p>Choose a page on the left.</p>}
        </Suspense>
      }
    />
  );
}
