// The administration page (/console/admin). The forms work without this file; it only
// asks before an action that signs someone out or locks them out, and copies a
// one-time password. A file of its own: the console's CSP runs no inline script.
"use strict";

(function () {
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        event.preventDefault();
      }
    });
  });

  const copy = document.getElementById("copy-otp");
  if (copy) {
    copy.addEventListener("click", function () {
      const target = document.getElementById(copy.getAttribute("data-copy"));
      if (!target || !navigator.clipboard) {
        return;
      }
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        copy.textContent = "コピーしました";
      }, function () {
        copy.textContent = "コピーできませんでした（選択してコピーしてください）";
      });
    });
  }
})();
