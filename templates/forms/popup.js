/* Sesame sign-up form. Plain JavaScript, no dependencies, no request to anyone but Sesame.
   The form lives in a shadow root, so the page's CSS cannot reach it; texts are set as text, never HTML. */
(function () {
  "use strict";
  var C = {{ config|safe }};
  var script = document.currentScript;
  var STORE = "sesame-form:" + C.key;
  var DISMISS_DAYS = 30;
  var host, root, dialog, lastFocus, live, formEl, shown = false;

  function remembered() {
    try {
      var value = JSON.parse(window.localStorage.getItem(STORE) || "null");
      if (!value) return false;
      if (value.state === "subscribed") return true;
      return Date.now() - value.at < DISMISS_DAYS * 864e5;
    } catch (e) { return false; }
  }
  function remember(state) {
    try { window.localStorage.setItem(STORE, JSON.stringify({ state: state, at: Date.now() })); } catch (e) { /* private mode */ }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  var L = C.look;
  var CSS = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}",
    ".overlay{position:fixed;inset:0;background:rgba(0,0,0,.45);display:flex;align-items:center;justify-content:center;z-index:2147483647;padding:16px}",
    ".box{background:" + L.background + ";color:" + L.text + ";border-radius:10px;max-width:420px;width:100%;padding:24px;position:relative;box-shadow:0 10px 40px rgba(0,0,0,.3);line-height:1.45;font-size:16px}",
    ".inline .box{box-shadow:none;border:1px solid rgba(0,0,0,.15);max-width:none}",
    "h2{margin:0 0 8px;font-size:1.3em}",
    "p{margin:0 0 12px}",
    "label{display:block;font-weight:600;margin:12px 0 4px}",
    "input[type=email],input[type=text]{width:100%;padding:10px;border:1px solid #8c959f;border-radius:6px;font-size:16px;color:#1f2328;background:#fff}",
    "input[aria-invalid=true]{border-color:#cf222e;outline:2px solid #cf222e}",
    ".consent{display:flex;gap:8px;align-items:flex-start;font-weight:400}",
    ".consent input{margin-top:4px}",
    "button.submit{margin-top:16px;width:100%;padding:12px;border:0;border-radius:6px;font-size:16px;font-weight:600;cursor:pointer;background:" + L.accent + ";color:" + L.accent_text + "}",
    "button.submit[disabled]{opacity:.6;cursor:progress}",
    "button.close{position:absolute;top:8px;right:8px;background:transparent;border:0;font-size:24px;line-height:1;cursor:pointer;color:" + L.text + ";padding:4px 8px;border-radius:4px}",
    "button:focus-visible,input:focus-visible{outline:3px solid " + L.accent + ";outline-offset:2px}",
    ".hp{position:absolute!important;left:-10000px!important;width:1px;height:1px;overflow:hidden}",
    ".live{min-height:1.2em;margin-top:12px}",
    ".live.error{color:#cf222e}",
    ".field-error{color:#cf222e;font-size:.9em;margin:4px 0 0}",
    "@media (prefers-reduced-motion:no-preference){.box{animation:in .18s ease-out}@keyframes in{from{transform:translateY(8px);opacity:0}}}"
  ].join("\n");

  function field(form, name, labelText, type, required, autocomplete) {
    var id = "sesame-" + name;
    form.appendChild(el("label", { "for": id }, labelText + (required ? " *" : "")));
    var attrs = { id: id, name: name, type: type };
    if (required) { attrs.required = ""; attrs["aria-required"] = "true"; }
    if (autocomplete) attrs.autocomplete = autocomplete;
    var input = el("input", attrs);
    form.appendChild(input);
    var error = el("p", { id: id + "-error", "class": "field-error", hidden: "" });
    form.appendChild(error);
    return input;
  }

  function build(popup) {
    host = el("div", { "data-sesame-form": C.key });
    root = host.attachShadow({ mode: "open" });
    root.appendChild(el("style", {}, CSS));
    var wrap = el("div", { "class": popup ? "overlay" : "inline" });
    dialog = el("div", popup ? { "class": "box", role: "dialog", "aria-modal": "true", "aria-labelledby": "sesame-title" }
                             : { "class": "box", role: "region", "aria-labelledby": "sesame-title" });
    dialog.appendChild(el("h2", { id: "sesame-title" }, L.title));
    if (L.description) {
      dialog.appendChild(el("p", { id: "sesame-description" }, L.description));
      if (popup) dialog.setAttribute("aria-describedby", "sesame-description");
    }
    formEl = el("form", { novalidate: "" });
    field(formEl, "email", L.email_label, "email", true, "email");
    if (C.ask_name) field(formEl, "name", L.name_label, "text", C.require_name, "name");
    C.custom_fields.forEach(function (custom) { field(formEl, "field-" + custom.key, custom.label, "text", !!custom.required); });
    if (C.consent_text) {
      var consent = el("label", { "class": "consent", "for": "sesame-consent" });
      consent.appendChild(el("input", { type: "checkbox", id: "sesame-consent", name: "consent", required: "", "aria-required": "true" }));
      consent.appendChild(el("span", {}, C.consent_text));
      formEl.appendChild(consent);
      formEl.appendChild(el("p", { id: "sesame-consent-error", "class": "field-error", hidden: "" }));
    }
    // People never see or reach this field; bots that fill every input give themselves away.
    var trap = el("div", { "class": "hp", "aria-hidden": "true" });
    trap.appendChild(el("label", { "for": "sesame-hp" }, "Leave this empty"));
    trap.appendChild(el("input", { id: "sesame-hp", name: C.honeypot, type: "text", tabindex: "-1", autocomplete: "off" }));
    formEl.appendChild(trap);
    formEl.appendChild(el("button", { type: "submit", "class": "submit" }, L.button));
    live = el("p", { "class": "live", role: "status", "aria-live": "polite" });
    dialog.appendChild(formEl);
    dialog.appendChild(live);
    if (popup) {
      var close = el("button", { type: "button", "class": "close", "aria-label": L.close_label }, "\u00d7");
      close.addEventListener("click", function () { hide(true); });
      dialog.appendChild(close);
      wrap.addEventListener("click", function (event) { if (event.target === wrap) hide(true); });
      wrap.addEventListener("keydown", onKey);
    }
    formEl.addEventListener("submit", onSubmit);
    wrap.appendChild(dialog);
    root.appendChild(wrap);
  }

  function focusables() {
    return Array.prototype.filter.call(
      dialog.querySelectorAll("button, input:not([tabindex='-1']), a[href]"),
      function (node) { return !node.disabled && node.offsetParent !== null; });
  }

  function onKey(event) {
    if (event.key === "Escape") { event.preventDefault(); hide(true); return; }
    if (event.key !== "Tab") return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1], active = root.activeElement;
    if (event.shiftKey && (active === first || !dialog.contains(active))) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && (active === last || !dialog.contains(active))) { event.preventDefault(); first.focus(); }
  }

  function show(force) {
    if (shown || (!force && remembered())) return;
    shown = true;
    lastFocus = document.activeElement;
    build(true);
    document.body.appendChild(host);
    formEl.querySelector("input").focus();
  }

  function hide(dismissed) {
    if (!host) return;
    if (dismissed) remember("dismissed");
    host.remove();
    host = null;
    if (lastFocus && lastFocus.focus) lastFocus.focus();
  }

  function say(text, isError) {
    live.className = "live" + (isError ? " error" : "");
    live.setAttribute("role", isError ? "alert" : "status");
    live.textContent = "";
    // A fresh text node after clearing makes screen readers announce a repeated message again.
    window.setTimeout(function () { live.textContent = text; }, 30);
  }

  function clearErrors() {
    Array.prototype.forEach.call(formEl.querySelectorAll(".field-error"), function (node) { node.hidden = true; node.textContent = ""; });
    Array.prototype.forEach.call(formEl.querySelectorAll("input"), function (node) {
      node.removeAttribute("aria-invalid"); node.removeAttribute("aria-describedby");
    });
  }

  function showErrors(detail) {
    var firstInput = null, messages = [];
    (Array.isArray(detail) ? detail : [{ loc: ["body"], msg: String(detail) }]).forEach(function (entry) {
      var loc = entry.loc || [], name = loc[1] === "fields" ? "field-" + loc[2] : loc[1];
      var input = name ? root.getElementById("sesame-" + name) : null;
      messages.push(entry.msg);
      if (input) {
        var note = root.getElementById("sesame-" + name + "-error");
        note.textContent = entry.msg; note.hidden = false;
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", note.id);
        firstInput = firstInput || input;
      }
    });
    say(messages.join(" "), true);
    if (firstInput) firstInput.focus();
  }

  function hex(buffer) {
    return Array.prototype.map.call(new Uint8Array(buffer), function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function zeroBits(buffer) {
    var bytes = new Uint8Array(buffer), bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      return bits + Math.clz32(bytes[i]) - 24;
    }
    return bits;
  }
  // Hashcash: find a nonce whose SHA-256 with the challenge starts with pow_bits zero bits (emails/forms/guard.py).
  function proofOfWork(email) {
    var stamp = Math.floor(Date.now() / 1000), challenge = C.key + ":" + email + ":" + stamp + ":", nonce = 0;
    var encoder = new TextEncoder();
    function attempt() {
      var candidate = String(nonce);
      return window.crypto.subtle.digest("SHA-256", encoder.encode(challenge + candidate)).then(function (digest) {
        if (zeroBits(digest) >= C.pow_bits) return { pow_ts: stamp, pow_nonce: candidate, hash: hex(digest) };
        nonce += 1;
        return attempt();
      });
    }
    return attempt();
  }

  function onSubmit(event) {
    event.preventDefault();
    clearErrors();
    var button = formEl.querySelector("button.submit");
    var value = function (name) { var input = root.getElementById("sesame-" + name); return input ? input.value.trim() : ""; };
    var body = { email: value("email").toLowerCase(), fields: {} };
    body[C.honeypot] = root.getElementById("sesame-hp").value;
    if (C.ask_name) body.name = value("name");
    C.custom_fields.forEach(function (custom) { body.fields[custom.key] = value("field-" + custom.key); });
    if (C.consent_text) body.consent = root.getElementById("sesame-consent").checked;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    var ready = C.pow_bits ? proofOfWork(body.email) : Promise.resolve(null);
    ready.then(function (work) {
      if (work) { body.pow_ts = work.pow_ts; body.pow_nonce = work.pow_nonce; }
      return window.fetch(C.endpoint, {
        method: "POST", mode: "cors", credentials: "omit",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
      });
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) { return { status: response.status, data: data }; });
    }).then(function (answer) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      if (answer.status === 202) {
        remember("subscribed");
        formEl.hidden = true;
        say(answer.data.detail || L.success, false);
        if (dialog.getAttribute("role") === "dialog") dialog.querySelector("button.close").focus();
      } else {
        showErrors(answer.data.detail || "Something went wrong; please try again.");
      }
    }).catch(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      say("Could not reach the server; check your connection and try again.", true);
    });
  }

  function start() {
    if (C.mode === "inline") {
      build(false);
      if (script && script.parentNode) script.parentNode.insertBefore(host, script.nextSibling);
      else document.body.appendChild(host);
      return;
    }
    if (remembered()) return;
    if (C.trigger === "exit_intent") {
      document.addEventListener("mouseout", function onOut(event) {
        if (!event.relatedTarget && event.clientY <= 0) { document.removeEventListener("mouseout", onOut); show(); }
      });
    } else if (C.trigger === "scroll") {
      var onScroll = function () {
        var seen = (window.scrollY + window.innerHeight) / Math.max(document.documentElement.scrollHeight, 1) * 100;
        if (seen >= C.scroll_percent) { window.removeEventListener("scroll", onScroll); show(); }
      };
      window.addEventListener("scroll", onScroll, { passive: true });
      onScroll();
    } else {
      window.setTimeout(show, C.delay_seconds * 1000);
    }
  }

  // Exposed for the page's own buttons ("Subscribe" links): opens the popup now, whatever the trigger.
  window.SesameForms = window.SesameForms || {};
  window.SesameForms[C.key] = { open: function () { if (!host) { shown = false; show(true); } } };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
