/** The labelling page that `bootboots label` serves: one image at a time, labelled by keyboard. */
export const LABEL_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>BootBoots: label</title>
<style nonce="__NONCE__">
  body { font-family: system-ui, sans-serif; margin: 0; background: #1d1f21; color: #eee; }
  main { display: grid; grid-template-columns: 1fr 22rem; gap: 1rem; padding: 1rem; height: calc(100vh - 2rem); }
  #picture { display: flex; align-items: center; justify-content: center; background: #000; border-radius: 6px; min-height: 60vh; }
  #picture img { width: 100%; height: 80vh; object-fit: contain; }
  aside { display: flex; flex-direction: column; gap: 0.8rem; }
  h1 { font-size: 1.1rem; margin: 0; }
  #key { font-family: monospace; font-size: 0.8rem; word-break: break-all; color: #aaa; }
  #buttons button { display: block; width: 100%; margin: 0.2rem 0; padding: 0.5rem; font-size: 1rem; text-align: left;
    background: #2e3236; color: #eee; border: 1px solid #555; border-radius: 4px; cursor: pointer; }
  #buttons button kbd { display: inline-block; width: 1.4rem; text-align: center; background: #555; border-radius: 3px; margin-right: 0.6rem; }
  #message { min-height: 2.5rem; padding: 0.5rem; border-radius: 4px; }
  #message.error { background: #6b1f1f; }
  #message.info { background: #1f4b2b; }
  #warning { background: #6b5a1f; padding: 0.5rem; border-radius: 4px; }
  #warning:empty { display: none; }
  table { border-collapse: collapse; font-size: 0.9rem; }
  td { padding: 0.1rem 0.6rem 0.1rem 0; }
</style>
</head>
<body>
<main>
  <section id="picture"><img id="image" alt="the image to label"></section>
  <aside>
    <h1 id="heading">Which cat is this?</h1>
    <div id="key"></div>
    <div id="guesses"></div>
    <div id="buttons"></div>
    <div id="progress"></div>
    <table id="perclass"></table>
    <div id="warning"></div>
    <div id="message" role="alert"></div>
  </aside>
</main>
<script nonce="__NONCE__">
const token = "__TOKEN__";
let state = null;
let busy = false;
const $ = (id) => document.getElementById(id);

function say(text, kind) {
  $("message").textContent = text || "";
  $("message").className = kind || "";
}

function row(...cells) {
  const tr = document.createElement("tr");
  for (const text of cells) tr.appendChild(document.createElement("td")).textContent = text;
  return tr;
}

function button(key, text, data, disabled) {
  const b = document.createElement("button");
  Object.assign(b.dataset, data);
  b.disabled = Boolean(disabled);
  b.appendChild(document.createElement("kbd")).textContent = key;
  b.appendChild(document.createTextNode(text));
  return b;
}

function render() {
  const item = state.current;
  const review = state.mode === "review";
  $("heading").textContent = review ? "Is this label right?" : "Which cat is this?";
  $("warning").textContent = state.blocking || state.warning || "";
  $("progress").textContent = (review ? "Changed " + state.labelled + ", kept " : "Labelled " + state.labelled + ", skipped ")
    + state.skipped + ", left " + state.left + " of " + state.total;
  // Every name from the queue goes in as text, never as HTML.
  $("perclass").replaceChildren(...Object.entries(state.perClass).map(([c, n]) => row(c, String(n))));
  $("buttons").replaceChildren(
    ...state.classes.map((c) => button(c.key, c.className, { label: c.className })),
    button("m", state.multiLabel + " (more than one cat)", { label: state.multiLabel }),
    review ? button("⏎", "keep the label", { action: "skip" }) : button("s", "skip", { action: "skip" }),
    button("u", "undo the last label", { action: "undo" }, !state.canUndo),
  );
  if (!item) {
    $("image").removeAttribute("src");
    $("key").textContent = "";
    $("guesses").textContent = "Done: the queue is empty. Next: npx bootboots train";
    return;
  }
  $("key").textContent = item.key;
  const says = item.top3 ? "The model says: " + item.top3.map((t) => t.className + " " + Math.round(100 * t.probability) + "%").join(", ") : "";
  $("guesses").textContent = review
    ? "Labelled " + item.label + ". " + says + " (its " + item.source + " answer)."
    : says || "No guesses: no model has looked at this image yet (the newest images come first).";
  const src = "/api/image?token=" + token + "&key=" + encodeURIComponent(item.key);
  if ($("image").getAttribute("src") !== src) $("image").setAttribute("src", src);
}

async function call(path, body) {
  if (busy) return;
  busy = true;
  try {
    const response = await fetch(path + "?token=" + token, {
      method: body ? "POST" : "GET",
      headers: { "content-type": "application/json" },
      body: body ? JSON.stringify({ ...body, session: state && state.session }) : undefined,
    });
    const answer = await response.json();
    if (!response.ok) {
      say(answer.error + (answer.theirs ? " (their label: " + answer.theirs + ")" : ""), "error");
      if (answer.state) { state = answer.state; render(); }
      return;
    }
    state = answer;
    render();
    if (answer.message) say(answer.message, "info");
  } catch (error) {
    say("The labelling server does not answer (" + error.message + "): is bootboots label still running? Nothing was lost: press the key again.", "error");
  } finally {
    busy = false;
  }
}

function act(label, action) {
  if (!state) return;
  if (action === "undo") return call("/api/undo", {});
  if (!state.current) return;
  if (action === "skip") return call("/api/skip", { key: state.current.key });
  return call("/api/label", { key: state.current.key, label });
}

document.addEventListener("keydown", (event) => {
  if (!state || event.ctrlKey || event.metaKey || event.altKey) return;
  const byKey = state.classes.find((c) => c.key === event.key);
  if (byKey) act(byKey.className);
  else if (event.key === "m") act(state.multiLabel);
  else if (event.key === (state.mode === "review" ? "Enter" : "s")) act(undefined, "skip");
  else if (event.key === "u") act(undefined, "undo");
  else return;
  // A key the page acts on does nothing else (Enter would also press the focused button).
  event.preventDefault();
});
$("buttons").addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (button) act(button.dataset.label, button.dataset.action);
});
$("image").addEventListener("error", async () => {
  if (!state || !state.current) return;
  const response = await fetch($("image").getAttribute("src"));
  if (!response.ok) say((await response.json()).error, "error");
});
call("/api/state");
</script>
</body>
</html>
`;
