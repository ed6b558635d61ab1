// The user's page: copy buttons, and the link (which holds the password) fetched only when
// asked for, as the base64 subscription of this same URL. Inline, allowed by its hash (CSP).
const copyText = async (field, button) => {
  try {
    await navigator.clipboard.writeText(field.value);
  } catch {
    field.select();
    document.execCommand("copy");
  }
  const label = button.textContent;
  button.textContent = button.dataset.done;
  setTimeout(() => (button.textContent = label), 1500);
};

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", () => {
    copyText(document.getElementById(button.dataset.copy), button);
  });
}

const reveal = document.getElementById("reveal");
reveal.addEventListener("click", async () => {
  const problem = document.getElementById("reveal-problem");
  try {
    const answer = await fetch(`${location.pathname.replace(/\/$/, "")}/base64`, {
      cache: "no-store",
    });
    if (!answer.ok) throw new Error(String(answer.status));
    const bytes = Uint8Array.from(atob((await answer.text()).trim()), (c) => c.charCodeAt(0));
    document.getElementById("share-link").value = new TextDecoder().decode(bytes).trim();
    document.getElementById("revealed").hidden = false;
    reveal.hidden = true;
    problem.hidden = true;
  } catch {
    problem.textContent = reveal.dataset.failed;
    problem.hidden = false;
  }
});
