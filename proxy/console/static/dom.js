// Building DOM nodes without ever parsing markup: every value becomes a text node or an attribute,
// so a prompt, tag or model name holding "<script>" shows as those characters.

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function applyProps(el, props) {
  for (const [name, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "value" || name === "checked" || name === "selected") el[name] = value;
    else if (/^(href|src)$/.test(name) && !/^(\/|#|https?:)/.test(String(value))) continue; // no javascript: URLs
    else el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** h("a", {href: "/x", class: "c"}, "text", child): an HTML element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

/** s("rect", {x: 1}): an SVG element. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  applyProps(el, props);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A link the router handles without a page load. */
export function navLink(href, ...children) {
  return h("a", { href, "data-nav": true }, ...children);
}

/** An empty state that says what to do next. */
export function emptyState(title, ...hint) {
  return h("div", { class: "empty" }, h("strong", null, title), h("p", null, ...hint));
}

export function errorBox(error) {
  return h("div", { class: "error-box", role: "alert" }, h("strong", null, "Could not load this page. "), String(error.message || error));
}

export function chip(text, kind) {
  return h("span", { class: ["chip", kind && `chip-${kind}`] }, text);
}

export function code(text) {
  return h("code", null, text);
}
