import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import SluiceStorage
import SluiceTesting
import Testing

@testable import SluiceServer

/// A password that must never appear in a response.
private let secret = "Upstream-S3cret-Pa55word!"

/// Sends a JSON request as Admin.
private func send(
    _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil
) async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: adminJSONHeaders(), body: body.map(jsonBody))
}

/// The response body as text, to check that no secret is in it.
private func text(_ response: TestResponse) -> String {
    String(buffer: response.body)
}

@Suite("Connector management API")
struct APIConnectorTests {
    static let createBody = """
        {"name":"anaconda-main","url":"https://repo.anaconda.com/pkgs/main","feedType":"conda",
         "description":"Anaconda main","timeout":45,"metadataCacheEnabled":false,"metadataCacheMinutes":120,
         "username":"mirror","password":"\(secret)","filters":["numpy*","  scipy ","!evil-*"]}
        """

    @Test func createReturns201WithTheConnectorAndNeverThePassword() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let response = try await send(client, .post, "/api/management/connectors/create", Self.createBody)
            #expect(response.status == .created)
            #expect(response.headers[.contentType] == "application/json; charset=utf-8")
            #expect(!text(response).contains(secret))
            let connector = try json(response)
            #expect(connector["name"] == .string("anaconda-main"))
            #expect(connector["url"] == .string("https://repo.anaconda.com/pkgs/main"))
            #expect(connector["feedType"] == .string("conda"))
            #expect(connector["description"] == .string("Anaconda main"))
            #expect(connector["timeout"] == .int(45))
            #expect(connector["metadataCacheEnabled"] == .bool(false))
            #expect(connector["metadataCacheMinutes"] == .int(120))
            #expect(connector["username"] == .string("mirror"))
            #expect(connector["hasPassword"] == .bool(true))
            #expect(connector["password"] == nil)
            #expect(connector["filters"] == .array([.string("numpy*"), .string("scipy"), .string("!evil-*")]))
            #expect(connector["feeds"] == .array([]))
            let createdAt = try #require(connector["createdAt"]?.stringValue)
            #expect(createdAt.hasSuffix("Z"))

            let stored = try #require(await server.services.metadata.connector(named: "anaconda-main"))
            #expect(stored.password == secret)
            #expect(stored.username == "mirror")
            #expect(stored.timeout == 45)
            #expect(stored.filters == ["numpy*", "scipy", "!evil-*"])

            for uri in ["/api/management/connectors/list", "/api/management/connectors/get/anaconda-main"] {
                let read = try await send(client, .get, uri)
                #expect(read.status == .ok)
                #expect(!text(read).contains(secret), "\(uri)")
                #expect(text(read).contains(#""hasPassword":true"#), "\(uri)")
            }
            let updated = try await send(
                client, .post, "/api/management/connectors/update/anaconda-main", #"{"description":"changed"}"#)
            #expect(updated.status == .ok)
            #expect(!text(updated).contains(secret))
        }
    }

    @Test func createAppliesDefaultsAndAcceptsForms() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let minimal = try await send(
                client, .post, "/api/management/connectors/create",
                #"{"name":"conda-forge","url":"https://conda.anaconda.org/conda-forge/"}"#)
            #expect(minimal.status == .created)
            let connector = try json(minimal)
            #expect(connector["url"] == .string("https://conda.anaconda.org/conda-forge"))
            #expect(connector["feedType"] == .string("conda"))
            #expect(connector["timeout"] == .int(Int64(Connector.defaultTimeout)))
            #expect(connector["metadataCacheEnabled"] == .bool(true))
            #expect(connector["metadataCacheMinutes"] == .int(Int64(Connector.defaultMetadataCacheMinutes)))
            #expect(connector["username"] == .null)
            #expect(connector["hasPassword"] == .bool(false))
            #expect(connector["filters"] == .array([]))

            var headers = basicAuth()
            headers[.contentType] = "application/x-www-form-urlencoded"
            let form = try await client.execute(
                uri: "/api/management/connectors/create", method: .post, headers: headers,
                body: ByteBuffer(
                    string: "name=other-sluice&url=http%3A%2F%2F127.0.0.1%3A8080%2Fconda%2Finternal&timeout=10"
                        + "&metadataCacheEnabled=false&metadataCacheMinutes=0&filters=numpy%2C%21evil-*"))
            #expect(form.status == .created)
            let formConnector = try json(form)
            #expect(formConnector["url"] == .string("http://127.0.0.1:8080/conda/internal"))
            #expect(formConnector["timeout"] == .int(10))
            #expect(formConnector["metadataCacheEnabled"] == .bool(false))
            #expect(formConnector["metadataCacheMinutes"] == .int(0))
            #expect(formConnector["filters"] == .array([.string("numpy"), .string("!evil-*")]))
        }
    }

    /// Bodies that must be refused with 400, and a piece of the message that says why.
    static let invalidBodies: [(body: String, message: String)] = [
        (#"{"url":"https://repo.anaconda.com/pkgs/main"}"#, "'name' is required"),
        (#"{"name":"x"}"#, "'url' is required"),
        (#"{"name":"Upper","url":"https://repo.anaconda.com/pkgs/main"}"#, "Connector name"),
        (#"{"name":"linux-64","url":"https://repo.anaconda.com/pkgs/main"}"#, "subdir"),
        (#"{"name":"c","url":"ftp://repo.anaconda.com/pkgs/main"}"#, "http or https"),
        (#"{"name":"c","url":"repo.anaconda.com/pkgs/main"}"#, "http or https"),
        (#"{"name":"c","url":"https:///pkgs/main"}"#, "with a host"),
        (#"{"name":"c","url":"not a url"}"#, "http or https"),
        (#"{"name":"c","url":"https://bob:hunter2@repo.example.com/conda"}"#, "must not contain credentials"),
        (#"{"name":"c","url":"https://repo.example.com/conda?token=1"}"#, "query"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","feedType":"pypi"}"#, "feedType"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","timeout":0}"#, "'timeout' must be between 1"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","timeout":601}"#, "and 600 seconds"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","timeout":"soon"}"#, "whole number"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","timeout":2.5}"#, "whole number"),
        (
            #"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","metadataCacheMinutes":-1}"#,
            "metadataCacheMinutes"
        ),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","metadataCacheMinutes":10081}"#, "10080"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":["num py"]}"#, "num py"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":["!"]}"#, "is empty"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":[""]}"#, "is empty"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":["a/b"]}"#, "'/'"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":["a!b"]}"#, "'!'"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":[1]}"#, "list of strings"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","filters":{"a":1}}"#, "list of strings"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","password":"p"}"#, "needs a username"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","username":"a:b","password":"p"}"#, "':'"),
        (#"{"name":"c","url":"https://repo.anaconda.com/pkgs/main","password":5}"#, "'password' must be a string"),
        (#"["not an object"]"#, "JSON object"),
    ]

    @Test(arguments: invalidBodies)
    func invalidCreateIs400AndStoresNothing(body: String, message: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let response = try await send(client, .post, "/api/management/connectors/create", body)
            #expect(response.status == .badRequest)
            let error = try json(response)
            #expect(error["error"] == .string("invalidInput"))
            let text = try #require(error["message"]?.stringValue)
            #expect(text.contains(message), "\(text)")
            #expect(!text.contains("hunter2"))
        }
        #expect(try await server.services.metadata.connectors().isEmpty)
    }

    @Test func everyRouteRequiresAdmin() async throws {
        let server = try await TestServer.make()
        try await server.services.metadata.createConnector(
            Connector(name: "up", url: "https://repo.anaconda.com/pkgs/main"))
        let routes: [(HTTPRequest.Method, String, String?)] = [
            (.post, "/api/management/connectors/create", #"{"name":"x","url":"https://example.com/c"}"#),
            (.get, "/api/management/connectors/list", nil),
            (.get, "/api/management/connectors/get/up", nil),
            (.post, "/api/management/connectors/update/up", #"{"timeout":5}"#),
            (.delete, "/api/management/connectors/delete/up", nil),
            (.post, "/api/management/connectors/delete/up", nil),
            (.post, "/api/management/feeds/create-pair", #"{"upstream":"https://example.com/c"}"#),
        ]
        try await server.test { client in
            for (method, uri, body) in routes {
                var headers = HTTPFields()
                headers[.contentType] = "application/json"
                let anonymous = try await client.execute(
                    uri: uri, method: method, headers: headers, body: body.map(jsonBody))
                #expect(anonymous.status == .unauthorized, "\(method) \(uri)")
                #expect(anonymous.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                var wrong = basicAuth("Admin", "wrong-password")
                wrong[.contentType] = "application/json"
                let wrongPassword = try await client.execute(
                    uri: uri, method: method, headers: wrong, body: body.map(jsonBody))
                #expect(wrongPassword.status == .unauthorized, "\(method) \(uri)")
            }
        }
        let stored = try #require(await server.services.metadata.connector(named: "up"))
        #expect(stored.timeout == Connector.defaultTimeout)
        #expect(try await server.services.metadata.connectors().map(\.name) == ["up"])
        #expect(try await server.services.metadata.feeds().isEmpty)
    }

    @Test func duplicateNameIs409AndKeepsTheFirst() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let first = try await send(
                client, .post, "/api/management/connectors/create",
                #"{"name":"up","url":"https://repo.anaconda.com/pkgs/main"}"#)
            #expect(first.status == .created)
            let second = try await send(
                client, .post, "/api/management/connectors/create",
                #"{"name":"up","url":"https://conda.anaconda.org/conda-forge"}"#)
            #expect(second.status == .conflict)
            #expect(try json(second)["message"]?.stringValue?.contains("'up'") == true)
        }
        let stored = try #require(await server.services.metadata.connector(named: "up"))
        #expect(stored.url == "https://repo.anaconda.com/pkgs/main")
    }

    @Test func unknownConnectorIs404OnEveryRoute() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            for (method, uri) in [
                (HTTPRequest.Method.get, "/api/management/connectors/get/nope"),
                (.post, "/api/management/connectors/update/nope"),
                (.delete, "/api/management/connectors/delete/nope"),
                (.post, "/api/management/connectors/delete/nope"),
            ] {
                let response = try await send(client, method, uri, method == .post ? #"{"timeout":5}"# : nil)
                #expect(response.status == .notFound, "\(method) \(uri)")
                #expect(try json(response)["message"] == .string("There is no connector named 'nope'."))
            }
        }
    }

    @Test func listIsOrderedByNameWithTheFeedsUsingEach() async throws {
        let server = try await TestServer.make()
        for name in ["zeta", "alpha", "mid"] {
            try await server.services.metadata.createConnector(
                Connector(name: name, url: "https://example.com/\(name)"))
        }
        try await server.services.metadata.createFeed(Feed(name: "p2", kind: .proxy, connectors: ["zeta", "alpha"]))
        try await server.services.metadata.createFeed(Feed(name: "p1", kind: .proxy, connectors: ["alpha"]))
        try await server.test { client in
            let response = try await send(client, .get, "/api/management/connectors/list")
            #expect(response.status == .ok)
            let list = try #require(try json(response).arrayValue)
            #expect(list.map { $0["name"] } == [.string("alpha"), .string("mid"), .string("zeta")])
            #expect(
                list.map { $0["feeds"] } == [
                    .array([.string("p1"), .string("p2")]), .array([]), .array([.string("p2")]),
                ])
            let one = try json(try await send(client, .get, "/api/management/connectors/get/zeta"))
            #expect(one["url"] == .string("https://example.com/zeta"))
            #expect(one["feeds"] == .array([.string("p2")]))
        }
    }

    @Test func getIncludesTheProxyEngineStatus() async throws {
        let server = try await TestServer.make()
        try await server.services.metadata.createConnector(
            Connector(name: "up", url: "https://repo.anaconda.com/pkgs/main"))
        let repodata = try CachedFixture.manifest(subdir: "linux-64", filename: "repodata.json")
        try await server.services.metadata.saveUpstreamSnapshot(
            UpstreamSnapshotRow(
                connector: "up", subdir: "linux-64", sha256: repodata.sha256, etag: #""abc""#,
                upstreamFilename: "repodata.json", fetchedAt: Date(timeIntervalSince1970: 1_700_000_000),
                recordCount: 2))
        try await server.services.metadata.saveUpstreamSnapshot(
            .notFound(connector: "up", subdir: "win-64", fetchedAt: Date(timeIntervalSince1970: 1_700_000_100)))
        try await server.test { client in
            let response = try await send(client, .get, "/api/management/connectors/get/up")
            #expect(response.status == .ok)
            let status = try #require(try json(response)["status"])
            #expect(["healthy", "degraded", "unavailable", "unknown"].contains(status["health"]?.stringValue ?? ""))
            #expect(status["circuit"] == .string("closed"))
            #expect(status["subdirs"] == .array([.string("linux-64")]))
            #expect(status["lastRefresh"] == .string("2023-11-14T22:15:00.000Z"))
            #expect(status["lastError"] == .null)
            for counter in ["metadataHits", "metadataMisses", "packageHits", "packageMisses"] {
                #expect(status[counter] == .int(0), "\(counter)")
            }
            // The list stays light: no status there.
            let list = try #require(
                try json(try await send(client, .get, "/api/management/connectors/list")).arrayValue)
            #expect(list.first?["status"] == nil)
        }
    }

    @Test func updateIsPartialAndHandlesThePassword() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let created = try await send(client, .post, "/api/management/connectors/create", Self.createBody)
            #expect(created.status == .created)
            let uri = "/api/management/connectors/update/anaconda-main"

            // Omitted password: kept.
            let timeout = try await send(client, .post, uri, #"{"timeout":600,"filters":[]}"#)
            #expect(timeout.status == .ok)
            let afterTimeout = try json(timeout)
            #expect(afterTimeout["timeout"] == .int(600))
            #expect(afterTimeout["filters"] == .array([]))
            #expect(afterTimeout["description"] == .string("Anaconda main"))
            #expect(afterTimeout["hasPassword"] == .bool(true))
            var stored = try #require(await server.services.metadata.connector(named: "anaconda-main"))
            #expect(stored.password == secret)
            #expect(stored.timeout == 600)
            #expect(stored.metadataCacheMinutes == 120)

            // An empty body changes nothing.
            let empty = try await send(client, .post, uri, "")
            #expect(empty.status == .ok)
            #expect(try #require(await server.services.metadata.connector(named: "anaconda-main")) == stored)

            // A new password replaces it.
            let replaced = try await send(client, .post, uri, #"{"password":"another-one"}"#)
            #expect(replaced.status == .ok)
            #expect(!text(replaced).contains("another-one"))
            stored = try #require(await server.services.metadata.connector(named: "anaconda-main"))
            #expect(stored.password == "another-one")

            // null clears it.
            let cleared = try await send(client, .post, uri, #"{"password":null}"#)
            #expect(try json(cleared)["hasPassword"] == .bool(false))
            #expect(try await server.services.metadata.connector(named: "anaconda-main")?.password == nil)
            #expect(try await server.services.metadata.connector(named: "anaconda-main")?.username == "mirror")

            // "" clears it too, and clearing the username with it leaves no credentials.
            _ = try await send(client, .post, uri, #"{"password":"third"}"#)
            let both = try await send(client, .post, uri, #"{"password":"","username":""}"#)
            #expect(both.status == .ok)
            #expect(try json(both)["username"] == .null)
            stored = try #require(await server.services.metadata.connector(named: "anaconda-main"))
            #expect(stored.password == nil)
            #expect(stored.username == nil)

            // The URL can change (trailing slash dropped); the name cannot.
            let moved = try await send(client, .post, uri, #"{"url":"https://mirror.example.com/pkgs/main/"}"#)
            #expect(try json(moved)["url"] == .string("https://mirror.example.com/pkgs/main"))
            let renamed = try await send(client, .post, uri, #"{"name":"other"}"#)
            #expect(renamed.status == .badRequest)
            #expect(try json(renamed)["message"]?.stringValue?.contains("renamed") == true)
        }
    }

    @Test func invalidUpdateIs400AndChangesNothing() async throws {
        let server = try await TestServer.make()
        let original = Connector(
            name: "up", url: "https://repo.anaconda.com/pkgs/main", username: "mirror", password: secret)
        try await server.services.metadata.createConnector(original)
        let bodies = [
            #"{"url":"https://mirror:pw@repo.anaconda.com/pkgs/main"}"#,
            #"{"url":"file:///srv/channel"}"#,
            #"{"timeout":0,"description":"not applied"}"#,
            #"{"metadataCacheMinutes":20000}"#,
            #"{"filters":["ok","bad filter"]}"#,
            #"{"username":null}"#,
            #"{"feedType":"npm"}"#,
        ]
        try await server.test { client in
            for body in bodies {
                let response = try await send(client, .post, "/api/management/connectors/update/up", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(!text(response).contains(secret))
            }
        }
        #expect(try await server.services.metadata.connector(named: "up") == original)
    }

    @Test func deleteIs409WhileAFeedUsesItThenRemovesItsCache() async throws {
        let server = try await TestServer.make()
        try await server.services.metadata.createConnector(
            Connector(name: "up", url: "https://repo.anaconda.com/pkgs/main"))
        try await server.services.metadata.createFeed(Feed(name: "unapproved-conda", kind: .proxy, connectors: ["up"]))
        try await server.services.metadata.createFeed(Feed(name: "also-proxy", kind: .proxy, connectors: ["up"]))
        try await server.services.metadata.createFeed(Feed(name: "hosted"))

        // Two cached upstream files with their real bytes as blobs; one of them is also a hosted package.
        let cached = try await CachedFixture.store(
            in: server, connector: "up",
            files: [
                ("linux-64", "zlib-1.2.11-h7b6447c_3.conda"), ("osx-64", "zlib-1.2.11-h1de35cc_3.conda"),
            ])
        let shared = cached[1]
        try await server.test { client in
            // The osx-64 file is also uploaded to the hosted feed, so its blob must survive the delete.
            let uploaded = try await client.execute(
                uri: "/api/packages/hosted/upload/\(shared.filename)", method: .put, headers: basicAuth(),
                body: ByteBuffer(bytes: try Data(contentsOf: CachedFixture.url(shared))))
            #expect(uploaded.status == .created)

            for method in [HTTPRequest.Method.delete, .post] {
                let inUse = try await send(client, method, "/api/management/connectors/delete/up")
                #expect(inUse.status == .conflict)
                let message = try #require(try json(inUse)["message"]?.stringValue)
                #expect(message.contains("'also-proxy'") && message.contains("'unapproved-conda'"), "\(message)")
            }
            #expect(try await server.services.metadata.connector(named: "up") != nil)

            for feed in ["unapproved-conda", "also-proxy"] {
                let detached = try await send(
                    client, .post, "/api/management/feeds/update/\(feed)", #"{"connectors":[]}"#)
                #expect(detached.status == .ok)
            }
            let deleted = try await send(client, .delete, "/api/management/connectors/delete/up")
            #expect(deleted.status == .ok)
            #expect(try json(deleted) == .object(["deleted": .string("up"), "cachedFilesRemoved": .int(2)]))

            let again = try await send(client, .post, "/api/management/connectors/delete/up")
            #expect(again.status == .notFound)
        }
        #expect(try await server.services.metadata.connector(named: "up") == nil)
        #expect(try await server.services.metadata.cachedFiles(connector: "up").isEmpty)
        #expect(try await server.blobs.contains(sha256: cached[0].sha256) == false)
        #expect(try await server.blobs.contains(sha256: shared.sha256) == true)
    }

    @Test(arguments: [
        ("https://repo.anaconda.com/pkgs/main", "pkgs-main"),
        ("https://repo.anaconda.com/pkgs/main/", "pkgs-main"),
        ("https://conda.anaconda.org/conda-forge", "conda-forge"),
        ("https://conda.anaconda.org/Bioconda", "bioconda"),
        ("http://127.0.0.1:8080/conda/internal-conda", "conda-internal-conda"),
        ("https://channels.example.com", "channels.example.com"),
        ("https://example.com/a/b/c~d", "b-c-d"),
    ])
    func connectorNameIsDerivedFromTheUpstream(url: String, name: String) throws {
        #expect(try ConnectorRequest.derivedName(fromUpstream: url) == name)
    }

    @Test func aNameThatCannotBeDerivedAsksForOne() throws {
        #expect(throws: SluiceError.self) {
            try ConnectorRequest.derivedName(fromUpstream: "https://example.com/linux-64")
        }
        #expect(throws: SluiceError.self) { try ConnectorRequest.derivedName(fromUpstream: "not a url") }
    }
}

/// Real fixture files recorded as cached upstream files: their bytes are put in the blob store and their rows in the
/// metadata store, with sha256 and size taken from the fixture manifest.
enum CachedFixture {
    /// The channel fixture folder the files come from.
    static let channel = "channels/conda-format-repo"

    static func url(_ file: CachedUpstreamFile) -> URL {
        Fixtures.root.appendingPathComponent("\(channel)/\(file.subdir)/\(file.filename)")
    }

    /// The manifest's size and sha256 of `channels/conda-format-repo/<subdir>/<filename>`.
    static func manifest(subdir: String, filename: String) throws -> (sha256: String, size: Int64) {
        let text = try String(contentsOf: Fixtures.root.appendingPathComponent("MANIFEST.tsv"), encoding: .utf8)
        for line in text.split(separator: "\n") {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            if columns.count > 2, columns[0] == "\(channel)/\(subdir)/\(filename)", let size = Int64(columns[1]) {
                return (String(columns[2]), size)
            }
        }
        throw SluiceError.notFound("\(channel)/\(subdir)/\(filename) is not in MANIFEST.tsv")
    }

    /// Records each file as cached by `connector`, with its blob; returns the rows in the order given.
    static func store(
        in server: TestServer, connector: String, files: [(subdir: String, filename: String)],
        cachedAt: Date = Date(timeIntervalSince1970: 1_700_000_000)
    ) async throws -> [CachedUpstreamFile] {
        var rows: [CachedUpstreamFile] = []
        for (subdir, filename) in files {
            let entry = try manifest(subdir: subdir, filename: filename)
            let row = CachedUpstreamFile(
                connector: connector, subdir: subdir, filename: filename, sha256: entry.sha256, size: entry.size,
                cachedAt: cachedAt)
            try await server.blobs.put(sha256: entry.sha256, from: url(row))
            try await server.services.metadata.recordCachedFile(row)
            rows.append(row)
        }
        return rows
    }
}

@Suite("Connector and proxy feed API over SQLite")
struct APIConnectorSQLiteTests {
    @Test func theWholeFlowPersistsInSQLite() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-connector-sqlite-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await store.createUser(User(name: "Admin", passwordHash: Bcrypt.hash(TestServer.adminPassword, cost: 4)))
        let services = try SluiceServices(
            configuration: SluiceConfiguration(), metadata: store, blobs: MemoryBlobStore(),
            temporaryDirectory: folder.appendingPathComponent("tmp", isDirectory: true),
            logger: Logger(label: "sluice.test"))
        let app = Application(router: buildRouter(services: services, logger: Logger(label: "sluice.test")))
        try await app.test(.router) { client in
            let created = try await send(
                client, .post, "/api/management/connectors/create", APIConnectorTests.createBody)
            #expect(created.status == .created)
            let updated = try await send(
                client, .post, "/api/management/connectors/update/anaconda-main", #"{"metadataCacheMinutes":5}"#)
            #expect(updated.status == .ok)
            #expect(try json(updated)["hasPassword"] == .bool(true))

            let feed = try await send(
                client, .post, "/api/management/feeds/create", #"{"name":"proxy","connectors":["anaconda-main"]}"#)
            #expect(try json(feed)["kind"] == .string("proxy"))
            let inUse = try await send(client, .delete, "/api/management/connectors/delete/anaconda-main")
            #expect(inUse.status == .conflict)

            try await client.createFeed("approved-conda")
            let pair = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://conda.anaconda.org/conda-forge"}"#)
            #expect(pair.status == .conflict)
        }
        let stored = try #require(await store.connector(named: "anaconda-main"))
        #expect(stored.password == secret)
        #expect(stored.metadataCacheMinutes == 5)
        #expect(stored.filters == ["numpy*", "scipy", "!evil-*"])
        #expect(try await store.feed(named: "proxy")?.kind == .proxy)
        #expect(try await store.feed(named: "proxy")?.connectors == ["anaconda-main"])
        // The failed pair left nothing behind.
        #expect(try await store.connector(named: "conda-forge") == nil)
        #expect(try await store.feed(named: "unapproved-conda") == nil)
        #expect(try await store.feeds().map(\.name) == ["approved-conda", "proxy"])
        try await store.shutdown()
    }
}
