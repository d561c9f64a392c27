/// The package page: versions and builds per subdir, metadata, compliance, promotion history, the Promote form.
enum PackageTemplates {
    static let package = #"""
        <p class="small"><a href="{{feedHref}}">← {{feed}}</a></p>
        <div class="page-head">
        <div><h1 id="package-name">{{name}}</h1>
        {{#newest}}<p class="subtitle">{{#summary}}{{summary}} · {{/summary}}newest version <strong class="mono">{{version}}</strong> · {{versionCount}} version(s), {{fileCount}} file(s)</p>{{/newest}}</div>
        </div>
        <div class="grid">
        {{#newest}}
        <div class="panel"><h2>Newest build</h2>
        <dl class="meta">
        <dt>File</dt><dd class="mono">{{subdir}}/{{filename}}</dd>
        <dt>Licence</dt><dd id="license">{{license}}</dd>
        <dt>Size</dt><dd>{{size}}</dd>
        <dt>sha256</dt><dd class="mono small">{{sha256}}</dd>
        <dt>md5</dt><dd class="mono small">{{md5}}</dd>
        {{#timestamp}}<dt>Built</dt><dd>{{timestamp}}</dd>{{/timestamp}}
        <dt>Depends</dt><dd>{{#hasDepends}}<ul class="plain mono small" id="depends">{{#depends}}<li>{{spec}}</li>{{/depends}}</ul>{{/hasDepends}}{{^hasDepends}}<span class="muted">nothing</span>{{/hasDepends}}</dd>
        </dl>
        <p><a class="button secondary" href="{{download}}">Download</a></p>
        </div>
        {{/newest}}
        <div>
        {{#compliance}}
        <div class="panel" id="compliance"><h2>Compliance</h2>
        {{#available}}
        <dl class="meta">
        <dt>Outcome</dt><dd><span class="badge {{outcomeClass}}" id="compliance-outcome">{{outcome}}</span>{{#blocking}} <span class="small muted">this feed blocks noncompliant packages</span>{{/blocking}}{{#exception}} <span class="small">{{exception}}</span>{{/exception}}</dd>
        <dt>Licence</dt><dd><span class="badge {{licenseClass}}">{{licenseResult}}</span> {{licenseDetail}}</dd>
        <dt>Advisories</dt><dd>{{#hasAdvisories}}<ul class="plain small">{{#advisories}}<li><span class="badge {{severityClass}}">{{severity}}</span> <strong>{{id}}</strong> {{summary}} <span class="muted">({{versions}})</span></li>{{/advisories}}</ul>{{/hasAdvisories}}{{^hasAdvisories}}<span class="muted">none known</span>{{/hasAdvisories}}</dd>
        {{#verdict}}<dt>Why</dt><dd class="small">{{verdict}}</dd>{{/verdict}}
        </dl>
        {{/available}}
        {{^available}}<p class="muted">{{note}}</p>{{/available}}
        </div>
        {{/compliance}}
        {{#canPromote}}
        <div class="panel" id="promote"><h2>Promote</h2>
        <form class="stack" method="post" action="{{promoteAction}}" id="promote-form" data-confirm="Promote this version?">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Version <select name="version" id="promote-version">{{#promoteVersions}}<option>{{version}}</option>{{/promoteVersions}}</select></label>
        <label>To feed <select name="toFeed" id="promote-target">{{#promoteTargets}}<option>{{name}}</option>{{/promoteTargets}}</select></label>
        <label>Comment <textarea name="comments" id="promote-comment" placeholder="Why is this version approved?"></textarea></label>
        <div><button type="submit" id="promote-button">Promote</button></div>
        </form>
        </div>
        {{/canPromote}}
        {{#noTargets}}<div class="panel"><p class="muted">There is no hosted feed to promote into yet.</p></div>{{/noTargets}}
        </div>
        </div>

        <h2>Versions</h2>
        {{#versions}}
        <div class="panel version" id="version-{{version}}">
        <h3 class="mono">{{version}}</h3>
        <div class="table-wrap"><table>
        <thead><tr><th>Subdir</th><th>Build</th><th class="num">Size</th><th class="num">Downloads</th><th class="hide-narrow">Licence</th>{{#isProxy}}<th>Stored</th>{{/isProxy}}<th>Details</th></tr></thead>
        <tbody>
        {{#files}}<tr>
        <td>{{subdir}}</td><td class="mono">{{build}}</td><td class="num">{{size}}</td><td class="num downloads">{{downloads}}</td><td class="hide-narrow small">{{license}}</td>
        {{#marker}}<td><span class="badge {{marker}}" title="{{markerTitle}}">{{marker}}</span></td>{{/marker}}
        <td><details><summary class="small">{{filename}}</summary>
        <dl class="meta small">
        <dt>sha256</dt><dd class="mono">{{sha256}}</dd><dt>md5</dt><dd class="mono">{{md5}}</dd>
        {{#timestamp}}<dt>Built</dt><dd>{{timestamp}}</dd>{{/timestamp}}
        <dt>Depends</dt><dd class="mono">{{#depends}}{{spec}}<br>{{/depends}}{{^depends}}—{{/depends}}</dd>
        {{#hasConstrains}}<dt>Constrains</dt><dd class="mono">{{#constrains}}{{spec}}<br>{{/constrains}}</dd>{{/hasConstrains}}
        </dl>
        <a href="{{download}}">Download</a>
        </details></td>
        </tr>{{/files}}
        </tbody></table></div>
        </div>
        {{/versions}}
        {{#moreVersions}}<p><a class="button secondary" href="{{moreVersions}}">Show all versions ({{hidden}} more)</a></p>{{/moreVersions}}

        <h2>Promotion history</h2>
        {{#hasHistory}}
        <div class="table-wrap"><table id="history">
        <thead><tr><th>Date</th><th>What</th><th>Version</th><th>By</th><th>Comment</th></tr></thead>
        <tbody>
        {{#history}}<tr>
        <td class="small">{{date}}</td>
        <td>{{#isPromotion}}promoted {{from}} → {{to}}{{/isPromotion}}{{^isPromotion}}deleted from {{to}}{{/isPromotion}}<div class="muted small">{{files}}</div></td>
        <td class="mono">{{version}}</td><td>{{user}}</td><td class="comment">{{comments}}</td>
        </tr>{{/history}}
        </tbody></table></div>
        {{/hasHistory}}
        {{^hasHistory}}<p class="muted">Not promoted yet.</p>{{/hasHistory}}
        <p class="muted small" id="download-total">Downloads of all files: <strong>{{downloadTotal}}</strong> (GETs of whole files, recorded every few seconds).</p>
        """#
}
