// The event log refreshes itself while a delivery on the page is pending or being
// delivered, so a new delivery can be watched until it settles.
if (document.querySelector("tr.delivery[data-live]")) {
  setTimeout(() => window.location.reload(), 2000);
}
