/** The queue as jobs (one per account) and a job's page: every item with its context, one decision for all. */
import type { JobSummary, JobView } from '../../app/review-jobs.js';
import { html, layout, type Html, type PageContext } from './html.js';
import { age, labelsText } from './pages.js';

export function jobsPage(ctx: PageContext, jobs: JobSummary[], o: { queues: string[]; now: number }): string {
  const rows = jobs.map((j, i) => {
    const m = j.top.matches[0];
    const name = j.accountId === null ? `Item #${j.top.itemId} (no account)` : `Account ${j.accountId}`;
    return html`<tr data-href="/review/jobs/${j.key}" data-index="${i}">
  <td><a href="/review/jobs/${j.key}">${name}</a>${j.heldByMe > 0 ? html` <span class="tag">yours</span>` : html``}</td>
  <td>${j.open}${j.heldByOthers > 0 ? html` <span class="tag">${j.heldByOthers} held by others</span>` : html``}</td>
  <td>${j.priority}</td>
  <td>${age(j.oldest, o.now)}</td>
  <td>${m ? m.bank : '—'}${j.top.matches.length > 1 ? html` +${j.top.matches.length - 1}` : html``}</td>
  <td>${m ? m.signalType : ''}</td>
  <td>${m ? m.distance : ''}</td>
  <td>${m ? labelsText(m.labels) : ''}</td>
  <td>${m ? m.provenance.source : ''}</td>
  <td>${j.top.rules.join(', ')}</td>
  <td>${j.hashOnly === j.open ? 'hashes only' : j.hashOnly > 0 ? `${j.open - j.hashOnly} files, ${j.hashOnly} hashes only` : j.open === 1 ? 'file' : `${j.open} files`}</td>
</tr>`;
  });
  const body = o.queues.length === 0
    ? html`<h1>Review queue</h1><p>You have no review queues: seeing child-safety items needs a separate permission an administrator grants.</p>`
    : html`<h1>Review queue</h1>
<p class="note">One job per account (all of its pending media, as one report would hold them), the most urgent first: highest priority, then oldest. <kbd>J</kbd>/<kbd>K</kbd> move, <kbd>Enter</kbd> opens. ${jobs.length} shown.</p>
${jobs.length === 0 ? html`<p id="empty">Nothing to review.</p>` : html`<table class="queue" id="queue">
<caption class="sr-only">Review jobs</caption>
<thead><tr><th scope="col">Job</th><th scope="col">Items</th><th scope="col">Priority</th><th scope="col">Age</th><th scope="col">Bank</th><th scope="col">Signal</th><th scope="col">Distance</th><th scope="col">Labels</th><th scope="col">Provenance</th><th scope="col">Rule</th><th scope="col">Media</th></tr></thead>
<tbody>${rows}</tbody></table>`}`;
  return layout(ctx, body);
}

export interface JobPageOptions {
  view: JobView;
  classifications: string[];
  /** Signed preview links of the held items with a file. */
  previews: Record<number, string>;
  now: number;
  actor: string;
}

function decideForms(csrf: Html, action: string, classifications: string[], n: number): Html {
  return html`<section aria-labelledby="decide-h" class="decide">
<h2 id="decide-h">Decide all ${n} items you hold</h2>
<form method="post" action="${action}" id="confirm-form">${csrf}<input type="hidden" name="outcome" value="confirmed">
<fieldset><legend>Confirm all with a classification</legend>
${classifications.map((c, i) => html`<button type="submit" name="classification" value="${c}" data-key="${i < 9 ? String(i + 1) : ''}">${c}${i < 9 ? html` <kbd>${i + 1}</kbd>` : html``}</button> `)}
</fieldset></form>
<form method="post" action="${action}" id="fp-form">${csrf}<input type="hidden" name="outcome" value="false_positive">
<label for="fp-reason">False positive: why</label> <input id="fp-reason" name="reason" required value="Not the listed material">
<button type="submit" id="fp" data-key="f">All false positive <kbd>F</kbd></button></form>
<form method="post" action="${action}" id="esc-form">${csrf}<input type="hidden" name="outcome" value="escalated">
<button type="submit" id="escalate" data-key="e">Escalate all to a senior reviewer <kbd>E</kbd></button></form>
<form method="post" action="${action}" id="skip-form">${csrf}<input type="hidden" name="outcome" value="skipped">
<label for="skip-reason">Skip: reason</label> <input id="skip-reason" name="reason" required>
<button type="submit" id="skip" data-key="s">Skip all <kbd>S</kbd></button></form>
</section>`;
}

export function jobPage(ctx: PageContext, o: JobPageOptions): string {
  const { view } = o;
  const csrf = html`<input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">`;
  const base = `/review/jobs/${view.key}`;
  const held = view.items.filter((i) => i.heldByMe).length;
  const claimable = view.items.filter((i) => !i.heldByMe && !(i.item.state === 'claimed' && i.item.leaseUntil !== null && Date.parse(i.item.leaseUntil) > o.now)).length;
  const title = view.accountId === null ? `Job: item #${view.items[0]?.item.id ?? view.history[0]?.id ?? ''} (no account)` : `Job: account ${view.accountId}`;
  const items = view.items.map((j) => {
    const state = j.heldByMe ? html`<span class="tag">yours</span>` : j.item.state === 'claimed' && j.item.leaseUntil !== null && Date.parse(j.item.leaseUntil) > o.now ? html`held by ${j.item.assignee}` : html`open`;
    const preview = o.previews[j.item.id];
    const media = j.hashOnly ? html`hashes only` : preview
      ? html`<img class="thumb" src="${preview}" data-blurred="true" alt="Blurred, greyscale preview of item #${j.item.id}${j.mediaType && /^(mp4|mov|webm|mkv|avi|mpeg)$/.test(j.mediaType) ? ' (video contact sheet)' : ''}; not revealed" width="96" height="96">`
      : html`file (claim to preview)`;
    return html`<tr>
  <td><a href="/review/items/${j.item.id}">#${j.item.id}</a></td><td>${state}</td><td>${j.item.priority}</td><td>${age(j.createdAt, o.now)}</td><td>${media}</td>
  <td>${j.matches.map((m) => html`<div>${m.bank} · ${m.signalType} · distance ${m.distance}${labelsText(m.labels) ? ` · ${labelsText(m.labels)}` : ''} · ${m.provenance.source}${(view.opinions[m.signalId] ?? []).length > 0 ? ` · opinions: ${view.opinions[m.signalId].map((op) => `${op.kind} by ${op.actor}`).join('; ')}` : ''}</div>`)}</td>
  <td>${j.rules.map((r) => html`<div><strong>${r.ruleId}</strong>: ${r.reason}</div>`)}</td>
</tr>`;
  });
  const claimForms = html`${claimable > 0 ? html`<form method="post" action="${base}/claim" class="inline">${csrf}<button type="submit" id="claim" data-key="c">${held > 0 ? `Claim the ${claimable} other pending items` : `Claim this job (${claimable} items)`} <kbd>C</kbd></button></form> ` : html``}
${held > 0 ? html`<form method="post" action="${base}/release" class="inline">${csrf}<button type="submit" id="release" data-key="u">Release the job <kbd>U</kbd></button></form>` : html``}`;
  const body = html`<p><a href="/review/queue" data-key="q">← Queue <kbd>Q</kbd></a></p>
<h1>${title}</h1>
<p class="note">${view.items.length} pending item${view.items.length === 1 ? '' : 's'}${held > 0 ? `, ${held} held by you until ${view.leaseUntil}` : ''}. Open an item to reveal it or decide it alone; media stays blurred and greyscale here.</p>
${view.items.length === 0 ? html`<p id="job-done">Nothing pending in this job.</p>` : claimForms}
${held > 0 ? decideForms(csrf, `${base}/decide`, o.classifications, held) : html``}
${view.items.length === 0 ? html`` : html`<table id="job-items"><caption>Pending items of this job</caption>
<thead><tr><th scope="col">Item</th><th scope="col">State</th><th scope="col">Priority</th><th scope="col">Age</th><th scope="col">Media</th><th scope="col">Matches (bank, signal, distance, labels, provenance, opinions)</th><th scope="col">Rule that fired</th></tr></thead>
<tbody>${items}</tbody></table>`}
<section aria-labelledby="acct-h"><h2 id="acct-h">Everything this account matched</h2>
${view.accountMatches.length === 0 ? html`<p>No other matches.</p>` : html`<table id="account-matches"><caption class="sr-only">Signals matched by this account's content</caption>
<thead><tr><th scope="col">Signal</th><th scope="col">Bank</th><th scope="col">Type</th><th scope="col">Times</th><th scope="col">Closest distance</th></tr></thead>
<tbody>${view.accountMatches.map((m) => html`<tr><td>${m.signalId}</td><td>${m.bank}</td><td>${m.signalType}</td><td>${m.times}</td><td>${m.minDistance}</td></tr>`)}</tbody></table>`}
<h2>Decided before</h2>
${view.history.length === 0 ? html`<p>None.</p>` : html`<ul id="history">${view.history.map((h) => html`<li><a href="/review/items/${h.id}">#${h.id}</a> ${h.outcome ?? ''}${h.classification ? ` (${h.classification})` : ''} by ${h.decidedBy ?? '?'}${h.decidedAt ? `, ${h.decidedAt}` : ''}</li>`)}</ul>`}
</section>`;
  return layout(ctx, body);
}
