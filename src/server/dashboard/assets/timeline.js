// The recoverability timeline of one server: when its state can be reconstructed.
//
// Lanes, oldest on the left, now on the right:
//   Dumps        one mark per backup at its consistency point (successful: filled; failed: a red cross)
//   Changes      bands where captured changes are complete, gaps in red
//   Recoverable  from the first successful dump inside a band to the band's end: a restore plus replay can
//                reach any moment there
// and a dashed line at the binlog retention horizon: the server purges binlogs older than that.
//
// `timelineModel` is pure (data in, geometry-free model out); `renderTimeline` draws a model as inline SVG.

import { formatBytes, formatDuration, formatTime, parseTime } from './format.js';
import { s } from './dom.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The data of a timeline.
 *   backups   backups of the server as `GET /api/v1/backups` returns them
 *   coverage  the server's capture coverage, or null when the API does not report it:
 *             { windows: [{ from, to }], gaps: [{ from, to, reason, detail }],
 *               binlog_retention_horizon: ISO or null }   (ISO-8601 times; a gap end may be null: unbounded)
 *   now       milliseconds since the epoch
 */
export function timelineModel({ backups, coverage, now }) {
  const dumps = [];
  for (const backup of backups) {
    if (backup.status !== 'succeeded' && backup.status !== 'failed') continue;
    const at = consistencyTime(backup);
    if (at !== null) dumps.push({ at, ok: backup.status === 'succeeded', backup });
  }
  dumps.sort((a, b) => a.at - b.at);

  const bands = [];
  const gaps = [];
  let horizon = null;
  if (coverage) {
    for (const w of coverage.windows ?? []) {
      const from = parseTime(w.from);
      const to = parseTime(w.to);
      if (from !== null && to !== null && to >= from) bands.push({ from, to });
    }
    for (const g of coverage.gaps ?? []) {
      gaps.push({
        from: parseTime(g.from),
        to: parseTime(g.to),
        reason: g.reason ?? null,
        detail: g.detail ?? '',
      });
    }
    horizon = parseTime(coverage.binlog_retention_horizon);
  }
  bands.sort((a, b) => a.from - b.from);

  // A restore needs a good dump; replaying captured changes carries it to the end of the band it lies in.
  const recoverable = [];
  for (const band of bands) {
    const first = dumps.find((d) => d.ok && d.at >= band.from && d.at <= band.to);
    if (first !== undefined) recoverable.push({ from: first.at, to: band.to });
  }

  const times = [
    ...dumps.map((d) => d.at),
    ...bands.flatMap((b) => [b.from, b.to]),
    ...gaps.flatMap((g) => [g.from, g.to]).filter((t) => t !== null),
    ...(horizon === null ? [] : [horizon]),
  ];
  const empty = times.length === 0;
  const end = Math.max(now, ...times);
  let start = empty ? end - DAY : Math.min(...times);
  if (end - start < HOUR) start = end - HOUR;
  // Room at both ends so that the oldest and newest marks do not sit on the edge.
  const span = end - start;
  start -= span * 0.04;
  const paddedEnd = end + span * 0.015;

  return {
    start,
    end: paddedEnd,
    now,
    dumps,
    bands,
    gaps,
    recoverable,
    horizon,
    coverageKnown: coverage !== null && coverage !== undefined,
    empty,
    summary: summarize({ dumps, bands, gaps, recoverable, coverage }),
  };
}

/**
 * When the dump's data is consistent: a logical dump (mydumper) takes its snapshot as it starts; a physical copy
 * (mariadb-backup, xtrabackup) is consistent where the copy ends, when it takes its final lock.
 */
function consistencyTime(backup) {
  const physical = backup.tool !== 'mydumper';
  const preferred = physical ? backup.dump_finished_at : backup.started_at;
  return parseTime(preferred) ?? parseTime(backup.started_at) ?? parseTime(backup.created_at);
}

function summarize({ dumps, bands, gaps, recoverable, coverage }) {
  const good = dumps.filter((d) => d.ok);
  if (good.length === 0) {
    return dumps.length === 0
      ? 'Not recoverable yet: no dump has been taken'
      : 'Not recoverable: every dump so far has failed';
  }
  const dumpsText = `${good.length} successful ${good.length === 1 ? 'dump' : 'dumps'}`;
  if (!coverage) {
    return `${dumpsText}, each restorable to the moment it was taken; captured change coverage is not reported`;
  }
  if (bands.length === 0) {
    return `${dumpsText}, each restorable to the moment it was taken; no changes captured yet`;
  }
  const gapNote =
    gaps.length === 0 ? '' : `; ${gaps.length} ${gaps.length === 1 ? 'gap' : 'gaps'} in captured changes`;
  const last = recoverable[recoverable.length - 1];
  if (last === undefined) {
    return `${dumpsText}, each restorable only to the moment it was taken: none lies inside captured change coverage${gapNote}`;
  }
  return `Recoverable to any moment from ${when(last.from)} to ${when(last.to)}${gapNote}`;
}

function when(ms) {
  return formatTime(new Date(ms).toISOString());
}

// Layout in CSS pixels. Lanes are stacked rows; the axis sits under them.
const LEFT = 104;
const RIGHT = 20;
// The top row is kept for the labels of the vertical markers (binlog horizon, now).
const LANES = [
  { key: 'dumps', label: 'Dumps', top: 22, height: 26 },
  { key: 'changes', label: 'Changes', top: 56, height: 20 },
  { key: 'recoverable', label: 'Recoverable', top: 84, height: 20 },
];
const AXIS_Y = 114;
const HEIGHT = 140;
const MARKER_LABEL_Y = 11;

const TICK_STEPS = [
  5 * 60_000,
  15 * 60_000,
  30 * 60_000,
  HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
  90 * DAY,
];

const tickTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const tickDate = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });

/** Draws a model as an `<svg>` of the given width. `label` names the server for assistive technology. */
export function renderTimeline(model, { width, label }) {
  const w = Math.max(320, Math.round(width));
  const plotWidth = w - LEFT - RIGHT;
  const x = (t) => LEFT + ((t - model.start) / (model.end - model.start)) * plotWidth;
  const lane = Object.fromEntries(LANES.map((l) => [l.key, l]));
  const plotTop = LANES[0].top;
  const plotBottom = LANES[LANES.length - 1].top + LANES[LANES.length - 1].height;

  const svg = s('svg', {
    class: 'timeline',
    width: w,
    height: HEIGHT,
    viewBox: `0 0 ${w} ${HEIGHT}`,
    role: 'img',
    'aria-label': `Recoverability timeline of ${label}: ${model.summary}`,
  });
  svg.append(s('title', {}, `Recoverability timeline of ${label}`), s('desc', {}, model.summary));

  for (const l of LANES) {
    svg.append(
      s('rect', { class: 'tl-lane', x: LEFT, y: l.top, width: plotWidth, height: l.height, rx: 3 }),
      s(
        'text',
        {
          class: 'tl-lane-label',
          x: LEFT - 10,
          y: l.top + l.height / 2,
          'dominant-baseline': 'middle',
          'text-anchor': 'end',
        },
        l.label,
      ),
    );
  }

  // Axis with ticks at round local times.
  svg.append(s('line', { class: 'tl-axis', x1: LEFT, x2: LEFT + plotWidth, y1: AXIS_Y, y2: AXIS_Y }));
  const span = model.end - model.start;
  const maxTicks = Math.max(2, Math.floor(plotWidth / 90));
  const step = TICK_STEPS.find((t) => span / t <= maxTicks) ?? TICK_STEPS[TICK_STEPS.length - 1];
  const offset = -new Date(model.start).getTimezoneOffset() * 60_000;
  const showDate = step >= DAY || span > DAY;
  for (let t = Math.ceil((model.start + offset) / step) * step - offset; t <= model.end; t += step) {
    const tx = x(t);
    const text =
      step >= DAY
        ? tickDate.format(t)
        : showDate
          ? `${tickDate.format(t)} ${tickTime.format(t)}`
          : tickTime.format(t);
    svg.append(
      s('line', { class: 'tl-tick', x1: tx, x2: tx, y1: AXIS_Y, y2: AXIS_Y + 5 }),
      s('line', { class: 'tl-grid', x1: tx, x2: tx, y1: plotTop, y2: plotBottom }),
    );
    // A label that would run off the right edge is left out; the tick and grid line still show the time.
    const halfLabel = text.length * 3.3;
    if (tx + halfLabel <= w) {
      svg.append(s('text', { class: 'tl-tick-label', x: tx, y: AXIS_Y + 18, 'text-anchor': 'middle' }, text));
    }
  }

  const clampX = (t, fallback) => x(Math.min(model.end, Math.max(model.start, t ?? fallback)));

  for (const band of model.bands) {
    const x1 = clampX(band.from);
    const x2 = clampX(band.to);
    svg.append(
      s(
        'rect',
        {
          class: 'tl-band',
          x: x1,
          y: lane.changes.top,
          width: Math.max(2, x2 - x1),
          height: lane.changes.height,
          rx: 2,
        },
        s('title', {}, `Changes captured from ${when(band.from)} to ${when(band.to)}`),
      ),
    );
  }
  for (const r of model.recoverable) {
    const x1 = clampX(r.from);
    const x2 = clampX(r.to);
    svg.append(
      s(
        'rect',
        {
          class: 'tl-recoverable',
          x: x1,
          y: lane.recoverable.top,
          width: Math.max(2, x2 - x1),
          height: lane.recoverable.height,
          rx: 2,
        },
        s('title', {}, `Recoverable to any moment from ${when(r.from)} to ${when(r.to)}`),
      ),
    );
  }
  for (const gap of model.gaps) {
    const x1 = clampX(gap.from, model.start);
    const x2 = clampX(gap.to, model.end);
    const reason = gap.reason ? gap.reason.replaceAll('_', ' ') : 'changes missing';
    svg.append(
      s(
        'rect',
        {
          class: 'tl-gap',
          x: x1,
          y: lane.changes.top - 2,
          width: Math.max(3, x2 - x1),
          height: plotBottom - lane.changes.top + 4,
        },
        s(
          'title',
          {},
          `Gap (${reason}) from ${gap.from === null ? 'an unknown time' : when(gap.from)} to ${gap.to === null ? 'now' : when(gap.to)}${gap.detail ? `: ${gap.detail}` : ''}`,
        ),
      ),
    );
  }

  if (model.horizon !== null) {
    const hx = clampX(model.horizon);
    svg.append(
      s(
        'line',
        { class: 'tl-horizon', x1: hx, x2: hx, y1: plotTop - 6, y2: AXIS_Y },
        s(
          'title',
          {},
          `Binlog retention horizon: the server purges binlogs older than ${when(model.horizon)}`,
        ),
      ),
      s(
        'text',
        { class: 'tl-horizon-label', x: hx, y: MARKER_LABEL_Y, 'text-anchor': 'middle' },
        'binlog horizon',
      ),
    );
  }

  const nowX = clampX(model.now);
  svg.append(
    s('line', { class: 'tl-now', x1: nowX, x2: nowX, y1: plotTop - 6, y2: AXIS_Y }),
    s('text', { class: 'tl-now-label', x: nowX, y: MARKER_LABEL_Y, 'text-anchor': 'end' }, 'now'),
  );

  const cy = lane.dumps.top + lane.dumps.height / 2;
  for (const d of model.dumps) {
    const dx = clampX(d.at);
    const b = d.backup;
    const what = d.ok
      ? `Dump ${b.tool ?? ''} at ${when(d.at)}, ${formatBytes(b.size_bytes)} in ${formatDuration(b.duration_ms)}`
      : `Failed dump at ${when(d.at)}${b.error?.message ? `: ${b.error.message}` : ''}`;
    if (d.ok) {
      svg.append(
        s(
          'path',
          {
            class: 'tl-dump',
            d: `M ${dx} ${cy - 7} L ${dx + 6} ${cy} L ${dx} ${cy + 7} L ${dx - 6} ${cy} Z`,
            'data-backup-id': b.id,
          },
          s('title', {}, what),
        ),
      );
    } else {
      svg.append(
        s(
          'path',
          {
            class: 'tl-dump-failed',
            d: `M ${dx - 4} ${cy - 4} L ${dx + 4} ${cy + 4} M ${dx + 4} ${cy - 4} L ${dx - 4} ${cy + 4}`,
            'data-backup-id': b.id,
          },
          s('title', {}, what),
        ),
      );
    }
  }

  if (model.empty) {
    svg.append(
      s(
        'text',
        {
          class: 'tl-empty',
          x: LEFT + plotWidth / 2,
          y: lane.changes.top + 10,
          'text-anchor': 'middle',
          'dominant-baseline': 'middle',
        },
        'Nothing to show yet',
      ),
    );
  }
  return svg;
}
