/// The administration pages: users, groups, tasks/permissions with anonymous access, API keys, the event log.
enum AdminTemplates {
    static let users = #"""
        <div class="page-head"><div><h1>Users</h1><p class="subtitle">Built-in user accounts.</p></div></div>
        <div class="table-wrap"><table id="users">
        <thead><tr><th>Name</th><th class="hide-narrow">Display name</th><th class="hide-narrow">Email</th><th>Groups</th><th class="hide-narrow">Created</th><th></th></tr></thead>
        <tbody>{{#users}}<tr>
        <td><strong>{{name}}</strong></td><td class="hide-narrow">{{displayName}}</td><td class="hide-narrow">{{email}}</td>
        <td>{{groups}}</td><td class="hide-narrow small">{{createdAt}}</td>
        <td>{{^isSelf}}<form method="post" action="/ui/admin/users/delete" data-confirm="Delete user {{name}}? Their personal API keys stop working."><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><button class="danger" type="submit">Delete</button></form>{{/isSelf}}</td>
        </tr>{{/users}}</tbody></table></div>
        <div class="panel"><h2>Create user</h2>
        <form class="stack" method="post" action="/ui/admin/users/create" id="create-user">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <div class="grid"><label>User name <input type="text" name="name" id="new-user-name" required></label>
        <label>Password <span class="hint">at least 8 characters</span><input type="password" name="password" id="new-user-password" autocomplete="new-password" required></label></div>
        <div class="grid"><label>Display name <input type="text" name="displayName"></label><label>Email <input type="text" name="email"></label></div>
        <div><button type="submit">Create user</button></div>
        </form></div>
        """#

    static let groups = #"""
        <div class="page-head"><div><h1>Groups</h1><p class="subtitle">Give permissions to many users at once.</p></div></div>
        {{#groups}}
        <div class="panel group" id="group-{{name}}">
        <div class="page-head"><div><h2>{{name}}</h2><p class="subtitle">{{description}}</p></div>
        <form method="post" action="/ui/admin/groups/delete" data-confirm="Delete group {{name}} and its permissions?"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}"><button class="danger" type="submit">Delete group</button></form></div>
        <ul class="plain">{{#members}}<li><form class="inline" method="post" action="/ui/admin/groups/remove-member"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{group}}"><input type="hidden" name="user" value="{{user}}"><span>{{user}}</span> <button class="danger" type="submit">Remove</button></form></li>{{/members}}
        {{^members}}<li class="muted">No members.</li>{{/members}}</ul>
        <form class="inline" method="post" action="/ui/admin/groups/add-member"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="name" value="{{name}}">
        <label>Add member <select name="user">{{#allUsers}}<option>{{.}}</option>{{/allUsers}}</select></label><button type="submit" class="secondary">Add</button></form>
        </div>
        {{/groups}}
        {{^groups}}<div class="panel"><p class="muted">No groups yet.</p></div>{{/groups}}
        <div class="panel"><h2>Create group</h2>
        <form class="stack" method="post" action="/ui/admin/groups/create" id="create-group">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <label>Name <input type="text" name="name" required></label>
        <label>Description <input type="text" name="description"></label>
        <fieldset><legend>Members</legend><div class="checks">{{#allUsers}}<label><input type="checkbox" name="members" value="{{.}}"> {{.}}</label>{{/allUsers}}</div></fieldset>
        <div><button type="submit">Create group</button></div>
        </form></div>
        """#

    static let permissions = #"""
        <div class="page-head"><div><h1>Tasks / Permissions</h1><p class="subtitle">Who may do what on which feed. A restriction beats every permission.</p></div></div>
        <div class="panel" id="anonymous-access"><h2>Anonymous access</h2>
        {{#anonymousEnabled}}<p>Anonymous users <strong>may view and download</strong> packages of every feed.</p>
        <form method="post" action="/ui/admin/anonymous" data-confirm="Remove anonymous access? Every feed becomes private."><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="enabled" value="false"><button class="danger" type="submit" id="disable-anonymous">Remove anonymous access</button></form>{{/anonymousEnabled}}
        {{^anonymousEnabled}}<p>Anonymous access is <strong>off</strong>: every feed is private (clients need an API key or a password).</p>
        <form method="post" action="/ui/admin/anonymous"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="enabled" value="true"><button class="secondary" type="submit" id="enable-anonymous">Allow anonymous view &amp; download</button></form>{{/anonymousEnabled}}
        </div>
        <div class="table-wrap"><table id="privileges">
        <thead><tr><th>Principal</th><th>Task</th><th>Feed</th><th>Type</th><th class="hide-narrow">Added</th><th></th></tr></thead>
        <tbody>{{#privileges}}<tr>
        <td>{{principal}}</td><td>{{task}}</td><td>{{feed}}</td><td><span class="badge {{type}}">{{type}}</span></td>
        <td class="hide-narrow small">{{createdAt}}{{#createdBy}} by {{createdBy}}{{/createdBy}}</td>
        <td><form method="post" action="/ui/admin/permissions/delete" data-confirm="Remove this {{type}}?"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button class="danger" type="submit">Remove</button></form></td>
        </tr>{{/privileges}}
        {{^privileges}}<tr><td colspan="6" class="muted">No permissions: only system API keys can do anything.</td></tr>{{/privileges}}</tbody></table></div>
        <div class="panel"><h2>Add permission</h2>
        <form class="stack" method="post" action="/ui/admin/permissions/add" id="add-permission">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <div class="grid">
        <label>Principal <select name="kind" id="principal-kind"><option value="user">User</option><option value="group">Group</option><option value="anonymous">Anonymous</option><option value="authenticated">Every signed-in user</option><option value="everyone">Everyone</option></select></label>
        <label>User or group name <span class="hint">for users and groups</span><input type="text" name="name" id="principal-name" list="principal-names"></label>
        </div>
        <datalist id="principal-names">{{#principalNames}}<option value="{{.}}">{{/principalNames}}</datalist>
        <div class="grid">
        <label>Task <select name="task" id="task">{{#tasks}}<option value="{{value}}">{{label}}</option>{{/tasks}}</select></label>
        <label>Feed <select name="feed" id="permission-feed"><option value="">All feeds</option>{{#feeds}}<option>{{.}}</option>{{/feeds}}</select></label>
        <label>Type <select name="type" id="permission-type"><option value="permission">Permission (grant)</option><option value="restriction">Restriction (deny)</option></select></label>
        </div>
        <div><button type="submit">Add</button></div>
        </form></div>
        """#

    static let apiKeys = #"""
        <div class="page-head"><div><h1>API Keys</h1><p class="subtitle">Keys for conda clients, scripts and CI. A key is shown once, when it is created.</p></div></div>
        {{#created}}
        <div class="panel" id="new-key"><h2>Your new API key</h2>
        <p>Copy it now: Sluice keeps only a hash and cannot show it again.</p>
        <div class="copy-row"><code class="secret" id="api-key-text">{{key}}</code><button type="button" data-copy="api-key-text">Copy</button></div>
        <p class="small muted">Use it as <code>http://api:KEY@host/conda/&lt;feed&gt;/</code>, or in an <code>X-ApiKey</code> header.</p>
        </div>
        {{/created}}
        <div class="table-wrap"><table id="api-keys">
        <thead><tr><th>Name</th><th>Type</th><th>Scope</th><th class="hide-narrow">Expires</th><th class="hide-narrow">Last used</th><th class="hide-narrow">Created</th><th></th></tr></thead>
        <tbody>{{#keys}}<tr>
        <td><strong>{{displayName}}</strong><div class="muted small">{{description}}</div></td><td><span class="badge">{{kind}}</span></td><td class="small">{{scope}}</td>
        <td class="hide-narrow small">{{expires}}</td><td class="hide-narrow small">{{lastUsed}}</td><td class="hide-narrow small">{{createdAt}}{{#createdBy}} by {{createdBy}}{{/createdBy}}</td>
        <td><form method="post" action="/ui/admin/api-keys/delete" data-confirm="Delete the key {{displayName}}? Clients using it stop working."><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="id" value="{{id}}"><button class="danger" type="submit">Delete</button></form></td>
        </tr>{{/keys}}
        {{^keys}}<tr><td colspan="7" class="muted">No API keys.</td></tr>{{/keys}}</tbody></table></div>
        <div class="panel"><h2>Create API key</h2>
        <form class="stack" method="post" action="/ui/admin/api-keys/create" id="create-key">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <fieldset><legend>Type</legend>
        {{#isAdministrator}}<label class="choice"><input type="radio" name="type" value="feed" id="key-type-feed" checked><span><strong>Feed key</strong><span class="hint">Opens the chosen feeds for the chosen tasks only.</span></span></label>{{/isAdministrator}}
        <label class="choice"><input type="radio" name="type" value="personal" id="key-type-personal"{{^isAdministrator}} checked{{/isAdministrator}}><span><strong>Personal key</strong><span class="hint">Acts as {{#isAdministrator}}a user{{/isAdministrator}}{{^isAdministrator}}you{{/isAdministrator}}, with the same permissions.</span></span></label>
        {{#isAdministrator}}<label class="choice"><input type="radio" name="type" value="system" id="key-type-system"><span><strong>System key</strong><span class="hint">Administers everything. Keep it secret.</span></span></label>{{/isAdministrator}}
        </fieldset>
        <div class="grid"><label>Name <input type="text" name="displayName" id="key-name"></label><label>Description <input type="text" name="description"></label></div>
        {{#isAdministrator}}
        <div class="grid" data-show="type:personal"><label>User <span class="hint">personal keys; you when empty</span><select name="user"><option value="">—</option>{{#users}}<option>{{.}}</option>{{/users}}</select></label></div>
        <fieldset data-show="type:feed"><legend>Feeds</legend><div class="checks">{{#feeds}}<label><input type="checkbox" name="feeds" value="{{.}}"> {{.}}</label>{{/feeds}}</div></fieldset>
        <fieldset data-show="type:feed"><legend>Permissions</legend><div class="checks">
        <label><input type="checkbox" name="permissions" value="view" checked> View &amp; Download</label>
        <label><input type="checkbox" name="permissions" value="add"> Publish (add)</label>
        <label><input type="checkbox" name="permissions" value="promote"> Promote</label>
        <label><input type="checkbox" name="permissions" value="delete"> Delete</label></div></fieldset>
        {{/isAdministrator}}
        <div class="grid"><label>Expires <span class="hint">optional</span><input type="date" name="expires" id="key-expires"></label>
        <label>Custom key text <span class="hint">optional; 8–128 letters, digits or -</span><input type="text" name="key" id="key-text" autocomplete="off"></label></div>
        <div><button type="submit" id="create-key-button">Create key</button></div>
        </form></div>
        """#

    static let events = #"""
        <div class="page-head"><div><h1>Event Log</h1><p class="subtitle">Sign-ins, failed sign-ins and security changes, newest first.</p></div>
        <form class="inline" method="get" action="/ui/admin/events"><label>Kind <input type="text" name="kind" value="{{kind}}" placeholder="e.g. login-failed"></label><button type="submit" class="secondary">Filter</button></form></div>
        <div class="table-wrap"><table id="events">
        <thead><tr><th>When</th><th>Event</th><th>Actor</th><th>Subject</th><th class="hide-narrow">Detail</th><th class="hide-narrow">Address</th></tr></thead>
        <tbody>{{#events}}<tr><td class="small">{{at}}</td><td><span class="badge">{{kind}}</span></td><td>{{actor}}</td><td>{{subject}}</td><td class="hide-narrow small">{{detail}}</td><td class="hide-narrow small mono">{{remoteAddress}}</td></tr>{{/events}}
        {{^events}}<tr><td colspan="6" class="muted">No events.</td></tr>{{/events}}</tbody></table></div>
        {{#older}}<div class="pager"><a class="button secondary" href="{{older}}">Older →</a></div>{{/older}}
        """#
}
