/**
 * The review UI's stylesheet and script, kept as strings so `npm ci` on a fresh clone needs no front-end
 * build and the compiled service carries them (no files to copy beside dist/). The script only adds to
 * working HTML forms: keyboard shortcuts, reveal and re-blur, the session reminder.
 */

export const REVIEW_CSS = `
:root { --blur: 24px; --grey: 100%; font-family: system-ui, sans-serif; color: #1b1b1b; background: #f6f6f4; }
body { margin: 0; font-size: 15px; line-height: 1.4; }
a { color: #0b4f8a; }
:focus-visible { outline: 3px solid #c45500; outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
.top { display: flex; gap: 16px; align-items: center; padding: 8px 16px; background: #20303f; color: #fff; flex-wrap: wrap; }
.top a { color: #fff; } .top .brand { font-weight: 700; text-decoration: none; } .top .who { margin: 0 0 0 auto; }
.top button { background: #fff; color: #20303f; border: 0; padding: 4px 8px; border-radius: 3px; }
main { padding: 12px 16px; max-width: 1400px; }
h1 { font-size: 1.4rem; margin: 4px 0 8px; } h2 { font-size: 1.1rem; margin: 12px 0 6px; }
.note { color: #454545; } .flash { background: #fde7e7; border: 1px solid #b30000; padding: 8px; color: #6b0000; }
.reminder { background: #fff6d6; border-bottom: 2px solid #8a6d00; padding: 8px 16px; color: #3d3000; }
.tag { display: inline-block; font-size: .8em; background: #e4e8ee; color: #1b2a38; border-radius: 3px; padding: 0 5px; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; font-size: .9em; }
tr.selected { background: #fff1c2; } .queue tbody tr { cursor: pointer; }
kbd { font-size: .8em; border: 1px solid #888; border-radius: 3px; padding: 0 3px; background: #fafafa; color: #1b1b1b; }
.inline { display: inline; margin: 0; }
.login { display: grid; gap: 6px; max-width: 320px; }
.login input, .prefs input { padding: 6px; font-size: 1em; }
.prefs { display: grid; gap: 6px; max-width: 420px; }
button { font-size: .95em; padding: 5px 10px; cursor: pointer; }
.item-grid { display: grid; grid-template-columns: minmax(320px, 460px) 1fr; gap: 16px; align-items: start; }
.media { margin: 0; background: #fff; padding: 8px; border: 1px solid #ccc; overflow: hidden; }
.media img { width: 100%; height: 340px; object-fit: contain; background: #777; display: block; filter: grayscale(var(--grey)); image-rendering: auto; }
.media img[data-blurred="true"] { filter: blur(var(--blur)) grayscale(var(--grey)); }
.media figcaption { font-size: .85em; color: #454545; margin: 6px 0; }
.thumb { width: 96px; height: 96px; object-fit: cover; background: #777; display: block; filter: blur(var(--blur)) grayscale(var(--grey)); clip-path: inset(0); }
.hash-only, .media-locked { background: #fff; border: 1px dashed #999; padding: 12px; overflow-wrap: anywhere; }
.decide form { margin: 0 0 8px; } .decide fieldset { border: 1px solid #ccc; margin: 0 0 4px; }
.ctx { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } .ctx dt { font-weight: 600; } .ctx dd { margin: 0; }
`;

export const REVIEW_JS = `
(() => {
  const body = document.body;
  const root = document.documentElement;
  if (body.dataset.blur) root.style.setProperty('--blur', body.dataset.blur + 'px');
  if (body.dataset.grey) root.style.setProperty('--grey', body.dataset.grey + '%');

  // Session-length reminder.
  const start = Date.parse(body.dataset.sessionStart || '');
  const remindMin = Number(body.dataset.remindMin || 0);
  const reminder = document.getElementById('reminder');
  const remind = () => {
    const min = Math.floor((Date.now() - start) / 60000);
    if (reminder && remindMin > 0 && min >= remindMin) {
      reminder.hidden = false;
      reminder.textContent = 'You have been reviewing for ' + min + ' minutes. Please take a break.';
    }
  };
  if (start) { remind(); setInterval(remind, 30000); }

  // Reveal one item at a time; blurred again when you leave or switch away.
  const img = document.getElementById('media');
  const reveal = document.getElementById('reveal');
  const reblur = document.getElementById('reblur');
  const blur = () => {
    if (!img || img.dataset.blurred === 'true') return;
    img.dataset.blurred = 'true';
    img.src = img.dataset.preview;
    img.alt = 'Blurred, greyscale preview; not revealed';
    if (reblur) reblur.hidden = true;
    if (reveal) reveal.hidden = false;
  };
  const doReveal = async () => {
    if (!img || !reveal || img.dataset.blurred !== 'true') return;
    const res = await fetch('/review/items/' + reveal.dataset.item + '/reveal', { method: 'POST', headers: { 'x-csrf-token': body.dataset.csrf, accept: 'application/json' }, credentials: 'same-origin' });
    const out = await res.json();
    if (!res.ok) { alert(out.error ? out.error.message : 'Reveal failed'); return; }
    img.src = out.url;
    img.dataset.blurred = 'false';
    img.alt = 'The item, revealed (greyscale)';
    reveal.hidden = true;
    if (reblur) { reblur.hidden = false; reblur.focus(); }
    const exposure = document.querySelector('#exposure strong');
    if (exposure) exposure.textContent = String(out.reveals);
    const viewed = document.getElementById('viewed');
    if (viewed) viewed.textContent = 'yes';
  };
  if (reveal) reveal.addEventListener('click', doReveal);
  if (reblur) reblur.addEventListener('click', blur);
  document.addEventListener('visibilitychange', () => { if (document.hidden) blur(); });
  window.addEventListener('pagehide', blur);

  // Queue: J/K to move, Enter to open; a click on a row opens it.
  const rows = Array.from(document.querySelectorAll('#queue tbody tr'));
  let sel = -1;
  const select = (i) => {
    if (rows.length === 0) return;
    sel = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((r, j) => r.classList.toggle('selected', j === sel));
    const link = rows[sel].querySelector('a');
    if (link) link.focus();
  };
  rows.forEach((r) => r.addEventListener('click', (e) => { if (e.target.tagName !== 'A') location.href = r.dataset.href; }));

  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT')) return;
    const key = e.key.toLowerCase();
    if (rows.length > 0 && (key === 'j' || key === 'k')) { select(sel + (key === 'j' ? 1 : -1)); e.preventDefault(); return; }
    if (key === 'r' && reveal) { doReveal(); e.preventDefault(); return; }
    if (key === 'b' && reblur) { blur(); e.preventDefault(); return; }
    if (key === 'f' || key === 's') {
      // Reasons are asked for: the first press focuses the reason, Enter there submits.
      const input = document.getElementById(key === 'f' ? 'fp-reason' : 'skip-reason');
      if (input) { input.focus(); input.select(); e.preventDefault(); }
      return;
    }
    const target = document.querySelector('[data-key="' + key + '"]');
    if (!target || target.disabled) return;
    e.preventDefault();
    if (target.tagName === 'A') location.href = target.href; else target.click();
  });
})();
`;
