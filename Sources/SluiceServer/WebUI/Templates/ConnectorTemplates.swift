/// The connector pages: the list, and one connector with its upstream states.
enum ConnectorTemplates {
    static let list = #"""
        <div class="page-head"><div><h1>Connectors</h1><p class="subtitle">Upstream conda channels that proxy feeds draw from.</p></div></div>
        {{#hasConnectors}}
        <div class="table-wrap"><table id="connectors">
        <thead><tr><th>Connector</th><th>Health</th><th class="hide-narrow">Last refresh</th><th class="hide-narrow">Filters</th><th class="num">Cached</th><th class="num hide-narrow">Package hits / misses</th><th class="hide-narrow">Feeds</th></tr></thead>
        <tbody>
        {{#connectors}}<tr>
        <td><a href="{{href}}"><strong>{{name}}</strong></a><div class="muted small mono">{{url}}</div></td>
        <td><span class="badge {{health}}">{{health}}</span>{{#lastError}}<div class="small muted">{{lastError}}</div>{{/lastError}}</td>
        <td class="hide-narrow small">{{lastRefresh}}</td>
        <td class="hide-narrow mono small">{{#hasFilters}}{{filters}}{{/hasFilters}}{{^hasFilters}}<span class="muted">all packages</span>{{/hasFilters}}</td>
        <td class="num">{{cachedFiles}}<div class="muted small">{{cachedSize}}</div></td>
        <td class="num hide-narrow">{{packageHits}} / {{packageMisses}}</td>
        <td class="hide-narrow">{{#feeds}}<a href="{{href}}">{{name}}</a> {{/feeds}}</td>
        </tr>{{/connectors}}
        </tbody></table></div>
        {{/hasConnectors}}
        {{^hasConnectors}}<div class="panel"><p class="muted">No connectors yet. <a href="/ui/feeds/new">Create a proxy feed</a> to add one.</p></div>{{/hasConnectors}}
        """#

    static let connector = #"""
        <p class="small"><a href="/ui/connectors">← Connectors</a></p>
        <div class="page-head"><div><h1 id="connector-name">{{name}}</h1><p class="subtitle mono">{{url}}</p>{{#description}}<p class="muted">{{description}}</p>{{/description}}</div>
        <span class="badge {{health}}" id="health">{{health}}</span></div>
        <div class="stats">
        <div class="stat"><div class="value">{{cachedFiles}}</div><div class="label">cached files ({{cachedSize}})</div></div>
        <div class="stat"><div class="value">{{packageHits}}</div><div class="label">package cache hits</div></div>
        <div class="stat"><div class="value">{{packageMisses}}</div><div class="label">package cache misses</div></div>
        <div class="stat"><div class="value">{{metadataHits}}</div><div class="label">repodata hits</div></div>
        <div class="stat"><div class="value">{{metadataMisses}}</div><div class="label">repodata misses</div></div>
        </div>
        <div class="panel"><h2>Settings</h2>
        <dl class="meta">
        <dt>Last refresh</dt><dd>{{lastRefresh}}</dd>
        <dt>Circuit</dt><dd>{{circuit}}</dd>
        {{#lastError}}<dt>Last error</dt><dd>{{lastError}}</dd>{{/lastError}}
        <dt>Filters</dt><dd class="mono">{{#hasFilters}}{{filters}}{{/hasFilters}}{{^hasFilters}}all packages{{/hasFilters}}</dd>
        <dt>Metadata cache</dt><dd>{{cacheMinutes}}</dd>
        <dt>Timeout</dt><dd>{{timeout}} s</dd>
        <dt>Upstream credentials</dt><dd>{{#authenticated}}yes{{/authenticated}}{{^authenticated}}none{{/authenticated}}</dd>
        <dt>Used by</dt><dd>{{#feeds}}<a href="{{href}}">{{name}}</a> {{/feeds}}{{^feeds}}no feed{{/feeds}}</dd>
        </dl></div>
        <h2>Upstream subdirs</h2>
        <div class="table-wrap"><table id="snapshots">
        <thead><tr><th>Subdir</th><th>State</th><th class="num">Records</th><th>Fetched</th><th class="hide-narrow">ETag</th></tr></thead>
        <tbody>{{#snapshots}}<tr><td>{{subdir}}</td><td>{{status}}</td><td class="num">{{records}}</td><td class="small">{{fetchedAt}}</td><td class="hide-narrow mono small">{{etag}}</td></tr>{{/snapshots}}
        {{^snapshots}}<tr><td colspan="5" class="muted">No client has asked for this upstream yet.</td></tr>{{/snapshots}}</tbody>
        </table></div>
        """#
}
