// The playback timeline: a strip of wall-clock time with the recorded intervals (the gaps are
// what lies between them), the bookmarks, "now", and a cursor at the time of the frame shown.
//
// It is drawn as an SVG in CSS pixels (its viewBox is its own size), so that lines stay sharp and
// bookmarks can carry a <title>. Pointer events make it work alike with a mouse, a finger or a
// pen: a click or tap goes to that moment; a drag pans the window; a drag that begins on the
// cursor moves the cursor and goes to where it is let go. The wheel pans too. With the keyboard
// (it is a slider) the arrows and Page Up/Down move the cursor, + and - zoom.

import { clockText, dateTimeText } from './times.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The zoom levels: how much time the strip shows. */
export const ZOOMS = [
  { span: HOUR, label: '1 h' },
  { span: 6 * HOUR, label: '6 h' },
  { span: DAY, label: '24 h' },
  { span: 7 * DAY, label: '7 days' },
];

/** Tick spacings to choose from, the finest that leaves room for a label. */
const TICK_STEPS = [
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
];
const MIN_TICK_PX = 64;
/** A tick label needs about this much room on its right. */
const LABEL_ROOM_PX = 40;
/** The strip may show a little of the future, so that "now" is not glued to the edge. */
const FUTURE_FRACTION = 0.05;
/** Where a followed cursor is put when it leaves the window (fraction of the width). */
const FOLLOW_AT = 0.25;
/** A press that moves farther than this is a drag, not a click. */
const DRAG_PX = 6;
/** A press this close to the cursor grabs it (a finger is wide). */
const GRAB_PX = 16;
/** Bookmarks and intervals narrower than this are drawn this wide, so that they show. */
const MIN_MARK_PX = 3;
/** Keyboard: the arrows move the cursor by this part of the window, Page Up/Down by more. */
const ARROW_PART = 60;
const PAGE_PART = 6;
/** A wheel "line" (Firefox's deltaMode 1), in pixels. */
const WHEEL_LINE_PX = 16;

const HEIGHT = 76;
const LABEL_Y = 14;
const TRACK_TOP = 22;
const TRACK_HEIGHT = 30;
const MARK_TOP = TRACK_TOP + TRACK_HEIGHT + 4;
const MARK_HEIGHT = 10;

/**
 * @typedef {{start: number, end: number}} TimeRange ms since the epoch
 * @typedef {{start: number, end: number, headline: string}} Mark a bookmark on the strip
 * @typedef {object} TimelineHooks
 * @property {(time: number) => void} onSeek the user chose a moment
 * @property {(range: TimeRange) => void} onWindow the window moved or zoomed (data to fetch)
 * @property {(span: number) => void} onZoom the keyboard changed the zoom
 */

/**
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @returns {SVGElement}
 */
function svg(tag, attrs) {
  const element = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  return element;
}

/**
 * The tick spacing for a scale.
 * @param {number} msPerPx
 * @returns {number} ms
 */
function tickStep(msPerPx) {
  const fits = TICK_STEPS.find((step) => step / msPerPx >= MIN_TICK_PX);
  return fits || TICK_STEPS[TICK_STEPS.length - 1];
}

/** @param {Date} day local midnight @returns {Date} the next local midnight */
function nextDay(day) {
  return new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
}

/**
 * The ticks between two moments, on round local times (days start at local midnight).
 * @param {number} start
 * @param {number} end
 * @param {number} step ms, one of TICK_STEPS
 * @returns {{time: number, label: string}[]}
 */
function ticks(start, end, step) {
  const out = [];
  const first = new Date(start);
  // Every n-th day is counted from a fixed day, so that the labels do not move as one pans.
  const reference = new Date(2000, 0, 1).getTime();
  let day = new Date(first.getFullYear(), first.getMonth(), first.getDate());
  while (day.getTime() <= end) {
    const midnight = day.getTime();
    const next = nextDay(day);
    if (step >= DAY) {
      const index = Math.round((midnight - reference) / DAY);
      if (midnight >= start && index % (step / DAY) === 0) {
        out.push({ time: midnight, label: dayLabel(day) });
      }
    } else {
      // Every step from the day's midnight (days of 23 or 25 hours included).
      for (let time = midnight; time < next.getTime() && time <= end; time += step) {
        if (time < start) continue;
        out.push({ time, label: time === midnight ? dayLabel(day) : clockText(time).slice(0, 5) });
      }
    }
    day = next;
  }
  return out;
}

/** @param {Date} day @returns {string} e.g. "Wed 25" */
function dayLabel(day) {
  return `${day.toLocaleDateString([], { weekday: 'short' })} ${day.getDate()}`;
}

/**
 * Merges ranges that are closer than a pixel apart, so that a week of short gaps does not
 * make thousands of elements.
 * @param {TimeRange[]} ranges sorted by start
 * @param {number} msPerPx
 * @returns {TimeRange[]}
 */
function mergeForDrawing(ranges, msPerPx) {
  /** @type {TimeRange[]} */
  const out = [];
  for (const range of ranges) {
    const last = out[out.length - 1];
    if (last && range.start - last.end < msPerPx) last.end = Math.max(last.end, range.end);
    else out.push({ ...range });
  }
  return out;
}

export class Timeline {
  /** @type {HTMLElement} what to put on the page */ element;
  /** @type {TimelineHooks} */ #hooks;
  /** @type {SVGSVGElement} */ #svg;
  /** @type {SVGGElement} */ #layer;
  /** @type {SVGGElement} */ #cursorGroup;
  /** @type {SVGTextElement} */ #scrubText;
  #start = 0;
  #span = HOUR;
  #width = 0;
  /** @type {number | null} */ #cursor = null;
  /** @type {number | null} where a dragged cursor is (shown instead of the cursor) */
  #scrub = null;
  /** Whether the window moves along with the cursor (until the user pans it away). */
  #follow = true;
  /** @type {TimeRange[]} */ #intervals = [];
  /** @type {Mark[]} */ #marks = [];
  /**
   * The press under way: where it began, the window then, and whether it grabbed the cursor.
   * @type {{id: number, x: number, start: number, grab: boolean, moved: boolean} | null}
   */
  #press = null;
  #frame = 0;
  /** @type {ResizeObserver} */ #resize;
  /** @type {ReturnType<typeof setInterval>} */ #clock;

  /**
   * @param {TimelineHooks} hooks
   * @param {number} span the zoom, one of ZOOMS' spans
   */
  constructor(hooks, span) {
    this.#hooks = hooks;
    this.#span = span;
    this.#svg = /** @type {SVGSVGElement} */ (
      svg('svg', {
        id: 'timeline',
        class: 'timeline',
        role: 'slider',
        tabindex: 0,
        'aria-label': 'Timeline: the recorded video over time',
        height: HEIGHT,
      })
    );
    this.#layer = /** @type {SVGGElement} */ (svg('g', {}));
    this.#scrubText = /** @type {SVGTextElement} */ (
      svg('text', { class: 'scrub-time', y: LABEL_Y })
    );
    this.#cursorGroup = /** @type {SVGGElement} */ (svg('g', { class: 'cursor' }));
    this.#cursorGroup.append(
      svg('line', { x1: 0, x2: 0, y1: TRACK_TOP - 4, y2: HEIGHT }),
      svg('path', { d: `M -7 ${TRACK_TOP - 10} h 14 l -7 9 z` }),
    );
    this.#svg.append(this.#layer, this.#cursorGroup, this.#scrubText);
    this.element = document.createElement('div');
    this.element.className = 'timeline-box';
    this.element.append(this.#svg);
    this.#start = Date.now() + span * FUTURE_FRACTION - span;
    this.#listen();
    this.#resize = new ResizeObserver(() => this.#measure());
    this.#resize.observe(this.element);
    // "Now" moves: the future shrinks and the last interval grows with the recording.
    this.#clock = setInterval(() => {
      this.#clamp();
      this.#draw();
    }, 1000);
  }

  /** @returns {TimeRange} the window shown */
  get range() {
    return { start: this.#start, end: this.#start + this.#span };
  }

  /** @returns {number} the zoom (ms across the strip) */
  get span() {
    return this.#span;
  }

  /**
   * Zooms, keeping the cursor where it is on screen when it is in view (else in the middle).
   * @param {number} span
   */
  setSpan(span) {
    const cursor = this.#cursor;
    const anchor =
      cursor !== null && cursor >= this.#start && cursor <= this.#start + this.#span
        ? (cursor - this.#start) / this.#span
        : 0.5;
    const centre = cursor ?? this.#start + this.#span / 2;
    this.#span = span;
    this.#start = centre - anchor * span;
    this.#moved();
  }

  /**
   * Moves the cursor (the time of the frame shown). The window follows a cursor that leaves
   * it, unless the user panned it away.
   * @param {number} time
   */
  setCursor(time) {
    this.#cursor = time;
    if (this.#follow && !this.#press) {
      const end = this.#start + this.#span;
      if (time < this.#start || time > end - this.#span * FUTURE_FRACTION) {
        this.#start = time - this.#span * FOLLOW_AT;
        this.#moved();
        return;
      }
    }
    this.#schedule();
  }

  /** Brings the cursor back into view and keeps it there (after a seek, say). */
  follow() {
    this.#follow = true;
    if (this.#cursor !== null) this.setCursor(this.#cursor);
  }

  /** @param {TimeRange[]} intervals recorded stretches, sorted */
  setIntervals(intervals) {
    this.#intervals = intervals;
    this.#schedule();
  }

  /** @param {Mark[]} marks bookmarks */
  setMarks(marks) {
    this.#marks = marks;
    this.#schedule();
  }

  dispose() {
    this.#resize.disconnect();
    clearInterval(this.#clock);
    cancelAnimationFrame(this.#frame);
  }

  #measure() {
    const width = this.element.clientWidth; // inside the box's border
    if (width === this.#width || width <= 0) return;
    this.#width = width;
    this.#svg.setAttribute('width', String(width));
    this.#svg.setAttribute('viewBox', `0 0 ${width} ${HEIGHT}`);
    this.#draw();
  }

  /** The window moved: keep it in bounds, draw it, and tell the view. */
  #moved() {
    this.#clamp();
    this.#draw();
    this.#hooks.onWindow(this.range);
  }

  /** No more of the future than a sliver. */
  #clamp() {
    const latest = Date.now() + this.#span * FUTURE_FRACTION - this.#span;
    if (this.#start > latest) this.#start = latest;
  }

  /** Draws on the next animation frame (many cursor moves per frame cost one drawing). */
  #schedule() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  /** @param {number} time @returns {number} its x in the strip */
  #x(time) {
    return ((time - this.#start) / this.#span) * this.#width;
  }

  /**
   * The moment under a pointer, never in the future.
   * @param {number} clientX
   * @returns {number}
   */
  #timeAt(clientX) {
    const box = this.#svg.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (clientX - box.left) / box.width));
    return Math.min(Date.now(), this.#start + fraction * this.#span);
  }

  #draw() {
    const width = this.#width;
    if (!width) return;
    const start = this.#start;
    const end = start + this.#span;
    const msPerPx = this.#span / width;
    const now = Date.now();
    this.#svg.dataset.start = new Date(start).toISOString();
    this.#svg.dataset.end = new Date(end).toISOString();
    const parts = [
      svg('rect', { class: 'track', x: 0, y: TRACK_TOP, width, height: TRACK_HEIGHT }),
    ];
    const visible = this.#intervals.filter((range) => range.end > start && range.start < end);
    for (const range of mergeForDrawing(visible, msPerPx)) {
      const x = Math.max(0, this.#x(range.start));
      const right = Math.min(width, this.#x(range.end));
      parts.push(
        svg('rect', {
          class: 'recorded',
          x,
          y: TRACK_TOP,
          width: Math.max(MIN_MARK_PX, right - x),
          height: TRACK_HEIGHT,
        }),
      );
    }
    if (now < end) {
      const x = Math.max(0, this.#x(now));
      parts.push(
        svg('rect', { class: 'future', x, y: TRACK_TOP, width: width - x, height: TRACK_HEIGHT }),
      );
    }
    for (const tick of ticks(start, end, tickStep(msPerPx))) {
      const x = Math.round(this.#x(tick.time)) + 0.5;
      parts.push(
        svg('line', { class: 'tick', x1: x, x2: x, y1: LABEL_Y + 4, y2: TRACK_TOP + TRACK_HEIGHT }),
      );
      if (x > width - LABEL_ROOM_PX) continue; // a label cut off at the edge says nothing
      const label = svg('text', { class: 'tick-label', x: x + 3, y: LABEL_Y });
      label.textContent = tick.label;
      parts.push(label);
    }
    for (const mark of this.#marks) {
      if (mark.end < start || mark.start > end) continue;
      const x = this.#x(mark.start);
      const shape = svg('rect', {
        class: 'bookmark',
        x,
        y: MARK_TOP,
        width: Math.max(MIN_MARK_PX, this.#x(mark.end) - x),
        height: MARK_HEIGHT,
        rx: 2,
      });
      const title = svg('title', {});
      title.textContent = `${mark.headline} (${dateTimeText(mark.start)})`; // text, never markup
      shape.append(title);
      parts.push(shape);
    }
    this.#layer.replaceChildren(...parts);
    this.#drawCursor();
  }

  #drawCursor() {
    const shown = this.#scrub ?? this.#cursor;
    const group = this.#cursorGroup;
    if (shown === null || shown < this.#start || shown > this.#start + this.#span) {
      group.setAttribute('visibility', 'hidden');
    } else {
      group.setAttribute('visibility', 'visible');
      group.setAttribute('transform', `translate(${this.#x(shown)} 0)`);
    }
    if (this.#scrub !== null) {
      const x = this.#x(this.#scrub);
      this.#scrubText.textContent = clockText(this.#scrub);
      // Beside the cursor, on the side with room.
      const left = x > this.#width - 80;
      this.#scrubText.setAttribute('x', String(left ? x - 8 : x + 8));
      this.#scrubText.setAttribute('text-anchor', left ? 'end' : 'start');
    } else {
      this.#scrubText.textContent = '';
    }
    const at = shown ?? this.#start + this.#span;
    this.#svg.setAttribute('aria-valuemin', String(Math.round(this.#start / 1000)));
    this.#svg.setAttribute('aria-valuemax', String(Math.round((this.#start + this.#span) / 1000)));
    this.#svg.setAttribute('aria-valuenow', String(Math.round(at / 1000)));
    this.#svg.setAttribute('aria-valuetext', shown === null ? 'No position' : dateTimeText(shown));
  }

  /**
   * The user chose a moment: the cursor goes there, the window follows it again, and the view
   * is told.
   * @param {number} time
   */
  #seek(time) {
    this.#follow = true;
    this.#cursor = time;
    this.#draw();
    this.#hooks.onSeek(time);
  }

  #listen() {
    const target = this.#svg;
    target.addEventListener('pointerdown', (event) => {
      if (this.#press || (event.pointerType === 'mouse' && event.button !== 0)) return;
      event.preventDefault(); // no text selection, no focus ring jump on a drag
      target.focus({ preventScroll: true });
      target.setPointerCapture(event.pointerId); // keep dragging when the pointer leaves the strip
      const box = target.getBoundingClientRect();
      const cursorX =
        this.#cursor === null ? null : box.left + (this.#x(this.#cursor) * box.width) / this.#width;
      const grab = cursorX !== null && Math.abs(event.clientX - cursorX) <= GRAB_PX;
      this.#press = {
        id: event.pointerId,
        x: event.clientX,
        start: this.#start,
        grab,
        moved: false,
      };
    });
    target.addEventListener('pointermove', (event) => {
      const press = this.#press;
      if (!press || event.pointerId !== press.id) return;
      const dx = event.clientX - press.x;
      if (!press.moved && Math.abs(dx) < DRAG_PX) return;
      press.moved = true;
      if (press.grab) {
        this.#scrub = this.#timeAt(event.clientX);
        this.#drawCursor();
        return;
      }
      const box = target.getBoundingClientRect();
      this.#follow = false;
      this.#start = press.start - (dx / box.width) * this.#span;
      this.#moved();
    });
    target.addEventListener('pointerup', (event) => {
      const press = this.#press;
      if (!press || event.pointerId !== press.id) return;
      this.#press = null;
      this.#scrub = null;
      // A click (or a dragged cursor let go) goes there; a pan only moved the window.
      if (!press.moved || press.grab) this.#seek(this.#timeAt(event.clientX));
    });
    target.addEventListener('pointercancel', () => {
      this.#press = null;
      this.#scrub = null;
      this.#drawCursor();
    });
    target.addEventListener(
      'wheel',
      (event) => {
        const delta = Math.abs(event.deltaX) > Math.abs(event.deltaY) ? event.deltaX : event.deltaY;
        if (!delta) return;
        event.preventDefault(); // the strip pans instead of the page scrolling
        const px = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? delta * WHEEL_LINE_PX : delta;
        this.#follow = false;
        this.#start += (px / Math.max(1, this.#width)) * this.#span;
        this.#moved();
      },
      { passive: false },
    );
    target.addEventListener('keydown', (event) => this.#onKey(event));
  }

  /** @param {KeyboardEvent} event */
  #onKey(event) {
    const from = this.#cursor ?? this.#start + this.#span / 2;
    /** @type {Record<string, () => void>} */
    const actions = {
      ArrowLeft: () => this.#seek(from - this.#span / ARROW_PART),
      ArrowRight: () => this.#seek(Math.min(Date.now(), from + this.#span / ARROW_PART)),
      PageUp: () => this.#seek(from - this.#span / PAGE_PART),
      PageDown: () => this.#seek(Math.min(Date.now(), from + this.#span / PAGE_PART)),
      '+': () => this.#zoomBy(-1),
      '=': () => this.#zoomBy(-1),
      '-': () => this.#zoomBy(1),
    };
    const action = actions[event.key];
    if (!action || event.altKey || event.ctrlKey || event.metaKey) return;
    event.preventDefault();
    event.stopPropagation(); // the view's own keys (frame steps on the arrows) are not for here
    action();
  }

  /** @param {number} direction -1: closer (a shorter span), 1: farther */
  #zoomBy(direction) {
    const index = ZOOMS.findIndex((zoom) => zoom.span === this.#span);
    const next = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, index + direction))];
    if (next.span === this.#span) return;
    this.setSpan(next.span);
    this.#hooks.onZoom(next.span);
  }
}
