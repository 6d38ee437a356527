/* The "Copy" button next to a new API key. Without scripts the button stays hidden and the key
   stays selectable in its read-only field. */
(function () {
  "use strict";
  document.querySelectorAll("[data-qs-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-qs-copy"));
    var status = document.getElementById(button.getAttribute("data-qs-status"));
    if (!field) {
      return;
    }
    function say(attribute) {
      if (status) {
        status.textContent = button.getAttribute(attribute);
      }
    }
    function fallback() {
      field.select();
      try {
        say(document.execCommand("copy") ? "data-qs-copied" : "data-qs-failed");
      } catch (error) {
        say("data-qs-failed");
      }
    }
    field.addEventListener("focus", function () {
      field.select();
    });
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(function () {
          say("data-qs-copied");
        }, fallback);
      } else {
        fallback();
      }
    });
    button.hidden = false;
  });
})();
