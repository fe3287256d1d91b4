/* The language switcher keeps what was typed on a questionnaire page (templates/base.html).

   Changing the language reloads the page in the new language, as it was last saved: answers
   typed on it and not yet saved would be lost. So, just before the switch, this script keeps
   the page form's values in this tab's sessionStorage; the reloaded page (the same address,
   within a minute) puts them back, as typed and still unsaved, and forgets them at once. It
   then tells the follow-up script (follow_ups.js) that answers changed, so any follow-up
   question they bring is shown again, and shows the page's note that they are not saved
   yet. Nothing is sent to the server; the patient still presses Save. Without JavaScript
   the switch reloads the page as it was last saved. */
(function () {
  "use strict";

  var KEY = "language-switch-typed";
  var MAX_AGE_MS = 60 * 1000;
  var storage;
  try {
    storage = window.sessionStorage;
    storage.getItem(KEY);
  } catch (error) {
    return; // storage turned off: the switch works as without JavaScript
  }
  var form = document.querySelector("main form[data-idle-draft-url]");
  // Anything typed or put back on this page since it was drawn; a page drawn from a post (a
  // refused save, "Add more rows") holds unsaved typing from the start.
  var typed = Boolean(form && form.hasAttribute("data-drawn-as-typed"));
  if (form) {
    form.addEventListener("input", function () { typed = true; });
    form.addEventListener("change", function () { typed = true; });
  }

  var kept = null;
  try {
    kept = JSON.parse(storage.getItem(KEY) || "null");
  } catch (error) {
    kept = null;
  }
  storage.removeItem(KEY); // never kept longer than the one reload
  if (
    form && kept && kept.path === window.location.pathname &&
    Date.now() - kept.at < MAX_AGE_MS && Array.isArray(kept.values)
  ) {
    restore(kept.values);
  }

  var switcher = document.querySelector("form.language-switcher");
  if (!form || !switcher) {
    return;
  }
  switcher.addEventListener("submit", function () {
    if (!typed) {
      return;
    }
    var values = [];
    Array.prototype.forEach.call(form.elements, function (element) {
      if (!element.name || element.disabled || /^(hidden|submit|button|file)$/.test(element.type)) {
        return;
      }
      if (element.type === "radio" || element.type === "checkbox") {
        values.push([element.name, element.value, element.checked]);
      } else {
        values.push([element.name, element.value]);
      }
    });
    try {
      storage.setItem(KEY, JSON.stringify({ path: window.location.pathname, at: Date.now(), values: values }));
    } catch (error) {
      // Full or refused: the page reloads as it was last saved.
    }
  });

  function controls(name) {
    var escaped = window.CSS && CSS.escape ? CSS.escape(name) : name.replace(/["\\]/g, "\\$&");
    return form.querySelectorAll('[name="' + escaped + '"]');
  }

  function restore(values) {
    var changed = null;
    values.forEach(function (entry) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string") {
        return;
      }
      Array.prototype.forEach.call(controls(entry[0]), function (element) {
        if (element.type === "radio" || element.type === "checkbox") {
          if (element.value === entry[1] && element.checked !== Boolean(entry[2])) {
            element.checked = Boolean(entry[2]);
            changed = changed || element;
          }
        } else if (!/^(hidden|submit|button|file)$/.test(element.type) && element.value !== entry[1]) {
          element.value = String(entry[1]);
          changed = changed || element;
        }
      });
    });
    if (changed) {
      // As if the patient had just answered: follow-up questions and the idle draft catch up.
      changed.dispatchEvent(new Event("change", { bubbles: true }));
      // Say so: the page looks filled in, and a refused save's marks are not drawn again.
      var note = document.getElementById("typing-kept");
      if (note) {
        note.hidden = false;
      }
    }
  }
})();
