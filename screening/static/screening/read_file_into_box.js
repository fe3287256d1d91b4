// The translation file chosen on the admin's "load a file" page, read by the browser into the
// box that is sent (the app takes no file uploads; see screening/request_limits.py). The
// file input has no name, so the file itself is never sent. Without JavaScript, paste the text.
(function () {
  "use strict";
  document.querySelectorAll("input[type=file][data-read-into]").forEach(function (input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      var box = document.getElementById(input.dataset.readInto);
      if (!file || !box) {
        return;
      }
      var format = /\.csv$/i.test(file.name) ? "csv" : "po";
      document.querySelectorAll("input[name=" + input.dataset.formatName + "]").forEach(function (radio) {
        radio.checked = radio.value === format;
      });
      var reader = new FileReader();
      reader.onload = function () {
        box.value = reader.result;
      };
      reader.readAsText(file, "utf-8");
    });
  });
})();
