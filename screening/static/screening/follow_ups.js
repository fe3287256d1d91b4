/* Follow-up questions in place, on a wizard page (templates/patient/section.html).

   The page draws every one of its questions; those that do not apply now are `hidden`, and
   their "presented" input is disabled, so a post ignores them. When an answer changes, this
   script posts the form (after a short pause, so a few quick clicks make one request) to
   the page's data-shown-url, where the server works out which questions apply exactly as a
   save would, and shows or hides them here. A question shown this way is marked "New
   question" and announced politely; the focus stays where the patient is.

   The server stays the source of truth: nothing is saved by this request, and a save checks
   everything again. If the request fails, nothing changes and the page works as without
   JavaScript: saving shows any follow-up questions on the same page again. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-shown-url]");
  if (!form || typeof window.fetch !== "function" || typeof window.FormData !== "function") {
    return;
  }
  var url = form.getAttribute("data-shown-url");
  var status = form.querySelector("[data-follow-up-status]");
  // The words, in the page's language, from the status element (section.html).
  function words(name, fallback) {
    return (status && status.getAttribute("data-words-" + name)) || fallback;
  }
  var wrappers = Array.prototype.slice.call(form.querySelectorAll("[data-question]"));
  var PAUSE_MS = 250;
  var timer = null;
  var latest = 0; // the number of the latest request; older answers are ignored
  var pending = 0; // requests under way

  // Tests and anyone curious can tell when the page has caught up with its answers.
  function markBusy() {
    if (timer !== null || pending > 0) {
      form.setAttribute("data-shown-busy", "");
    } else {
      form.removeAttribute("data-shown-busy");
    }
  }

  function questionText(wrapper) {
    var label = wrapper.querySelector("legend, label");
    if (!label) {
      return "";
    }
    return label.textContent.replace(/\s+/g, " ").replace(/\*\s*$/, "").trim();
  }

  function markNew(wrapper, words) {
    if (wrapper.querySelector("[data-new-question]")) {
      return;
    }
    var badge = document.createElement("p");
    badge.className = "badge text-bg-info mb-1 new-question";
    badge.setAttribute("data-new-question", "");
    badge.textContent = words;
    wrapper.insertBefore(badge, wrapper.firstChild);
  }

  function show(shownCodes) {
    var shown = {};
    shownCodes.forEach(function (code) {
      shown[code] = true;
    });
    var revealed = [];
    wrappers.forEach(function (wrapper) {
      var presented = wrapper.querySelector("input[name=presented]");
      var applies = shown[wrapper.getAttribute("data-question")] === true;
      if (applies && wrapper.hidden) {
        wrapper.hidden = false;
        presented.disabled = false;
        var grid = wrapper.closest("[data-grid]");
        if (!grid || !grid.hidden) {
          markNew(wrapper, words("new-question", "New question"));
        }
        revealed.push(questionText(wrapper));
      } else if (!applies && !wrapper.hidden) {
        wrapper.hidden = true;
        presented.disabled = true;
      }
    });
    // A grid (and the list's introduction in it) is shown while any of its items is.
    // A list shown at once is marked new once, above its introduction.
    Array.prototype.forEach.call(form.querySelectorAll("[data-grid]"), function (grid) {
      var wasHidden = grid.hidden;
      grid.hidden = !grid.querySelector("[data-question]:not([hidden])");
      if (wasHidden && !grid.hidden) {
        markNew(grid, words("new-questions", "New questions"));
      }
    });
    if (status && revealed.length) {
      status.textContent = (
        revealed.length === 1
          ? words("one-appeared", "A new question appeared below: %(question)s")
          : words("many-appeared", "%(count)s new questions appeared below, starting with: %(question)s")
      )
        .replace("%(count)s", String(revealed.length))
        .replace("%(question)s", revealed[0]);
    }
  }

  function ask() {
    timer = null;
    var number = ++latest;
    pending += 1;
    markBusy();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: { Accept: "application/json", "X-CSRFToken": token ? token.value : "" }
    })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("The server answered " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (number === latest && Array.isArray(data.shown)) {
          show(data.shown);
        }
      })
      .catch(function () {
        // Nothing changes: saving the page shows any follow-up questions, as without script.
      })
      .then(function () {
        pending -= 1;
        markBusy();
      });
  }

  form.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || !target.name || target.name === "presented") {
      return;
    }
    if (timer !== null) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(ask, PAUSE_MS);
    markBusy();
  });
})();
