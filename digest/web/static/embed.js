"use strict";
// The embedded sign-up form (a snippet from the desk, on another site): sent in the
// background and answered inside the form, so the reader stays on the article. The request is
// one that needs no CORS preflight (a form body, Accept only), carries no cookie, and the
// answer is {"message": ...} whatever happened. Without this script, or if the request fails,
// the form is posted the plain way and the answer opens as a page.
(function () {
  document.querySelectorAll("form[data-digest-signup]").forEach(function (form) {
    var answer = form.querySelector(".digest-signup-answer");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        credentials: "omit",
        mode: "cors",
      })
        .then(function (response) {
          return response.json().then(function (body) {
            answer.textContent = body.message;
            answer.dataset.ok = String(response.ok);
            if (response.ok) { form.reset(); }
          });
        })
        .catch(function () { form.submit(); })
        .then(function () { button.disabled = false; });
    });
  });
})();
