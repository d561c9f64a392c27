import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// Sends a JSON request as Admin.
private func send(
    _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, _ body: String? = nil
) async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: adminJSONHeaders(), body: body.map(jsonBody))
}

@Suite("Proxy feeds: feeds with connectors, create-pair, cached files")
struct APIProxyFeedTests {
    /// A server with connectors `main` and `forge`.
    static func serverWithConnectors() async throws -> TestServer {
        let server = try await TestServer.make()
        try await server.services.metadata.createConnector(
            Connector(name: "main", url: "https://repo.anaconda.com/pkgs/main"))
        try await server.services.metadata.createConnector(
            Connector(name: "forge", url: "https://conda.anaconda.org/conda-forge"))
        return server
    }

    // MARK: Feeds with connectors

    @Test func feedWithConnectorsIsAProxyFeed() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.test { client in
            let created = try await send(
                client, .post, "/api/management/feeds/create",
                #"{"name":"unapproved-conda","feedType":"conda","connectors":["forge","main"]}"#)
            #expect(created.status == .created)
            let feed = try json(created)
            #expect(feed["kind"] == .string("proxy"))
            #expect(feed["connectors"] == .array([.string("forge"), .string("main")]))

            let hosted = try await send(client, .post, "/api/management/feeds/create", #"{"name":"local"}"#)
            #expect(try json(hosted)["kind"] == .string("hosted"))
            #expect(try json(hosted)["connectors"] == .array([]))

            let list = try #require(try json(try await send(client, .get, "/api/management/feeds/list")).arrayValue)
            #expect(list.map { $0["kind"] } == [.string("hosted"), .string("proxy")])
            let get = try json(try await send(client, .get, "/api/management/feeds/get/unapproved-conda"))
            #expect(get["connectors"] == .array([.string("forge"), .string("main")]))
        }
        let stored = try #require(await server.services.metadata.feed(named: "unapproved-conda"))
        #expect(stored.kind == .proxy)
        #expect(stored.connectors == ["forge", "main"])
        #expect(try await server.services.metadata.feed(named: "local")?.kind == .hosted)
    }

    @Test func formBodiesNameConnectorsSeparatedByCommas() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.test { client in
            var headers = basicAuth()
            headers[.contentType] = "application/x-www-form-urlencoded"
            let response = try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: headers,
                body: ByteBuffer(string: "name=proxy&connectors=main%2Cforge"))
            #expect(response.status == .created)
            #expect(try json(response)["connectors"] == .array([.string("main"), .string("forge")]))
        }
    }

    @Test func unknownConnectorIs404NamingItAndCreatesNothing() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.test { client in
            let response = try await send(
                client, .post, "/api/management/feeds/create", #"{"name":"proxy","connectors":["main","ghost"]}"#)
            #expect(response.status == .notFound)
            let message = try #require(try json(response)["message"]?.stringValue)
            #expect(message.contains("'ghost'"), "\(message)")

            try await client.createFeed("local")
            let update = try await send(
                client, .post, "/api/management/feeds/update/local", #"{"connectors":["ghost"]}"#)
            #expect(update.status == .notFound)
            #expect(try json(update)["message"]?.stringValue?.contains("'ghost'") == true)
        }
        #expect(try await server.services.metadata.feed(named: "proxy") == nil)
        #expect(try await server.services.metadata.feed(named: "local")?.connectors == [])
    }

    @Test func invalidConnectorListsAre400() async throws {
        let server = try await Self.serverWithConnectors()
        let bodies = [
            #"{"name":"p","connectors":["main","main"]}"#,
            #"{"name":"p","connectors":["main",""]}"#,
            #"{"name":"p","connectors":[3]}"#,
            #"{"name":"p","connectors":true}"#,
            #"{"name":"p","kind":"proxy"}"#,
            #"{"name":"p","kind":"hosted","connectors":["main"]}"#,
            #"{"name":"p","kind":"mirror"}"#,
        ]
        try await server.test { client in
            for body in bodies {
                let response = try await send(client, .post, "/api/management/feeds/create", body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(try json(response)["error"] == .string("invalidInput"))
            }
        }
        #expect(try await server.services.metadata.feeds().isEmpty)
    }

    @Test func updateReplacesTheConnectorsAndTheKindFollows() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.test { client in
            try await client.createFeed("feed")
            let uri = "/api/management/feeds/update/feed"

            let proxy = try await send(client, .post, uri, #"{"connectors":["main"]}"#)
            #expect(proxy.status == .ok)
            #expect(try json(proxy)["kind"] == .string("proxy"))
            #expect(try await server.services.metadata.feed(named: "feed")?.kind == .proxy)

            let reordered = try await send(client, .post, uri, #"{"connectors":["forge","main"],"kind":"proxy"}"#)
            #expect(try json(reordered)["connectors"] == .array([.string("forge"), .string("main")]))

            // Other fields leave the connectors alone.
            let described = try await send(client, .post, uri, #"{"description":"d"}"#)
            #expect(try json(described)["connectors"] == .array([.string("forge"), .string("main")]))

            let contradicting = try await send(client, .post, uri, #"{"kind":"hosted"}"#)
            #expect(contradicting.status == .badRequest)
            let twice = try await send(client, .post, uri, #"{"connectors":["main","main"]}"#)
            #expect(twice.status == .badRequest)
            #expect(try await server.services.metadata.feed(named: "feed")?.connectors == ["forge", "main"])

            let hosted = try await send(client, .post, uri, #"{"connectors":null}"#)
            #expect(hosted.status == .ok)
            #expect(try json(hosted)["kind"] == .string("hosted"))
            #expect(try json(hosted)["connectors"] == .array([]))
        }
        let stored = try #require(await server.services.metadata.feed(named: "feed"))
        #expect(stored.kind == .hosted)
        #expect(stored.connectors.isEmpty)
        #expect(stored.description == "d")
    }

    // MARK: create-pair

    @Test func createPairMakesConnectorProxyFeedAndHostedFeed() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let response = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://repo.anaconda.com/pkgs/main/","filters":["!evil-*"],"#
                    + #""username":"mirror","password":"pair-secret-123"}"#)
            #expect(response.status == .created)
            #expect(!String(buffer: response.body).contains("pair-secret-123"))
            let body = try json(response)
            let connector = try #require(body["connector"])
            #expect(connector["name"] == .string("pkgs-main"))
            #expect(connector["url"] == .string("https://repo.anaconda.com/pkgs/main"))
            #expect(connector["filters"] == .array([.string("!evil-*")]))
            #expect(connector["hasPassword"] == .bool(true))
            #expect(connector["feeds"] == .array([.string("unapproved-conda")]))
            let unapproved = try #require(body["unapprovedFeed"])
            #expect(unapproved["name"] == .string("unapproved-conda"))
            #expect(unapproved["kind"] == .string("proxy"))
            #expect(unapproved["connectors"] == .array([.string("pkgs-main")]))
            let approved = try #require(body["approvedFeed"])
            #expect(approved["name"] == .string("approved-conda"))
            #expect(approved["kind"] == .string("hosted"))
            #expect(approved["connectors"] == .array([]))

            // The pair is visible through the ordinary routes.
            let get = try json(try await send(client, .get, "/api/management/connectors/get/pkgs-main"))
            #expect(get["feeds"] == .array([.string("unapproved-conda")]))
            let noarch = try await client.execute(uri: "/conda/approved-conda/noarch/repodata.json", method: .get)
            #expect(noarch.status == .ok)
        }
        let stored = try #require(await server.services.metadata.connector(named: "pkgs-main"))
        #expect(stored.password == "pair-secret-123")
        #expect(stored.username == "mirror")
        #expect(try await server.services.metadata.feed(named: "unapproved-conda")?.connectors == ["pkgs-main"])
        #expect(try await server.services.metadata.feed(named: "unapproved-conda")?.kind == .proxy)
        #expect(try await server.services.metadata.feed(named: "approved-conda")?.kind == .hosted)
    }

    @Test func createPairNamesCanBeChosen() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let forge = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://conda.anaconda.org/conda-forge","unapprovedFeed":"forge-incoming","#
                    + #""approvedFeed":"forge-approved"}"#)
            #expect(forge.status == .created)
            #expect(try json(forge)["connector"]?["name"] == .string("conda-forge"))
            let named = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"http://127.0.0.1:9/conda/internal","connector":"other-sluice","timeout":5}"#)
            #expect(named.status == .created)
            #expect(try json(named)["connector"]?["timeout"] == .int(5))
        }
        #expect(try await server.services.metadata.connectors().map(\.name) == ["conda-forge", "other-sluice"])
        #expect(
            try await server.services.metadata.feeds().map(\.name) == [
                "approved-conda", "forge-approved", "forge-incoming", "unapproved-conda",
            ])
        #expect(try await server.services.metadata.feed(named: "unapproved-conda")?.connectors == ["other-sluice"])
    }

    @Test func createPairRollsBackWhenTheApprovedNameIsTaken() async throws {
        let server = try await TestServer.make()
        try await server.services.metadata.createFeed(Feed(name: "approved-conda", description: "already here"))
        try await server.test { client in
            let response = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://repo.anaconda.com/pkgs/main"}"#)
            #expect(response.status == .conflict)
            let message = try #require(try json(response)["message"]?.stringValue)
            #expect(message.contains("'approved-conda'") && message.contains("Nothing was created"), "\(message)")
        }
        #expect(try await server.services.metadata.connectors().isEmpty)
        #expect(try await server.services.metadata.feed(named: "unapproved-conda") == nil)
        #expect(try await server.services.metadata.feed(named: "approved-conda")?.description == "already here")
    }

    @Test func createPairRollsBackWhenTheUnapprovedNameIsTaken() async throws {
        let server = try await TestServer.make()
        try await server.services.metadata.createFeed(Feed(name: "unapproved-conda"))
        try await server.test { client in
            let response = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://repo.anaconda.com/pkgs/main"}"#)
            #expect(response.status == .conflict)
        }
        #expect(try await server.services.metadata.connectors().isEmpty)
        #expect(try await server.services.metadata.feeds().map(\.name) == ["unapproved-conda"])
        #expect(try await server.services.metadata.feed(named: "unapproved-conda")?.connectors == [])
    }

    @Test func createPairKeepsAnExistingConnectorOfTheSameName() async throws {
        let server = try await TestServer.make()
        let existing = Connector(name: "pkgs-main", url: "https://mirror.example.com/pkgs/main")
        try await server.services.metadata.createConnector(existing)
        try await server.test { client in
            let response = try await send(
                client, .post, "/api/management/feeds/create-pair",
                #"{"upstream":"https://repo.anaconda.com/pkgs/main"}"#)
            #expect(response.status == .conflict)
            #expect(try json(response)["message"]?.stringValue?.contains("'pkgs-main'") == true)
        }
        #expect(try await server.services.metadata.connectors() == [existing])
        #expect(try await server.services.metadata.feeds().isEmpty)
    }

    @Test(arguments: [
        #"{}"#,
        #"{"upstream":""}"#,
        #"{"upstream":"https://bob:hunter2@repo.example.com/pkgs/main"}"#,
        #"{"upstream":"ftp://repo.example.com/pkgs/main","connector":"x"}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","unapprovedFeed":"same","approvedFeed":"same"}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","approvedFeed":"Bad Name"}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","connector":"linux-64"}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","filters":["a b"]}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","timeout":0}"#,
        #"{"upstream":"https://repo.anaconda.com/pkgs/main","password":"p"}"#,
    ])
    func invalidCreatePairIs400AndCreatesNothing(body: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let response = try await send(client, .post, "/api/management/feeds/create-pair", body)
            #expect(response.status == .badRequest)
            #expect(!String(buffer: response.body).contains("hunter2"))
        }
        #expect(try await server.services.metadata.connectors().isEmpty)
        #expect(try await server.services.metadata.feeds().isEmpty)
    }

    // MARK: Cached files

    @Test func cachedListsTheUpstreamFilesOfAProxyFeed() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.services.metadata.createConnector(Connector(name: "unused", url: "https://example.com/unused"))
        try await server.services.metadata.createFeed(Feed(name: "proxy", kind: .proxy, connectors: ["main", "forge"]))
        let forge = try await CachedFixture.store(
            in: server, connector: "forge", files: [("linux-64", "zlib-1.2.11-h7b6447c_3.conda")])
        let main = try await CachedFixture.store(
            in: server, connector: "main",
            files: [("osx-64", "zlib-1.2.11-h1de35cc_3.tar.bz2"), ("linux-64", "zlib-1.2.11-h7b6447c_3.tar.bz2")])
        _ = try await CachedFixture.store(
            in: server, connector: "unused", files: [("osx-64", "zlib-1.2.11-h1de35cc_3.conda")])
        let accessed = Date(timeIntervalSince1970: 1_750_000_000)
        try await server.services.metadata.markCachedFileAccessed(
            connector: "main", subdir: "osx-64", filename: "zlib-1.2.11-h1de35cc_3.tar.bz2", at: accessed)

        try await server.test { client in
            // Anonymous, like the other package reads.
            let response = try await client.execute(uri: "/api/packages/proxy/cached", method: .get)
            #expect(response.status == .ok)
            let list = try #require(try json(response).arrayValue)
            // The feed's connector order (main, then forge), then subdir and file name.
            let expected = [main[1], main[0], forge[0]]
            #expect(list.count == expected.count)
            for (item, file) in zip(list, expected) {
                #expect(item["connector"] == .string(file.connector))
                #expect(item["subdir"] == .string(file.subdir))
                #expect(item["filename"] == .string(file.filename))
                #expect(item["sha256"] == .string(file.sha256))
                #expect(item["size"] == .int(file.size))
                #expect(item["cachedAt"] == .string("2023-11-14T22:13:20.000Z"))
            }
            #expect(list[1]["lastAccessedAt"] == .string("2025-06-15T15:06:40.000Z"))
            #expect(list[0]["lastAccessedAt"] == .null)
            // The sizes are the fixture files' real sizes.
            let onDisk = try FileManager.default.attributesOfItem(atPath: CachedFixture.url(main[0]).path)[.size]
            #expect(list[1]["size"] == .int(Int64(try #require(onDisk as? Int))))

            try await client.createFeed("hosted")
            let hosted = try await client.execute(uri: "/api/packages/hosted/cached", method: .get)
            #expect(hosted.status == .badRequest)
            #expect(try json(hosted)["message"]?.stringValue?.contains("hosted feed") == true)

            let missing = try await client.execute(uri: "/api/packages/ghost/cached", method: .get)
            #expect(missing.status == .notFound)
        }
    }

    @Test func cachedIsEmptyForAProxyFeedThatCachedNothing() async throws {
        let server = try await Self.serverWithConnectors()
        try await server.services.metadata.createFeed(Feed(name: "proxy", kind: .proxy, connectors: ["forge"]))
        try await server.test { client in
            let response = try await client.execute(uri: "/api/packages/proxy/cached", method: .get)
            #expect(response.status == .ok)
            #expect(try json(response) == .array([]))
        }
    }
}
