/// The feed pages: the list, "Create New Feed", and one feed with its packages.
enum FeedTemplates {
    static let list = #"""
        <div class="page-head">
        <div><h1>Feeds</h1><p class="subtitle">Conda channels served by this Sluice.</p></div>
        {{#canCreate}}<a class="button" href="/ui/feeds/new" id="create-feed">Create New Feed</a>{{/canCreate}}
        </div>
        {{#hasFeeds}}
        <div class="table-wrap"><table id="feeds">
        <thead><tr><th>Name</th><th>Type</th><th class="num">Packages</th><th class="num">Size</th><th class="hide-narrow">Connectors</th></tr></thead>
        <tbody>
        {{#feeds}}<tr>
        <td><a href="{{href}}"><strong>{{name}}</strong></a>{{#inactive}} <span class="badge">inactive</span>{{/inactive}}<div class="muted small">{{description}}</div></td>
        <td><span class="badge {{kind}}">{{kind}}</span></td>
        <td class="num">{{packages}}</td><td class="num">{{size}}</td>
        <td class="hide-narrow">{{#connectors}}<a href="{{href}}">{{name}}</a> {{/connectors}}{{^connectors}}<span class="muted">—</span>{{/connectors}}</td>
        </tr>{{/feeds}}
        </tbody></table></div>
        {{/hasFeeds}}
        {{^hasFeeds}}<div class="panel"><p>There are no feeds you may view yet.{{#canCreate}} <a href="/ui/feeds/new">Create one</a>.{{/canCreate}}{{^signedIn}} <a href="/ui/signin">Sign in</a> to see private feeds.{{/signedIn}}</p></div>{{/hasFeeds}}
        """#

    static let create = #"""
        <div class="page-head"><div><h1>Create New Feed</h1><p class="subtitle">A conda feed (channel) for your packages, a proxy of an upstream channel, or both.</p></div></div>
        <form class="stack panel" method="post" action="/ui/feeds/new" id="new-feed">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <fieldset><legend>What to create</legend>
        <label class="choice"><input type="radio" name="mode" value="pair" id="mode-pair"{{#modePair}} checked{{/modePair}}><span><strong>Create two feeds</strong><span class="hint">An unapproved proxy feed of an upstream channel, and an approved hosted feed that packages are promoted into.</span></span></label>
        <label class="choice"><input type="radio" name="mode" value="proxy" id="mode-proxy"{{#modeProxy}} checked{{/modeProxy}}><span><strong>Proxy feed</strong><span class="hint">Serves an upstream conda channel through a connector, caching the packages clients download.</span></span></label>
        <label class="choice"><input type="radio" name="mode" value="hosted" id="mode-hosted"{{#modeHosted}} checked{{/modeHosted}}><span><strong>Hosted feed</strong><span class="hint">Holds the packages you upload or promote.</span></span></label>
        </fieldset>
        <div data-show="mode:hosted proxy"><label>Feed name <span class="hint">lowercase letters, digits, <code>.</code> <code>_</code> <code>-</code></span><input type="text" name="name" id="feed-name" value="{{name}}"></label></div>
        <div data-show="mode:hosted proxy"><label>Description <input type="text" name="description" value="{{description}}"></label></div>
        <div data-show="mode:proxy">{{#hasConnectors}}<label>Connector <select name="connector" id="connector"><option value="">— a new connector (give its URL below) —</option>{{#connectors}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}} ({{url}})</option>{{/connectors}}</select></label>{{/hasConnectors}}</div>
        <div data-show="mode:proxy pair"><label>Upstream channel URL <span class="hint">e.g. https://conda.anaconda.org/conda-forge</span><input type="url" name="upstream" id="upstream" value="{{upstream}}" placeholder="https://conda.anaconda.org/conda-forge"></label></div>
        <div data-show="mode:proxy pair"><label>Connector name <span class="hint">optional; derived from the URL when empty</span><input type="text" name="connectorName" id="connector-name" value="{{connectorName}}"></label></div>
        <div data-show="mode:pair" class="grid">
        <label>Unapproved feed (proxy) <input type="text" name="unapprovedFeed" id="unapproved-feed" value="{{unapprovedFeed}}"></label>
        <label>Approved feed (hosted) <input type="text" name="approvedFeed" id="approved-feed" value="{{approvedFeed}}"></label>
        </div>
        <fieldset><legend>Compliance</legend>
        {{#compliance}}
        <label class="choice"><input type="checkbox" name="blockVulnerable" value="true"{{^available}} disabled{{/available}}{{#blockVulnerable}} checked{{/blockVulnerable}}><span><strong>Vulnerability scanning</strong><span class="hint">Check packages against the vulnerability database and block those that fail the policy.</span></span></label>
        <label class="choice"><input type="checkbox" name="checkLicenses" value="true"{{^available}} disabled{{/available}}{{#checkLicenses}} checked{{/checkLicenses}}><span><strong>Licence checks</strong><span class="hint">Block packages whose licence the policy does not allow.</span></span></label>
        {{#note}}<p class="hint">{{note}}</p>{{/note}}
        {{/compliance}}
        </fieldset>
        <div class="actions"><button type="submit" id="create">Create</button><a class="button secondary" href="/ui/feeds">Cancel</a></div>
        </form>
        """#

    static let feed = #"""
        {{#feed}}
        <div class="page-head">
        <div>
        <h1 id="feed-name">{{name}}</h1>
        <p class="subtitle"><span class="badge {{kind}}">{{kind}}</span>{{#inactive}} <span class="badge">inactive</span>{{/inactive}} {{description}}</p>
        {{#isProxy}}<p class="small muted">Connectors: {{#connectors}}<a href="{{href}}">{{name}}</a> {{/connectors}}</p>{{/isProxy}}
        </div>
        {{/feed}}
        <div class="feed-url" id="feed-url">
        <div class="label">Conda channel URL</div>
        <div class="copy-row"><code id="channel-url">{{channelURL}}</code><button type="button" class="secondary" data-copy="channel-url">Copy</button></div>
        <div class="copy-row"><code id="conda-command">{{condaCommand}}</code><button type="button" class="secondary" data-copy="conda-command">Copy</button></div>
        {{#private}}<p class="small muted">This feed is private: anonymous users may not view it. Use an API key:</p>
        <div class="copy-row"><code id="key-command">{{keyCommand}}</code><button type="button" class="secondary" data-copy="key-command">Copy</button></div>
        <p class="small muted">Replace <code>KEY</code> with an <a href="/ui/admin/api-keys">API key</a> that may view this feed.</p>{{/private}}
        </div>
        </div>
        <div class="panel">
        <form class="inline" method="get" action="" id="package-search">
        <label>Search <input type="search" name="q" id="q" value="{{q}}" placeholder="package name"></label>
        <label>Subdir <select name="subdir" id="subdir"><option value="">all</option>{{#subdirs}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/subdirs}}</select></label>
        <button type="submit">Search</button>
        </form>
        </div>
        <p class="muted small" id="package-count">{{total}} package(s){{#q}} matching “{{q}}”{{/q}} · page {{page}} of {{pageCount}}</p>
        {{#hasPackages}}
        <div class="table-wrap"><table id="packages">
        <thead><tr><th>Package</th><th>Newest version</th><th class="num hide-narrow">Files</th><th class="hide-narrow">Subdirs</th><th class="hide-narrow">Licence</th>{{#feed.isProxy}}<th>Stored</th>{{/feed.isProxy}}</tr></thead>
        <tbody>
        {{#packages}}<tr>
        <td><a href="{{href}}"><strong>{{name}}</strong></a><div class="muted small">{{summary}}</div></td>
        <td class="mono">{{version}}</td><td class="num hide-narrow">{{files}}</td><td class="hide-narrow small">{{subdirs}}</td><td class="hide-narrow small">{{license}}</td>
        {{#marker}}<td><span class="badge {{marker}}" title="{{markerTitle}}">{{marker}}</span></td>{{/marker}}
        </tr>{{/packages}}
        </tbody></table></div>
        <div class="pager">{{#previous}}<a class="button secondary" href="{{previous}}" id="previous-page">← Previous</a>{{/previous}}<span class="muted small">Page {{page}} of {{pageCount}}</span>{{#next}}<a class="button secondary" href="{{next}}" id="next-page">Next →</a>{{/next}}</div>
        {{/hasPackages}}
        {{^hasPackages}}<div class="panel"><p class="muted">No packages{{#q}} match “{{q}}”{{/q}}.</p></div>{{/hasPackages}}
        """#
}
