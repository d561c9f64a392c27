import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// The security management API through the router, over memory stores: users, groups, privileges, the anonymous
/// switch, API keys and the event log; and the seed's Step 2 ("Network Engineers" may promote from
/// `unapproved-conda`) at API level.
@Suite("Security management")
struct SecurityManagementTests {
    static let alicePassword = "alice-password-1"
    static let bobPassword = "bob-password-22"

    /// A server with the default privileges of a new install: (Admin, administer, all feeds) and (anonymous, view,
    /// all feeds). Adding them is idempotent, so this holds whether or not the test server bootstraps them itself.
    static func makeServer() async throws -> TestServer {
        let server = try await TestServer.make()
        _ = await server.metadata.addPrivilege(Privilege(principal: .user("Admin"), task: .administer))
        _ = await server.metadata.addPrivilege(Privilege(principal: .anonymous, task: .viewDownload))
        return server
    }

    // MARK: Users

    @Test("users: create (201, no secret in the answer), list with groups, update, delete; 409 / 404 / 400")
    func usersLifecycle() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            let created = try await client.admin(
                .post, "/api/security/users/create",
                #"{"name":"alice","password":"\#(Self.alicePassword)","displayName":"Alice A.","email":"alice@example.org"}"#
            )
            #expect(created.status == .created)
            let user = try json(created)
            #expect(user["name"]?.stringValue == "alice")
            #expect(user["displayName"]?.stringValue == "Alice A.")
            #expect(user["email"]?.stringValue == "alice@example.org")
            #expect(user["groups"]?.arrayValue == [])
            #expect(user["createdAt"]?.stringValue != nil)
            #expect(user["password"] == nil && user["passwordHash"] == nil)
            #expect(!created.bodyText.contains(Self.alicePassword))

            // Stored as a bcrypt hash, never in clear.
            let stored = try #require(await server.metadata.user(named: "alice"))
            #expect(stored.passwordHash.hasPrefix("$2"))
            #expect(!stored.passwordHash.contains(Self.alicePassword))

            // The name is taken, whatever its case.
            for name in ["alice", "ALICE"] {
                let again = try await client.admin(
                    .post, "/api/security/users/create", #"{"name":"\#(name)","password":"another-password"}"#)
                #expect(again.status == .conflict, "\(name)")
            }

            let list = try await client.admin(.get, "/api/security/users/list")
            #expect(list.status == .ok)
            let names = try json(list).arrayValue?.compactMap { $0["name"]?.stringValue.map { $0.lowercased() } }
            #expect(names == ["admin", "alice"])
            #expect(!list.bodyText.contains("$2"))

            // The new user can sign in: Admin-only routes answer 403 (signed in, not allowed), not 401.
            #expect(
                try await client.get("/api/security/users/list", user: "alice", Self.alicePassword).status == .forbidden
            )
            #expect(
                try await client.get("/api/security/users/list", user: "alice", "wrong-password").status
                    == .unauthorized)

            // Update: display name, email and password.
            let updated = try await client.admin(
                .post, "/api/security/users/update/alice",
                #"{"displayName":"Alice B.","email":"b@example.org","password":"a-new-password"}"#)
            #expect(updated.status == .ok)
            #expect(try json(updated)["displayName"]?.stringValue == "Alice B.")
            #expect(try json(updated)["email"]?.stringValue == "b@example.org")
            #expect(
                try await client.get("/api/security/users/list", user: "alice", "a-new-password").status == .forbidden)
            #expect(
                try await client.get("/api/security/users/list", user: "alice", Self.alicePassword).status
                    == .unauthorized)

            let deleted = try await client.admin(.delete, "/api/security/users/delete/alice")
            #expect(deleted.status == .ok)
            #expect(try json(deleted)["deleted"]?.stringValue == "alice")
            #expect(await server.metadata.user(named: "alice") == nil)
            #expect(try await client.admin(.delete, "/api/security/users/delete/alice").status == .notFound)
            #expect(try await client.admin(.post, "/api/security/users/delete/nobody").status == .notFound)
            #expect(
                try await client.admin(.post, "/api/security/users/update/nobody", #"{"email":"x@y.z"}"#).status
                    == .notFound)
        }
    }

    @Test("users: bad input is a 400 naming the problem, and creates nothing")
    func userValidation() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            let cases: [(body: String, message: String)] = [
                (#"{"name":"carol","password":"short"}"#, "at least 8"),
                (#"{"name":"carol"}"#, "'password' is required"),
                (#"{"password":"long-enough-password"}"#, "'name' is required"),
                (#"{"name":"api","password":"long-enough-password"}"#, "reserved"),
                (#"{"name":"car ol","password":"long-enough-password"}"#, "user name"),
                (#"{"name":"carol:x","password":"long-enough-password"}"#, "user name"),
                (#"{"name":"carol","password":12345678}"#, "'password' must be a string"),
                ("not json", "not valid JSON"),
            ]
            for (body, message) in cases {
                let response = try await client.admin(.post, "/api/security/users/create", body)
                #expect(response.status == .badRequest, "\(body)")
                let error = try json(response)
                #expect(error["error"]?.stringValue == "invalidInput", "\(body)")
                #expect(error["message"]?.stringValue?.contains(message) == true, "\(body): \(response.bodyText)")
                // A weak password is never echoed back.
                #expect(!response.bodyText.contains("short\""), "\(body)")
            }
            let weakUpdate = try await client.admin(.post, "/api/security/users/update/Admin", #"{"password":"1234"}"#)
            #expect(weakUpdate.status == .badRequest)
            let users = await server.metadata.users().map { $0.name.lowercased() }
            #expect(users == ["admin"])
            // The admin cannot delete the user it is signed in as.
            #expect(try await client.admin(.delete, "/api/security/users/delete/Admin").status == .badRequest)
        }
    }

    // MARK: Groups

    @Test("groups: create with members, add and remove members (names with spaces), list, delete; 400 / 404 / 409")
    func groupsLifecycle() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createUser("alice", Self.alicePassword)
            try await client.createUser("bob", Self.bobPassword)

            let created = try await client.admin(
                .post, "/api/security/groups/create",
                #"{"name":"Network Engineers","description":"promote approved packages","members":["alice"]}"#)
            #expect(created.status == .created)
            #expect(try json(created)["members"]?.arrayValue == [.string("alice")])
            #expect(try json(created)["description"]?.stringValue == "promote approved packages")
            #expect(
                try await client.admin(.post, "/api/security/groups/create", #"{"name":"network engineers"}"#).status
                    == .conflict)
            #expect(
                try await client.admin(
                    .post, "/api/security/groups/create", #"{"name":"Ghosts","members":["nobody"]}"#
                ).status == .badRequest)
            #expect(await server.metadata.group(named: "Ghosts") == nil)
            #expect(
                try await client.admin(.post, "/api/security/groups/create", #"{"name":"a/b"}"#).status == .badRequest)

            let path = "/api/security/groups/add-member/Network%20Engineers"
            let added = try await client.admin(.post, path, #"{"user":"bob"}"#)
            #expect(added.status == .ok)
            #expect(Set(try json(added)["members"]?.arrayValue ?? []) == [.string("alice"), .string("bob")])
            // Adding twice changes nothing.
            #expect(
                try json(try await client.admin(.post, path, #"{"user":"BOB"}"#))["members"]?.arrayValue?.count == 2)
            #expect(try await client.admin(.post, path, #"{"user":"nobody"}"#).status == .badRequest)
            #expect(try await client.admin(.post, path, "{}").status == .badRequest)
            #expect(
                try await client.admin(.post, "/api/security/groups/add-member/Nope", #"{"user":"bob"}"#).status
                    == .notFound)

            // The users list shows the memberships.
            let users = try json(try await client.admin(.get, "/api/security/users/list")).arrayValue ?? []
            let bob = try #require(users.first { $0["name"]?.stringValue == "bob" })
            #expect(bob["groups"]?.arrayValue == [.string("Network Engineers")])

            let removed = try await client.admin(
                .post, "/api/security/groups/remove-member/Network%20Engineers", #"{"user":"alice"}"#)
            #expect(removed.status == .ok)
            #expect(try json(removed)["members"]?.arrayValue == [.string("bob")])
            #expect(
                try await client.admin(
                    .post, "/api/security/groups/remove-member/Network%20Engineers", #"{"user":"alice"}"#
                ).status == .notFound)

            let updated = try await client.admin(
                .post, "/api/security/groups/update/Network%20Engineers", #"{"description":"net eng","members":[]}"#)
            #expect(updated.status == .ok)
            #expect(try json(updated)["members"]?.arrayValue == [])
            #expect(try json(updated)["description"]?.stringValue == "net eng")

            let list = try json(try await client.admin(.get, "/api/security/groups/list")).arrayValue ?? []
            #expect(list.compactMap { $0["name"]?.stringValue } == ["Network Engineers"])

            #expect(try await client.admin(.delete, "/api/security/groups/delete/Network%20Engineers").status == .ok)
            #expect(
                try await client.admin(.delete, "/api/security/groups/delete/Network%20Engineers").status == .notFound)
            #expect(await server.metadata.groups().isEmpty)
        }
    }

    // MARK: Privileges

    @Test("privileges: add (201, shape, no duplicates), list, delete; 400 for unknown task / principal / feed / type")
    func privileges() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("unapproved-conda")
            try await client.createUser("alice", Self.alicePassword)
            try await client.createGroup("Network Engineers", members: [])

            let body =
                #"{"principal":{"kind":"group","name":"Network Engineers"},"task":"Promote Packages","feed":"unapproved-conda"}"#
            let added = try await client.admin(.post, "/api/security/privileges/add", body)
            #expect(added.status == .created)
            let privilege = try json(added)
            #expect(
                privilege["principal"] == .object(["kind": .string("group"), "name": .string("Network Engineers")]))
            #expect(privilege["task"]?.stringValue == "promote")
            #expect(privilege["taskName"]?.stringValue == "Promote Packages")
            #expect(privilege["feed"]?.stringValue == "unapproved-conda")
            #expect(privilege["type"]?.stringValue == "permission")
            #expect(privilege["createdBy"]?.stringValue?.lowercased() == "admin")
            let id = try #require(privilege["id"]?.intValue)
            // The same privilege again is not duplicated.
            #expect(try json(try await client.admin(.post, "/api/security/privileges/add", body))["id"]?.intValue == id)

            let restriction = try await client.admin(
                .post, "/api/security/privileges/add",
                #"{"principal":{"kind":"user","name":"alice"},"task":"delete","type":"restriction"}"#)
            #expect(restriction.status == .created)
            #expect(try json(restriction)["type"]?.stringValue == "restriction")
            #expect(try json(restriction)["feed"] == .null)

            let bad: [(String, String)] = [
                (#"{"principal":{"kind":"group","name":"Network Engineers"},"task":"fly"}"#, "Unknown task"),
                (#"{"principal":{"kind":"robot"},"task":"view"}"#, "Unknown principal kind"),
                (#"{"principal":{"kind":"user"},"task":"view"}"#, "needs a 'name'"),
                (#"{"principal":{"kind":"user","name":"nobody"},"task":"view"}"#, "no user named"),
                (#"{"principal":{"kind":"group","name":"Nobody"},"task":"view"}"#, "no group named"),
                (#"{"principal":{"kind":"anonymous"},"task":"view","feed":"no-such-feed"}"#, "no feed named"),
                (#"{"principal":{"kind":"anonymous"},"task":"view","type":"maybe"}"#, "'type'"),
                (#"{"task":"view"}"#, "'principal' is required"),
                (#"{"principal":{"kind":"everyone"}}"#, "'task' is required"),
            ]
            for (body, message) in bad {
                let response = try await client.admin(.post, "/api/security/privileges/add", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(try json(response)["message"]?.stringValue?.contains(message) == true, "\(response.bodyText)")
            }

            let list = try json(try await client.admin(.get, "/api/security/privileges/list")).arrayValue ?? []
            // Two defaults + the two added here.
            #expect(list.count == 4)
            #expect(list.contains { $0["id"]?.intValue == id })

            #expect(try await client.admin(.delete, "/api/security/privileges/delete/\(id)").status == .ok)
            #expect(try await client.admin(.delete, "/api/security/privileges/delete/\(id)").status == .notFound)
            #expect(try await client.admin(.post, "/api/security/privileges/delete/abc").status == .badRequest)
            #expect(await server.metadata.privileges().contains { $0.id == id } == false)
        }
    }

    @Test("anonymous access: disabling makes a feed answer 401 to anonymous clients; enabling opens it again")
    func anonymousSwitch() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("public")
            #expect(
                try await client.upload(feed: "public", group: "quetz", file: "test-package-0.1-0.tar.bz2").status
                    == .created)
            let repodata = "/conda/public/linux-64/repodata.json"
            #expect(try await client.execute(uri: repodata, method: .get).status == .ok)
            #expect(try json(try await client.admin(.get, "/api/security/anonymous"))["enabled"] == .bool(true))

            let off = try await client.admin(.post, "/api/security/anonymous", #"{"enabled":false}"#)
            #expect(off.status == .ok)
            #expect(try json(off)["enabled"] == .bool(false))
            #expect(try json(try await client.admin(.get, "/api/security/anonymous"))["enabled"] == .bool(false))
            let refused = try await client.execute(uri: repodata, method: .get)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
            #expect(try await client.execute(uri: repodata, method: .get, headers: basicAuth()).status == .ok)

            #expect(try await client.admin(.post, "/api/security/anonymous", #"{"enabled":true}"#).status == .ok)
            #expect(try await client.execute(uri: repodata, method: .get).status == .ok)
            #expect(try await client.admin(.post, "/api/security/anonymous", "{}").status == .badRequest)
            #expect(
                try await client.admin(.post, "/api/security/anonymous", #"{"enabled":"maybe"}"#).status == .badRequest)
        }
    }

    @Test("management routes: 401 with WWW-Authenticate for anonymous callers, 403 for users without Administer")
    func managementNeedsAdminister() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createUser("alice", Self.alicePassword)
            let routes: [(HTTPRequest.Method, String, String?)] = [
                (.get, "/api/security/users/list", nil),
                (.post, "/api/security/users/create", #"{"name":"mallory","password":"long-enough-1"}"#),
                (.post, "/api/security/users/update/Admin", #"{"password":"takeover-password"}"#),
                (.delete, "/api/security/users/delete/Admin", nil),
                (.get, "/api/security/groups/list", nil),
                (.post, "/api/security/groups/create", #"{"name":"g"}"#),
                (.get, "/api/security/privileges/list", nil),
                (.post, "/api/security/privileges/add", #"{"principal":{"kind":"everyone"},"task":"administer"}"#),
                (.delete, "/api/security/privileges/delete/1", nil),
                (.get, "/api/security/anonymous", nil),
                (.post, "/api/security/anonymous", #"{"enabled":false}"#),
                (.get, "/api/events", nil),
                (.get, "/api/api-keys/list", nil),
                (.post, "/api/api-keys/create", #"{"type":"system"}"#),
            ]
            for (method, uri, body) in routes {
                var json = HTTPFields()
                json[.contentType] = "application/json"
                let anonymous = try await client.execute(
                    uri: uri, method: method, headers: json, body: body.map(jsonBody))
                #expect(anonymous.status == .unauthorized, "\(method) \(uri)")
                #expect(anonymous.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#, "\(method) \(uri)")
                var alice = basicAuth("alice", Self.alicePassword)
                alice[.contentType] = "application/json"
                let forbidden = try await client.execute(
                    uri: uri, method: method, headers: alice, body: body.map(jsonBody))
                // A plain user lists their own (no) keys; everything else is refused.
                let expected: HTTPResponse.Status = uri == "/api/api-keys/list" ? .ok : .forbidden
                #expect(forbidden.status == expected, "\(method) \(uri): \(forbidden.bodyText)")
            }
            // Nothing changed.
            #expect(await server.metadata.user(named: "mallory") == nil)
            #expect(await server.metadata.privileges().count == 2)
            #expect(await server.metadata.apiKeys().isEmpty)
        }
    }

    // MARK: API keys

    @Test("feed key: created once with its text, never listed with it, opens only its feed, stops when deleted")
    func feedKeyLifecycle() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("approved-conda")
            try await client.createFeed("other")
            for feed in ["approved-conda", "other"] {
                #expect(
                    try await client.upload(feed: feed, group: "quetz", file: "test-package-0.1-0.tar.bz2").status
                        == .created)
            }
            #expect(try await client.admin(.post, "/api/security/anonymous", #"{"enabled":false}"#).status == .ok)

            let created = try await client.admin(
                .post, "/api/api-keys/create",
                #"{"type":"feed","displayName":"conda clients","description":"CI","feeds":["approved-conda"],"permissions":["view"],"expires":"2099-01-31T00:00:00Z"}"#
            )
            #expect(created.status == .created)
            let key = try json(created)
            let text = try #require(key["key"]?.stringValue)
            #expect(text.count >= 32)
            #expect(text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
            #expect(key["type"]?.stringValue == "feed")
            #expect(key["feeds"]?.arrayValue == [.string("approved-conda")])
            #expect(key["permissions"]?.arrayValue == [.string("view")])
            #expect(key["displayName"]?.stringValue == "conda clients")
            #expect(key["expires"]?.stringValue?.hasPrefix("2099-01-31T00:00:00") == true)
            #expect(key["createdBy"]?.stringValue?.lowercased() == "admin")
            let id = try #require(key["id"]?.intValue)

            // The list never shows the text nor its hash.
            let list = try await client.admin(.get, "/api/api-keys/list")
            #expect(list.status == .ok)
            let keys = try json(list).arrayValue ?? []
            #expect(keys.count == 1)
            #expect(keys.first?["key"] == nil)
            #expect(keys.first?["id"]?.intValue == id)
            #expect(!list.bodyText.contains(text))
            let hash = try #require(await server.metadata.apiKey(id: id)?.keyHash)
            #expect(!list.bodyText.contains(hash))

            // It opens its feed (X-ApiKey, Basic api:<key>, Bearer, /t/<key>/) and nothing else.
            let repodata = "/conda/approved-conda/linux-64/repodata.json"
            #expect(try await client.execute(uri: repodata, method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: repodata, method: .get, headers: apiKeyHeader(text)).status == .ok)
            #expect(
                try await client.execute(uri: repodata, method: .get, headers: basicAuth("api", text)).status == .ok)
            #expect(
                try await client.execute(uri: repodata, method: .get, headers: [.authorization: "Bearer \(text)"])
                    .status
                    == .ok)
            #expect(try await client.execute(uri: "/t/\(text)\(repodata)", method: .get).status == .ok)
            #expect(
                try await client.execute(
                    uri: "/conda/other/linux-64/repodata.json", method: .get, headers: apiKeyHeader(text)
                )
                .status == .forbidden)
            #expect(
                try await client.execute(uri: "/api/security/users/list", method: .get, headers: apiKeyHeader(text))
                    .status == .forbidden)

            let deleted = try await client.admin(.delete, "/api/api-keys/delete/\(id)")
            #expect(deleted.status == .ok)
            #expect(
                try await client.execute(uri: repodata, method: .get, headers: apiKeyHeader(text)).status
                    == .unauthorized)
            #expect(try await client.admin(.delete, "/api/api-keys/delete/\(id)").status == .notFound)
            #expect(try await client.admin(.post, "/api/api-keys/delete", #"{"id":\#(id)}"#).status == .notFound)
            #expect(try await client.admin(.post, "/api/api-keys/delete", "{}").status == .badRequest)
            #expect(try await client.admin(.delete, "/api/api-keys/delete/x1").status == .badRequest)
        }
    }

    @Test("API key creation: custom text, and a 400 for every kind of bad input; 409 for a taken custom text")
    func apiKeyValidation() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("approved-conda")
            let custom = try await client.admin(
                .post, "/api/api-keys/create",
                #"{"type":"feed","feeds":["approved-conda"],"permissions":["view","add"],"key":"MyCustomKey-2024"}"#)
            #expect(custom.status == .created)
            #expect(try json(custom)["key"]?.stringValue == "MyCustomKey-2024")
            #expect(try json(custom)["permissions"]?.arrayValue == [.string("view"), .string("add")])
            #expect(try json(custom)["displayName"]?.stringValue == "Feed key for approved-conda")
            let taken = try await client.admin(
                .post, "/api/api-keys/create", #"{"type":"feed","feeds":["approved-conda"],"key":"MyCustomKey-2024"}"#)
            #expect(taken.status == .conflict)
            #expect(!taken.bodyText.contains("MyCustomKey-2024"))

            let bad: [String] = [
                #"{"type":"robot"}"#,
                #"{}"#,
                #"{"type":"feed"}"#,
                #"{"type":"feed","feeds":["no-such-feed"]}"#,
                #"{"type":"feed","feeds":["approved-conda"],"permissions":["administer"]}"#,
                #"{"type":"feed","feeds":["approved-conda"],"permissions":[]}"#,
                #"{"type":"feed","feeds":["approved-conda"],"key":"short"}"#,
                #"{"type":"feed","feeds":["approved-conda"],"key":"has spaces in it"}"#,
                #"{"type":"feed","feeds":["approved-conda"],"key":"under_score_key"}"#,
                #"{"type":"feed","feeds":["approved-conda"],"expires":"next tuesday"}"#,
                #"{"type":"feed","feeds":["approved-conda"],"expires":"2001-01-01T00:00:00Z"}"#,
                #"{"type":"system","feeds":["approved-conda"]}"#,
                #"{"type":"personal","user":"nobody"}"#,
                #"{"type":"personal","permissions":["view"]}"#,
            ]
            for body in bad {
                let response = try await client.admin(.post, "/api/api-keys/create", body)
                #expect(response.status == .badRequest, "\(body): \(response.status) \(response.bodyText)")
            }
            #expect(await server.metadata.apiKeys().count == 1)

            let system = try await client.admin(.post, "/api/api-keys/create", #"{"type":"system","displayName":"ci"}"#)
            #expect(system.status == .created)
            let systemKey = try #require(try json(system)["key"]?.stringValue)
            // A system key administers.
            #expect(
                try await client.execute(
                    uri: "/api/security/users/list", method: .get, headers: apiKeyHeader(systemKey)
                )
                .status == .ok)
        }
    }

    @Test("personal keys: a user creates, lists and deletes their own; others' keys and other kinds need Administer")
    func personalKeys() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createUser("alice", Self.alicePassword)
            try await client.createUser("bob", Self.bobPassword)
            var alice = basicAuth("alice", Self.alicePassword)
            alice[.contentType] = "application/json"

            let own = try await client.execute(
                uri: "/api/api-keys/create", method: .post, headers: alice, body: jsonBody(#"{"type":"personal"}"#))
            #expect(own.status == .created)
            #expect(try json(own)["user"]?.stringValue == "alice")
            let aliceKey = try #require(try json(own)["key"]?.stringValue)
            let aliceKeyID = try #require(try json(own)["id"]?.intValue)
            // The key acts as alice: signed in, but not an administrator.
            #expect(
                try await client.execute(uri: "/api/security/users/list", method: .get, headers: apiKeyHeader(aliceKey))
                    .status == .forbidden)

            let forBob = try await client.execute(
                uri: "/api/api-keys/create", method: .post, headers: alice,
                body: jsonBody(#"{"type":"personal","user":"bob"}"#))
            #expect(forBob.status == .forbidden)
            let feedKey = try await client.execute(
                uri: "/api/api-keys/create", method: .post, headers: alice, body: jsonBody(#"{"type":"system"}"#))
            #expect(feedKey.status == .forbidden)

            let bobKey = try await client.admin(.post, "/api/api-keys/create", #"{"type":"personal","user":"bob"}"#)
            #expect(bobKey.status == .created)
            let bobKeyID = try #require(try json(bobKey)["id"]?.intValue)

            // alice sees only her key; Admin sees both.
            let aliceList = try await client.execute(uri: "/api/api-keys/list", method: .get, headers: alice)
            #expect(try json(aliceList).arrayValue?.compactMap { $0["id"]?.intValue } == [aliceKeyID])
            let adminList = try await client.admin(.get, "/api/api-keys/list")
            #expect(
                Set(try json(adminList).arrayValue?.compactMap { $0["id"]?.intValue } ?? []) == [aliceKeyID, bobKeyID])

            // alice cannot delete bob's key, but can delete her own.
            #expect(
                try await client.execute(uri: "/api/api-keys/delete/\(bobKeyID)", method: .delete, headers: alice)
                    .status
                    == .forbidden)
            #expect(
                try await client.execute(uri: "/api/api-keys/delete/\(aliceKeyID)", method: .delete, headers: alice)
                    .status
                    == .ok)
            #expect(await server.metadata.apiKeys().map(\.id) == [bobKeyID])

            // Deleting a user removes their personal keys.
            #expect(try await client.admin(.delete, "/api/security/users/delete/bob").status == .ok)
            #expect(await server.metadata.apiKeys().isEmpty)
        }
    }

    // MARK: Event log

    @Test("every change writes an event with who did it, and no event holds a password or key text")
    func eventsForEveryChange() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("approved-conda")
            try await client.createUser("alice", Self.alicePassword)
            _ = try await client.admin(.post, "/api/security/users/update/alice", #"{"password":"changed-password-1"}"#)
            try await client.createGroup("Network Engineers", members: ["alice"])
            _ = try await client.admin(
                .post, "/api/security/groups/remove-member/Network%20Engineers", #"{"user":"alice"}"#)
            let privilege = try json(
                try await client.admin(
                    .post, "/api/security/privileges/add",
                    #"{"principal":{"kind":"group","name":"Network Engineers"},"task":"promote","feed":"approved-conda"}"#
                ))
            let privilegeID = try #require(privilege["id"]?.intValue)
            _ = try await client.admin(.delete, "/api/security/privileges/delete/\(privilegeID)")
            _ = try await client.admin(.post, "/api/security/anonymous", #"{"enabled":false}"#)
            let key = try json(
                try await client.admin(
                    .post, "/api/api-keys/create", #"{"type":"feed","feeds":["approved-conda"],"displayName":"ci"}"#))
            let keyText = try #require(key["key"]?.stringValue)
            let keyID = try #require(key["id"]?.intValue)
            _ = try await client.admin(.delete, "/api/api-keys/delete/\(keyID)")
            _ = try await client.admin(.delete, "/api/security/groups/delete/Network%20Engineers")
            _ = try await client.admin(.delete, "/api/security/users/delete/alice")

            let response = try await client.admin(.get, "/api/events?limit=1000")
            #expect(response.status == .ok)
            let events = try json(response).arrayValue ?? []
            let kinds = events.compactMap { $0["kind"]?.stringValue }
            let changeKinds: Set<String> = [
                "user-created", "user-updated", "group-created", "group-changed", "privilege-added",
                "privilege-removed", "anonymous-access-changed", "api-key-created", "api-key-deleted", "group-deleted",
                "user-deleted",
            ]
            for expected in changeKinds {
                #expect(kinds.contains(expected), "\(expected) in \(kinds)")
            }
            // Newest first; the management changes name Admin as the actor.
            let ids = events.compactMap { $0["id"]?.intValue }
            #expect(ids == ids.sorted(by: >))
            #expect(kinds.first == "user-deleted")
            for event in events where changeKinds.contains(event["kind"]?.stringValue ?? "") {
                #expect(event["actor"]?.stringValue?.lowercased() == "admin", "\(event)")
                #expect(event["at"]?.stringValue != nil)
            }
            let keyEvent = try #require(events.first { $0["kind"]?.stringValue == "api-key-created" })
            #expect(keyEvent["subject"]?.stringValue == "ci")
            let privilegeEvent = try #require(events.first { $0["kind"]?.stringValue == "privilege-added" })
            #expect(privilegeEvent["subject"]?.stringValue?.contains("Network Engineers") == true)
            #expect(privilegeEvent["subject"]?.stringValue?.contains("approved-conda") == true)
            // No secrets anywhere in the log.
            for secret in [Self.alicePassword, "changed-password-1", keyText, TestServer.adminPassword] {
                #expect(!response.bodyText.contains(secret))
            }

            // Filters and paging.
            let onlyKeys = try json(try await client.admin(.get, "/api/events?kind=api-key-created")).arrayValue ?? []
            #expect(onlyKeys.count == 1 && onlyKeys.first?["kind"]?.stringValue == "api-key-created")
            let firstPage = try json(try await client.admin(.get, "/api/events?limit=2")).arrayValue ?? []
            #expect(firstPage.compactMap { $0["id"]?.intValue } == Array(ids.prefix(2)))
            let next = try json(try await client.admin(.get, "/api/events?limit=2&before=\(ids[1])")).arrayValue ?? []
            #expect(next.compactMap { $0["id"]?.intValue } == Array(ids.dropFirst(2).prefix(2)))
            for query in ["limit=0", "limit=abc", "limit=5000", "before=x"] {
                #expect(try await client.admin(.get, "/api/events?\(query)").status == .badRequest, "\(query)")
            }
        }
    }

    // MARK: The seed's Step 2

    @Test(
        "seed Step 2: Network Engineers may promote from unapproved-conda, others get 403, history names the promoter")
    func networkEngineersPromote() async throws {
        let server = try await Self.makeServer()
        try await server.test { client in
            try await client.createFeed("unapproved-conda")
            try await client.createFeed("approved-conda")
            for file in ["other-package-0.1-0.tar.bz2", "other-package-0.2-0.conda", "test-package-0.1-0.tar.bz2"] {
                #expect(
                    try await client.upload(feed: "unapproved-conda", group: "quetz", file: file).status == .created)
            }
            try await client.createUser("alice", Self.alicePassword)
            try await client.createUser("bob", Self.bobPassword)
            try await client.createGroup("Network Engineers", members: ["alice"])
            // Exactly the seed's grant and nothing else: the issue says that Promote Packages on the source feed is
            // what lets the members promote (anonymous View & Download, the default, is still on).
            let grant = try await client.admin(
                .post, "/api/security/privileges/add",
                #"{"principal":{"kind":"group","name":"Network Engineers"},"task":"Promote Packages","feed":"unapproved-conda"}"#
            )
            #expect(grant.status == .created)

            func promote(
                _ user: String, _ password: String, _ name: String, _ version: String,
                from: String = "unapproved-conda", to: String = "approved-conda"
            ) async throws -> TestResponse {
                var headers = basicAuth(user, password)
                headers[.contentType] = "application/json"
                return try await client.execute(
                    uri: "/api/promotions/promote", method: .post, headers: headers,
                    body: jsonBody(
                        #"{"fromFeed":"\#(from)","toFeed":"\#(to)","name":"\#(name)","version":"\#(version)","comments":"reviewed"}"#
                    ))
            }

            // bob is not in the group: 403 naming the task and the feed, and nothing is promoted.
            let refused = try await promote("bob", Self.bobPassword, "other-package", "0.2")
            #expect(refused.status == .forbidden)
            let message = try json(refused)["message"]?.stringValue ?? ""
            #expect(message.contains("Promote Packages") && message.contains("unapproved-conda"), "\(message)")
            #expect(try await client.repodataFilenames(feed: "approved-conda", subdir: "linux-64") == nil)
            // Anonymous: 401.
            var anonymous = HTTPFields()
            anonymous[.contentType] = "application/json"
            #expect(
                try await client.execute(
                    uri: "/api/promotions/promote", method: .post, headers: anonymous,
                    body: jsonBody(
                        #"{"fromFeed":"unapproved-conda","toFeed":"approved-conda","name":"other-package","version":"0.2"}"#
                    )
                ).status == .unauthorized)

            // alice is: the promotion goes through.
            let promoted = try await promote("alice", Self.alicePassword, "other-package", "0.2")
            #expect(promoted.status == .ok, "\(promoted.bodyText)")
            #expect(try json(promoted)["promoted"]?.intValue == 1)
            #expect(
                try await client.repodataFilenames(feed: "approved-conda", subdir: "linux-64") == [
                    "other-package-0.2-0.conda"
                ])

            // The privilege is scoped to unapproved-conda: promoting out of approved-conda is still refused.
            try await client.createFeed("released")
            #expect(
                try await promote(
                    "alice", Self.alicePassword, "other-package", "0.2", from: "approved-conda", to: "released"
                ).status == .forbidden)

            // bob joins the group: now he may.
            #expect(
                try await client.admin(
                    .post, "/api/security/groups/add-member/Network%20Engineers", #"{"user":"bob"}"#
                ).status == .ok)
            #expect(try await promote("bob", Self.bobPassword, "test-package", "0.1").status == .ok)

            // A restriction beats the group's permission.
            #expect(
                try await client.admin(
                    .post, "/api/security/privileges/add",
                    #"{"principal":{"kind":"user","name":"bob"},"task":"promote","feed":"unapproved-conda","type":"restriction"}"#
                ).status == .created)
            #expect(try await promote("bob", Self.bobPassword, "other-package", "0.1").status == .forbidden)

            // The history names who promoted.
            let history = try json(try await client.admin(.get, "/api/promotions/list?toFeed=approved-conda"))
            var promoters: [String: String] = [:]
            for group in history.arrayValue ?? [] {
                for promotion in group["promotions"]?.arrayValue ?? [] {
                    promoters["\(group["name"]?.stringValue ?? "")=\(group["version"]?.stringValue ?? "")"] =
                        promotion["user"]?.stringValue
                }
            }
            #expect(promoters == ["other-package=0.2": "alice", "test-package=0.1": "bob"])
        }
    }
}

/// `X-ApiKey: <key>`.
private func apiKeyHeader(_ key: String) -> HTTPFields {
    var fields = HTTPFields()
    fields[HTTPField.Name("X-ApiKey")!] = key
    return fields
}

extension TestResponse {
    /// The body as text.
    fileprivate var bodyText: String { String(buffer: body) }
}

extension TestClientProtocol {
    /// A request as Admin (HTTP Basic) with an optional JSON body.
    fileprivate func admin(
        _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil
    ) async throws -> TestResponse {
        try await execute(uri: uri, method: method, headers: adminJSONHeaders(), body: body.map(jsonBody))
    }

    /// A GET as `user` with HTTP Basic.
    fileprivate func get(_ uri: String, user: String, _ password: String) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: basicAuth(user, password))
    }

    /// Creates a user as Admin and checks the 201.
    fileprivate func createUser(_ name: String, _ password: String) async throws {
        let response = try await admin(
            .post, "/api/security/users/create", #"{"name":"\#(name)","password":"\#(password)"}"#)
        guard response.status == .created else {
            throw SluiceError(.internalError, "creating user \(name): \(response.status) \(response.bodyText)")
        }
    }

    /// Creates a group as Admin and checks the 201.
    fileprivate func createGroup(_ name: String, members: [String]) async throws {
        let list = members.map { "\"\($0)\"" }.joined(separator: ",")
        let response = try await admin(
            .post, "/api/security/groups/create", #"{"name":"\#(name)","members":[\#(list)]}"#)
        guard response.status == .created else {
            throw SluiceError(.internalError, "creating group \(name): \(response.status) \(response.bodyText)")
        }
    }
}
