// The client timeout (U3): a session that the server does not hear from for `timeout_s` ends.
// While logged in, the client says it is still there every third of that time, so that one lost
// request does not end the session. Browsers slow timers down in hidden tabs (to once a minute
// or less), so one more goes out as soon as the page is shown again.

import * as api from './api.js';

/** The interval until the server has said its timeout (30 s by default: 10 s is a third). */
const FIRST_INTERVAL_MS = 10_000;
/** Never more often than this, whatever the server answers. */
const MIN_INTERVAL_MS = 1000;

/**
 * Starts sending keepalives: one at once (its answer sets the interval), then every
 * timeout/3 seconds, and one whenever the page becomes visible.
 * @param {{onEnded: () => void}} hooks onEnded: the server answered 401, the session is over
 *   (the keepalives have stopped by then)
 * @returns {() => void} stops them
 */
export function startKeepalive({ onEnded }) {
  let interval = FIRST_INTERVAL_MS;
  let stopped = false;
  let inFlight = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;

  const schedule = () => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(send, interval);
  };

  async function send() {
    if (stopped || inFlight) return;
    inFlight = true;
    clearTimeout(timer);
    try {
      const answer = await api.keepalive();
      const seconds = Number(answer?.timeout_s);
      if (Number.isFinite(seconds) && seconds > 0) {
        interval = Math.max(MIN_INTERVAL_MS, Math.floor((seconds * 1000) / 3));
      }
    } catch (error) {
      if (!stopped && error instanceof api.ApiError && error.status === 401) {
        stop();
        onEnded();
        return;
      }
      // The network or the server is away (or too old to know keepalives): the players say
      // so; try again at the usual time.
    } finally {
      inFlight = false;
    }
    schedule();
  }

  const onVisibilityChange = () => {
    if (!document.hidden) send();
  };

  function stop() {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisibilityChange);
  }

  document.addEventListener('visibilitychange', onVisibilityChange);
  send();
  return stop;
}
