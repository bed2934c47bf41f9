/**
 * A person's browser, reduced to what the sign-in flow needs: a cookie jar, manual redirects, and
 * the ability to fill in and submit the server-rendered HTML forms. No JavaScript, like the pages.
 */
export interface FormField {
  name: string;
  value: string;
}

export interface ParsedForm {
  action: string;
  method: string;
  fields: FormField[];
}

/** Applies Set-Cookie headers to a jar: new values replace old ones, expired or empty ones leave. */
export function storeSetCookies(jar: Map<string, string>, setCookies: readonly string[]): void {
  for (const cookie of setCookies) {
    const [pair = '', ...attributes] = cookie.split(';');
    const index = pair.indexOf('=');
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

export class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    // Like a real browser: oidc-provider answers HTML clients with pages and others with JSON.
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    storeSetCookies(this.cookies, response.headers.getSetCookie());
    return response;
  }

  /**
   * Follows redirects (GET) until one leaves the server for `stopAt` (the app's redirect URI, which
   * is not fetched) or a page is returned.
   */
  async follow(url: string, stopAt: string, init: RequestInit = {}): Promise<{ url: string; response?: Response }> {
    let response = await this.request(url, init);
    let current = url;
    for (let hops = 0; hops < 20; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { url: current, response };
      current = new URL(location, current).href;
      if (current.startsWith(stopAt)) return { url: current };
      response = await this.request(current);
    }
    throw new Error('too many redirects');
  }

  async submit(pageUrl: string, form: ParsedForm, values: Record<string, string>, stopAt: string, submitter?: FormField) {
    const body = new URLSearchParams();
    for (const field of form.fields) body.set(field.name, field.value);
    for (const [name, value] of Object.entries(values)) body.set(name, value);
    if (submitter) body.set(submitter.name, submitter.value);
    return this.follow(new URL(form.action, pageUrl).href, stopAt, { method: form.method.toUpperCase(), body });
  }
}

const decode = (text: string) =>
  text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

function attribute(tag: string, name: string): string | undefined {
  const match = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return match?.[1] === undefined ? undefined : decode(match[1]);
}

/** The forms of a page with their hidden and pre-filled inputs. */
export function parseForms(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const [, attributes = '', inner = ''] = match;
    const fields: FormField[] = [];
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input[0], 'name');
      if (name) fields.push({ name, value: attribute(input[0], 'value') ?? '' });
    }
    forms.push({ action: attribute(` ${attributes}`, 'action') ?? '', method: attribute(` ${attributes}`, 'method') ?? 'get', fields });
  }
  return forms;
}
