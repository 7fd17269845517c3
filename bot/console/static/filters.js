/* The filter bar (templates/console/_filters.html): which chats a list shows.
   Its state is kept for the browser tab (sessionStorage), so the queue and the
   chat page's side queue show the same selection while a counsellor moves
   between chats. ConsoleFilters.matches(h) decides one chat; onChange(fn) is
   told when the bar changes. */
"use strict";

window.ConsoleFilters = (function () {
  const form = document.getElementById("filters");
  const KEY = "console-filters";
  const FIELDS = ["q", "view", "severity", "role", "category"];
  const listeners = [];
  let me = "";

  function state() {
    const s = {};
    if (!form) return s;
    for (const name of FIELDS) s[name] = (form.elements[name].value || "").trim();
    return s;
  }

  function save() {
    try { sessionStorage.setItem(KEY, JSON.stringify(state())); } catch (err) { /* private mode */ }
  }

  function restore() {
    if (!form) return;
    let saved = {};
    try { saved = JSON.parse(sessionStorage.getItem(KEY) || "{}"); } catch (err) { saved = {}; }
    for (const name of FIELDS) if (typeof saved[name] === "string") form.elements[name].value = saved[name];
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  /* What a chat can be found by, in the words the page shows it with. */
  function haystack(h) {
    const d = h.queued_at ? new Date(h.queued_at * 1000) : null;
    const dates = d ? [d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()),
                       (d.getMonth() + 1) + "/" + d.getDate()] : [];
    return [h.user, h.role_label, h.category_label, h.severity_label, h.status_label, h.claimed_by || "",
            ...(h.reason_labels || []), ...dates].join(" ").toLowerCase();
  }

  function matches(h) {
    const s = state();
    if (s.view === "mine" && !(h.status === "claimed" && h.claimed_by === me)) return false;
    if ((s.view === "waiting" || s.view === "claimed") && h.status !== s.view) return false;
    if (s.severity && (h.severity || "none") !== s.severity) return false;
    if (s.role && (h.role || "unknown") !== s.role) return false;
    if (s.category && h.category !== s.category) return false;
    if (s.q) {
      const text = haystack(h);
      if (!s.q.toLowerCase().split(/\s+/).every((w) => text.includes(w))) return false;
    }
    return true;
  }

  function active() {
    const s = state();
    return FIELDS.some((name) => s[name]);
  }

  function changed() {
    save();
    for (const fn of listeners) fn(state());
  }

  if (form) {
    restore();
    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    form.addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("f-clear").addEventListener("click", () => {
      form.reset();
      changed();
    });
  }

  return {
    matches: matches,
    state: state,
    active: active,
    setMe: (name) => { me = name; },
    onChange: (fn) => listeners.push(fn),
  };
})();
