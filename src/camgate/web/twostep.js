// The second step of a login (two-step verification): a code e-mailed to the user, or one from
// an authenticator app, which the first login adds to the app by a QR code. Wrong codes count
// down; an expired or spent e-mailed code is replaced with "Send a new code".

import * as api from './api.js';
import { h } from './dom.js';

/** @typedef {import('./api.js').SecondStep} SecondStep */
/** @typedef {import('./api.js').Enrolment} Enrolment */
/** @typedef {import('./views.js').ViewContext} ViewContext */

/**
 * @param {ViewContext} ctx
 * @param {SecondStep} step
 * @param {() => void} back return to the password form
 * @returns {{element: HTMLElement, focusTarget: HTMLElement, dispose: () => void}}
 */
export function secondStepForm(ctx, step, back) {
  const emailed = step.method === 'email';
  const code = h('input', {
    id: 'login-code',
    name: 'code',
    type: 'text',
    // The browser (and phones reading the e-mail or SMS) may offer the code by themselves.
    autocomplete: 'one-time-code',
    autocapitalize: 'none',
    spellcheck: 'false',
    inputmode: emailed ? 'text' : 'numeric',
    maxlength: '20',
    required: true,
  });
  const explanation = h('p', { id: 'login-code-help', class: 'hint' });
  code.setAttribute('aria-describedby', 'login-code-help');
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Verify');
  const again = h(
    'button',
    { type: 'button', class: 'button', id: 'login-new-code', hidden: !emailed },
    'Send a new code',
  );
  const cancel = h('button', { type: 'button', class: 'button' }, 'Back');
  const form = h(
    'form',
    { id: 'login-second-step', class: 'card login', 'aria-labelledby': 'login-code-title' },
    h('h1', { id: 'login-code-title' }, 'Verification code'),
    step.enrolment ? enrolmentBlock(step.enrolment) : null,
    explanation,
    h('div', { class: 'field' }, h('label', { for: 'login-code' }, 'Code'), code),
    submit,
    again,
    cancel,
  );
  let current = step;
  let lockTimer = 0;

  /** @param {SecondStep} shown */
  function explain(shown) {
    current = shown;
    explanation.textContent = emailed
      ? `A code was e-mailed to ${shown.sent_to}. It is valid for ${minutes(shown.code_expires_in_s)}.`
      : shown.enrolment
        ? 'Then enter the 6-digit code that the app shows.'
        : 'Enter the 6-digit code that your authenticator app shows.';
  }
  explain(step);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    ctx.clearError();
    submit.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      ctx.loggedIn(await api.sendCode(current.ticket, code.value.trim()));
      return;
    } catch (error) {
      code.value = '';
      code.focus();
      if (api.isStatus(error, 401) && !(error instanceof api.ApiError && error.reason)) {
        // The login itself is over (too old, or too many codes): start again.
        ctx.showError(`${errorText(error)}`);
        back();
        return;
      }
      ctx.showError(errorText(error));
      const wait = error instanceof api.ApiError && error.status === 429 ? error.retryAfter : 0;
      lockTimer = window.setTimeout(() => (submit.disabled = false), (wait || 0) * 1000);
    } finally {
      form.removeAttribute('aria-busy');
    }
  });
  again.addEventListener('click', async () => {
    ctx.clearError();
    again.disabled = true;
    // Emptied now, not when the answer comes: the new code may be typed (or pasted from the
    // e-mail, which can arrive first) while the answer is on its way.
    code.value = '';
    code.focus();
    try {
      explain(await api.newCode(current.ticket));
    } catch (error) {
      ctx.showError(errorText(error));
      if (api.isStatus(error, 401)) back();
    } finally {
      again.disabled = false;
    }
  });
  cancel.addEventListener('click', () => {
    ctx.clearError();
    back();
  });
  return { element: form, focusTarget: code, dispose: () => clearTimeout(lockTimer) };
}

/**
 * The QR code and the key to type, for adding camgate to an authenticator app.
 * @param {Enrolment} enrolment
 * @returns {HTMLElement}
 */
function enrolmentBlock(enrolment) {
  // An <img> of a data: URL, never inserted markup: the SVG cannot run anything on the page.
  const qr = h('img', {
    id: 'login-totp-qr',
    class: 'totp-qr',
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`,
    alt: 'QR code to scan with an authenticator app',
    width: '200',
    height: '200',
  });
  const key = enrolment.secret.replace(/(.{4})(?=.)/g, '$1 ');
  return h(
    'div',
    { class: 'totp-enrolment' },
    h(
      'p',
      {},
      'Your administrator asks for a code from an authenticator app. Scan this QR code with the ' +
        'app (or type the key), once:',
    ),
    qr,
    h('p', {}, 'Key: ', h('code', { id: 'login-totp-key' }, key)),
  );
}

/**
 * @param {number} seconds
 * @returns {string}
 */
function minutes(seconds) {
  const whole = Math.max(1, Math.round(seconds / 60));
  return whole === 1 ? '1 minute' : `${whole} minutes`;
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function errorText(error) {
  if (!(error instanceof api.ApiError)) return 'Verifying the code failed.';
  if (error.status === 429) {
    return error.retryAfter
      ? `Too many attempts, try again in ${error.retryAfter} s.`
      : 'Too many attempts, try again later.';
  }
  const detail = error.detail.charAt(0).toUpperCase() + error.detail.slice(1);
  return detail.endsWith('.') ? detail : `${detail}.`;
}
