/**
 * Server-rendered HTML for the review UI: plain template strings with every value escaped (`esc`), one layout,
 * no inline script or style (the Content-Security-Policy forbids both; review.js and review.css are served
 * from this origin).
 */
import type { User } from '../../auth/users.js';
import type { WebSession } from '../../auth/sessions.js';
import type { WellnessPrefs } from '../../app/review.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** A tagged template that escapes interpolations unless they are already-rendered `Html`. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += (Array.isArray(v) ? v.map((x) => (x instanceof Html ? x.text : esc(x))).join('') : v instanceof Html ? v.text : esc(v)) + strings[i + 1];
  });
  return new Html(out);
}

export interface PageContext {
  title: string;
  person?: { user: User; session: WebSession; prefs: WellnessPrefs };
  csrf?: string;
  /** A message shown at the top (role=alert). */
  flash?: string;
}

export function layout(ctx: PageContext, body: Html): string {
  const p = ctx.person;
  const data = p
    ? html` data-blur="${p.prefs.blurPx}" data-grey="${p.prefs.greyscalePct}" data-remind-min="${p.prefs.sessionReminderMin}" data-session-start="${p.session.createdAt}" data-csrf="${ctx.csrf ?? ''}"`
    : html``;
  const header = p
    ? html`<header class="top" role="banner">
  <a class="brand" href="/review/queue">Vigil review</a>
  <nav aria-label="Main"><a href="/review/queue">Queue</a> <a href="/review/prefs">Wellness settings</a></nav>
  <p class="who">${p.user.displayName} (${p.user.role.replace('_', ' ')}) · <span id="exposure" aria-live="polite">Files revealed this session: <strong>${p.session.reveals}</strong></span></p>
  <form method="post" action="/review/logout" class="inline"><input type="hidden" name="csrf" value="${ctx.csrf ?? ''}"><button type="submit">Sign out</button></form>
  <form method="post" action="/review/logout-everywhere" class="inline"><input type="hidden" name="csrf" value="${ctx.csrf ?? ''}"><button type="submit">Sign out everywhere</button></form>
</header>
<div id="reminder" class="reminder" role="status" hidden></div>`
    : html``;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${esc(ctx.title)} · Vigil review</title>
<link rel="stylesheet" href="/review/assets/review.css">
<script src="/review/assets/review.js" defer></script>
</head>
<body${data.text}>
<a class="skip" href="#main">Skip to content</a>
${header.text}
<main id="main" tabindex="-1">
${ctx.flash ? html`<p class="flash" role="alert">${ctx.flash}</p>`.text : ''}
${body.text}
</main>
</body>
</html>`;
}

export function loginPage(o: { csrf: string; error?: string; name?: string; sso?: string }): string {
  return layout({ title: 'Sign in', ...(o.error ? { flash: o.error } : {}) }, html`
<h1>Sign in to review</h1>
<form method="post" action="/review/login" class="login">
  <input type="hidden" name="csrf" value="${o.csrf}">
  <label for="name">Sign-in name</label>
  <input id="name" name="name" autocomplete="username" required value="${o.name ?? ''}" autofocus>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
${o.sso ? html`<p><a href="/review/login/oidc" id="sso">${o.sso}</a></p>` : html``}
<p class="note">Media is blurred and greyscale until you reveal one item. Every reveal and decision is logged.</p>`);
}
