import { createHash } from 'node:crypto';

/** Escapes text for HTML element content and double-quoted attribute values. */
export function html(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
*{box-sizing:border-box}body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;color:#1d2433}
main{width:100%;max-width:400px;margin:24px;padding:32px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.35rem;margin:0 0 4px}p{margin:0 0 16px;color:#4a5568}.brand{font-weight:700;letter-spacing:.02em;color:#2b4acb;margin-bottom:20px}
label{display:block;font-weight:600;margin:16px 0 6px}input{width:100%;padding:10px 12px;font:inherit;border:1px solid #c3c9d4;border-radius:8px}
input:focus{outline:2px solid #2b4acb;outline-offset:1px;border-color:#2b4acb}
button{width:100%;margin-top:24px;padding:11px;font:inherit;font-weight:600;color:#fff;background:#2b4acb;border:0;border-radius:8px;cursor:pointer}
button:hover{background:#2339a8}button.secondary{background:#fff;color:#2b4acb;border:1px solid #2b4acb;margin-top:12px}
.error{padding:10px 12px;margin:16px 0 0;border-radius:8px;background:#fdecec;color:#9b1c1c}
.app{display:flex;gap:10px;align-items:center;margin:0 0 8px;color:#4a5568}.app img{width:28px;height:28px}
a.portal{display:block;margin-top:24px;padding:11px;text-align:center;font-weight:600;color:#fff;background:#2b4acb;border-radius:8px;text-decoration:none}a.portal:hover{background:#2339a8}a.portal:focus{outline:2px solid #1d2433;outline-offset:2px}
p.or{margin-top:24px}p.hint{font-size:.875rem;margin:6px 0 0}a.button{display:block;text-align:center;padding:11px;font-weight:600;color:#fff;background:#2b4acb;border-radius:8px;text-decoration:none}dl{font-size:.85rem;color:#4a5568}dt{font-weight:600}dd{margin:0 0 8px;word-break:break-all}
`;

/** The page CSP allows exactly this stylesheet and no script at all. */
export const STYLE_HASH = `'sha256-${createHash('sha256').update(STYLE).digest('base64')}'`;
const AUTO_SUBMIT = `document.getElementById('op.logoutForm').insertAdjacentHTML('beforeend','<input type="hidden" name="logout" value="yes">');document.getElementById('op.logoutForm').submit();`;
const AUTO_SUBMIT_HASH = `'sha256-${createHash('sha256').update(AUTO_SUBMIT).digest('base64')}'`;
export const PAGE_CSP = `default-src 'none'; style-src ${STYLE_HASH}; script-src ${AUTO_SUBMIT_HASH}; img-src data:; frame-ancestors 'none'; base-uri 'none'`;

/** The scripts of a sign-in page offering a passkey: @simplewebauthn/browser and its glue (http/routes/webauthn.ts). */
export const PASSKEY_SCRIPT_PATHS = ['/webauthn/simplewebauthn-browser.js', '/webauthn/sign-in.js'] as const;

/**
 * The CSP of a sign-in page that offers a passkey: PAGE_CSP widened by exactly those two script
 * files (a path without a trailing slash matches only itself) and fetches to the interaction
 * routes (the ceremony's options), nothing else; no inline script.
 */
export function passkeyPageCsp(origin: string): string {
  const scripts = PASSKEY_SCRIPT_PATHS.map((path) => `${origin}${path}`).join(' ');
  return `default-src 'none'; style-src ${STYLE_HASH}; script-src ${scripts}; connect-src ${origin}/interaction/; img-src data:; frame-ancestors 'none'; base-uri 'none'`;
}

/**
 * A WebAuthn button on a sign-in page, progressive enhancement: hidden until the glue script
 * finds WebAuthn in the browser; without JavaScript the page works as before.
 */
export interface PasskeyOffer {
  /** Where the glue fetches the ceremony's options (POST, JSON, with the CSRF token). */
  optionsUrl: string;
  /** Where the glue posts the browser's answer (a form post, so the sign-in goes on like any other). */
  action: string;
  /** The scripts' absolute URLs. */
  scripts: readonly string[];
}

/** `autofill`: also offer the passkeys in the username field's autofill (conditional UI); off after an error, so that a refused passkey is not offered again unasked. */
function passkeyBlock(offer: PasskeyOffer | undefined, csrf: string, label: string, autofill: boolean): string {
  if (!offer) return '';
  return `<div id="passkey" hidden>
<button type="button" class="secondary" id="passkey-button">${html(label)}</button>
<p id="passkey-status" class="error" role="alert" hidden></p>
</div>
<form id="passkey-form" method="post" action="${html(offer.action)}" data-options="${html(offer.optionsUrl)}" data-autofill="${autofill}" hidden>
<input type="hidden" name="csrf" value="${html(csrf)}"><input type="hidden" name="response" value="">
</form>
${offer.scripts.map((src) => `<script src="${html(src)}"></script>`).join('')}`;
}

export function page(title: string, body: string, brand = 'Gatehouse'): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${html(title)} · Gatehouse</title><style>${STYLE}</style></head>
<body><main><div class="brand">${html(brand)}</div>${body}</main></body></html>`;
}

export interface AppView {
  label: string;
  icon?: { mediaType: string; base64: string } | null;
}

function appLine(app: AppView | undefined): string {
  if (!app) return '';
  const icon = app.icon ? `<img alt="" src="data:${html(app.icon.mediaType)};base64,${html(app.icon.base64)}">` : '';
  return `<div class="app">${icon}<span>to continue to <strong>${html(app.label)}</strong></span></div>`;
}

/**
 * The first step of signing in: who, not yet how. Continue leads to the password step or, for people
 * an administrator routed to an identity provider, to that provider; an unknown name gets the
 * password step like a known one, so the page tells nobody which accounts exist.
 */
export function identifierPage(options: { action: string; csrf: string; app?: AppView; username?: string; error?: string; brand?: string; passkey?: PasskeyOffer }): string {
  const error = options.error ? `<div class="error" role="alert">${html(options.error)}</div>` : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>${appLine(options.app)}${error}
<form method="post" action="${html(options.action)}" autocomplete="on">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" autocomplete="${options.passkey ? 'username webauthn' : 'username'}" autocapitalize="none" spellcheck="false" required maxlength="254" value="${html(options.username ?? '')}" autofocus>
<button type="submit">Continue</button>
</form>${passkeyBlock(options.passkey, options.csrf, 'Sign in with a passkey', !options.error)}`,
    options.brand,
  );
}

/** The password step: the name typed on the first step travels on (a hidden field, shown with a way back). */
export function signInPage(options: { action: string; csrf: string; app?: AppView; username?: string; error?: string; brand?: string; changeUrl?: string }): string {
  const error = options.error ? `<div class="error" role="alert">${html(options.error)}</div>` : '';
  const change = options.changeUrl ? ` <a href="${html(options.changeUrl)}">Not you?</a>` : '';
  return page(
    'Sign in',
    `<h1>Sign in</h1>${appLine(options.app)}${error}
<p class="who"><strong>${html(options.username ?? '')}</strong>${change}</p>
<form method="post" action="${html(options.action)}" autocomplete="on">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<input id="username" name="username" type="hidden" autocomplete="username" value="${html(options.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024" autofocus>
<button type="submit">Sign in</button>
</form>`,
    options.brand,
  );
}

/**
 * The second step, after a right password, for people who set up an authenticator app: its code, or
 * one of their recovery codes in the same field (the hint says so, for someone who lost their phone).
 */
export function secondFactorPage(options: { action: string; csrf: string; app?: AppView; username: string; error?: string; brand?: string; passkey?: PasskeyOffer; totp?: boolean }): string {
  const error = options.error ? `<div class="error" role="alert">${html(options.error)}</div>` : '';
  // A person with only security keys or passkeys can still type a recovery code here (and must, without JavaScript).
  const totp = options.totp ?? true;
  const codeLabel = totp ? 'Code from your authenticator app' : 'Recovery code';
  const codeHint = totp ? 'No access to your app? Enter one of your recovery codes instead.' : 'No access to your security key or passkey? Enter one of your recovery codes.';
  return page(
    'Two-step verification',
    `<h1>Two-step verification</h1>${appLine(options.app)}${error}
<p class="who">Signing in as <strong>${html(options.username)}</strong></p>
<form method="post" action="${html(options.action)}" autocomplete="off">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<label for="code">${codeLabel}</label>
<input id="code" name="code" type="text"${totp ? ' inputmode="numeric"' : ''} autocomplete="one-time-code" autocapitalize="none" spellcheck="false" required maxlength="32" aria-describedby="code-hint"${totp || !options.passkey ? ' autofocus' : ''}>
<p id="code-hint" class="hint">${codeHint}</p>
<button type="submit">Verify</button>
</form>${passkeyBlock(options.passkey, options.csrf, 'Use your security key or passkey', false)}`,
    options.brand,
  );
}

/** After a recovery code: how many are left, before going on (each one works once). */
export function recoveryCodeUsedPage(options: { continueUrl: string; remaining: number; brand?: string }): string {
  const left =
    options.remaining === 0
      ? 'That was your last recovery code. Create new ones in your user portal (Security) now.'
      : `You have ${options.remaining} recovery code${options.remaining === 1 ? '' : 's'} left. Each one works once; you can create a new set in your user portal (Security).`;
  return page('Recovery code used', `<h1>Recovery code accepted</h1><p>${html(left)}</p><p><a class="button" href="${html(options.continueUrl)}">Continue</a></p>`, options.brand);
}

/** A federated sign-in that could not finish: what happened, and a way to start again. */
export function federationErrorPage(options: { title: string; message: string; retryUrl?: string | undefined; brand?: string }): string {
  const retry = options.retryUrl ? `<p><a href="${html(options.retryUrl)}">Try again</a></p>` : '';
  return page(options.title, `<h1>${html(options.title)}</h1><p>${html(options.message)}</p>${retry}`, options.brand);
}

export function selectAccountPage(options: { continueAction: string; loginAction: string; csrf: string; app?: AppView; username: string; brand?: string }): string {
  return page(
    'Choose an account',
    `<h1>Choose an account</h1>${appLine(options.app)}
<form method="post" action="${html(options.continueAction)}">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<button type="submit">Continue as ${html(options.username)}</button>
</form>
<p class="or">Or sign in with another account:</p>
<form method="post" action="${html(options.loginAction)}" autocomplete="on">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<label for="username">Username or email</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required maxlength="254">
<button type="submit" class="secondary">Continue</button>
</form>`,
    options.brand,
  );
}

/**
 * `portalUrl`: where the person's own apps are (the user portal), offered first, for those refused
 * the admin console: going back to the console would only show its refusal again.
 */
export function noAccessPage(options: { action: string; csrf: string; app: AppView; username: string; explanation: string; brand?: string; portalUrl?: string }): string {
  const portal = options.portalUrl ? `<a class="portal" href="${html(options.portalUrl)}">Go to your apps</a>\n` : '';
  return page(
    'No access',
    `<h1>You don't have access to ${html(options.app.label)}</h1>
<p>You are signed in as <strong>${html(options.username)}</strong>, but ${html(options.explanation)}</p>
${portal}<form method="post" action="${html(options.action)}">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<button type="submit"${options.portalUrl ? ' class="secondary"' : ''}>Return to ${html(options.app.label)}</button>
</form>`,
    options.brand,
  );
}

export function errorPage(title: string, message: string, details?: Record<string, string>): string {
  const list = details
    ? `<dl>${Object.entries(details)
        .map(([k, v]) => `<dt>${html(k)}</dt><dd>${html(v)}</dd>`)
        .join('')}</dl>`
    : '';
  return page(title, `<h1>${html(title)}</h1><p>${html(message)}</p>${list}`);
}

/**
 * RP-initiated logout. When the app proved who is signing out (a valid id_token_hint) the page
 * submits itself, as JumpCloud skips the question then; without JavaScript the buttons still work.
 */
export function logoutPage(options: { form: string; app?: string | undefined; autoSubmit: boolean }): string {
  const from = options.app ? ` and return to ${html(options.app)}` : '';
  const script = options.autoSubmit ? `<script>${AUTO_SUBMIT}</script>` : '';
  return page(
    'Sign out',
    `<h1>Sign out?</h1><p>This ends your Gatehouse session${from}.</p>${options.form}
<button type="submit" form="op.logoutForm" name="logout" value="yes" autofocus>Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>${script}`,
  );
}

export function signedOutPage(): string {
  return page('Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>');
}

/**
 * An access policy asks the person to set up an authenticator app before going on: the QR code (an
 * inline SVG image, allowed by img-src data:) and the secret in text, confirmed by a first code; within
 * the grace period they may do it later (until the deadline shown).
 */
export function mfaEnrolmentPage(options: {
  action: string;
  postponeAction?: string | undefined;
  csrf: string;
  app?: AppView;
  username: string;
  qrSvg: string;
  secret: string;
  deadline: string;
  error?: string;
  brand?: string;
}): string {
  const error = options.error ? `<div class="error" role="alert">${html(options.error)}</div>` : '';
  const deadline = new Date(options.deadline).toUTCString();
  const why = options.postponeAction
    ? `Your organisation requires two-step verification. Set it up now, or by ${html(deadline)} at the latest.`
    : 'Your organisation requires two-step verification. Set it up to continue.';
  const postpone = options.postponeAction
    ? `<form method="post" action="${html(options.postponeAction)}"><input type="hidden" name="csrf" value="${html(options.csrf)}"><button type="submit" class="secondary">Remind me later</button></form>`
    : '';
  const qr = `data:image/svg+xml;base64,${Buffer.from(options.qrSvg).toString('base64')}`;
  return page(
    'Set up two-step verification',
    `<h1>Set up two-step verification</h1>${appLine(options.app)}${error}
<p class="who">Signed in as <strong>${html(options.username)}</strong></p>
<p>${why}</p>
<p>Scan this QR code with an authenticator app (such as Google Authenticator, Microsoft Authenticator or 1Password):</p>
<p><img src="${html(qr)}" alt="QR code for your authenticator app" width="200" height="200"></p>
<p class="hint">Or type this key into the app: <code id="totp-secret">${html(options.secret)}</code></p>
<form method="post" action="${html(options.action)}" autocomplete="off">
<input type="hidden" name="csrf" value="${html(options.csrf)}">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="16" autofocus>
<button type="submit">Verify and continue</button>
</form>${postpone}`,
    options.brand,
  );
}

/** After enrolling during sign-in: the recovery codes, shown once, then on to the app. */
export function recoveryCodesIssuedPage(options: { continueUrl: string; codes: readonly string[]; brand?: string }): string {
  const list = options.codes.map((code) => `<li><code>${html(code)}</code></li>`).join('');
  return page(
    'Save your recovery codes',
    `<h1>Two-step verification is on</h1><p>Save these recovery codes somewhere safe. Each one works once, if you lose access to your authenticator app. They are not shown again.</p><ul class="codes">${list}</ul><p><a class="button" href="${html(options.continueUrl)}">Continue</a></p>`,
    options.brand,
  );
}
