// Relay builder: show only the fields of each condition's type. Without this script every
// field is shown and the server uses only those of the chosen type.
function relayRuleFields(rule) {
  const type = rule.querySelector(".rule-type").value;
  rule.dataset.type = type;
  rule.classList.add("js");
  rule.querySelectorAll(".for").forEach((el) => {
    el.classList.toggle("hidden", !el.dataset.for.split(" ").includes(type));
  });
}
document.querySelectorAll(".rule").forEach(relayRuleFields);
document.addEventListener("change", (e) => {
  if (e.target.classList.contains("rule-type")) relayRuleFields(e.target.closest(".rule"));
});
