/** The review UI's pages: the queue, one item (with its explainability panel) and wellness settings. */
import type { ItemView, WellnessPrefs } from '../../app/review.js';
import type { BankMatch } from '../../banks/matcher.js';
import { html, layout, type Html, type PageContext } from './html.js';

export function labelsText(labels: unknown): string {
  if (!labels || typeof labels !== 'object') return '';
  return Object.entries(labels as Record<string, unknown>).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`).join('; ');
}

export function age(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
}

function matchRows(matches: BankMatch[], opinions: ItemView['opinions']): Html[] {
  return matches.map((m) => {
    const where = [m.view ? `view ${m.view}` : '', m.dihedral ? `orientation ${m.dihedral}` : '', m.timestamp !== undefined ? `at ${m.timestamp.toFixed(1)} s of the ${m.timestampIn === 'known' ? 'known' : 'submitted'} video` : '',
      m.video ? `video: ${JSON.stringify(m.video)}` : ''].filter(Boolean).join(', ');
    const ops = opinions[m.signalId] ?? [];
    return html`<tr>
  <td>${m.bank}</td><td>${m.signalType}</td><td>${m.distance}</td><td>${where || '—'}</td><td>${labelsText(m.labels) || '—'}</td>
  <td>${m.provenance.source}${m.provenance.importId !== null ? ` (import ${m.provenance.importId})` : ''}${m.sourceId ? `, source id ${m.sourceId}` : ''}</td>
  <td>${m.status}${m.actionable ? '' : ' (not actionable)'}</td>
  <td>${ops.length === 0 ? 'none' : ops.map((op) => `${op.kind} by ${op.actor} (${op.createdAt.slice(0, 10)})`).join('; ')}</td>
</tr>`;
  });
}

export interface ItemPageOptions {
  view: ItemView;
  /** The job (account) this item belongs to: decisions go back there. */
  jobKey: string;
  previewUrl?: string;
  classifications: string[];
  isVideo: boolean;
}

export function itemPage(ctx: PageContext, o: ItemPageOptions): string {
  const { view } = o;
  const d = view.decision;
  const csrf = html`<input type="hidden" name="csrf" value="${ctx.csrf ?? ''}"><input type="hidden" name="job" value="${o.jobKey}">`;
  const id = view.item.id;
  const hashes = [['MD5', d.md5], ['SHA-1', d.sha1], ['SHA-256', d.sha256]].filter(([, v]) => v);
  const media = view.hashOnly
    ? html`<div class="hash-only" id="hash-only"><p><strong>Submitted as hashes only.</strong> There is no file to show; decide from the hashes and context.</p>
<dl>${hashes.map(([k, v]) => html`<dt>${k}</dt><dd><code>${v}</code></dd>`)}${view.matches.map((m) => html`<dt>${m.signalType} (matched)</dt><dd><code>${m.value}</code></dd>`)}</dl></div>`
    : !view.heldByMe
      ? html`<div class="media-locked"><p>Claim this item to see its blurred preview.</p></div>`
      : html`<figure class="media" id="media-box">
  <img id="media" class="${o.isVideo ? 'sheet' : ''}" src="${o.previewUrl ?? ''}" data-preview="${o.previewUrl ?? ''}" data-blurred="true" alt="Blurred, greyscale preview of the ${o.isVideo ? 'video (a contact sheet of frames sampled across it, no sound)' : 'image'}; not revealed">
  <figcaption>${o.isVideo ? 'Video shown as a contact sheet of frames sampled across it: never played, no sound. ' : ''}Blurred and greyscale until you reveal it; revealing is logged.</figcaption>
  <button type="button" id="reveal" data-item="${id}">Reveal this item <kbd>R</kbd></button>
  <button type="button" id="reblur" hidden>Blur again <kbd>B</kbd></button>
</figure>`;
  const decide = !view.heldByMe
    ? view.item.state === 'decided'
      ? html`<p>Decided: ${view.item.outcome}${view.item.classification ? ` (${view.item.classification})` : ''} by ${view.item.decidedBy}.</p>`
      : html`<form method="post" action="/review/items/${id}/claim">${csrf}<button type="submit" id="claim" data-key="c">Claim <kbd>C</kbd></button></form>`
    : html`<section aria-labelledby="decide-h" class="decide">
<h2 id="decide-h">Decide</h2>
<form method="post" action="/review/items/${id}/decide" id="confirm-form">${csrf}<input type="hidden" name="outcome" value="confirmed">
<fieldset><legend>Confirm with a classification</legend>
${o.classifications.map((c, i) => html`<button type="submit" name="classification" value="${c}" data-key="${i < 9 ? String(i + 1) : ''}">${c}${i < 9 ? html` <kbd>${i + 1}</kbd>` : html``}</button> `)}
</fieldset>
<label><input type="checkbox" name="bulk" value="account"> Apply to all open items of this account</label>
</form>
<form method="post" action="/review/items/${id}/decide" id="fp-form">${csrf}<input type="hidden" name="outcome" value="false_positive">
<label for="fp-reason">False positive: why</label> <input id="fp-reason" name="reason" required value="Not the listed material">
<button type="submit" id="fp" data-key="f">False positive <kbd>F</kbd></button>
<label><input type="checkbox" name="bulk" value="signal"> All open items matching the same hash</label></form>
<form method="post" action="/review/items/${id}/decide" id="esc-form">${csrf}<input type="hidden" name="outcome" value="escalated">
<button type="submit" id="escalate" data-key="e" ${view.item.queue === 'senior' ? 'disabled' : ''}>Escalate to a senior reviewer <kbd>E</kbd></button></form>
<form method="post" action="/review/items/${id}/decide" id="skip-form">${csrf}<input type="hidden" name="outcome" value="skipped">
<label for="skip-reason">Skip: reason</label> <input id="skip-reason" name="reason" required>
<button type="submit" id="skip" data-key="s">Skip <kbd>S</kbd></button></form>
<form method="post" action="/review/items/${id}/release">${csrf}<button type="submit" id="release" data-key="u">Release claim <kbd>U</kbd></button></form>
</section>`;
  const body = html`<p><a href="/review/queue" data-key="q">← Queue <kbd>Q</kbd></a> · <a href="/review/jobs/${o.jobKey}" id="job-link">${d.accountId === null ? 'Its job' : `All items of account ${d.accountId}`}</a></p>
<h1>Review item #${id} <span class="tag">${view.item.queue.replace('_', ' ')}</span> <span class="tag">priority ${view.item.priority}</span></h1>
${view.heldByMe ? html`<p class="note">Your claim lasts until ${view.item.leaseUntil}.</p>` : view.item.state === 'claimed' ? html`<p class="note">Claimed by ${view.item.assignee} until ${view.item.leaseUntil}.</p>` : html``}
<div class="item-grid">
<section aria-label="Media" class="media-col">${media}</section>
<div class="side-col">
${decide}
<section aria-labelledby="why-h" class="explain" id="explain">
<h2 id="why-h">Why this matched</h2>
<ul>${view.fired.map((f) => html`<li><strong>Rule ${f.ruleId}</strong>: ${f.reason}</li>`)}</ul>
<table><caption class="sr-only">Matches</caption><thead><tr><th scope="col">Bank</th><th scope="col">Signal</th><th scope="col">Distance</th><th scope="col">View, orientation, frame</th><th scope="col">Labels</th><th scope="col">Provenance</th><th scope="col">Status</th><th scope="col">Opinions</th></tr></thead>
<tbody>${matchRows(view.matches, view.opinions)}</tbody></table>
</section>
<section aria-labelledby="ctx-h"><h2 id="ctx-h">Context</h2>
<dl class="ctx"><dt>Content id</dt><dd>${d.contentId}</dd><dt>Account</dt><dd>${d.accountId ?? '—'}</dd><dt>Submitted</dt><dd>${d.createdAt}</dd>
<dt>Viewed by a person</dt><dd id="viewed">${view.viewedByPerson ? 'yes' : 'no'}</dd></dl>
<h3>The account's other items</h3>
${view.accountItems.length === 0 ? html`<p>None.</p>` : html`<ul>${view.accountItems.map((a) => html`<li><a href="/review/items/${a.id}">#${a.id}</a> ${a.state}${a.outcome ? ` (${a.outcome})` : ''}, priority ${a.priority}</li>`)}</ul>`}
</section>
</div></div>`;
  return layout(ctx, body);
}

export function prefsPage(ctx: PageContext, prefs: WellnessPrefs, org: WellnessPrefs): string {
  return layout(ctx, html`<h1>Wellness settings</h1>
<p class="note">You can make these stricter than your organisation's settings, never looser.</p>
<form method="post" action="/review/prefs" class="prefs"><input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
<label for="blurPx">Blur of unrevealed media (px, at least ${org.blurPx})</label><input id="blurPx" name="blurPx" type="number" min="${org.blurPx}" max="64" value="${prefs.blurPx}">
<label for="greyscalePct">Greyscale (%, at least ${org.greyscalePct})</label><input id="greyscalePct" name="greyscalePct" type="number" min="${org.greyscalePct}" max="100" value="${prefs.greyscalePct}">
<label for="sessionReminderMin">Remind me to take a break after (minutes, at most ${org.sessionReminderMin})</label><input id="sessionReminderMin" name="sessionReminderMin" type="number" min="5" max="${org.sessionReminderMin}" value="${prefs.sessionReminderMin}">
<button type="submit">Save</button></form>`);
}

export function errorPage(ctx: PageContext, status: number, code: string, message: string): string {
  return layout({ ...ctx, title: 'Error' }, html`<h1>${status === 403 ? 'Not allowed' : status === 404 ? 'Not found' : status === 409 ? 'Not possible now' : 'Something went wrong'}</h1>
<p role="alert" id="error" data-code="${code}">${message}</p><p><a href="/review/queue">Back to the queue</a></p>`);
}
