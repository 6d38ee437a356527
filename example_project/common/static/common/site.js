// The menu button of narrow screens. Without JavaScript the links stay visible (wrapped).
document.documentElement.classList.remove("no-js");
document.addEventListener("DOMContentLoaded", () => {
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("site-nav");
  if (!toggle || !nav) return;
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && nav.classList.contains("is-open")) {
      toggle.setAttribute("aria-expanded", "false");
      nav.classList.remove("is-open");
      toggle.focus();
    }
  });
});
// In an area's navigation that scrolls sideways (narrow screens), show the current page's link.
document.addEventListener("DOMContentLoaded", () => {
  const current = document.querySelector(".section-nav [aria-current='page']");
  if (current && current.scrollIntoView) current.scrollIntoView({ block: "nearest", inline: "center" });
});
