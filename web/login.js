// The login page's one behaviour: say so when the server sent us back after a wrong token
// (POST /login answers 303 to login.html?failed=1).
if (new URLSearchParams(location.search).has('failed')) {
  const p = document.querySelector('[data-test="login-failed"]');
  p.hidden = false;
  document.querySelector('[data-test="login-token"]').focus();
}
