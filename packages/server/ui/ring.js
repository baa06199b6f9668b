// Draws the hash ring as SVG: an outer band where each member is primary (its arcs, as the node reports them) and
// an inner band with one arc per member sized by its share. One <g class="ring-member"> per member on the ring.

const SVG = 'http://www.w3.org/2000/svg';
const TOKENS = { inner: 86, outer: 100 };
const SHARES = { inner: 56, outer: 78 };
const PALETTE = ['#2f6fde', '#e0702b', '#2a9d5c', '#c2415d', '#8455c9', '#1f9eb3', '#b8890f', '#6b7280'];

/** A member's colour: by its place among the members, so that every view of one cluster agrees. */
export function colourOf(index) {
  const base = PALETTE[index % PALETTE.length];
  return index < PALETTE.length ? base : shade(base, Math.floor(index / PALETTE.length));
}

function shade(hex, step) {
  const value = Number.parseInt(hex.slice(1), 16);
  const channel = (shift) => Math.max(0, ((value >> shift) & 0xff) - 40 * step);
  return `rgb(${channel(16)}, ${channel(8)}, ${channel(0)})`;
}

function point(fraction, radius) {
  const angle = fraction * 2 * Math.PI - Math.PI / 2;
  return `${(radius * Math.cos(angle)).toFixed(3)} ${(radius * Math.sin(angle)).toFixed(3)}`;
}

/** The path of a band's piece from `start` to `end` (fractions of the ring, clockwise from the top). */
function arcPath(start, end, { inner, outer }) {
  if (end - start >= 0.9999) {
    // A whole circle is two halves: an arc cannot end where it starts.
    return `${arcPath(start, start + 0.5, { inner, outer })} ${arcPath(start + 0.5, end, { inner, outer })}`;
  }
  const large = end - start > 0.5 ? 1 : 0;
  return [
    `M ${point(start, outer)}`,
    `A ${outer} ${outer} 0 ${large} 1 ${point(end, outer)}`,
    `L ${point(end, inner)}`,
    `A ${inner} ${inner} 0 ${large} 0 ${point(start, inner)}`,
    'Z',
  ].join(' ');
}

function element(name, attributes = {}) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/**
 * Redraws `svg` from a `cluster_status` answer; `highlighted` is the set of addresses to mark (a looked-up key's
 * replicas). Members off the ring (still joining) are not drawn.
 */
export function drawRing(svg, status, highlighted) {
  for (const old of svg.querySelectorAll('g')) old.remove();
  let shareStart = 0;
  status.members.forEach((member, index) => {
    if (member.share <= 0) return;
    const group = element('g', {
      class: `ring-member status-${member.status}${highlighted.has(member.address) ? ' highlighted' : ''}`,
      'data-address': member.address,
      'data-share': member.share,
      fill: colourOf(index),
    });
    const title = element('title');
    title.textContent = `${member.address}: ${(member.share * 100).toFixed(1)}% of the ring, ${member.status}`;
    group.append(title);
    const tokens = element('path', {
      class: 'token-arcs',
      d: member.arcs.map(([start, end]) => arcPath(start, end, TOKENS)).join(' '),
    });
    const share = element('path', {
      class: 'share-arc',
      d: arcPath(shareStart, shareStart + member.share, SHARES),
    });
    shareStart += member.share;
    group.append(tokens, share);
    svg.append(group);
  });
  const centre = element('g', { class: 'ring-centre' });
  const count = element('text', { x: 0, y: -4, 'text-anchor': 'middle', class: 'ring-count' });
  count.textContent = `${status.members.filter((member) => member.share > 0).length} on the ring`;
  const detail = element('text', { x: 0, y: 12, 'text-anchor': 'middle', class: 'ring-detail' });
  detail.textContent = `${status.ring.vnodes} tokens each`;
  centre.append(count, detail);
  svg.append(centre);
}
