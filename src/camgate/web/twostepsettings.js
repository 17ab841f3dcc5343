// The two-step verification settings page (`#/settings/two-step`, administrators): the manual's
// Two-step verification tab. The provider (e-mail) and code settings are one form, saved as a
// JSON merge patch of the section; below it the users and directory groups, each with its
// verification method (and a user's e-mail address), saved line by line.

import * as api from './api.js';
import { h } from './dom.js';
import { check, checkbox, detailOf, labelled, number, select, settingsTabs } from './forms.js';
import { staticView } from './views.js';

/** @typedef {import('./views.js').View} View */
/** @typedef {import('./views.js').ViewContext} ViewContext */
/** @typedef {import('./api.js').User} User */
/** @typedef {import('./api.js').DirectoryGroup} DirectoryGroup */

/** The manual's verification methods (and camgate's authenticator apps). */
const METHODS = [
  ['none', 'No two-step verification'],
  ['email', 'E-mail'],
  ['totp', 'Authenticator app'],
  ['no_login', 'No login'],
];
/** A user's choice to follow their directory groups (their own method null). */
const AS_GROUPS = 'groups';
const COMPOSITION = [
  ['upper', 'Latin uppercase (A-Z)'],
  ['lower', 'Latin lowercase (a-z)'],
  ['digits', 'Digits (0-9)'],
  ['special', 'Special characters (!@#...)'],
];

/**
 * @param {ViewContext} ctx
 * @returns {View}
 */
export function twoStepSettingsView(ctx) {
  const heading = h('h1', { id: 'two-step-title', tabindex: '-1' }, 'Two-step verification');
  const form = providerForm(ctx);
  const users = h('tbody', { id: 'two-step-users' });
  const groups = h('tbody', { id: 'two-step-groups' });
  const listProblem = h('p', { class: 'form-error', role: 'alert' });
  const groupsBlock = h(
    'div',
    { hidden: true },
    h('h2', { id: 'two-step-groups-title' }, 'Directory groups'),
    table('two-step-groups-title', ['Group', 'Role', 'Verification method', ''], groups),
  );
  const element = h(
    'section',
    { id: 'two-step-view', class: 'view view-admin', 'aria-labelledby': 'two-step-title' },
    h('div', { class: 'admin-head' }, heading),
    settingsTabs('#/settings/two-step'),
    form.element,
    h('h2', { id: 'two-step-users-title' }, 'Users'),
    h(
      'p',
      { class: 'hint' },
      'Each user\u2019s verification method after the password. "No login" keeps the user out ' +
        'even while two-step verification is off.',
    ),
    table('two-step-users-title', ['User', 'E-mail address', 'Verification method', ''], users),
    groupsBlock,
    listProblem,
  );
  let disposed = false;

  async function loadLists() {
    try {
      const [found, mapped] = await Promise.all([api.listUsers(), api.listGroups()]);
      if (disposed) return;
      users.replaceChildren(...found.map((user) => userRow(ctx, user)));
      groups.replaceChildren(...mapped.map((group, index) => groupRow(ctx, group, index)));
      groupsBlock.hidden = mapped.length === 0;
    } catch (error) {
      if (disposed) return;
      if (api.isStatus(error, 401)) ctx.sessionEnded();
      else listProblem.textContent = `Could not get the users: ${detailOf(error)}`;
    }
  }

  form.load(() => disposed);
  loadLists();
  return {
    ...staticView(element, heading),
    dispose: () => {
      disposed = true;
    },
  };
}

/**
 * @param {string} labelledBy
 * @param {string[]} columns
 * @param {HTMLElement} body
 * @returns {HTMLElement}
 */
function table(labelledBy, columns, body) {
  return h(
    'div',
    { class: 'table-scroll', role: 'region', 'aria-labelledby': labelledBy, tabindex: '0' },
    h(
      'table',
      { class: 'users two-step-table' },
      h('thead', {}, h('tr', {}, ...columns.map((name) => h('th', { scope: 'col' }, name)))),
      body,
    ),
  );
}

/**
 * The provider (e-mail) and code settings: the section `two_step_verification`.
 * @param {ViewContext} ctx
 */
function providerForm(ctx) {
  const enabled = checkbox('two-step-enabled');
  const server = text('smtp-server', { maxlength: 253, autocomplete: 'off' });
  const port = number('smtp-port', { min: 1, max: 65535, step: 1 });
  const ssl = checkbox('smtp-ssl');
  const username = text('smtp-username', { maxlength: 256, autocomplete: 'off' });
  const password = text('smtp-password', { type: 'password', autocomplete: 'new-password' });
  const spa = checkbox('smtp-spa');
  const sender = text('smtp-sender', { type: 'email', maxlength: 254 });
  const subject = text('smtp-subject', { maxlength: 200 });
  const body = /** @type {HTMLTextAreaElement} */ (
    h('textarea', { id: 'smtp-text', rows: '3', maxlength: '4000' })
  );
  const reconnection = number('code-reconnection', { min: 0, max: 30, step: 1 });
  const expiry = number('code-expiry', { min: 1, max: 10, step: 1 });
  const attempts = number('code-attempts', { min: 1, max: 10, step: 1 });
  const length = number('code-length', { min: 4, max: 6, step: 1 });
  const kinds = COMPOSITION.map(([key]) => checkbox(`code-${key}`));

  const problem = h('p', { id: 'two-step-error', class: 'form-error', role: 'alert' });
  const saved = h('span', { id: 'two-step-saved', class: 'saved', role: 'status' });
  const submit = h('button', { type: 'submit', class: 'button primary' }, 'Save');
  const fields = /** @type {HTMLFieldSetElement} */ (
    h(
      'fieldset',
      { class: 'plain', disabled: true },
      check(enabled, 'Enable two-step verification'),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Provider settings: e-mail'),
        labelled(server, 'SMTP server', 'Host name or IP address of the mail server.'),
        labelled(port, 'SMTP server port', '25 without SSL; with SSL and 25 here, 465 is used.'),
        check(ssl, 'Use SSL'),
        labelled(username, 'User name'),
        labelled(password, 'Password', 'Stored encrypted; shown masked.'),
        check(spa, 'Use secure password authentication (SPA)'),
        labelled(sender, "Sender's e-mail address"),
        labelled(subject, 'E-mail subject'),
        labelled(body, 'E-mail text', '{0} is replaced by the code; without it, the code is added at the end.'),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Verification code settings'),
        labelled(reconnection, 'Reconnection timeout (0-30 minutes)', 'Mobile apps only.'),
        labelled(expiry, 'Code expires after (1-10 minutes)'),
        labelled(attempts, 'Code entry attempts (1-10 attempts)'),
        labelled(length, 'Code length (4-6 characters)'),
        h(
          'fieldset',
          { id: 'code-composition' },
          h('legend', {}, 'Code composition'),
          ...kinds.map((input, index) => check(input, COMPOSITION[index][1])),
        ),
      ),
      problem,
      h('div', { class: 'form-actions' }, submit, saved),
    )
  );
  const element = h(
    'form',
    { id: 'two-step-form', class: 'card settings-form', 'aria-labelledby': 'two-step-title' },
    fields,
  );

  /** @param {Record<string, any>} section */
  function fill(section) {
    enabled.checked = section.enabled;
    server.value = section.smtp.server;
    port.value = String(section.smtp.port);
    ssl.checked = section.smtp.use_ssl;
    username.value = section.smtp.username;
    // The server's mask: sent back unchanged, it keeps the stored password.
    password.value = section.smtp.password;
    spa.checked = section.smtp.use_spa;
    sender.value = section.smtp.sender;
    subject.value = section.smtp.subject;
    body.value = section.smtp.text;
    reconnection.value = String(section.code.reconnection_timeout_min);
    expiry.value = String(section.code.expiry_min);
    attempts.value = String(section.code.attempts);
    length.value = String(section.code.length);
    COMPOSITION.forEach(([key], index) => (kinds[index].checked = section.code.composition[key]));
  }

  function section() {
    return {
      enabled: enabled.checked,
      smtp: {
        server: server.value.trim(),
        port: Number(port.value),
        use_ssl: ssl.checked,
        username: username.value,
        password: password.value,
        use_spa: spa.checked,
        sender: sender.value.trim(),
        subject: subject.value,
        text: body.value,
      },
      code: {
        reconnection_timeout_min: Number(reconnection.value),
        expiry_min: Number(expiry.value),
        attempts: Number(attempts.value),
        length: Number(length.value),
        composition: Object.fromEntries(
          COMPOSITION.map(([key], index) => [key, kinds[index].checked]),
        ),
      },
    };
  }

  let isDisposed = () => false;
  element.addEventListener('input', () => (saved.textContent = ''));
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    problem.textContent = '';
    saved.textContent = '';
    submit.disabled = true;
    element.setAttribute('aria-busy', 'true');
    try {
      const settings = await api.patchSettings({ two_step_verification: section() });
      if (isDisposed()) return;
      fill(settings.two_step_verification);
      saved.textContent = 'Saved';
    } catch (error) {
      if (isDisposed()) return;
      if (api.isStatus(error, 401)) ctx.sessionEnded();
      else problem.textContent = `Not saved: ${detailOf(error)}`;
    } finally {
      submit.disabled = false;
      element.removeAttribute('aria-busy');
    }
  });

  return {
    element,
    /** @param {() => boolean} disposed */
    async load(disposed) {
      isDisposed = disposed;
      try {
        const settings = await api.getSettings();
        if (disposed()) return;
        fill(settings.two_step_verification);
        fields.disabled = false;
      } catch (error) {
        if (disposed()) return;
        if (api.isStatus(error, 401)) ctx.sessionEnded();
        else problem.textContent = `Could not get the settings: ${detailOf(error)}`;
      }
    },
  };
}

/**
 * One user: address, method, Save, and "Forget app" once they added an authenticator app.
 * @param {ViewContext} ctx
 * @param {User} user
 * @returns {HTMLElement}
 */
function userRow(ctx, user) {
  const id = `two-step-user-${user.id}`;
  const email = text(`${id}-email`, { type: 'email', maxlength: 254 });
  email.setAttribute('aria-label', `E-mail address of ${user.username}`);
  const method = select(`${id}-method`, [[AS_GROUPS, 'As the directory groups say'], ...METHODS]);
  method.setAttribute('aria-label', `Verification method of ${user.username}`);
  const save = h('button', { type: 'button', class: 'button' }, 'Save');
  const forget = h('button', { type: 'button', class: 'button' }, 'Forget app');
  const state = h('span', { class: 'saved', role: 'status' });

  /** @param {User} shown */
  function fill(shown) {
    email.value = shown.email;
    method.value = shown.two_step ?? AS_GROUPS;
    forget.hidden = !shown.totp_enrolled;
  }
  fill(user);
  save.addEventListener('click', () =>
    act(ctx, state, async () => {
      const twoStep = method.value === AS_GROUPS ? null : method.value;
      fill(await api.updateUser(user.username, { email: email.value.trim(), two_step: twoStep }));
      return 'Saved';
    }),
  );
  forget.addEventListener('click', () =>
    act(ctx, state, async () => {
      await api.forgetApp(user.username);
      forget.hidden = true;
      return 'App forgotten';
    }),
  );
  return h(
    'tr',
    { 'data-user': user.username },
    h('th', { scope: 'row' }, user.username, user.directory ? ' (directory)' : ''),
    h('td', {}, email),
    h('td', {}, method),
    h('td', {}, h('div', { class: 'row-actions' }, save, forget, state)),
  );
}

/**
 * One directory group: its role (shown) and method (chosen).
 * @param {ViewContext} ctx
 * @param {DirectoryGroup} group
 * @param {number} index its line (group names may hold anything an id may not)
 * @returns {HTMLElement}
 */
function groupRow(ctx, group, index) {
  const method = select(`two-step-group-${index}`, METHODS);
  method.setAttribute('aria-label', `Verification method of the group ${group.name}`);
  method.value = group.two_step;
  const save = h('button', { type: 'button', class: 'button' }, 'Save');
  const state = h('span', { class: 'saved', role: 'status' });
  save.addEventListener('click', () =>
    act(ctx, state, async () => {
      const updated = await api.setGroup({ ...group, two_step: method.value });
      method.value = updated.two_step;
      return 'Saved';
    }),
  );
  return h(
    'tr',
    { 'data-group': group.name },
    h('th', { scope: 'row' }, group.name),
    h('td', {}, group.role ?? '(none)'),
    h('td', {}, method),
    h('td', {}, h('div', { class: 'row-actions' }, save, state)),
  );
}

/**
 * Runs a line's change, saying how it went next to its buttons.
 * @param {ViewContext} ctx
 * @param {HTMLElement} state
 * @param {() => Promise<string>} change resolves to what to say
 */
async function act(ctx, state, change) {
  state.textContent = '';
  state.classList.remove('form-error');
  try {
    state.textContent = await change();
  } catch (error) {
    if (api.isStatus(error, 401)) {
      ctx.sessionEnded();
      return;
    }
    state.classList.add('form-error');
    state.textContent = detailOf(error);
  }
}

/**
 * @param {string} id
 * @param {Record<string, string | number>} attrs
 * @returns {HTMLInputElement}
 */
function text(id, attrs) {
  return /** @type {HTMLInputElement} */ (h('input', { id, type: 'text', ...attrs }));
}
