// What the logged-in user may do: the permissions of their role, feature by feature, as
// `GET /api/v1/auth/me` lists them (the built-in Administrator role has every one). The client
// only hides what the server would refuse anyway (403 with the reason).

/**
 * @typedef {'live' | 'playback' | 'export' | 'bookmarks_view' | 'bookmarks_create'
 *   | 'bookmarks_edit' | 'actions' | 'incoming_audio' | 'push_to_talk' | 'video_push'
 *   | 'administration'} Permission
 */

/**
 * @param {import('./api.js').User | null | undefined} user
 * @param {Permission} permission
 * @returns {boolean} whether the user's role has the permission
 */
export function may(user, permission) {
  return Boolean(user?.permissions.includes(permission));
}

/** What a user is told where live video would be, when their role may not watch it. */
export const NO_LIVE_TEXT = 'Your role may not watch live video.';
