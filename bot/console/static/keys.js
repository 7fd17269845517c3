/* Keyboard: j/k move between chats, Enter opens, c takes, / searches, ? helps
   (templates/console/_help.html lists them). Items are the lists' <article
   class="item" data-id> elements; on the chat page j/k open the next chat of the
   side queue at once, and c takes the chat that is open. Keys are ignored while
   the counsellor types (an input, a textarea, the IME), except Esc. */
"use strict";

(function () {
  const help = document.getElementById("help");
  const chat = document.getElementById("chat-app");
  let selected = null; // the id of the selected item (the queue page)

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function items() {
    return [...document.querySelectorAll(".nav-list .item[data-id]")].filter((n) => !n.hidden && n.offsetParent !== null);
  }

  function select(node) {
    for (const n of document.querySelectorAll(".item.selected")) n.classList.remove("selected");
    if (!node) return;
    node.classList.add("selected");
    selected = node.dataset.id;
    node.scrollIntoView({ block: "nearest" });
  }

  function open(node) {
    const link = node && node.querySelector("a.pseudonym");
    if (link) window.location.assign(link.href);
  }

  function move(step) {
    const list = items();
    if (!list.length) return;
    const current = chat ? chat.dataset.hid : selected;
    const at = list.findIndex((n) => n.dataset.id === current);
    const next = list[at < 0 ? (step > 0 ? 0 : list.length - 1) : (at + step + list.length) % list.length];
    if (chat) open(next);
    else select(next);
  }

  function showHelp(visible) {
    if (!help) return;
    help.hidden = !visible;
    if (visible) document.getElementById("help-close").focus();
  }

  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (help && !help.hidden) showHelp(false);
      else if (typing(event.target)) event.target.blur();
      return;
    }
    if (typing(event.target)) return;
    const key = event.key;
    if (key === "?") { showHelp(help && help.hidden); event.preventDefault(); return; }
    if (help && !help.hidden) return;
    if (key === "j" || key === "k") { move(key === "j" ? 1 : -1); event.preventDefault(); return; }
    if (key === "/") {
      const search = document.getElementById("f-q");
      if (search) { search.focus(); event.preventDefault(); }
      return;
    }
    if (key === "Enter" && !chat && selected) {
      open(document.querySelector('.item[data-id="' + CSS.escape(selected) + '"]'));
      return;
    }
    if (key === "c") {
      const button = chat ? document.getElementById("btn-claim")
        : selected && document.querySelector('.item[data-id="' + CSS.escape(selected) + '"] button.claim');
      if (button && !button.hidden && !button.disabled) button.click();
    }
  });

  const openButton = document.getElementById("help-open");
  if (openButton) openButton.addEventListener("click", () => showHelp(true));
  const closeButton = document.getElementById("help-close");
  if (closeButton) closeButton.addEventListener("click", () => showHelp(false));
  if (help) help.addEventListener("click", (event) => { if (event.target === help) showHelp(false); });

  /* The lists redraw: keep the selection on the same chat. */
  document.addEventListener("lists-drawn", () => {
    if (selected) select(document.querySelector('.item[data-id="' + CSS.escape(selected) + '"]'));
  });
})();
