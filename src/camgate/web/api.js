// REST calls and media URLs of the camgate server (same origin).
//
// The session lives in an HttpOnly cookie set by the login call, so nothing here stores a token:
// every request just sends the cookie (credentials: 'same-origin'). URLs are relative to the page
// so that the client also works when a reverse proxy serves camgate under a path prefix.

/**
 * @typedef {{id: string, username: string, role: string, is_admin: boolean,
 *            permissions: string[], email: string, two_step: string | null,
 *            totp_enrolled: boolean, directory: boolean}} User `permissions`: what the
 *   user's role may do, feature by feature (see permissions.js); `is_admin`: the user has the
 *   built-in Administrator role; `two_step`: their own verification method (null: as their
 *   directory groups say)
 * @typedef {{name: string, role: string | null, two_step: string}} DirectoryGroup a directory
 *   group given a role or a verification method
 * @typedef {{id: string, codec: string, width: number, height: number, fps: number,
 *            status: string, detail?: string, audio?: string}} Stream `audio`: the codec of
 *   the camera's sound, "" when it sends none
 * @typedef {{x: number, y: number, width: number, height: number}} Mask a privacy mask: a
 *   rectangle in fractions of the picture (0 to 1) from its top-left corner, filled black
 * @typedef {{id: string, name: string, status: string, streams: Stream[],
 *            privacy_masks?: Mask[]}} Camera
 * @typedef {{id: string, name: string, shared: boolean, builtin: boolean, columns: number,
 *            camera_ids: string[], mine: boolean}} CameraView a named camera layout; the
 *   built-in "All cameras" view has the id "all-cameras" and 0 columns (the client chooses)
 * @typedef {{name: string, camera_ids: string[], columns: number, shared?: boolean}} NewView
 * @typedef {{name?: string, camera_ids?: string[], columns?: number}} ViewPatch
 * @typedef {{user: string, state: string, video_kBps: number, audio_kBps: number,
 *            transcoded_video_streams: number, direct_video_streams: number,
 *            transcoded_audio_streams: number}} UserLine a line of the Active users table
 * @typedef {{active_since: string, cpu_percent: number,
 *            cpu_history: {at: string, percent: number}[], bandwidth_out_kbps: number,
 *            level: number, hardware_decoding: string, transcoders: number,
 *            sessions_timed_out?: number, users: UserLine[], lockouts?: Lockout[]}} ServerStatus
 *   the status page's figures; the CPU history holds one sample every 5 s for the last hour,
 *   oldest first
 * @typedef {{kind: 'user' | 'address', name: string, seconds_left: number}} Lockout an account
 *   or address that may not try to log in again yet
 * @typedef {{width: number, height: number}} Resolution
 * @typedef {{max_fps: number, max_resolution: Resolution}} Level1
 * @typedef {{enabled: boolean, cpu_threshold_pct: number, bandwidth_threshold_mbps: number,
 *            max_fps: number, max_resolution: Resolution}} LimitationLevel
 * @typedef {{direct_streaming: boolean, adaptive_streaming: boolean, streaming_mode: string,
 *            hardware_decoding: string, level1: Level1, level2: LimitationLevel,
 *            level3: LimitationLevel}} Performance the Performance tab of the settings
 * @typedef {{start: string, end: string}} Interval a recorded stretch (ISO 8601, UTC)
 * @typedef {{camera_id: string, stream_id: string | null, start: string, end: string,
 *            intervals: Interval[]}} Recordings the recorded stretches of a time range; what
 *   lies between them is a gap
 * @typedef {{at: number, wallclock: string, duration: number}} Span a stretch of a playback
 *   file from one segment: player time `at` (seconds; the first may be negative) shows the
 *   frame captured at `wallclock`
 * @typedef {{camera_id: string, stream_id: string, start: string, end: string, size: number,
 *            etag: string, url: string, spans: Span[]}} PlaybackFile what playback.mp4 of a
 *   range holds; `end` is earlier than asked where the recordings end or the stream changed
 * @typedef {{id: string, camera_id: string, start: string, end: string, headline: string,
 *            description: string, user: string}} Bookmark `user` is the creator's user name
 * @typedef {{camera_id: string, start: string, end: string, headline: string,
 *            description?: string}} NewBookmark
 * @typedef {{start?: string, end?: string, headline?: string, description?: string}}
 *   BookmarkPatch
 * @typedef {{camera_id?: string, start?: string, end?: string, q?: string, mine?: boolean,
 *            limit?: number}} BookmarkQuery
 */

/** An HTTP error answer, from the server's `application/problem+json` body when there is one. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0 when the server could not be reached)
   * @param {string} detail a human-readable explanation
   * @param {{title?: string, retryAfter?: number | null, reason?: string,
   *          attemptsLeft?: number | null}} [extra]
   */
  constructor(status, detail, { title = '', retryAfter = null, reason = '', attemptsLeft = null } = {}) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.title = title;
    this.detail = detail;
    /** Seconds to wait before trying again (429), or null. */
    this.retryAfter = retryAfter;
    /** Why a verification code was refused: wrong, expired or spent ('' otherwise). */
    this.reason = reason;
    /** Attempts left for a verification code, or null. */
    this.attemptsLeft = attemptsLeft;
  }
}

/**
 * @param {unknown} error
 * @param {number} status
 * @returns {boolean} whether it is the server's answer with that HTTP status
 */
export function isStatus(error, status) {
  return error instanceof ApiError && error.status === status;
}

/**
 * Resolves an API path against the page, e.g. `apiUrl('v1/cameras')`.
 * @param {string} path below `api/`
 * @returns {URL}
 */
function apiUrl(path) {
  return new URL(`api/${path}`, document.baseURI);
}

/**
 * `Retry-After` is either seconds or an HTTP date.
 * @param {string | null} value
 * @returns {number | null} whole seconds, or null when absent or unreadable
 */
export function parseRetryAfter(value) {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Sends one request and decodes the JSON answer.
 * @param {string} method
 * @param {string} path below `api/`
 * @param {unknown} [body] sent as JSON when given
 * @param {string} [type] the body's media type
 * @returns {Promise<any>} the decoded body, or null for 204
 * @throws {ApiError}
 */
async function request(method, path, body, type = 'application/json') {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  /** @type {RequestInit} */
  const init = { method, credentials: 'same-origin', headers };
  if (body !== undefined) {
    headers['Content-Type'] = type;
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(apiUrl(path), init);
  } catch {
    throw new ApiError(0, 'Cannot reach the camgate server. Check the network connection.');
  }
  if (response.ok) {
    return response.status === 204 ? null : response.json();
  }
  throw await errorFrom(response);
}

/**
 * @param {Response} response a non-2xx answer
 * @returns {Promise<ApiError>}
 */
async function errorFrom(response) {
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status text.
  }
  const detail = problem.detail || response.statusText || `HTTP ${response.status}`;
  return new ApiError(response.status, detail, {
    title: problem.title || '',
    retryAfter: parseRetryAfter(response.headers.get('Retry-After')),
    reason: typeof problem.reason === 'string' ? problem.reason : '',
    attemptsLeft: typeof problem.attempts_left === 'number' ? problem.attempts_left : null,
  });
}

/**
 * @typedef {{secret: string, uri: string, qr_svg: string}} Enrolment a new authenticator app
 * @typedef {{ticket: string, method: 'email' | 'totp', sent_to: string,
 *            code_expires_in_s: number, attempts_left: number,
 *            enrolment: Enrolment | null}} SecondStep a login waiting for its verification code
 */

/**
 * Logs in; the server sets the session cookie, or asks for a verification code first.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<{user: User} | {secondStep: SecondStep}>}
 * @throws {ApiError} 401 for wrong credentials, 429 (with retryAfter) when rate limited, 403
 *   when the user may not log in, 503 when the code could not be e-mailed
 */
export async function login(username, password) {
  const answer = await request('POST', 'v1/auth/login', { username, password });
  if ('ticket' in answer) return { secondStep: answer };
  // The answer also holds the token; it is deliberately dropped: the cookie is the session.
  // (The reconnection token is for mobile apps: the manual leaves the web client out of it.)
  return { user: answer.user };
}

/**
 * The second step of a login.
 * @param {string} ticket
 * @param {string} code
 * @returns {Promise<User>}
 * @throws {ApiError} 401 with reason and attemptsLeft for a refused code
 */
export async function sendCode(ticket, code) {
  const answer = await request('POST', 'v1/auth/login/code', { ticket, code });
  return answer.user;
}

/**
 * E-mails a new verification code (the old one stops working).
 * @param {string} ticket
 * @returns {Promise<SecondStep>}
 */
export function newCode(ticket) {
  return request('POST', 'v1/auth/login/new-code', { ticket });
}

/** Ends the session (clears the cookie). An already-ended session is not an error. */
export async function logout() {
  try {
    await request('POST', 'v1/auth/logout');
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
}

/**
 * The logged-in user.
 * @returns {Promise<User | null>} null when not logged in
 * @throws {ApiError} for anything but 401
 */
export async function me() {
  try {
    return await request('GET', 'v1/auth/me');
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/**
 * Tells the server that this client still runs (the client timeout). Any call would do; this
 * one also says how long the server waits.
 * @returns {Promise<{timeout_s: number}>} how long a silent session lives, in seconds
 * @throws {ApiError} 401 when the session has ended
 */
export function keepalive() {
  return request('POST', 'v1/auth/keepalive');
}

/**
 * The server's load and who watches what (administrators).
 * @returns {Promise<ServerStatus>}
 * @throws {ApiError} 403 for anyone else
 */
export function getStatus() {
  return request('GET', 'v1/status');
}

/**
 * The whole settings tree, one section per tab of the manual (administrators).
 * @returns {Promise<{performance: Performance} & Record<string, any>>}
 */
export function getSettings() {
  return request('GET', 'v1/settings');
}

/**
 * Changes settings with a JSON merge patch (RFC 7396): only what it names changes.
 * @param {Record<string, unknown>} patch
 * @returns {Promise<{performance: Performance} & Record<string, any>>} the whole tree as saved
 * @throws {ApiError} 422 with the server's reason when the result breaks a rule
 */
export function patchSettings(patch) {
  return request('PATCH', 'v1/settings', patch, 'application/merge-patch+json');
}

/**
 * One camera, with its privacy masks.
 * @param {string} cameraId
 * @returns {Promise<Camera>}
 * @throws {ApiError} 404 when it does not exist or this user may not view it
 */
export function getCamera(cameraId) {
  return request('GET', `v1/cameras/${encodeURIComponent(cameraId)}`);
}

/**
 * Replaces a camera's privacy masks (administrators).
 * @param {string} cameraId
 * @param {Mask[]} masks
 * @returns {Promise<Camera>} the camera as saved
 */
export function setPrivacyMasks(cameraId, masks) {
  return request('PUT', `v1/cameras/${encodeURIComponent(cameraId)}/privacy-masks`, { masks });
}

/**
 * The cameras this user may view.
 * @returns {Promise<Camera[]>}
 */
export function listCameras() {
  return request('GET', 'v1/cameras');
}

/**
 * The views this user may open, "All cameras" first when the administrator offers it. Each
 * holds only the cameras this user may view, in layout order.
 * @returns {Promise<CameraView[]>}
 */
export function listViews() {
  return request('GET', 'v1/views');
}

/**
 * Creates a view owned by this user (only administrators may share it).
 * @param {NewView} view
 * @returns {Promise<CameraView>}
 */
export function createView(view) {
  return request('POST', 'v1/views', view);
}

/**
 * Changes a view (its owner, or an administrator for a shared one).
 * @param {string} viewId
 * @param {ViewPatch} patch only the fields to change
 * @returns {Promise<CameraView>}
 */
export function updateView(viewId, patch) {
  return request('PATCH', `v1/views/${encodeURIComponent(viewId)}`, patch);
}

/**
 * @param {string} viewId
 * @returns {Promise<void>}
 */
export async function deleteView(viewId) {
  await request('DELETE', `v1/views/${encodeURIComponent(viewId)}`);
}

/**
 * @param {string} cameraId
 * @param {string} leaf
 * @param {{stream?: string | null, codecs?: string[]}} [query]
 * @returns {URL}
 */
function cameraUrl(cameraId, leaf, { stream = null, codecs = [] } = {}) {
  const url = apiUrl(`v1/cameras/${encodeURIComponent(cameraId)}/${leaf}`);
  if (stream) url.searchParams.set('stream', stream);
  if (codecs.length) url.searchParams.set('codecs', codecs.join(','));
  return url;
}

/**
 * The live WebSocket URL, `ws:` or `wss:` like the page. The cookie authenticates it.
 * @param {string} cameraId
 * @param {{stream?: string | null, codecs?: string[]}} [query] no stream: the server picks the
 *   highest resolution the codecs allow
 * @returns {string}
 */
export function liveSocketUrl(cameraId, query) {
  const url = cameraUrl(cameraId, 'live', query);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/**
 * The LL-HLS playlist, for browsers that play HLS natively but lack Media Source Extensions.
 * @param {string} cameraId
 * @param {{stream?: string | null, codecs?: string[]}} [query]
 * @returns {string}
 */
export function hlsUrl(cameraId, query) {
  return cameraUrl(cameraId, 'live.m3u8', query).href;
}

/**
 * A JPEG of the latest keyframe (the server answers 503 while it has none).
 * @param {string} cameraId
 * @param {string | null} [stream]
 * @returns {string}
 */
export function snapshotUrl(cameraId, stream = null) {
  return cameraUrl(cameraId, 'snapshot.jpg', { stream }).href;
}

/**
 * The recorded intervals of a camera between two moments.
 * @param {string} cameraId
 * @param {string} start ISO 8601
 * @param {string} end ISO 8601
 * @returns {Promise<Recordings>}
 */
export function getRecordings(cameraId, start, end) {
  const query = new URLSearchParams({ start, end });
  return request('GET', `v1/cameras/${encodeURIComponent(cameraId)}/recordings?${query}`);
}

/**
 * Where the next recorded segment after a moment starts, or the previous one before it ends.
 * @param {string} cameraId
 * @param {string} time ISO 8601
 * @param {'next' | 'previous'} direction
 * @param {string | null} stream the recorded stream; without it the server only knows which
 *   one is meant when something was recorded within a second of the moment
 * @returns {Promise<string | null>} ISO 8601, or null when there is none
 */
export async function adjacentRecording(cameraId, time, direction, stream) {
  const query = new URLSearchParams({ time, direction });
  if (stream) query.set('stream', stream);
  const path = `v1/cameras/${encodeURIComponent(cameraId)}/recordings/adjacent?${query}`;
  const answer = await request('GET', path);
  return answer.time;
}

/**
 * What playback.mp4 of a range would hold (its real end, its spans).
 * @param {string} cameraId
 * @param {string} start ISO 8601
 * @param {string} end ISO 8601
 * @returns {Promise<PlaybackFile>}
 * @throws {ApiError} 404 when nothing is recorded in the range; 403 when this camera's video
 *   may not leave the server as it is (privacy masks, direct streaming off)
 */
export function getPlayback(cameraId, start, end) {
  const query = new URLSearchParams({ start, end });
  return request('GET', `v1/cameras/${encodeURIComponent(cameraId)}/playback.json?${query}`);
}

/**
 * The MP4 a <video> plays for a range. Built here rather than taken from the answer's `url`
 * (which begins with `/api`), so that it stays relative to the page behind a path prefix.
 * @param {PlaybackFile} file
 * @returns {string}
 */
export function playbackUrl(file) {
  const url = cameraUrl(file.camera_id, 'playback.mp4', { stream: file.stream_id });
  url.searchParams.set('start', file.start);
  url.searchParams.set('end', file.end);
  return url.href;
}

/**
 * The controlled-playback WebSocket (JPEG frames; play, pause, speed, seek, step).
 * @param {string} cameraId
 * @param {string} start ISO 8601
 * @param {{width: number, height: number} | null} size the JPEG size to ask for
 * @returns {string}
 */
export function playbackSocketUrl(cameraId, start, size) {
  const url = cameraUrl(cameraId, 'playback');
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('start', start);
  if (size) {
    url.searchParams.set('width', String(size.width));
    url.searchParams.set('height', String(size.height));
  }
  return url.href;
}

/**
 * Bookmarks on the cameras this user may view, the latest start first.
 * @param {BookmarkQuery} [query]
 * @returns {Promise<Bookmark[]>}
 * @throws {ApiError} 403 when bookmarks are turned off on this server
 */
export function listBookmarks(query = {}) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '' && value !== false) params.set(name, String(value));
  }
  const search = params.toString();
  return request('GET', `v1/bookmarks${search ? `?${search}` : ''}`);
}

/**
 * Whether this server has bookmarks on (an administrator can turn them off).
 * @returns {Promise<boolean>}
 * @throws {ApiError} for anything but the "turned off" answer (403)
 */
export async function bookmarksEnabled() {
  try {
    await listBookmarks({ limit: 1 });
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return false;
    throw error;
  }
}

/**
 * @param {NewBookmark} bookmark
 * @returns {Promise<Bookmark>}
 */
export function createBookmark(bookmark) {
  return request('POST', 'v1/bookmarks', bookmark);
}

/**
 * Changes a bookmark (its creator, or an administrator: 403 for anyone else).
 * @param {string} bookmarkId
 * @param {BookmarkPatch} patch
 * @returns {Promise<Bookmark>}
 */
export function updateBookmark(bookmarkId, patch) {
  return request('PATCH', `v1/bookmarks/${encodeURIComponent(bookmarkId)}`, patch);
}

/**
 * @param {string} bookmarkId
 * @returns {Promise<void>}
 */
export async function deleteBookmark(bookmarkId) {
  await request('DELETE', `v1/bookmarks/${encodeURIComponent(bookmarkId)}`);
}

/**
 * @typedef {{id: string, name: string, camera_ids: string[], start: string, end: string,
 *            owner: string}} Investigation `owner` is its maker's user name
 * @typedef {{name: string, camera_ids: string[], start: string, end: string}} NewInvestigation
 * @typedef {{name?: string, camera_ids?: string[], start?: string, end?: string}}
 *   InvestigationPatch
 * @typedef {'mkv' | 'avi' | 'native'} ExportFormat
 * @typedef {'queued' | 'running' | 'done' | 'failed'} ExportState
 * @typedef {{id: string, investigation_id: string, format: ExportFormat, state: ExportState,
 *            progress: number, size: number, error: string, include_audio: boolean,
 *            password_protected: boolean, file_name: string, requested_by: string,
 *            created: string, download_url: string | null}} Export `progress` is 0 to 100,
 *   `size` the download's bytes once done, `error` why it failed
 * @typedef {{format: ExportFormat, include_audio: boolean, password: string | null}} NewExport
 */

// --- investigations and exports ------------------------------------------------------------

/** @param {string} id */
const investigationPath = (id) => `v1/investigations/${encodeURIComponent(id)}`;

/**
 * The investigations this user may see, the latest first.
 * @returns {Promise<Investigation[]>}
 * @throws {ApiError} 403 with the reason: turned off, or no Export permission
 */
export function listInvestigations() {
  return request('GET', 'v1/investigations');
}

/**
 * @param {string} id
 * @returns {Promise<Investigation>}
 * @throws {ApiError} 404 when it does not exist or holds a camera this user may not view
 */
export function getInvestigation(id) {
  return request('GET', investigationPath(id));
}

/**
 * @param {NewInvestigation} investigation
 * @returns {Promise<Investigation>}
 */
export function createInvestigation(investigation) {
  return request('POST', 'v1/investigations', investigation);
}

/**
 * Changes an investigation (its owner, or an administrator: 403 for anyone else).
 * @param {string} id
 * @param {InvestigationPatch} patch
 * @returns {Promise<Investigation>}
 */
export function updateInvestigation(id, patch) {
  return request('PATCH', investigationPath(id), patch);
}

/**
 * Deletes an investigation and its exports (stopping any being prepared).
 * @param {string} id
 * @returns {Promise<void>}
 */
export async function deleteInvestigation(id) {
  await request('DELETE', investigationPath(id));
}

/**
 * @param {string} id the investigation's
 * @returns {Promise<Export[]>} the oldest first
 */
export function listExports(id) {
  return request('GET', `${investigationPath(id)}/exports`);
}

/**
 * Starts preparing an export; the list follows its progress.
 * @param {string} id the investigation's
 * @param {NewExport} body
 * @returns {Promise<Export>} queued
 * @throws {ApiError} 403 for a format the administrator did not enable; 409 without a data
 *   protection password or past the folder's size limit; 404 when nothing is recorded
 */
export function prepareExport(id, body) {
  return request('POST', `${investigationPath(id)}/exports`, body);
}

/**
 * Every user (administrators).
 * @returns {Promise<User[]>}
 */
export function listUsers() {
  return request('GET', 'v1/users');
}

/**
 * Sets a user's e-mail address and two-step verification method (administrators).
 * @param {string} username
 * @param {{email?: string, two_step?: string | null}} change
 * @returns {Promise<User>}
 */
export function updateUser(username, change) {
  return request('PATCH', `v1/users/${encodeURIComponent(username)}`, change);
}

/**
 * Forgets a user's authenticator app; they add one again at their next login.
 * @param {string} username
 * @returns {Promise<void>}
 */
export async function forgetApp(username) {
  await request('DELETE', `v1/users/${encodeURIComponent(username)}/totp`);
}

/**
 * The directory groups given a role or a verification method (administrators).
 * @returns {Promise<DirectoryGroup[]>}
 */
export function listGroups() {
  return request('GET', 'v1/groups');
}

/**
 * @param {DirectoryGroup} group
 * @returns {Promise<DirectoryGroup>}
 */
export function setGroup(group) {
  return request('PUT', `v1/groups/${encodeURIComponent(group.name)}`, {
    role: group.role,
    two_step: group.two_step,
  });
}

/**
 * Lets a locked-out account or address try to log in again at once (administrators).
 * @param {Lockout} lockout
 * @returns {Promise<void>}
 */
export async function liftLockout(lockout) {
  await request(
    'DELETE',
    `v1/lockouts/${encodeURIComponent(lockout.kind)}/${encodeURIComponent(lockout.name)}`,
  );
}

/**
 * @param {string} exportId
 * @returns {Promise<void>}
 */
export async function deleteExport(exportId) {
  await request('DELETE', `v1/exports/${encodeURIComponent(exportId)}`);
}

/**
 * The formats the administrator enabled (the others are refused with 403).
 * @returns {Promise<ExportFormat[]>}
 */
export async function exportFormats() {
  const answer = await request('GET', 'v1/exports/formats');
  return answer.formats;
}

/**
 * The download's URL. The server's `download_url` begins with `/api`: resolved against the page
 * without its slash, so that it stays relative behind a path prefix.
 * @param {Export} done
 * @returns {string}
 */
export function downloadUrl(done) {
  const path = done.download_url || `/api/v1/exports/${encodeURIComponent(done.id)}/download`;
  return new URL(path.replace(/^\/+/, ''), document.baseURI).href;
}

// --- the audit log (administrators) ---------------------------------------------------------

/**
 * @typedef {{id: number, time: string, user: string, address: string, action: string,
 *            target: string, details: Record<string, unknown>}} AuditEntry one audited action:
 *   `action` e.g. `settings.change`, `target` the id of what it was done to, `details` what
 *   changed (`{"field": {"old": …, "new": …}}` for edits and settings)
 * @typedef {{q?: string, user?: string, start?: string, end?: string, limit?: number}}
 *   AuditQuery `q` words that must all appear (in the action, target or details), `user` one
 *   user's actions, `start`/`end` ISO 8601
 */

/**
 * @param {AuditQuery} query
 * @returns {URLSearchParams} the filters given (empty ones left out)
 */
function auditParams(query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  return params;
}

/**
 * Audited actions, the latest first (administrators).
 * @param {AuditQuery} [query]
 * @returns {Promise<AuditEntry[]>}
 * @throws {ApiError} 403 for anyone else; 422 for an unreadable filter
 */
export function searchAudit(query = {}) {
  const search = auditParams(query).toString();
  return request('GET', `v1/audit${search ? `?${search}` : ''}`);
}

/**
 * The same search as a CSV download, for a spreadsheet. Relative to the page, so that it works
 * behind a path prefix; the session cookie authenticates it.
 * @param {AuditQuery} [query]
 * @returns {string}
 */
export function auditCsvUrl(query = {}) {
  const url = apiUrl('v1/audit.csv');
  url.search = auditParams(query).toString();
  return url.href;
}
