// A tiny DOM helper. No innerHTML anywhere: text always goes through textContent, so names that
// come from the server (camera names, error details) can never inject markup.

/**
 * Creates an element.
 * @param {string} tag
 * @param {Record<string, string | boolean | number | null | undefined>} [attrs]
 *   attributes; `class` sets className, `true` sets an empty attribute, false/null/undefined skip
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return element;
}

