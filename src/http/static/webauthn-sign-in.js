// The sign-in pages' passkey button and passkey autofill (conditional UI), over @simplewebauthn/browser
// (loaded just before as SimpleWebAuthnBrowser). The server keeps the challenge; this script only
// carries options from the server to the browser's WebAuthn and the answer back, as a form post,
// so that the sign-in goes on (redirects, errors) exactly as after a password.
(() => {
  const webauthn = globalThis.SimpleWebAuthnBrowser;
  const form = document.getElementById('passkey-form');
  const block = document.getElementById('passkey');
  if (!webauthn || !form || !block || !webauthn.browserSupportsWebAuthn()) return;
  const button = document.getElementById('passkey-button');
  const status = document.getElementById('passkey-status');
  const csrf = form.elements.namedItem('csrf').value;

  async function fetchOptions() {
    const response = await fetch(form.dataset.options, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csrf }),
      credentials: 'same-origin',
    });
    if (!response.ok) throw new Error('options');
    return response.json();
  }

  function say(message) {
    status.textContent = message;
    status.hidden = !message;
  }

  async function run(useBrowserAutofill) {
    try {
      const optionsJSON = await fetchOptions();
      const answer = await webauthn.startAuthentication({ optionsJSON, useBrowserAutofill });
      form.elements.namedItem('response').value = JSON.stringify(answer);
      form.submit();
    } catch (error) {
      // A ceremony replaced by another (the button pressed during autofill) or cancelled is no error to show.
      if (useBrowserAutofill || error?.name === 'AbortError') return;
      say(error?.name === 'NotAllowedError' ? 'The request was cancelled or timed out. Try again.' : 'That did not work. Try again, or continue another way.');
    }
  }

  block.hidden = false;
  button.addEventListener('click', () => {
    say('');
    run(false);
  });
  if (form.dataset.autofill === 'true') {
    webauthn.browserSupportsWebAuthnAutofill().then((supported) => {
      if (supported) run(true);
    });
  }
})();
