import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import Testing

@testable import SluiceServer

@Suite("Feed management API")
struct APIFeedTests {
    @Test func createReturns201WithTheFeed() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(
                    #"{"name":"internal-conda","feedType":"conda","description":"Our builds","active":false}"#)
            ) { response in
                #expect(response.status == .created)
                #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                let feed = try json(response)
                #expect(feed["name"] == .string("internal-conda"))
                #expect(feed["feedType"] == .string("conda"))
                #expect(feed["description"] == .string("Our builds"))
                #expect(feed["active"] == .bool(false))
                #expect(feed["kind"] == .string("hosted"))
                let createdAt = try #require(feed["createdAt"]?.stringValue)
                #expect(createdAt.hasSuffix("Z"))
                let date = try Date(createdAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                #expect(abs(date.timeIntervalSinceNow) < 60)
            }
            let stored = try #require(await server.metadata.feed(named: "internal-conda"))
            #expect(stored.description == "Our builds")
            #expect(stored.active == false)
            #expect(stored.kind == .hosted)
        }
    }

    @Test func createDefaultsAndFormBodies() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            var headers = basicAuth()
            headers[.contentType] = "application/x-www-form-urlencoded"
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: headers,
                body: ByteBuffer(string: "name=formfeed&feedType=conda&description=made+by%20a+form")
            ) { response in
                #expect(response.status == .created)
                let feed = try json(response)
                #expect(feed["description"] == .string("made by a form"))
                #expect(feed["active"] == .bool(true))
            }
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"name":"notype"}"#)
            ) { response in
                #expect(response.status == .created)
                let feed = try json(response)
                #expect(feed["feedType"] == .string("conda"))
                #expect(feed["description"] == .string(""))
            }
        }
    }

    static let invalidNames = [
        "linux-64", "noarch", "osx-arm64", "Upper", "has space", "", ".hidden", "-dash",
        String(repeating: "a", count: 65), "a/b", "t",
    ]

    /// Names that must be accepted, including the issue's own example and names shaped like `<word>-<word>` that are
    /// not subdirs conda knows (conda only treats its known subdir names as subdirs).
    static let validNames = [
        "internal-conda", "conda-forge", "my_feed.v2", "a", "0", String(repeating: "z", count: 64),
    ]

    @Test(arguments: validNames)
    func validNamesAre201(name: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let body = JSONValue.object(["name": .string(name), "feedType": .string("conda")]).compactJSON()
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
                body: ByteBuffer(bytes: body)
            ) { response in
                #expect(response.status == .created, "\(name)")
            }
        }
    }

    @Test(arguments: invalidNames)
    func invalidNamesAre400(name: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            let body = JSONValue.object(["name": .string(name), "feedType": .string("conda")]).compactJSON()
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
                body: ByteBuffer(bytes: body)
            ) { response in
                #expect(response.status == .badRequest)
                let failure = try json(response)
                #expect(failure["error"] == .string("invalidInput"))
                #expect(failure["message"]?.stringValue?.isEmpty == false)
            }
            #expect(await server.metadata.feeds().isEmpty)
        }
    }

    @Test(arguments: [
        #"{"name":"npm-feed","feedType":"npm"}"#,
        #"{"feedType":"conda"}"#,
        #"{"name":42}"#,
        #"{"name":"ok","active":"perhaps"}"#,
        #"["not","an","object"]"#,
        #"{"name": "#,
        "",
    ])
    func badBodiesAre400(body: String) async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(), body: jsonBody(body)
            ) { response in
                #expect(response.status == .badRequest)
                let failure = try json(response)
                #expect(failure["error"] == .string("invalidInput"))
            }
            #expect(await server.metadata.feeds().isEmpty)
        }
    }

    @Test func takenNameIs409() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("twice")
            try await client.execute(
                uri: "/api/management/feeds/create", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"name":"twice","feedType":"conda","description":"second"}"#)
            ) { response in
                #expect(response.status == .conflict)
                let failure = try json(response)
                #expect(failure["error"] == .string("conflict"))
            }
            #expect(await server.metadata.feed(named: "twice")?.description == "")
        }
    }

    @Test func listGetUpdate() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("zeta")
            try await client.createFeed("alpha")
            try await client.execute(uri: "/api/management/feeds/list", method: .get, headers: basicAuth()) {
                response in
                #expect(response.status == .ok)
                let names = try json(response).arrayValue?.compactMap { $0["name"]?.stringValue }
                #expect(names == ["alpha", "zeta"])
            }
            try await client.execute(uri: "/api/management/feeds/get/alpha", method: .get, headers: basicAuth()) {
                response in
                #expect(response.status == .ok)
                let feed = try json(response)
                #expect(feed["name"] == .string("alpha"))
                #expect(feed["active"] == .bool(true))
            }
            try await client.execute(uri: "/api/management/feeds/get/missing", method: .get, headers: basicAuth()) {
                response in
                #expect(response.status == .notFound)
                let failure = try json(response)
                #expect(failure["error"] == .string("notFound"))
            }
            try await client.execute(
                uri: "/api/management/feeds/update/alpha", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"description":"first letter"}"#)
            ) { response in
                #expect(response.status == .ok)
                let feed = try json(response)
                #expect(feed["description"] == .string("first letter"))
                #expect(feed["active"] == .bool(true))
            }
            try await client.execute(
                uri: "/api/management/feeds/update/alpha", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"active":false}"#)
            ) { response in
                #expect(response.status == .ok)
                let feed = try json(response)
                #expect(feed["description"] == .string("first letter"))
                #expect(feed["active"] == .bool(false))
            }
            let alpha = try #require(await server.metadata.feed(named: "alpha"))
            #expect(alpha.description == "first letter")
            #expect(alpha.active == false)

            try await client.execute(
                uri: "/api/management/feeds/update/alpha", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"name":"beta"}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/api/management/feeds/update/missing", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"description":"x"}"#)
            ) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func deleteWithDeleteAndPost() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.createFeed("one")
            try await client.createFeed("two")
            try await client.upload(feed: "one", group: "rattler", file: "empty-0.1.0-h4616a5c_0.conda")
            let sha256 = try manifestEntry("rattler", "empty-0.1.0-h4616a5c_0.conda").sha256
            #expect(try await server.blobs.contains(sha256: sha256))
            #expect(
                try await client.repodataFilenames(feed: "one", subdir: "noarch") == ["empty-0.1.0-h4616a5c_0.conda"])

            try await client.execute(uri: "/api/management/feeds/delete/one", method: .delete, headers: basicAuth()) {
                response in
                #expect(response.status == .ok)
                let body = try json(response)
                #expect(body["deleted"] == .string("one"))
            }
            try await client.execute(uri: "/api/management/feeds/delete/two", method: .post, headers: basicAuth()) {
                response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/management/feeds/delete/two", method: .post, headers: basicAuth()) {
                response in
                #expect(response.status == .notFound)
            }
            #expect(await server.metadata.feeds().isEmpty)
            // The feed's channel and its unreferenced blob are gone.
            #expect(try await !server.blobs.contains(sha256: sha256))
            try await client.execute(uri: "/conda/one/noarch/repodata.json", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func unknownRoutesAreJSON404() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(uri: "/api/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                let failure = try json(response)
                #expect(failure["error"] == .string("notFound"))
            }
        }
    }
}
