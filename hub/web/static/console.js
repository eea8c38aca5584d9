// Agent Hub console: the only script. Confirms destructive forms and prevents double submits.
document.addEventListener("submit", function (ev) {
  var form = ev.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    ev.preventDefault();
    return;
  }
  if (form.method.toLowerCase() === "post") {
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    form.setAttribute("aria-busy", "true");
  }
});

// Copy buttons (the webhook URL): copy the named field's value, and say so on the button.
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest ? ev.target.closest("[data-copy]") : null;
  if (!btn) return;
  var field = document.getElementById(btn.getAttribute("data-copy"));
  if (!field) return;
  field.select();
  var done = function () { btn.textContent = "Copied"; };
  if (navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
  } else {
    document.execCommand("copy");
    done();
  }
});
