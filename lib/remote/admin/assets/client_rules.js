// @ts-nocheck: a browser page, not part of the Deno program.
/**
 * The panel's client-rules card: the rules every subscription carries to users' apps, shown,
 * and set here when `serve --client-rules FILE` did not set them (then the card is read-only
 * and names the file). Its strings are the catalogue's `admin.clientRules.*`, through the
 * page's `/i18n.js`.
 */
import { api } from "/app.js";
import { number, t } from "/i18n.js";

const card = document.getElementById("rules-card");
const text = document.createElement("textarea");
const state = document.createElement("p");
const message = document.createElement("p");
const save = document.createElement("button");
const gaps = document.createElement("ul");

function build() {
  const head = document.createElement("div");
  head.className = "card-head";
  const h2 = document.createElement("h2");
  h2.textContent = t("admin.clientRules.title");
  head.append(h2);
  const about = document.createElement("p");
  about.className = "muted small";
  about.textContent = t("admin.clientRules.about");
  text.id = "rules-text";
  text.rows = 10;
  text.spellcheck = false;
  text.placeholder = t("admin.clientRules.placeholder");
  state.id = "rules-state";
  state.className = "small";
  gaps.id = "rules-gaps";
  gaps.className = "small muted";
  save.id = "rules-save";
  save.type = "button";
  save.textContent = t("admin.clientRules.save");
  message.id = "rules-message";
  message.className = "small";
  message.setAttribute("role", "alert");
  message.hidden = true;
  card.replaceChildren(head, about, state, text, gaps, save, message);
}

function show(view) {
  text.value = view.text;
  text.readOnly = view.origin === "flag";
  save.hidden = view.origin === "flag";
  card.dataset.origin = view.origin;
  state.textContent = view.origin === "flag"
    ? t("admin.clientRules.fromFlag", { path: view.path })
    : view.origin === "panel"
    ? t("admin.clientRules.fromPanel", {
      rules: number(view.rules),
      providers: number(view.providers),
    })
    : t("admin.clientRules.none");
  gaps.replaceChildren(...view.gaps.map((gap) => {
    const li = document.createElement("li");
    li.textContent = gap;
    return li;
  }));
}

async function load() {
  show(await api("GET", "/api/client-rules"));
  card.hidden = false;
}

build();
save.addEventListener("click", async () => {
  message.hidden = true;
  try {
    show(await api("POST", "/api/client-rules", { text: text.value }));
    message.textContent = t("admin.clientRules.saved");
    message.className = "small";
  } catch (error) {
    message.textContent = error.message;
    message.className = "small error";
  }
  message.hidden = false;
});
document.addEventListener("panel-shown", () => load().catch(() => {}));
