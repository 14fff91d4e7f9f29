"use strict";
// The live count of a post being edited: each change of the text is sent to the desk's count
// endpoint, which counts it with the code a save uses (the platform's own counting) and says
// what would stop it; the counter, the preview and the save button follow its answer. The
// preview is built from text nodes only: nothing typed is ever read as HTML.
document.querySelectorAll("form.post-edit").forEach(function (form) {
  var card = form.closest("article.post-desk");
  var text = form.querySelector("[data-text]");
  var save = form.querySelector("[data-save]");
  var counter = card.querySelector("[data-count]");
  var problems = card.querySelector("[data-problems]");
  var shown = card.querySelector("[data-shown]");
  var asked = 0;

  function show(answer) {
    counter.textContent = answer.length + " / " + answer.limit;
    counter.classList.toggle("warning", !answer.fits);
    problems.textContent = answer.problems.join("; ");
    save.disabled = !answer.fits;
    shown.replaceChildren();
    answer.pieces.forEach(function (piece) {
      var node;
      if (piece.kind === "link") {
        node = document.createElement("a");
        node.href = piece.href; node.rel = "noopener noreferrer"; node.target = "_blank";
        node.textContent = piece.text;
      } else if (piece.kind === "tag") {
        node = document.createElement("span");
        node.className = "tag"; node.textContent = piece.text;
      } else {
        node = document.createTextNode(piece.text);
      }
      shown.appendChild(node);
    });
  }

  function recount() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.countUrl, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (answer) { if (mine === asked) { show(answer); } })
      .catch(function (error) { problems.textContent = "Could not count the text (" + error.message + "): reload the page."; });
  }

  // Every keystroke is counted; an answer that comes after a newer question's is dropped.
  text.addEventListener("input", recount);
});
