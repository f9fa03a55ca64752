// Small progressive enhancements; every page works without them.
document.addEventListener("click", (e) => {
  const copy = e.target.closest("[data-copy]");
  if (copy) {
    const el = document.getElementById(copy.dataset.copy);
    const text = el ? (el.value || el.textContent) : "";
    navigator.clipboard?.writeText(text).catch(() => {});
    if (el && el.select) el.select();
    copy.textContent = "Copied";
    copy.dataset.copied = "true";
    setTimeout(() => { copy.textContent = "Copy"; }, 2000);
  }
  const confirmBtn = e.target.closest("[data-confirm]");
  if (confirmBtn && !window.confirm(confirmBtn.dataset.confirm)) e.preventDefault();
});
