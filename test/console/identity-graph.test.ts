import { describe, expect, it } from 'vitest';
import { identityGraph, linksOf } from '../../core/console/identity-graph.js';

const id = (type: string, value: string) => ({ type, value });

describe('identity graph of the 360 view', () => {
  it('draws one profile as a star of identifiers linked by its own events', () => {
    const g = identityGraph(
      { profileId: 'p_a', identities: [id('user_id', 'ada'), id('email', 'ada@example.com')] },
      [],
      [],
    );
    expect(g.profiles).toEqual(['p_a']);
    expect(g.nodes.map((n) => [n.id, n.profileId])).toEqual([
      ['user_id:ada', 'p_a'],
      ['email:ada@example.com', 'p_a'],
    ]);
    expect(g.edges).toEqual([
      expect.objectContaining({ from: 'user_id:ada', to: 'email:ada@example.com', kind: 'profile' }),
    ]);
  });

  it('places identifiers on the profile they arrived on and joins merged profiles by the merging message', () => {
    // p_c merged into p_b, then p_b into p_a: the person is p_a and holds all five identifiers.
    const g = identityGraph(
      {
        profileId: 'p_a',
        identities: [
          id('user_id', 'zoe'),
          id('email', 'zoe@example.com'),
          id('anonymous_id', 'anon-1'),
          id('anonymous_id', 'anon-2'),
          id('phone', '+15550100'),
        ],
      },
      [
        {
          profileId: 'p_b',
          identities: [id('anonymous_id', 'anon-1'), id('anonymous_id', 'anon-2'), id('phone', '+15550100')],
          mergedInto: 'p_a',
        },
        { profileId: 'p_c', identities: [id('phone', '+15550100')], mergedInto: 'p_b' },
      ],
      [
        {
          survivor: 'p_b',
          loser: 'p_c',
          decision: 'merged',
          messageId: 'm-1',
          identifierTypes: ['anonymous_id', 'phone'],
          at: '2026-03-01T10:00:00Z',
        },
        {
          survivor: 'p_a',
          loser: 'p_b',
          decision: 'merged',
          messageId: 'm-2',
          identifierTypes: ['user_id', 'anonymous_id'],
          at: '2026-03-01T11:00:00Z',
        },
        { survivor: 'p_a', decision: 'blocked', messageId: 'm-3', identifierTypes: ['email'] },
      ],
    );
    expect(g.profiles).toEqual(['p_a', 'p_c', 'p_b']);
    expect(Object.fromEntries(g.nodes.map((n) => [n.id, n.profileId]))).toEqual({
      'user_id:zoe': 'p_a',
      'email:zoe@example.com': 'p_a',
      'anonymous_id:anon-1': 'p_b',
      'anonymous_id:anon-2': 'p_b',
      'phone:+15550100': 'p_c',
    });
    const merges = g.edges.filter((e) => e.kind === 'merge');
    expect(merges).toEqual([
      expect.objectContaining({ from: 'phone:+15550100', to: 'anonymous_id:anon-1', messageId: 'm-1' }),
      // The loser's side includes what it had merged before (p_c's phone), the survivor's side does not.
      expect.objectContaining({ from: 'anonymous_id:anon-1', to: 'user_id:zoe', messageId: 'm-2' }),
    ]);
    expect(g.edges.filter((e) => e.kind === 'profile').map((e) => [e.from, e.to])).toEqual([
      ['user_id:zoe', 'email:zoe@example.com'],
      ['anonymous_id:anon-1', 'anonymous_id:anon-2'],
    ]);
    // Every identifier is connected: the graph is one person.
    const seen = new Set(['user_id:zoe']);
    for (let changed = true; changed; ) {
      changed = false;
      for (const e of g.edges)
        if (seen.has(e.from) !== seen.has(e.to)) {
          seen.add(e.from).add(e.to);
          changed = true;
        }
    }
    expect(seen.size).toBe(5);
    expect(linksOf(g, 'phone:+15550100')).toEqual([expect.stringContaining('message m-1')]);
  });

  it('still joins a merged profile whose merge record is missing', () => {
    const g = identityGraph(
      { profileId: 'p_a', identities: [id('user_id', 'u'), id('anonymous_id', 'x')] },
      [{ profileId: 'p_old', identities: [id('anonymous_id', 'x')], mergedInto: 'p_a' }],
      [],
    );
    expect(g.edges).toEqual([
      expect.objectContaining({
        from: 'anonymous_id:x',
        to: 'user_id:u',
        kind: 'merge',
        label: expect.stringContaining('no merge record'),
      }),
    ]);
  });
});
