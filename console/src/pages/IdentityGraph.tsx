import Box from '@cloudscape-design/components/box';
import type { IdentityGraphView } from '../../../core/console/identity-graph.js';

const COLUMN = 250;
const ROW = 64;
const NODE_W = 210;
const NODE_H = 40;
const PAD = 24;

const short = (text: string, max = 26) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * The identity graph as SVG: one column per profile the identifiers first arrived on (the person's own
 * first), solid lines for identifiers of the same profile, dashed numbered lines for merges. No
 * library: a few boxes and lines cost nothing in the page's JS. Screen readers get the summary and
 * each link as text (and the identities table next to it says the same per identifier).
 */
export function IdentityGraph(props: { graph: IdentityGraphView }) {
  const { nodes, edges, profiles } = props.graph;
  const position = new Map<string, { x: number; y: number }>();
  profiles.forEach((profileId, col) => {
    nodes
      .filter((n) => n.profileId === profileId)
      .forEach((n, row) => {
        position.set(n.id, { x: PAD + col * COLUMN, y: PAD + 22 + row * ROW });
      });
  });
  const rows = Math.max(1, ...profiles.map((p) => nodes.filter((n) => n.profileId === p).length));
  const width = PAD * 2 + (profiles.length - 1) * COLUMN + NODE_W;
  const height = PAD * 2 + 22 + rows * ROW;
  const merges = edges.filter((e) => e.kind === 'merge');
  const summary = `${nodes.length} identifiers on ${profiles.length} profile${profiles.length === 1 ? '' : 's'}, ${merges.length} merge${merges.length === 1 ? '' : 's'}.`;

  return (
    <div style={{ overflowX: 'auto' }}>
      <svg
        role="img"
        aria-labelledby="identity-graph-title identity-graph-desc"
        width={width}
        height={height}
        viewBox={`0 0 ${width} ${height}`}
        data-testid="identity-graph"
      >
        <title id="identity-graph-title">Identity graph</title>
        <desc id="identity-graph-desc">
          {summary} {edges.map((e) => `${e.from} to ${e.to}: ${e.label}.`).join(' ')}
        </desc>
        {profiles.map((profileId, col) => (
          <text key={profileId} x={PAD + col * COLUMN} y={PAD + 8} fontSize="12" fill="#5f6b7a">
            {col === 0 ? `Profile ${short(profileId, 20)}` : `Merged ${short(profileId, 20)}`}
          </text>
        ))}
        {edges.map((e) => {
          const a = position.get(e.from);
          const b = position.get(e.to);
          if (!a || !b) return null;
          const merge = e.kind === 'merge';
          // Same-column links bend out to the left so they do not run through the boxes between.
          const sameColumn = a.x === b.x;
          const path = sameColumn
            ? `M ${a.x} ${a.y + NODE_H / 2} C ${a.x - 20} ${a.y + NODE_H / 2}, ${b.x - 20} ${b.y + NODE_H / 2}, ${b.x} ${b.y + NODE_H / 2}`
            : `M ${a.x + (a.x < b.x ? NODE_W : 0)} ${a.y + NODE_H / 2} L ${b.x + (b.x < a.x ? NODE_W : 0)} ${b.y + NODE_H / 2}`;
          const n = merges.indexOf(e) + 1;
          const mid = { x: (a.x + b.x + NODE_W) / 2, y: (a.y + b.y + NODE_H) / 2 };
          return (
            <g key={`${e.kind}-${e.from}-${e.to}`} data-edge-kind={e.kind}>
              <title>{`${e.from} – ${e.to}: ${e.label}`}</title>
              <path
                d={path}
                fill="none"
                stroke={merge ? '#0972d3' : '#8c8c94'}
                strokeWidth={merge ? 2 : 1.5}
                strokeDasharray={merge ? '6 4' : undefined}
              />
              {merge && !sameColumn && (
                <g>
                  <circle cx={mid.x} cy={mid.y} r={10} fill="#0972d3" />
                  <text x={mid.x} y={mid.y + 4} fontSize="11" textAnchor="middle" fill="#ffffff">
                    {n}
                  </text>
                </g>
              )}
            </g>
          );
        })}
        {nodes.map((n) => {
          const p = position.get(n.id)!;
          return (
            <g key={n.id} data-node={n.id}>
              <title>{`${n.type}: ${n.value} (first seen on ${n.profileId})`}</title>
              <rect x={p.x} y={p.y} width={NODE_W} height={NODE_H} rx={8} fill="#f2f8fd" stroke="#0972d3" />
              <text x={p.x + 10} y={p.y + 16} fontSize="11" fill="#5f6b7a">
                {n.type}
              </text>
              <text x={p.x + 10} y={p.y + 32} fontSize="13" fill="#000716">
                {short(n.value)}
              </text>
            </g>
          );
        })}
      </svg>
      <Box variant="small">
        {summary} Solid lines: identifiers that arrived on the same profile&apos;s events. Dashed lines:
        merges.
      </Box>
      {merges.length > 0 && (
        <ol data-testid="identity-graph-merges" style={{ marginTop: 4 }}>
          {merges.map((e) => (
            <li key={`${e.from}-${e.to}`} style={{ fontSize: 12 }}>
              {e.from} – {e.to}: {e.label}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
