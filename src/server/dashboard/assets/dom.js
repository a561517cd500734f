// A tiny element builder. Every piece of data reaches the page as a text node or an attribute value, never as
// markup, so nothing the API returns (server names, error messages) can become HTML.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * h('button', { class: 'primary', onclick: fn }, 'Back up now'). Attributes that are null, undefined or false
 * are left out; `true` sets an empty attribute. Children may be strings, numbers, nodes, arrays or nullish.
 */
export function h(tag, attributes = {}, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** The same for SVG elements, which live in their own namespace. */
export function s(tag, attributes = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's content. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}
