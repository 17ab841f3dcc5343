// Wall-clock times as the client handles them: milliseconds since the epoch (numbers), ISO 8601
// in UTC at the API (what the server sends and accepts), and the browser's local time zone on
// screen and in <input type="datetime-local"> fields.

/**
 * @param {number} ms
 * @returns {string} e.g. "2026-11-25T10:00:00.123Z"
 */
export function toIso(ms) {
  return new Date(ms).toISOString();
}

/**
 * @param {string} iso ISO 8601 with a time zone, as the server sends it
 * @returns {number} ms since the epoch (NaN when unreadable)
 */
export function fromIso(iso) {
  return Date.parse(iso);
}

/** @param {number} value @param {number} [width] */
function pad(value, width = 2) {
  return String(value).padStart(width, '0');
}

/**
 * The value of a datetime-local input (local time, to the second) for a moment.
 * @param {number} ms
 * @returns {string} e.g. "2026-11-25T11:00:00"
 */
export function toLocalInput(ms) {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The moment a datetime-local input names. Its value has no time zone, and ECMAScript reads
 * such a date-time as local time, which is what the field shows.
 * @param {string} value e.g. "2026-11-25T11:00" or "2026-11-25T11:00:00.5"
 * @returns {number | null} null when empty or unreadable
 */
export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

/**
 * A clock time to the second, e.g. "14:05:09".
 * @param {number} ms
 * @returns {string}
 */
export function clockText(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The milliseconds of a moment, e.g. ".075": frame steps are a few tens of ms apart.
 * @param {number} ms
 * @returns {string}
 */
export function millisText(ms) {
  return `.${pad(new Date(ms).getMilliseconds(), 3)}`;
}

/**
 * A date in the user's language, e.g. "Wed, 25 Nov 2026".
 * @param {number} ms
 * @returns {string}
 */
export function dateText(ms) {
  return new Date(ms).toLocaleDateString([], {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });
}

/**
 * A date and time to the second, for lists, e.g. "25 Nov 2026, 14:05:09".
 * @param {number} ms
 * @returns {string}
 */
export function dateTimeText(ms) {
  const day = new Date(ms).toLocaleDateString([], {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });
  return `${day}, ${clockText(ms)}`;
}
