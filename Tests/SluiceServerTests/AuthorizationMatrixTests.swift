import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import NIOCore
import SluiceCore
import Testing

@testable import SluiceServer

/// The authorization matrix of issue 5: every endpoint × every kind of principal → the exact status, with anonymous
/// access enabled and disabled. Each cell runs against a fresh server (so a delete in one cell cannot change
/// another), and any cell that answers differently — in particular one that allows more — fails the test.
@Suite("Authorization matrix")
struct AuthorizationMatrixTests {
    /// Who asks. The columns of the table, in this order.
    enum Asker: Int, CaseIterable, Sendable, CustomStringConvertible {
        case anonymous
        /// A user with no privilege at all.
        case noTask
        /// View & Download on all feeds.
        case reader
        /// View & Download and Publish Packages on feed A.
        case publisher
        /// A member of "Network Engineers", which has View & Download and Promote Packages on feed A only.
        case promoter
        /// Admin (Administer, all feeds).
        case administrator
        /// A feed key for feed B with every feed task.
        case keyForOtherFeed
        /// A feed key for feed A with every feed task.
        case keyForThisFeed
        /// A feed key for feed A that expired yesterday.
        case expiredKey
        /// A key text no key has.
        case wrongKey
        /// A feed key for feed A that was deleted.
        case deletedKey

        var description: String {
            [
                "anonymous", "noTask", "reader", "publisher", "promoter", "administrator", "keyForOtherFeed",
                "keyForThisFeed", "expiredKey", "wrongKey", "deletedKey",
            ][rawValue]
        }
    }

    static let feedA = "feed-a"
    static let feedB = "feed-b"
    static let password = "matrix-password-1"
    /// The package in feed A before each cell (osx-64).
    static let existingFile = "dummy-package-1.0-0.tar.bz2"
    /// A package each upload cell sends (osx-64 too).
    static let newFile = "dummy-package-2.0-0.tar.bz2"

    /// What one fresh server holds: its key texts and the id of a spare key (for deletion).
    struct World: Sendable {
        var server: TestServer
        var keyForOtherFeed: String
        var keyForThisFeed: String
        var expiredKey: String
        var deletedKey: String
        var spareKeyID: Int64

        func headers(for asker: Asker) -> HTTPFields {
            switch asker {
            case .anonymous: HTTPFields()
            case .noTask: basicAuth("nobody", AuthorizationMatrixTests.password)
            case .reader: basicAuth("reader", AuthorizationMatrixTests.password)
            case .publisher: basicAuth("publisher", AuthorizationMatrixTests.password)
            case .promoter: basicAuth("bob", AuthorizationMatrixTests.password)
            case .administrator: basicAuth()
            case .keyForOtherFeed: basicAuth("api", keyForOtherFeed)
            case .keyForThisFeed: basicAuth("api", keyForThisFeed)
            case .expiredKey: basicAuth("api", expiredKey)
            case .wrongKey: basicAuth("api", "NoSuchKey0123456789abcdefghij")
            case .deletedKey: basicAuth("api", deletedKey)
            }
        }
    }

    /// Builds the world of one cell: feeds A (with one package) and B, a spare connector, the users, the group, the
    /// privileges and the keys.
    static func makeWorld(
        anonymousView: Bool, client: some TestClientProtocol, server: TestServer
    ) async throws
        -> World
    {
        try await client.createFeed(feedA)
        try await client.createFeed(feedB)
        let upload = try await client.upload(feed: feedA, group: "conda-index", file: existingFile)
        guard upload.status == .created else { throw SluiceError(.internalError, "setup upload: \(upload.status)") }
        try await server.metadata.createConnector(Connector(name: "spare", url: "https://upstream.invalid/channel"))

        let hash = try await passwordHash()
        for name in ["nobody", "reader", "publisher", "bob"] {
            try await server.metadata.createUser(User(name: name, passwordHash: hash))
        }
        try await server.metadata.createGroup(UserGroup(name: "Network Engineers", members: ["bob"]))
        for privilege in [
            Privilege(principal: .user("reader"), task: .viewDownload),
            Privilege(principal: .user("publisher"), task: .viewDownload, feed: feedA),
            Privilege(principal: .user("publisher"), task: .publishPackages, feed: feedA),
            Privilege(principal: .group("Network Engineers"), task: .viewDownload, feed: feedA),
            Privilege(principal: .group("Network Engineers"), task: .promotePackages, feed: feedA),
        ] {
            try await server.metadata.addPrivilege(privilege)
        }
        let access = server.services.access
        let everyTask: [SecurityTask] = [.viewDownload, .publishPackages, .promotePackages, .deletePackages]
        func feedKey(_ name: String, _ feed: String, expires: Date? = nil) async throws -> (APIKey, String) {
            try await access.createAPIKey(
                APIKey(
                    kind: .feed, displayName: name, keyHash: "", feeds: [feed], tasks: everyTask, expiresAt: expires),
                customText: nil)
        }
        let other = try await feedKey("other", feedB)
        let this = try await feedKey("this", feedA)
        let expired = try await feedKey("expired", feedA, expires: Date().addingTimeInterval(-86_400))
        let deleted = try await feedKey("deleted", feedA)
        try await server.metadata.deleteAPIKey(id: deleted.0.id)
        let spare = try await access.createAPIKey(
            APIKey(kind: .system, displayName: "spare", keyHash: ""), customText: nil)
        await access.securityChanged()
        return World(
            server: server, keyForOtherFeed: other.1, keyForThisFeed: this.1, expiredKey: expired.1,
            deletedKey: deleted.1, spareKeyID: spare.0.id)
    }

    /// One bcrypt hash (cost 4) shared by every user of every cell.
    static func passwordHash() async throws -> String {
        try await HashCache.shared.hash(password)
    }

    actor HashCache {
        static let shared = HashCache()
        var hashes: [String: String] = [:]
        func hash(_ password: String) -> String {
            if let hash = hashes[password] { return hash }
            let hash = Bcrypt.hash(password, cost: 4)
            hashes[password] = hash
            return hash
        }
    }

    /// One endpoint: the request, and the expected status for each asker (anonymous twice: with anonymous view
    /// enabled and disabled).
    struct Row: Sendable {
        var name: String
        var method: HTTPRequest.Method
        var uri: @Sendable (World) -> String
        var body: @Sendable (World) throws -> ByteBuffer?
        var anonymous: (enabled: Int, disabled: Int)
        /// Statuses for ``Asker/noTask`` ... ``Asker/deletedKey``, in the order of ``Asker``.
        var others: [Int]
        /// The status for ``Asker/noTask`` while anonymous view is enabled, when it differs from `others` (signing
        /// in never reduces access: a user with no privilege may do what Anonymous may).
        var noTaskWithAnonymousView: Int? = nil

        func expected(_ asker: Asker, anonymousView: Bool) -> Int {
            switch asker {
            case .anonymous: anonymousView ? anonymous.enabled : anonymous.disabled
            case .noTask where anonymousView: noTaskWithAnonymousView ?? others[0]
            default: others[asker.rawValue - 1]
            }
        }
    }

    static func requestJSON(_ text: String) -> @Sendable (World) throws -> ByteBuffer? {
        { _ in ByteBuffer(string: text) }
    }
    static let noBody: @Sendable (World) throws -> ByteBuffer? = { _ in nil }
    static let packageBody: @Sendable (World) throws -> ByteBuffer? = { _ in
        try fixtureBytes("conda-index", newFile)
    }

    // `others` columns: noTask, reader, publisher, promoter, administrator, keyForOtherFeed, keyForThisFeed,
    // expiredKey, wrongKey, deletedKey.
    static let table: [Row] = [
        Row(
            name: "GET /health", method: .get, uri: { _ in "/health" }, body: noBody, anonymous: (200, 200),
            others: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401]),
        Row(
            name: "GET channel repodata", method: .get, uri: { _ in "/conda/\(feedA)/osx-64/repodata.json" },
            body: noBody, anonymous: (200, 401),
            others: [403, 200, 200, 200, 200, 403, 200, 401, 401, 401], noTaskWithAnonymousView: 200),
        Row(
            name: "GET channel package file", method: .get, uri: { _ in "/conda/\(feedA)/osx-64/\(existingFile)" },
            body: noBody, anonymous: (200, 401),
            others: [403, 200, 200, 200, 200, 403, 200, 401, 401, 401], noTaskWithAnonymousView: 200),
        Row(
            name: "PUT conda upload", method: .put, uri: { _ in "/conda/\(feedA)/osx-64/\(newFile)" },
            body: packageBody, anonymous: (401, 401),
            others: [403, 403, 201, 403, 201, 403, 201, 401, 401, 401]),
        Row(
            name: "PUT API upload", method: .put, uri: { _ in "/api/packages/\(feedA)/upload/\(newFile)" },
            body: packageBody, anonymous: (401, 401),
            others: [403, 403, 201, 403, 201, 403, 201, 401, 401, 401]),
        Row(
            name: "POST package delete", method: .post, uri: { _ in "/api/packages/\(feedA)/delete" },
            body: requestJSON(#"{"filename":"\#(existingFile)"}"#), anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 200, 401, 401, 401]),
        Row(
            name: "GET package versions", method: .get, uri: { _ in "/api/packages/\(feedA)/versions" },
            body: noBody, anonymous: (200, 401),
            others: [403, 200, 200, 200, 200, 403, 200, 401, 401, 401], noTaskWithAnonymousView: 200),
        Row(
            name: "POST promotion A→B", method: .post, uri: { _ in "/api/promotions/promote" },
            body: requestJSON(#"{"fromFeed":"\#(feedA)","toFeed":"\#(feedB)","name":"dummy-package","version":"1.0"}"#),
            anonymous: (401, 401),
            others: [403, 403, 403, 200, 200, 403, 200, 401, 401, 401]),
        Row(
            name: "GET promotion history", method: .get, uri: { _ in "/api/promotions/list" }, body: noBody,
            anonymous: (200, 401),
            others: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401]),
        Row(
            name: "POST feed create", method: .post, uri: { _ in "/api/management/feeds/create" },
            body: requestJSON(#"{"name":"feed-new","feedType":"conda"}"#), anonymous: (401, 401),
            others: [403, 403, 403, 403, 201, 403, 403, 401, 401, 401]),
        Row(
            name: "POST feed update", method: .post, uri: { _ in "/api/management/feeds/update/\(feedA)" },
            body: requestJSON(#"{"description":"changed"}"#), anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "DELETE feed", method: .delete, uri: { _ in "/api/management/feeds/delete/\(feedB)" },
            body: noBody, anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "GET feed list", method: .get, uri: { _ in "/api/management/feeds/list" }, body: noBody,
            anonymous: (200, 401),
            others: [200, 200, 200, 200, 200, 200, 200, 401, 401, 401]),
        Row(
            name: "POST connector create", method: .post, uri: { _ in "/api/management/connectors/create" },
            body: requestJSON(#"{"name":"new-connector","url":"https://upstream.invalid/other"}"#),
            anonymous: (401, 401),
            others: [403, 403, 403, 403, 201, 403, 403, 401, 401, 401]),
        Row(
            name: "GET connector list", method: .get, uri: { _ in "/api/management/connectors/list" }, body: noBody,
            anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "DELETE connector", method: .delete, uri: { _ in "/api/management/connectors/delete/spare" },
            body: noBody, anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
    ]

    /// The security management rows (the management controllers of the contract).
    static let managementTable: [Row] = [
        Row(
            name: "GET users list", method: .get, uri: { _ in "/api/security/users/list" }, body: noBody,
            anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "POST user create", method: .post, uri: { _ in "/api/security/users/create" },
            body: requestJSON(#"{"name":"newcomer","password":"newcomer-password"}"#), anonymous: (401, 401),
            others: [403, 403, 403, 403, 201, 403, 403, 401, 401, 401]),
        Row(
            name: "POST privilege add", method: .post, uri: { _ in "/api/security/privileges/add" },
            body: requestJSON(#"{"principal":{"kind":"user","name":"nobody"},"task":"publish","feed":"feed-a"}"#),
            anonymous: (401, 401),
            others: [403, 403, 403, 403, 201, 403, 403, 401, 401, 401]),
        Row(
            name: "POST feed API key create", method: .post, uri: { _ in "/api/api-keys/create" },
            body: requestJSON(#"{"type":"feed","displayName":"made","feeds":["feed-a"],"permissions":["view"]}"#),
            anonymous: (401, 401),
            others: [403, 403, 403, 403, 201, 403, 403, 401, 401, 401]),
        // Signed-in users list their own keys; only administrators see everyone's.
        Row(
            name: "GET API key list", method: .get, uri: { _ in "/api/api-keys/list" }, body: noBody,
            anonymous: (401, 401),
            others: [200, 200, 200, 200, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "DELETE another's API key", method: .delete, uri: { "/api/api-keys/delete/\($0.spareKeyID)" },
            body: noBody, anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
        Row(
            name: "GET events", method: .get, uri: { _ in "/api/events" }, body: noBody, anonymous: (401, 401),
            others: [403, 403, 403, 403, 200, 403, 403, 401, 401, 401]),
    ]

    /// Runs one cell on a fresh server and returns the status.
    static func run(_ row: Row, as asker: Asker, anonymousView: Bool) async throws -> Int {
        let server = try await TestServer.make(anonymousView: anonymousView)
        return try await server.test { client in
            let world = try await makeWorld(anonymousView: anonymousView, client: client, server: server)
            var headers = world.headers(for: asker)
            let body = try row.body(world)
            if body != nil, row.method == .post {
                headers[.contentType] = "application/json"
            }
            return try await client.execute(uri: row.uri(world), method: row.method, headers: headers, body: body) {
                Int($0.status.code)
            }
        }
    }

    static func check(_ rows: [Row], anonymousView: Bool) async throws {
        let cells = rows.flatMap { row in Asker.allCases.map { (row, $0) } }
        // A few cells at a time: each builds a whole server.
        let mismatches = try await withThrowingTaskGroup(of: String?.self) { group in
            var found: [String] = []
            var next = cells.startIndex
            func addCell() {
                let (row, asker) = cells[next]
                next += 1
                group.addTask {
                    let expected = row.expected(asker, anonymousView: anonymousView)
                    let status = try await run(row, as: asker, anonymousView: anonymousView)
                    return status == expected ? nil : "\(row.name) as \(asker): \(status), expected \(expected)"
                }
            }
            while next < cells.endIndex, next < 4 { addCell() }
            for try await mismatch in group {
                if let mismatch { found.append(mismatch) }
                if next < cells.endIndex { addCell() }
            }
            return found.sorted()
        }
        #expect(
            mismatches.isEmpty, "anonymous view \(anonymousView ? "on" : "off"):\n\(mismatches.joined(separator: "\n"))"
        )
    }

    /// The seed's step 2: "Network Engineers" may promote from feed A; a user outside the group may not (403, naming
    /// the task and feed); the history says who promoted.
    @Test func networkEngineersPromoteAndTheHistorySaysWho() async throws {
        let server = try await TestServer.make(anonymousView: false)
        try await server.test { client in
            _ = try await Self.makeWorld(anonymousView: false, client: client, server: server)
            let body =
                #"{"fromFeed":"\#(Self.feedA)","toFeed":"\#(Self.feedB)","name":"dummy-package","version":"1.0"}"#
            var outsider = basicAuth("reader", Self.password)
            outsider[.contentType] = "application/json"
            let refused = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: outsider, body: ByteBuffer(string: body))
            #expect(refused.status == .forbidden)
            #expect(
                try json(refused)["message"]
                    == .string("'reader' lacks the 'Promote Packages' task on feed '\(Self.feedA)'."))
            var member = basicAuth("bob", Self.password)
            member[.contentType] = "application/json"
            let promoted = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: member, body: ByteBuffer(string: body))
            #expect(promoted.status == .ok)
            #expect(try json(promoted)["promoted"] == .int(1))
            let history = try await client.execute(uri: "/api/promotions/list", method: .get, headers: basicAuth())
            let entry = try #require(try json(history).arrayValue?.first?["promotions"]?.arrayValue?.first)
            #expect(entry["user"] == .string("bob"))
            #expect(entry["fromFeed"] == .string(Self.feedA))
            // bob views feed A only, so the A → B promotion is not in his history; Admin sees it.
            let own = try await client.execute(
                uri: "/api/promotions/list", method: .get, headers: basicAuth("bob", Self.password))
            #expect(own.status == .ok)
            #expect(try json(own).arrayValue == [])
        }
    }

    @Test(arguments: [true, false])
    func matrix(anonymousView: Bool) async throws {
        try await Self.check(Self.table + Self.managementTable, anonymousView: anonymousView)
    }
}
