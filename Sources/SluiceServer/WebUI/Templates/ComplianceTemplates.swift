/// The compliance pages: vulnerability data status and policies.
enum ComplianceTemplates {
    static let vulnerabilities = #"""
        <div class="page-head"><div><h1>Vulnerability Data</h1><p class="subtitle">The advisories packages are checked against (OSV format).</p></div></div>
        <div class="stats">
        <div class="stat"><div class="value" id="advisory-count">{{advisoryCount}}</div><div class="label">advisories</div></div>
        <div class="stat"><div class="value">{{#lastImport}}{{lastImport}}{{/lastImport}}{{^lastImport}}never{{/lastImport}}</div><div class="label">last import</div></div>
        <div class="stat"><div class="value">{{mappingCount}}</div><div class="label">PyPI → conda name mappings</div></div>
        </div>
        <div class="panel"><h2>Feeds that block noncompliant packages</h2>
        <p>{{#blockingFeeds}}<a href="/ui/feeds/{{.}}">{{.}}</a> {{/blockingFeeds}}{{^blockingFeeds}}<span class="muted">None: every feed shows every package (verdicts are still reported).</span>{{/blockingFeeds}}</p></div>
        <h2>Imports</h2>
        <div class="table-wrap"><table id="imports">
        <thead><tr><th>When</th><th>Source</th><th>By</th><th class="num">Added</th><th class="num">Updated</th><th class="num hide-narrow">Unchanged</th><th class="num hide-narrow">Skipped</th></tr></thead>
        <tbody>{{#imports}}<tr><td class="small">{{at}}</td><td class="small mono">{{source}}</td><td>{{by}}</td><td class="num">{{added}}</td><td class="num">{{updated}}</td><td class="num hide-narrow">{{unchanged}}</td><td class="num hide-narrow">{{skipped}}</td></tr>{{/imports}}
        {{^imports}}<tr><td colspan="7" class="muted">No advisories were imported yet.</td></tr>{{/imports}}</tbody></table></div>
        <h2>Recently changed advisories</h2>
        <div class="table-wrap"><table id="advisories">
        <thead><tr><th>Advisory</th><th>Severity</th><th>Packages</th><th class="hide-narrow">Updated</th></tr></thead>
        <tbody>{{#advisories}}<tr><td><strong class="mono">{{id}}</strong>{{#withdrawn}} <span class="badge">withdrawn</span>{{/withdrawn}}<div class="small muted">{{summary}}</div></td><td><span class="badge {{severityClass}}">{{severity}}</span></td><td class="small">{{packages}}</td><td class="hide-narrow small">{{updated}}</td></tr>{{/advisories}}
        {{^advisories}}<tr><td colspan="4" class="muted">No advisories.</td></tr>{{/advisories}}</tbody></table></div>
        """#

    static let policies = #"""
        <div class="page-head"><div><h1>Policies</h1><p class="subtitle">When a package is compliant, a warning, or noncompliant (blocked in feeds that block).</p></div></div>
        <div class="panel" id="global-policy"><h2>Global policy</h2>
        <dl class="meta">{{#global}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/global}}</dl></div>
        <h2>Feeds</h2>
        <div class="grid">
        {{#feeds}}<div class="panel"><h3><a href="{{href}}">{{name}}</a></h3>
        <p class="small">{{#blocks}}<span class="badge unavailable">blocks noncompliant</span>{{/blocks}}{{^blocks}}<span class="badge">reports only</span>{{/blocks}} {{#ownPolicy}}<span class="badge">own policy</span>{{/ownPolicy}}{{^ownPolicy}}<span class="muted">global policy</span>{{/ownPolicy}}</p>
        <dl class="meta small">{{#resolved}}<dt>{{label}}</dt><dd>{{value}}</dd>{{/resolved}}</dl></div>{{/feeds}}
        </div>
        <h2>Exceptions</h2>
        <div class="table-wrap"><table id="exceptions">
        <thead><tr><th>Package</th><th>Versions</th><th>Feed</th><th>Reason</th><th class="hide-narrow">Expires</th><th class="hide-narrow">By</th></tr></thead>
        <tbody>{{#exceptions}}<tr><td class="mono">{{package}}</td><td class="mono small">{{versions}}</td><td>{{feed}}</td><td>{{reason}}</td><td class="hide-narrow small">{{expires}}</td><td class="hide-narrow">{{createdBy}}</td></tr>{{/exceptions}}
        {{^exceptions}}<tr><td colspan="6" class="muted">No exceptions.</td></tr>{{/exceptions}}</tbody></table></div>
        """#
}
