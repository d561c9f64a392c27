/// The page frame of every web UI page, and the small pages that are not about one subject (sign-in, errors).
///
/// Mustache escapes `{{value}}` for HTML; only `{{{body}}}` (a page rendered by this renderer) is inserted raw.
enum LayoutTemplates {
    static let layout = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · Sluice</title>
        <link rel="stylesheet" href="/ui/assets/sluice.css?v={{assetVersion}}">
        <script src="/ui/assets/sluice.js?v={{assetVersion}}" defer></script>
        </head>
        <body>
        <header class="topbar"><div class="inner">
        <a class="brand" href="/ui/feeds">Sluice</a>
        <nav class="nav">{{#nav}}<a href="{{href}}"{{#active}} class="active"{{/active}}>{{label}}</a>{{/nav}}</nav>
        <div class="who">
        {{#signedIn}}<span class="user-name">{{userName}}</span>
        <form method="post" action="/ui/signout"><input type="hidden" name="csrf" value="{{csrf}}"><button class="secondary" type="submit" id="sign-out">Sign out</button></form>{{/signedIn}}
        {{^signedIn}}<a class="button secondary" href="/ui/signin" id="sign-in-link">Sign in</a>{{/signedIn}}
        </div>
        </div></header>
        <main>
        {{#flash}}<div class="flash {{kind}}" role="status">{{message}}</div>{{/flash}}
        {{{body}}}
        </main>
        </body>
        </html>
        """#

    static let signIn = #"""
        <div class="signin panel">
        <h1>Sign in</h1>
        <p class="muted">Sign in to Sluice with your user name and password.</p>
        {{#error}}<div class="flash error" role="alert">{{error}}</div>{{/error}}
        <form class="stack" method="post" action="/ui/signin">
        <input type="hidden" name="csrf" value="{{loginCSRF}}">
        <input type="hidden" name="next" value="{{next}}">
        <label>User name <input type="text" name="username" id="username" autocomplete="username" required value="{{username}}"></label>
        <label>Password <input type="password" name="password" id="password" autocomplete="current-password" required></label>
        <div><button type="submit" id="sign-in">Sign in</button></div>
        </form>
        </div>
        """#

    static let error = #"""
        <div class="panel">
        <h1>{{heading}}</h1>
        <p>{{message}}</p>
        <p class="actions"><a class="button secondary" href="/ui/feeds">Back to feeds</a>
        {{#signIn}}<a class="button" href="/ui/signin?next={{next}}">Sign in</a>{{/signIn}}</p>
        </div>
        """#
}
