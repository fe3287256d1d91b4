/* The idle warning, on every signed-in page (templates/base.html).

   The server alone ends a session after its idle limit (SessionTimeoutMiddleware); this
   script only warns before it and keeps what was typed. Two minutes before the limit it
   asks the server how long is really left (another tab may have been used), then shows a
   modal "Are you still there?" dialog with a "Stay signed in" button. Only pressing that
   button (or Escape) sends the POST that starts the idle clock again: asking how long is
   left and keeping a draft are background requests the server never counts as activity.

   On a wizard page (a form with data-idle-draft-url), if anything was typed, the form is
   posted as the page's draft shortly before the limit, so it is on the page again after
   the patient signs back in. Nothing is ever written to localStorage, sessionStorage or a
   URL. Without JavaScript none of this runs and the limit applies exactly as before. */
(function () {
  "use strict";

  var body = document.body;
  var dialog = document.getElementById("idle-warning");
  if (!dialog || !body.dataset.idleSecondsLeft || typeof dialog.showModal !== "function" ||
      typeof window.fetch !== "function") {
    return;
  }
  var warningMs = Number(body.dataset.idleWarningSeconds) * 1000;
  var draftLeadMs = Number(body.dataset.idleDraftLeadSeconds) * 1000;
  var countdown = dialog.querySelector("[data-idle-countdown]");
  var stayButton = dialog.querySelector("[data-idle-stay]");
  var error = dialog.querySelector("[data-idle-error]");
  var draftForm = document.querySelector("form[data-idle-draft-url]");
  var deadline = 0; // when the server's idle limit comes, by this browser's clock
  // Typed into the wizard form since it was drawn or last kept; a page drawn from a post (a
  // refused save, "Add more rows") holds unsaved typing from the start.
  var dirty = Boolean(draftForm && draftForm.hasAttribute("data-drawn-as-typed"));
  var draftKept = false;
  var busy = false; // a request to the server is under way
  var synced = false; // the server was asked how long is left since the warning was due
  var leaving = false;
  var returnFocus = null;

  function setDeadline(secondsLeft) {
    deadline = Date.now() + Math.max(0, Number(secondsLeft) || 0) * 1000;
    draftKept = false;
    synced = false;
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // A JSON request to the server; never follows a redirect (the login or two-factor page).
  function ask(url, options) {
    var init = {
      method: options && options.method ? options.method : "GET",
      credentials: "same-origin",
      redirect: "manual",
      cache: "no-store",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() }
    };
    if (options && options.body) {
      init.body = options.body;
    }
    return fetch(url, init).then(function (response) {
      if (response.status === 401) {
        return { signedIn: false };
      }
      if (!response.ok) {
        throw new Error("The server answered " + response.status);
      }
      return response.json().then(function (data) {
        return { signedIn: data.signed_in !== false, secondsLeft: data.seconds_left };
      });
    });
  }

  function inWords(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    var parts = [];
    // The words come translated from the page (templates/base.html), English if absent.
    var words = dialog.dataset;
    if (minutes) {
      parts.push(minutes + " " + (minutes === 1 ? words.minute || "minute" : words.minutes || "minutes"));
    }
    if (rest || !minutes) {
      parts.push(rest + " " + (rest === 1 ? words.second || "second" : words.seconds || "seconds"));
    }
    return parts.join(" ");
  }

  function openWarning() {
    if (dialog.open) {
      return;
    }
    returnFocus = document.activeElement;
    error.hidden = true;
    countdown.textContent = inWords(deadline - Date.now());
    dialog.showModal();
    stayButton.focus();
  }

  function closeWarning() {
    if (!dialog.open) {
      return;
    }
    dialog.close();
    if (returnFocus && typeof returnFocus.focus === "function" && document.contains(returnFocus)) {
      returnFocus.focus();
    }
  }

  function signedOut() {
    leaving = true;
    var here = window.location.pathname + window.location.search;
    window.location.assign(body.dataset.loginUrl + "?next=" + encodeURIComponent(here));
  }

  function keepDraft() {
    draftKept = true;
    if (!draftForm || !dirty) {
      return Promise.resolve(null);
    }
    return ask(draftForm.dataset.idleDraftUrl, { method: "POST", body: new FormData(draftForm) })
      .then(function (result) {
        if (result.signedIn) {
          dirty = false;
        }
        return result;
      })
      .catch(function () {
        draftKept = false; // try again on the next tick
        return null;
      });
  }

  // What the server says about this session: signed out, or how long is left.
  function follow(result) {
    if (!result.signedIn) {
      signedOut();
      return;
    }
    setDeadline(result.secondsLeft);
    if (deadline - Date.now() > warningMs) {
      closeWarning(); // someone was active in another tab
    } else {
      synced = true;
    }
  }

  function check() {
    busy = true;
    return ask(body.dataset.sessionStatusUrl)
      .then(follow)
      .catch(function () {
        // No answer (offline, or a page before the second factor): go by this page's own
        // clock, and after the limit ask again every few seconds, never every tick.
        synced = true;
        if (deadline - Date.now() <= 0) {
          deadline = Date.now() + 5000;
        }
      })
      .then(function () {
        busy = false;
      });
  }

  function tick() {
    if (leaving || busy) {
      return;
    }
    var left = deadline - Date.now();
    if (left <= draftLeadMs && !draftKept) {
      busy = true;
      keepDraft().then(function (result) {
        busy = false;
        if (result && !result.signedIn) {
          signedOut();
        }
      });
      return;
    }
    if (left <= -1500) {
      // The server's limit has passed (it ends a session just after it): ask, and go to
      // the login page if it has ended.
      check();
      return;
    }
    if (left <= warningMs) {
      if (!synced) {
        check().then(function () {
          if (!leaving && deadline - Date.now() <= warningMs) {
            openWarning();
          }
        });
        return;
      }
      openWarning();
      countdown.textContent = inWords(left);
    }
  }

  function staySignedIn() {
    stayButton.disabled = true;
    error.hidden = true;
    busy = true;
    ask(body.dataset.staySignedInUrl, { method: "POST" })
      .then(function (result) {
        if (!result.signedIn) {
          signedOut();
          return;
        }
        setDeadline(result.secondsLeft);
        closeWarning();
      })
      .catch(function () {
        error.hidden = false;
      })
      .then(function () {
        stayButton.disabled = false;
        busy = false;
      });
  }

  if (draftForm) {
    dialog.querySelector("[data-idle-draft-note]").hidden = false;
    draftForm.addEventListener("input", function () { dirty = true; });
    draftForm.addEventListener("change", function () { dirty = true; });
    draftForm.addEventListener("submit", function () { leaving = true; });
  }
  stayButton.addEventListener("click", staySignedIn);
  // Escape is the person answering too: it means the same as the button.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    if (!stayButton.disabled) {
      staySignedIn();
    }
  });
  setDeadline(body.dataset.idleSecondsLeft);
  window.setInterval(tick, 1000);
}());
