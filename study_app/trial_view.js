// One trial in the respondent's browser: the image, the question and the two answer buttons.
//
// Streamlit calls this function on every server render of the trial, with `data` from
// study_app/trial_view.py. The browser, not the server, decides when the image is on screen: it is
// the moment after the image is decoded and two animation frames have been painted. From then on
// the buttons stay locked for `data.min_view_ms`; a click sends the answer once (trigger "answer"
// with the trial index and the milliseconds the image was on screen) and locks both buttons until
// the next render. A click on a locked button says why it did nothing, so no press is ignored
// without a visible reason; the second click of a double click meets a locked button.
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".trial");
  if (!root) {
    root = document.createElement("div");
    root.className = "trial";
    root.innerHTML = '<img class="pattern" draggable="false"><p class="prompt"></p>' +
      '<div class="choices"></div><p class="hint" aria-live="polite"></p>';
    parentElement.appendChild(root);
    root.state = {};
  }
  const state = root.state;
  if (state.render === data.render) return;      // the same server render again: nothing new
  state.render = data.render;
  const img = root.querySelector(".pattern");
  const hint = root.querySelector(".hint");
  const choices = root.querySelector(".choices");
  root.querySelector(".prompt").innerHTML = data.prompt;
  img.alt = data.alt;
  img.width = img.height = data.size;
  state.locked = true;
  state.sent = false;
  hint.textContent = data.notice || "";
  hint.dataset.kind = data.notice ? "notice" : "";
  root.classList.remove("sent");

  const buttons = data.choices.map(([value, label]) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.dataset.answer = value;
    b.setAttribute("aria-disabled", "true");
    b.addEventListener("click", () => press(value));
    return b;
  });
  choices.replaceChildren(...buttons);

  const current = () => state.render === data.render;
  const unlock = () => {
    if (!current() || state.sent) return;
    state.locked = false;
    buttons.forEach((b) => b.removeAttribute("aria-disabled"));
    if (hint.dataset.kind === "locked") hint.textContent = "";
  };
  const shown = () => {
    if (!current()) return;
    state.shownAt = performance.now();
    root.classList.remove("loading");
    setTimeout(unlock, data.min_view_ms);
    (data.preload || []).forEach((src) => { new Image().src = src; });   // into the cache
  };
  const press = (value) => {
    if (state.sent) {
      hint.dataset.kind = "sent";
      hint.textContent = data.text_sent;
      return;
    }
    if (state.locked) {
      hint.dataset.kind = "locked";
      hint.textContent = state.shownAt === undefined ? data.text_loading : data.text_locked;
      return;
    }
    state.sent = true;
    root.classList.add("sent");
    buttons.forEach((b) => b.setAttribute("aria-disabled", "true"));
    hint.textContent = "";
    setTriggerValue("answer", {
      trial: data.trial, answer: value, render: data.render,
      viewed_ms: Math.round(performance.now() - state.shownAt),
    });
  };

  if (state.src !== data.src) {                    // a new image: it counts from its own display
    state.src = data.src;
    state.shownAt = undefined;
    root.classList.add("loading");
    img.src = data.src;
    img.decode()
      .then(() => requestAnimationFrame(() => requestAnimationFrame(shown)))
      .catch(() => {
        if (!current()) return;
        hint.dataset.kind = "error";
        hint.textContent = data.text_failed;
      });
  } else if (state.shownAt !== undefined) {        // the same image, shown again after a refusal
    setTimeout(unlock, Math.max(0, data.min_view_ms - (performance.now() - state.shownAt)));
  }
}
