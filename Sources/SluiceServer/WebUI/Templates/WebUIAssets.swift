/// The web UI's stylesheet and script, served at `/ui/assets/sluice.css` and `/ui/assets/sluice.js`.
///
/// They are Swift string literals so that they ship inside the binary: the server runs from any directory and needs
/// no resource bundle. No CDN, no build step; the script only adds copy buttons, confirmations and the show/hide of
/// the "Create New Feed" choices (every page works without it).
enum WebUIAssets {
    /// Bumped when the assets change, so browsers that cached them for a day fetch the new ones.
    static let version = "3"

    static let stylesheet = #"""
        :root {
          --bg: #f5f6f8; --panel: #ffffff; --text: #1d2330; --muted: #5d6678; --line: #dde1e8;
          --accent: #1f6feb; --accent-dark: #1858bc; --danger: #c62828; --ok: #1b7f3b; --warn: #a56300;
          --code: #f0f2f5; --radius: 8px;
        }
        * { box-sizing: border-box; }
        [hidden] { display: none !important; }
        html { -webkit-text-size-adjust: 100%; }
        body { margin: 0; background: var(--bg); color: var(--text);
          font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
          font-size: 13px; }
        code { background: var(--code); padding: 1px 5px; border-radius: 4px; word-break: break-all; }
        pre { background: var(--code); padding: 10px 12px; border-radius: var(--radius); overflow-x: auto; margin: 0; }
        h1 { font-size: 24px; margin: 0 0 4px; word-break: break-word; }
        h2 { font-size: 18px; margin: 24px 0 10px; }
        h3 { font-size: 15px; margin: 16px 0 8px; }
        .topbar { background: #18202e; color: #fff; }
        .topbar .inner { max-width: 1180px; margin: 0 auto; padding: 0 16px; display: flex; flex-wrap: wrap;
          align-items: center; gap: 4px 18px; min-height: 52px; }
        .brand { color: #fff; font-weight: 700; font-size: 18px; letter-spacing: .3px; margin-right: 8px; }
        .brand:hover { text-decoration: none; }
        .nav { display: flex; flex-wrap: wrap; gap: 2px; flex: 1; }
        .nav a { color: #c9d1e0; padding: 14px 10px; border-bottom: 3px solid transparent; }
        .nav a.active, .nav a:hover { color: #fff; text-decoration: none; border-bottom-color: #58a6ff; }
        .who { display: flex; align-items: center; gap: 10px; color: #c9d1e0; font-size: 14px; }
        .who form { margin: 0; }
        .who .button { padding: 4px 10px; }
        main { max-width: 1180px; margin: 0 auto; padding: 20px 16px 48px; }
        .page-head { display: flex; flex-wrap: wrap; justify-content: space-between; align-items: flex-start;
          gap: 12px; margin-bottom: 16px; }
        .page-head .subtitle { color: var(--muted); margin: 0; }
        .panel { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius);
          padding: 16px; margin-bottom: 16px; }
        .panel > h2:first-child, .panel > h3:first-child { margin-top: 0; }
        .feed-url { background: var(--panel); border: 1px solid var(--line); border-radius: var(--radius);
          padding: 10px 12px; max-width: 560px; width: 100%; }
        .feed-url .label { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .5px; }
        .copy-row { display: flex; gap: 6px; align-items: center; margin: 4px 0; }
        .copy-row code { flex: 1; padding: 6px 8px; display: block; min-width: 0; }
        .table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; }
        table { width: 100%; border-collapse: collapse; background: var(--panel); }
        th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
        th { font-size: 12px; text-transform: uppercase; letter-spacing: .4px; color: var(--muted);
          background: #fafbfc; white-space: nowrap; }
        tr:last-child td { border-bottom: none; }
        td.num, th.num { text-align: right; white-space: nowrap; }
        .badge { display: inline-block; font-size: 12px; padding: 1px 8px; border-radius: 999px; background: #e8ecf3;
          color: #334; white-space: nowrap; }
        .badge.proxy { background: #e3efff; color: #174ea6; }
        .badge.hosted { background: #e6f4ea; color: #14622d; }
        .badge.cached { background: #e6f4ea; color: #14622d; }
        .badge.remote { background: #fff4e0; color: #8a4b00; }
        .badge.local { background: #ece6ff; color: #4b2aa6; }
        .badge.healthy { background: #e6f4ea; color: #14622d; }
        .badge.degraded { background: #fff4e0; color: #8a4b00; }
        .badge.unavailable { background: #fde7e7; color: #a31515; }
        .badge.restriction { background: #fde7e7; color: #a31515; }
        .badge.permission { background: #e6f4ea; color: #14622d; }
        .muted { color: var(--muted); }
        .small { font-size: 13px; }
        .flash { border-radius: var(--radius); padding: 10px 14px; margin-bottom: 16px; border: 1px solid; }
        .flash.ok { background: #eaf6ee; border-color: #b7dfc3; color: #14532d; }
        .flash.error { background: #fdecec; border-color: #f3b9b9; color: #8b1c1c; }
        .flash.note { background: #eef4ff; border-color: #c3d6fb; color: #1b3f86; }
        .secret { font-size: 15px; padding: 10px; background: #fffbe6; border: 1px dashed #d4b106; }
        form.stack { display: grid; gap: 12px; max-width: 620px; }
        form.inline { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-end; margin: 0; }
        label { display: block; font-weight: 600; font-size: 14px; }
        label .hint, .hint { font-weight: 400; color: var(--muted); font-size: 13px; }
        input[type=text], input[type=password], input[type=search], input[type=url], input[type=number],
        input[type=date], select, textarea {
          width: 100%; padding: 8px 10px; border: 1px solid #c6ccd6; border-radius: 6px; background: #fff;
          font: inherit; color: inherit; margin-top: 4px; }
        textarea { min-height: 70px; }
        form.inline input, form.inline select { width: auto; min-width: 120px; }
        input:focus, select:focus, textarea:focus { outline: 2px solid #9cc3ff; border-color: var(--accent); }
        fieldset { border: 1px solid var(--line); border-radius: var(--radius); padding: 10px 14px; margin: 0; }
        legend { font-weight: 600; padding: 0 6px; }
        .choice { display: flex; gap: 8px; align-items: flex-start; font-weight: 400; margin: 6px 0; }
        .choice input { margin-top: 4px; }
        .choice strong { display: block; }
        .checks { display: flex; flex-wrap: wrap; gap: 4px 16px; }
        .checks label { font-weight: 400; display: flex; gap: 6px; align-items: center; }
        .button, button { display: inline-block; border: 1px solid var(--accent); background: var(--accent);
          color: #fff; padding: 7px 14px; border-radius: 6px; font: inherit; font-size: 14px; cursor: pointer;
          white-space: nowrap; }
        .button:hover, button:hover { background: var(--accent-dark); text-decoration: none; }
        .button.secondary, button.secondary { background: #fff; color: var(--accent); }
        .button.secondary:hover, button.secondary:hover { background: #eef4ff; }
        button.danger { background: #fff; color: var(--danger); border-color: #e2a4a4; }
        button.danger:hover { background: #fdecec; }
        button.link { background: none; border: none; color: #c9d1e0; padding: 0; }
        button[disabled] { opacity: .55; cursor: not-allowed; }
        .actions { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
        .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 16px; }
        .stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(140px, 1fr)); gap: 10px; }
        .stat { background: #fafbfc; border: 1px solid var(--line); border-radius: var(--radius); padding: 8px 12px; }
        .stat .value { font-size: 20px; font-weight: 700; }
        .stat .label { font-size: 12px; color: var(--muted); }
        dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 0; }
        dl.meta dt { color: var(--muted); }
        dl.meta dd { margin: 0; min-width: 0; word-break: break-word; }
        ul.plain { list-style: none; padding: 0; margin: 0; }
        ul.plain li { padding: 2px 0; }
        .pager { display: flex; gap: 8px; align-items: center; justify-content: flex-end; margin-top: 10px; }
        .signin { max-width: 380px; margin: 48px auto; }
        .tabs { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 12px; }
        .tabs a { padding: 5px 12px; border-radius: 999px; background: #e8ecf3; color: var(--text); }
        .tabs a.active { background: var(--accent); color: #fff; }
        .offscreen { position: absolute; left: -9999px; top: 0; }
        @media (max-width: 700px) {
          body { font-size: 14px; }
          .topbar .inner { padding: 6px 12px 0; }
          .who { margin-left: auto; }
          .nav { order: 3; flex-basis: 100%; flex-wrap: nowrap; overflow-x: auto; -webkit-overflow-scrolling: touch; }
          .nav a { padding: 8px 8px; white-space: nowrap; }
          main { padding: 14px 10px 40px; }
          .page-head { flex-direction: column; }
          .feed-url { max-width: none; }
          th, td { padding: 6px 8px; }
          .hide-narrow { display: none; }
          dl.meta { grid-template-columns: 1fr; gap: 0 0; }
          dl.meta dd { margin-bottom: 8px; }
          form.inline input, form.inline select { min-width: 0; flex: 1 1 140px; }
        }
        """#

    static let script = #"""
        (function () {
          "use strict";
          document.documentElement.classList.add("js");
          function copyText(text, button) {
            function done() {
              var old = button.textContent; button.textContent = "Copied";
              setTimeout(function () { button.textContent = old; }, 1500);
            }
            if (navigator.clipboard && window.isSecureContext) {
              navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
            } else { fallback(text); done(); }
          }
          function fallback(text) {
            var area = document.createElement("textarea");
            area.value = text; area.setAttribute("readonly", ""); area.className = "offscreen";
            document.body.appendChild(area); area.select();
            try { document.execCommand("copy"); } catch (e) { /* nothing to do */ }
            document.body.removeChild(area);
          }
          document.addEventListener("click", function (event) {
            var button = event.target.closest("[data-copy]");
            if (!button) { return; }
            event.preventDefault();
            var source = document.getElementById(button.getAttribute("data-copy"));
            if (source) { copyText(source.textContent.trim(), button); }
          });
          document.addEventListener("submit", function (event) {
            var form = event.target;
            var question = form.getAttribute("data-confirm");
            if (question && !window.confirm(question)) { event.preventDefault(); }
          });
          // <div data-show="mode:hosted proxy"> is shown only while the radio button "mode" has one of those values.
          function syncChoices() {
            document.querySelectorAll("[data-show]").forEach(function (section) {
              var rule = section.getAttribute("data-show").split(":");
              var selected = document.querySelector("input[name=" + rule[0] + "]:checked");
              section.hidden = !selected || rule[1].split(" ").indexOf(selected.value) < 0;
            });
          }
          document.addEventListener("change", function (event) {
            if (event.target.type === "radio") { syncChoices(); }
          });
          document.addEventListener("DOMContentLoaded", syncChoices);
        })();
        """#
}
