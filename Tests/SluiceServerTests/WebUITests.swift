import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// A browser session against the router: the cookies it holds and the CSRF token of the last page.
struct BrowserSession: Sendable {
    var cookies: [String: String] = [:]
    var csrf = ""

    var cookieHeader: HTTPFields {
        var fields = HTTPFields()
        if !cookies.isEmpty {
            fields[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        return fields
    }

    /// Remembers the cookies a response sets (an empty value or Max-Age=0 deletes one).
    mutating func absorb(_ response: TestResponse) {
        for header in response.headers[values: .setCookie] {
            let first = header.split(separator: ";")[0]
            let pair = first.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            if value.isEmpty || header.contains("Max-Age=0") {
                cookies[name] = nil
            } else {
                cookies[name] = value
            }
        }
        if let token = Self.hiddenCSRF(in: String(buffer: response.body)) { csrf = token }
    }

    static func hiddenCSRF(in html: String) -> String? {
        guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
        let rest = html[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

extension TestClientProtocol {
    /// GET `uri` with the session's cookies; absorbs the answer's cookies and CSRF token.
    func browse(
        _ uri: String, _ session: inout BrowserSession, headers: HTTPFields = [:]
    ) async throws
        -> TestResponse
    {
        var fields = session.cookieHeader
        fields.append(contentsOf: headers)
        let response = try await execute(uri: uri, method: .get, headers: fields)
        session.absorb(response)
        return response
    }

    /// POSTs a urlencoded form (with the session's CSRF token unless `csrf` is given).
    func submit(
        _ uri: String, _ fields: [(String, String)], _ session: inout BrowserSession, csrf: String? = nil,
        headers: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headerFields = session.cookieHeader
        headerFields[.contentType] = "application/x-www-form-urlencoded"
        headerFields.append(contentsOf: headers)
        let body = ([("csrf", csrf ?? session.csrf)] + fields)
            .map { "\(WebUIFormat.urlComponent($0.0))=\(WebUIFormat.urlComponent($0.1))" }
            .joined(separator: "&")
        let response = try await execute(
            uri: uri, method: .post, headers: headerFields, body: ByteBuffer(string: body))
        session.absorb(response)
        return response
    }

    /// Signs in through the form and returns the session (with the token of the first page after it).
    func signIn(
        _ user: String = "Admin", _ password: String = TestServer.adminPassword
    ) async throws
        -> BrowserSession
    {
        var session = BrowserSession()
        let form = try await browse("/ui/signin", &session)
        #expect(form.status == .ok)
        let response = try await submit(
            "/ui/signin", [("username", user), ("password", password), ("next", "/ui/feeds")], &session)
        #expect(response.status == .seeOther, "sign-in of \(user)")
        #expect(session.cookies["sluice_session"] != nil)
        _ = try await browse("/ui/feeds", &session)
        return session
    }
}

/// The web UI through the router: every page's status and key content, sessions and their cookie, CSRF, and the
/// permission checks (a reader sees no Promote button and gets 403 when posting the form anyway).
@Suite("Web UI")
struct WebUITests {
    static let readerPassword = "reader-password-123"

    /// A user `reader` who may view every feed (nothing else).
    static func addReader(_ server: TestServer) async throws {
        try await server.metadata.createUser(
            User(name: "reader", passwordHash: Bcrypt.hash(readerPassword, cost: 4)))
        try await server.metadata.addPrivilege(
            Privilege(principal: .user("reader"), task: .viewDownload))
        await server.services.access.securityChanged()
    }

    /// `unapproved` holding dummy-package 1.0 and 2.0 (osx-64) and flask 0.11.1 (noarch); an empty `approved`.
    static func seed(_ client: some TestClientProtocol) async throws {
        try await client.createFeed("unapproved")
        try await client.createFeed("approved")
        for file in ["dummy-package-1.0-0.tar.bz2", "dummy-package-2.0-0.tar.bz2", "flask-0.11.1-py_0.tar.bz2"] {
            #expect(try await client.upload(feed: "unapproved", group: "conda-index", file: file).status == .created)
        }
    }

    func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    @Test("GET / redirects to the feeds; the stylesheet and script ship in the binary; pages forbid framing")
    func rootAndAssets() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(root.status == .found)
            #expect(root.headers[.location] == "/ui/feeds")
            let css = try await client.execute(uri: "/ui/assets/sluice.css", method: .get)
            #expect(css.status == .ok)
            #expect(css.headers[.contentType]?.hasPrefix("text/css") == true)
            #expect(text(css).contains("@media (max-width: 700px)"))
            let script = try await client.execute(uri: "/ui/assets/sluice.js", method: .get)
            #expect(script.status == .ok)
            #expect(text(script).contains("data-copy"))
            let page = try await client.execute(uri: "/ui/feeds", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(text(page).contains(#"<meta name="viewport""#))
            let missing = try await client.execute(uri: "/ui/no/such/page", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(text(missing).contains("There is no page at /ui/no/such/page."))
        }
    }

    @Test("sign-in sets an HttpOnly, SameSite=Lax session cookie on /ui (Secure behind TLS); wrong password is 401")
    func signInCookie() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var session = BrowserSession()
            _ = try await client.browse("/ui/signin", &session)
            let login = try #require(session.cookies["sluice_login"])
            #expect(session.csrf == login)

            let wrong = try await client.submit(
                "/ui/signin", [("username", "Admin"), ("password", "not-the-password")], &session)
            #expect(wrong.status == .unauthorized)
            #expect(text(wrong).contains("Invalid user name or password."))
            #expect(session.cookies["sluice_session"] == nil)

            var https = HTTPFields()
            https[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let right = try await client.submit(
                "/ui/signin",
                [("username", "Admin"), ("password", TestServer.adminPassword), ("next", "/ui/connectors")],
                &session, headers: https)
            #expect(right.status == .seeOther)
            #expect(right.headers[.location] == "/ui/connectors")
            let cookie = try #require(
                right.headers[values: .setCookie].first { $0.hasPrefix("sluice_session=") })
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Path=/ui"))
            #expect(cookie.contains("Secure"))
            #expect(
                try await server.services.security.events(limit: 10, beforeID: nil, kind: "login-failed").count == 1)

            var plain = BrowserSession()
            _ = try await client.browse("/ui/signin", &plain)
            let overHTTP = try await client.submit(
                "/ui/signin", [("username", "Admin"), ("password", TestServer.adminPassword)], &plain)
            let plainCookie = try #require(
                overHTTP.headers[values: .setCookie].first { $0.hasPrefix("sluice_session=") })
            #expect(!plainCookie.contains("Secure"))
            // A `next` that leaves the UI is ignored.
            var other = BrowserSession()
            _ = try await client.browse("/ui/signin", &other)
            let away = try await client.submit(
                "/ui/signin",
                [("username", "Admin"), ("password", TestServer.adminPassword), ("next", "//evil.example/")], &other)
            #expect(away.headers[.location] == "/ui/feeds")
        }
    }

    @Test("a form without the right CSRF token is refused with 403 and changes nothing (sign-in included)")
    func csrfMismatch() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var anonymous = BrowserSession()
            _ = try await client.browse("/ui/signin", &anonymous)
            let forged = try await client.submit(
                "/ui/signin", [("username", "Admin"), ("password", TestServer.adminPassword)], &anonymous,
                csrf: "forged")
            #expect(forged.status == .forbidden)
            #expect(anonymous.cookies["sluice_session"] == nil)

            var session = try await client.signIn()
            let refused = try await client.submit(
                "/ui/feeds/new", [("mode", "hosted"), ("name", "sneaky")], &session, csrf: "wrong-token")
            #expect(refused.status == .forbidden)
            #expect(text(refused).contains("CSRF"))
            let missing = try await client.submit(
                "/ui/feeds/new", [("mode", "hosted"), ("name", "sneaky")], &session, csrf: "")
            #expect(missing.status == .forbidden)
            #expect(try await server.metadata.feed(named: "sneaky") == nil)

            let accepted = try await client.submit("/ui/feeds/new", [("mode", "hosted"), ("name", "fine")], &session)
            #expect(accepted.status == .seeOther)
            #expect(accepted.headers[.location] == "/ui/feeds/fine")
            #expect(try await server.metadata.feed(named: "fine")?.kind == .hosted)
        }
    }

    @Test("sign-out deletes the session: the old cookie is anonymous afterwards")
    func signOut() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var session = try await client.signIn()
            let cookie = try #require(session.cookies["sluice_session"])
            let feeds = try await client.browse("/ui/feeds", &session)
            #expect(text(feeds).contains("Sign out"))
            #expect(text(feeds).contains("Create New Feed"))

            let out = try await client.submit("/ui/signout", [], &session)
            #expect(out.status == .seeOther)
            #expect(session.cookies["sluice_session"] == nil)

            var stale = BrowserSession(cookies: ["sluice_session": cookie])
            let after = try await client.browse("/ui/feeds", &stale)
            #expect(after.status == .ok)
            #expect(!text(after).contains("Sign out"))
            #expect(!text(after).contains("Create New Feed"))
            let admin = try await client.browse("/ui/admin/users", &stale)
            #expect(admin.status == .seeOther)
            #expect(admin.headers[.location] == "/ui/signin?next=%2Fui%2Fadmin%2Fusers")
        }
    }

    @Test("feeds list: type, package count, size; Create New Feed offers hosted, proxy and two feeds")
    func feedsList() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            var anonymous = BrowserSession()
            let list = try await client.browse("/ui/feeds", &anonymous)
            #expect(list.status == .ok)
            let html = text(list)
            #expect(html.contains(#"href="/ui/feeds/unapproved""#))
            #expect(html.contains(#"<td class="num">3</td>"#))
            let bytes = try ["dummy-package-1.0-0.tar.bz2", "dummy-package-2.0-0.tar.bz2", "flask-0.11.1-py_0.tar.bz2"]
                .map { try manifestEntry("conda-index", $0).size }.reduce(0, +)
            #expect(html.contains(WebUIFormat.bytes(bytes)))
            #expect(!html.contains("Create New Feed"))
            let newPage = try await client.browse("/ui/feeds/new", &anonymous)
            #expect(newPage.status == .seeOther)

            var admin = try await client.signIn()
            let form = try await client.browse("/ui/feeds/new", &admin)
            #expect(form.status == .ok)
            #expect(text(form).contains("Create two feeds"))
            #expect(text(form).contains("Proxy feed"))
            #expect(text(form).contains("Hosted feed"))
            #expect(text(form).contains("Vulnerability scanning"))
            let bad = try await client.submit("/ui/feeds/new", [("mode", "hosted"), ("name", "Bad Name!")], &admin)
            #expect(bad.status == .badRequest)
            #expect(text(bad).contains("Bad Name!"))
        }
    }

    @Test("feed page: conda URL with copy buttons and the conda config line; search and subdir filter")
    func feedPage() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            var session = BrowserSession()
            var host = HTTPFields()
            host[HTTPField.Name("X-Forwarded-Host")!] = "conda.example.org:8624"
            let page = try await client.browse("/ui/feeds/unapproved", &session, headers: host)
            #expect(page.status == .ok)
            let html = text(page)
            #expect(html.contains("http://conda.example.org:8624/conda/unapproved/"))
            #expect(html.contains("conda config --add channels http://conda.example.org:8624/conda/unapproved/"))
            #expect(html.contains(#"data-copy="channel-url""#))
            #expect(!html.contains("api:KEY@"))
            #expect(html.contains("dummy-package"))
            #expect(html.contains("flask"))
            #expect(html.contains(#"<td class="mono">2.0</td>"#))

            let search = text(try await client.browse("/ui/feeds/unapproved?q=fla", &session))
            #expect(search.contains(">flask<"))
            #expect(!search.contains(">dummy-package<"))
            let noarch = text(try await client.browse("/ui/feeds/unapproved?subdir=osx-64", &session))
            #expect(noarch.contains(">dummy-package<"))
            #expect(!noarch.contains(">flask<"))
            #expect(try await client.browse("/ui/feeds/nope", &session).status == .notFound)
        }
    }

    @Test("a private feed's page shows the api:KEY@ channel form; anonymous visitors are sent to sign in")
    func privateFeed() async throws {
        let server = try await TestServer.make(anonymousView: false)
        try await server.test { client in
            try await client.createFeed("secret")
            var anonymous = BrowserSession()
            let page = try await client.browse("/ui/feeds/secret", &anonymous)
            #expect(page.status == .seeOther)
            #expect(page.headers[.location]?.hasPrefix("/ui/signin") == true)
            var admin = try await client.signIn()
            var host = HTTPFields()
            host[HTTPField.Name("X-Forwarded-Host")!] = "pkgs.example.org"
            let html = text(try await client.browse("/ui/feeds/secret", &admin, headers: host))
            #expect(html.contains("http://api:KEY@pkgs.example.org/conda/secret/"))
        }
    }

    @Test("package page: versions, builds, depends, checksums, licence; promote with a comment records history")
    func packagePageAndPromote() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            var admin = try await client.signIn()
            let page = try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &admin)
            #expect(page.status == .ok)
            let html = text(page)
            let newest = try manifestEntry("conda-index", "dummy-package-2.0-0.tar.bz2")
            let oldest = try manifestEntry("conda-index", "dummy-package-1.0-0.tar.bz2")
            #expect(html.contains(newest.sha256))
            #expect(html.contains(oldest.sha256))
            #expect(html.contains("python 2.7.*"))
            #expect(html.contains(#"id="version-2.0""#))
            #expect(html.contains(#"id="version-1.0""#))
            #expect(try #require(html.range(of: "version-2.0")).lowerBound < html.range(of: "version-1.0")!.lowerBound)
            #expect(html.contains(#"id="promote-form""#))
            #expect(html.contains("<option>approved</option>"))
            #expect(html.contains("Not promoted yet."))

            let promoted = try await client.submit(
                "/ui/feeds/unapproved/packages/dummy-package/promote",
                [("version", "2.0"), ("toFeed", "approved"), ("comments", "reviewed by QA")], &admin)
            #expect(promoted.status == .seeOther)
            let stored = try await server.metadata.packages(feed: "approved", name: "dummy-package")
            #expect(stored.map(\.filename) == ["dummy-package-2.0-0.tar.bz2"])
            #expect(stored.first?.sha256 == newest.sha256)
            let after = text(try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &admin))
            #expect(after.contains("Promoted 1 file(s) of dummy-package 2.0"))
            #expect(after.contains("reviewed by QA"))
            #expect(after.contains("promoted unapproved → approved"))
            #expect(try await client.browse("/ui/feeds/unapproved/packages/none", &admin).status == .notFound)
        }
    }

    @Test("a reader sees no Promote button and gets 403 when posting the promote form anyway")
    func readerCannotPromote() async throws {
        let server = try await TestServer.make()
        try await Self.addReader(server)
        try await server.test { client in
            try await Self.seed(client)
            var reader = try await client.signIn("reader", Self.readerPassword)
            let page = try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &reader)
            #expect(page.status == .ok)
            #expect(!text(page).contains(#"id="promote-form""#))
            #expect(!text(page).contains("Create New Feed"))
            let posted = try await client.submit(
                "/ui/feeds/unapproved/packages/dummy-package/promote",
                [("version", "2.0"), ("toFeed", "approved"), ("comments", "sneaky")], &reader)
            #expect(posted.status == .forbidden)
            #expect(try await server.metadata.packages(feed: "approved", name: "dummy-package").isEmpty)
            for admin in ["/ui/admin/users", "/ui/admin/permissions", "/ui/connectors", "/ui/admin/events"] {
                #expect(try await client.browse(admin, &reader).status == .forbidden, "\(admin)")
            }
            let keys = try await client.browse("/ui/admin/api-keys", &reader)
            #expect(keys.status == .ok)
            #expect(!text(keys).contains("System key"))
        }
    }

    @Test("proxy feed over a fake upstream: pages of 50, markers, and the connector page's health and filters")
    func proxyFeedPaging() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("webui-upstream-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        var entries: [String] = []
        for index in 0..<120 {
            let name = String(format: "pkg%03d", index)
            for version in ["1.0", "1.10", "1.9"] {
                entries.append(
                    #""\#(name)-\#(version)-0.tar.bz2":{"name":"\#(name)","version":"\#(version)","build":"0","#
                        + #""build_number":0,"depends":[],"license":"MIT","subdir":"linux-64","#
                        + #""sha256":"\#(String(repeating: "a", count: 64))","md5":"\#(String(repeating: "b", count: 32))","size":1234}"#
                )
            }
        }
        let documents = [
            "linux-64": #"{"info":{"subdir":"linux-64"},"packages":{"# + entries.joined(separator: ",") + "}}",
            "noarch": #"{"info":{"subdir":"noarch"},"packages":{}}"#,
        ]
        for (subdir, text) in documents {
            let folder = root.appendingPathComponent(subdir, isDirectory: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: folder.appendingPathComponent("repodata.json"))
        }
        let upstream = try await FakeUpstream.start(root: root)
        defer { Task { await upstream.stop() } }
        let server = try await TestServer.make()
        try await server.test { client in
            var admin = try await client.signIn()
            let created = try await client.submit(
                "/ui/feeds/new",
                [
                    ("mode", "pair"), ("upstream", upstream.baseURL), ("connectorName", "fake"),
                    ("unapprovedFeed", "mirror"), ("approvedFeed", "approved"),
                ], &admin)
            #expect(created.status == .seeOther)
            #expect(created.headers[.location] == "/ui/feeds/mirror")
            #expect(try await server.metadata.feed(named: "approved")?.kind == .hosted)
            // A client asks for linux-64 first, as conda would.
            #expect(try await client.execute(uri: "/conda/mirror/linux-64/repodata.json", method: .get).status == .ok)

            let first = text(try await client.browse("/ui/feeds/mirror?subdir=linux-64", &admin))
            #expect(first.contains("120 package(s)"))
            #expect(first.contains("page 1 of 3"))
            #expect(first.contains(">pkg000<"))
            #expect(first.contains(">pkg049<"))
            #expect(!first.contains(">pkg050<"))
            #expect(first.contains(#"<td class="mono">1.10</td>"#))
            #expect(first.contains(#"class="badge remote""#))
            let third = text(try await client.browse("/ui/feeds/mirror?subdir=linux-64&page=3", &admin))
            #expect(third.contains(">pkg119<"))
            #expect(!third.contains(">pkg099<"))
            #expect(third.contains("Previous"))
            let all = text(try await client.browse("/ui/feeds/mirror?page=2", &admin))
            #expect(all.contains(">pkg050<"))

            let package = text(try await client.browse("/ui/feeds/mirror/packages/pkg007", &admin))
            let order = ["version-1.10", "version-1.9", "version-1.0"].compactMap { package.range(of: $0)?.lowerBound }
            #expect(order.count == 3 && order == order.sorted())

            let connectors = text(try await client.browse("/ui/connectors", &admin))
            #expect(connectors.contains(">fake<"))
            #expect(connectors.contains(upstream.baseURL))
            #expect(connectors.contains("badge healthy"))
            let connector = text(try await client.browse("/ui/connectors/fake", &admin))
            #expect(connector.contains("linux-64"))
            #expect(connector.contains("360"))
        }
    }

    @Test("users and groups: create, add and remove members, delete — through the security API, logged as events")
    func usersAndGroups() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var admin = try await client.signIn()
            let users = try await client.browse("/ui/admin/users", &admin)
            #expect(users.status == .ok)
            #expect(text(users).lowercased().contains("<strong>admin</strong>"))
            let created = try await client.submit(
                "/ui/admin/users/create",
                [("name", "alice"), ("password", "alice-password-1"), ("displayName", "Alice A.")], &admin)
            #expect(created.status == .seeOther)
            let short = try await client.submit(
                "/ui/admin/users/create", [("name", "bob"), ("password", "short")], &admin)
            #expect(short.status == .seeOther)
            let listed = text(try await client.browse("/ui/admin/users", &admin))
            // The last form's outcome is shown: the API's own message about the short password.
            #expect(listed.contains("flash error"))
            #expect(listed.contains("8 characters"))
            #expect(listed.contains("Alice A."))
            #expect(try await server.metadata.user(named: "alice") != nil)
            #expect(try await server.metadata.user(named: "bob") == nil)

            #expect(
                try await client.submit(
                    "/ui/admin/groups/create", [("name", "qa"), ("description", "Quality"), ("members", "alice")],
                    &admin
                ).status == .seeOther)
            #expect(try await server.services.security.group(named: "qa")?.members == ["alice"])
            let groups = text(try await client.browse("/ui/admin/groups", &admin))
            #expect(groups.contains(#"id="group-qa""#))
            #expect(groups.contains("Quality"))
            _ = try await client.submit("/ui/admin/groups/remove-member", [("name", "qa"), ("user", "alice")], &admin)
            #expect(try await server.services.security.group(named: "qa")?.members == [])
            _ = try await client.submit("/ui/admin/groups/add-member", [("name", "qa"), ("user", "Admin")], &admin)
            #expect(try await server.services.security.group(named: "qa")?.members.count == 1)
            _ = try await client.submit("/ui/admin/groups/delete", [("name", "qa")], &admin)
            #expect(try await server.services.security.group(named: "qa") == nil)

            var alice = try await client.signIn("alice", "alice-password-1")
            _ = try await client.submit("/ui/admin/users/delete", [("name", "alice")], &admin)
            #expect(try await server.metadata.user(named: "alice") == nil)
            // The deleted user's session ended with it.
            let after = text(try await client.browse("/ui/feeds", &alice))
            #expect(!after.contains("Sign out"))

            let events = text(try await client.browse("/ui/admin/events", &admin))
            #expect(events.contains("user-created"))
            #expect(events.contains("user-deleted"))
            let filtered = text(try await client.browse("/ui/admin/events?kind=user-deleted", &admin))
            #expect(!filtered.contains(">user-created<"))
        }
    }

    @Test("Tasks / Permissions: add a restriction and a permission, remove one, switch anonymous access off and on")
    func permissionsAndAnonymous() async throws {
        let server = try await TestServer.make()
        try await Self.addReader(server)
        try await server.test { client in
            try await Self.seed(client)
            var admin = try await client.signIn()
            let page = text(try await client.browse("/ui/admin/permissions", &admin))
            #expect(page.contains("Tasks / Permissions"))
            #expect(page.contains(#"id="disable-anonymous""#))
            #expect(page.contains("user reader"))

            let added = try await client.submit(
                "/ui/admin/permissions/add",
                [
                    ("kind", "user"), ("name", "reader"), ("task", "promote"), ("feed", "unapproved"),
                    ("type", "permission"),
                ], &admin)
            #expect(added.status == .seeOther)
            var reader = try await client.signIn("reader", Self.readerPassword)
            let promotable = text(try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &reader))
            #expect(promotable.contains(#"id="promote-form""#))
            _ = try await client.submit(
                "/ui/admin/permissions/add",
                [
                    ("kind", "user"), ("name", "reader"), ("task", "promote"), ("feed", "unapproved"),
                    ("type", "restriction"),
                ], &admin)
            let restricted = text(try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &reader))
            #expect(!restricted.contains(#"id="promote-form""#))
            let restriction = try #require(
                try await server.services.security.privileges().first { $0.isRestriction })
            _ = try await client.submit("/ui/admin/permissions/delete", [("id", "\(restriction.id)")], &admin)
            #expect(try await server.services.security.privileges().contains { $0.isRestriction } == false)

            var anonymous = BrowserSession()
            #expect(try await client.browse("/ui/feeds/unapproved", &anonymous).status == .ok)
            let off = try await client.submit("/ui/admin/anonymous", [("enabled", "false")], &admin)
            #expect(off.status == .seeOther)
            #expect(try await client.browse("/ui/feeds/unapproved", &anonymous).status == .seeOther)
            #expect(
                try await client.execute(uri: "/conda/unapproved/noarch/repodata.json", method: .get).status
                    == .unauthorized)
            let offPage = text(try await client.browse("/ui/admin/permissions", &admin))
            #expect(offPage.contains(#"id="enable-anonymous""#))
            _ = try await client.submit("/ui/admin/anonymous", [("enabled", "true")], &admin)
            #expect(try await client.browse("/ui/feeds/unapproved", &anonymous).status == .ok)
        }
    }

    @Test("API keys: the key is shown once, works for conda, is never shown again; readers make personal keys only")
    func apiKeys() async throws {
        let server = try await TestServer.make(anonymousView: false)
        try await Self.addReader(server)
        try await server.test { client in
            try await Self.seed(client)
            var admin = try await client.signIn()
            let form = text(try await client.browse("/ui/admin/api-keys", &admin))
            #expect(form.contains("System key"))
            let created = try await client.submit(
                "/ui/admin/api-keys/create",
                [
                    ("type", "feed"), ("displayName", "ci"), ("feeds", "unapproved"), ("permissions", "view"),
                    ("expires", "2099-01-31"),
                ], &admin)
            #expect(created.status == .ok)
            #expect(created.headers[.cacheControl] == "no-store")
            let html = text(created)
            let marker = try #require(html.range(of: #"<code class="secret" id="api-key-text">"#))
            let key = String(html[marker.upperBound...].prefix { $0 != "<" })
            #expect(key.count >= 32)
            var headers = HTTPFields()
            headers[HTTPField.Name("X-ApiKey")!] = key
            let repodata = try await client.execute(
                uri: "/conda/unapproved/noarch/repodata.json", method: .get, headers: headers)
            #expect(repodata.status == .ok)
            let again = text(try await client.browse("/ui/admin/api-keys", &admin))
            #expect(!again.contains(key))
            #expect(again.contains("<strong>ci</strong>"))
            #expect(again.contains("2099-01-31"))

            let custom = try await client.submit(
                "/ui/admin/api-keys/create", [("type", "personal"), ("key", "bad key!")], &admin)
            #expect(custom.status == .ok)
            #expect(text(custom).contains("flash error"))

            var reader = try await client.signIn("reader", Self.readerPassword)
            let readerForm = text(try await client.browse("/ui/admin/api-keys", &reader))
            #expect(!readerForm.contains("<strong>ci</strong>"))
            let system = try await client.submit("/ui/admin/api-keys/create", [("type", "system")], &reader)
            #expect(system.status == .forbidden)
            let personal = try await client.submit(
                "/ui/admin/api-keys/create", [("type", "personal"), ("displayName", "laptop")], &reader)
            #expect(personal.status == .ok)
            #expect(text(personal).contains(#"id="api-key-text""#))
            let keyID = try #require(try await server.services.security.apiKeys().first { $0.displayName == "ci" }?.id)
            let foreign = try await client.submit("/ui/admin/api-keys/delete", [("id", "\(keyID)")], &reader)
            #expect(foreign.status == .forbidden)
            _ = try await client.submit("/ui/admin/api-keys/delete", [("id", "\(keyID)")], &admin)
            #expect(try await server.services.security.apiKey(id: keyID) == nil)
        }
    }

    @Test(
        "a 450k-record subdir is grouped once per snapshot; searching and paging it then take milliseconds")
    func largeSubdirIndex() async throws {
        var records: [String: PackageRecord] = [:]
        records.reserveCapacity(450_000)
        for nameIndex in 0..<25_000 {
            let name = "package-\(nameIndex)"
            for minor in 0..<18 {
                let filename = "\(name)-1.\(minor)-0.conda"
                records[filename] = PackageRecord(
                    filename: filename,
                    fields: [
                        "name": .string(name), "version": .string("1.\(minor)"), "build": .string("0"),
                        "build_number": .int(0), "subdir": .string("linux-64"),
                    ])
            }
        }
        let snapshot = SubdirSnapshot(subdir: "linux-64", builtAt: Date(), records: records, files: [:])
        let served = ServedSubdir(snapshot: snapshot, files: [:], packages: [:])
        let cache = PackageIndexCache()
        let clock = ContinuousClock()
        var index: SubdirPackageIndex?
        let build = await clock.measure { index = await cache.index(feed: "big", subdir: "linux-64", served: served) }
        let built = try #require(index)
        #expect(built.names.count == 25_000)
        #expect(built.files["package-7"]?.count == 18)
        #expect(SubdirPackageIndex.newestFirst(built.files["package-7"] ?? []).first?.record.version == "1.17")

        var again: SubdirPackageIndex?
        let cached = await clock.measure { again = await cache.index(feed: "big", subdir: "linux-64", served: served) }
        #expect(again?.identity == built.identity)
        var page: [String] = []
        let paging = await clock.measure {
            let names = SubdirPackageIndex.matching(await cache.names(of: [built]), search: "age-2499")
            page = Array(names.prefix(WebUIController.packagesPerPage))
        }
        #expect(page.first == "package-2499")
        #expect(page.count == 11)  // package-2499 and package-24990...24999
        // Debug builds are slow; the bound only catches per-request sorting of every record (seconds).
        #expect(cached < .milliseconds(50), "index lookup took \(cached) (build \(build))")
        #expect(paging < .milliseconds(500), "search and page took \(paging) (build \(build))")
    }

    @Test("a proxy feed whose upstream is down still shows its page, saying which subdir could not be fetched")
    func upstreamDown() async throws {
        let upstream = try await FakeUpstream.start()
        defer { Task { await upstream.stop() } }
        for file in ["repodata.json", "repodata.json.zst", "repodata.json.bz2", "current_repodata.json"] {
            upstream.script("linux-64/\(file)", fault: .status(503))
        }
        let address = upstream.baseURL
        let server = try await TestServer.make()
        try await server.test { client in
            var admin = try await client.signIn()
            let created = try await client.submit(
                "/ui/feeds/new", [("mode", "proxy"), ("name", "dead"), ("upstream", address)], &admin)
            #expect(created.status == .seeOther)
            #expect(try await server.metadata.feed(named: "dead")?.connectors.count == 1)
            let page = try await client.browse("/ui/feeds/dead?subdir=linux-64", &admin)
            #expect(page.status == .ok)
            #expect(text(page).contains("The upstream could not be reached for linux-64"))
            #expect(text(page).contains("No packages"))
        }
    }

    @Test("compliance: the package page shows an advisory and the verdict; vulnerability data and policies pages")
    func compliancePages() async throws {
        let server = try await TestServer.make()
        let compliance = try #require(server.services.compliance)
        let advisory = #"""
            {"id":"OSV-WEBUI-1","summary":"A hole in dummy-package","modified":"2025-01-01T00:00:00Z",
             "affected":[{"package":{"ecosystem":"conda","name":"dummy-package"},
               "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0"}]}]}],
             "database_specific":{"severity":"HIGH"}}
            """#
        _ = try await compliance.importAdvisories(bytes: Array(advisory.utf8), source: "webui-test", actor: "Admin")
        try await server.test { client in
            try await Self.seed(client)
            var admin = try await client.signIn()
            let package = text(try await client.browse("/ui/feeds/unapproved/packages/dummy-package", &admin))
            #expect(package.contains("OSV-WEBUI-1"))
            #expect(package.contains("A hole in dummy-package"))
            #expect(package.contains("fixed in 3.0"))
            #expect(package.contains(#"id="compliance-outcome">noncompliant<"#))
            let flask = text(try await client.browse("/ui/feeds/unapproved/packages/flask", &admin))
            #expect(flask.contains(#"id="compliance-outcome">"#))
            #expect(!flask.contains("OSV-WEBUI-1"))

            let data = try await client.browse("/ui/admin/vulnerabilities", &admin)
            #expect(data.status == .ok)
            #expect(text(data).contains(#"id="advisory-count">1<"#))
            #expect(text(data).contains("webui-test"))
            let policies = try await client.browse("/ui/admin/policies", &admin)
            #expect(policies.status == .ok)
            #expect(text(policies).contains("Noncompliant at severity"))
            #expect(text(policies).contains("reports only"))

            let created = try await client.submit(
                "/ui/feeds/new", [("mode", "hosted"), ("name", "strict"), ("blockVulnerable", "true")], &admin)
            #expect(created.status == .seeOther)
            #expect(try await compliance.store.blocksNoncompliant(feed: "strict"))
            #expect(try await compliance.store.compliancePolicy(feed: "strict")?.notAllowedLicenseOutcome == .warn)
            #expect(text(try await client.browse("/ui/admin/policies", &admin)).contains("blocks noncompliant"))

            var reader = BrowserSession()
            #expect(try await client.browse("/ui/admin/vulnerabilities", &reader).status == .seeOther)
        }
    }
}
