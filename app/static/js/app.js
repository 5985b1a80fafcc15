// Sorriso's own behaviour, loaded as a file (the CSP allows no inline scripts).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // HTMX requests carry the CSRF token in the header Flask-WTF reads.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  // Buttons disable while an HTMX request is in flight.
  function requestButtons(elt) {
    if (elt.matches("button, input[type=submit]")) return [elt];
    var form = elt.closest("form");
    return form ? Array.prototype.slice.call(form.querySelectorAll("button, input[type=submit]")) : [];
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    requestButtons(event.detail.elt).forEach(function (button) {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    });
    hideRequestError();
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    requestButtons(event.detail.elt).forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  });

  // A failed HTMX request says so instead of silently doing nothing.
  function showRequestError(text) {
    var box = document.getElementById("request-error");
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
  }

  function hideRequestError() {
    var box = document.getElementById("request-error");
    if (box) box.hidden = true;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    var messages = {
      400: "O pedido foi recusado (formulário expirado?). Recarregue a página.",
      403: "Seu perfil não tem permissão para esta ação.",
      404: "Registro não encontrado.",
    };
    showRequestError(messages[status] || "Não foi possível concluir a ação (erro " + status + "). Tente de novo.");
  });

  document.addEventListener("htmx:sendError", function () {
    showRequestError("Sem resposta do servidor. Verifique a rede e tente de novo.");
  });

  // Plain form submits: disable the buttons once the browser has collected the form data
  // (disabling right away would drop the clicked button's name/value), and ask before confirmed actions.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
    form.dataset.submitting = "true";
    window.setTimeout(function () {
      form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
      });
    }, 0);
  });

  // Coming back with the browser's back button must not leave buttons disabled.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      delete form.dataset.submitting;
      form.querySelectorAll("button, input[type=submit]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
      });
    });
  });

  // Leaving a changed form asks first (forms marked data-confirm-leave).
  function markDirty(event) {
    var form = event.target.closest && event.target.closest("form[data-confirm-leave]");
    if (form) form.dataset.dirty = "true";
  }

  document.addEventListener("input", markDirty);
  document.addEventListener("change", markDirty);

  window.addEventListener("beforeunload", function (event) {
    var dirty = document.querySelector("form[data-confirm-leave][data-dirty]:not([data-submitting])");
    if (dirty) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Focus the first field marked invalid, so the user sees what to fix.
  document.addEventListener("DOMContentLoaded", function () {
    var invalid = document.querySelector("[aria-invalid=true]");
    if (invalid) invalid.focus();
  });
})();

// Treatment plans: choosing a catalogue procedure fills the item's price with the catalogue's (still editable).
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches(".plan-add-item select[name$='procedure_id']")) return;
    var option = select.options[select.selectedIndex];
    var price = select.form && select.form.querySelector("input[name$='price']");
    if (option && price && option.dataset.price) price.value = option.dataset.price;
  });
})();
