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

/// `POST /api/promotions/promote` and `GET /api/promotions/list` through the router, over memory stores, with real
/// fixture packages uploaded through the upload route.
@Suite("Promotion")
struct PromotionTests {
    /// zlib 1.2.11 of the fixture channel: one build per platform, each in both formats.
    static let zlibFiles = ["zlib-1.2.11-h7b6447c_3.conda", "zlib-1.2.11-h7b6447c_3.tar.bz2"]
    static let zlibOSXFiles = ["zlib-1.2.11-h1de35cc_3.conda", "zlib-1.2.11-h1de35cc_3.tar.bz2"]
    static func zlib(_ subdir: String) -> [String] { subdir == "osx-64" ? zlibOSXFiles : zlibFiles }

    /// `unapproved` with zlib 1.2.11 (both formats) in linux-64 and osx-64 and other-package 0.1 / 0.2 (linux-64);
    /// `approved` with test-package 0.1 (linux-64), so its linux-64 repodata exists before any promotion.
    static func seed(_ client: some TestClientProtocol) async throws {
        try await client.createFeed("unapproved")
        try await client.createFeed("approved")
        for subdir in ["linux-64", "osx-64"] {
            for file in zlib(subdir) {
                let response = try await client.uploadChannelFile(feed: "unapproved", subdir: subdir, file: file)
                #expect(response.status == .created || response.status == .ok, "\(subdir)/\(file)")
            }
        }
        for file in ["other-package-0.1-0.tar.bz2", "other-package-0.2-0.conda", "other-package-0.2-0.tar.bz2"] {
            #expect(try await client.upload(feed: "unapproved", group: "quetz", file: file).status == .created)
        }
        #expect(
            try await client.upload(feed: "approved", group: "quetz", file: "test-package-0.1-0.tar.bz2").status
                == .created)
    }

    @Test("promote one version: every build and subdir, visible in repodata with a new ETag, recorded in history")
    func promoteVersion() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            let before = try await client.execute(uri: "/conda/approved/linux-64/repodata.json", method: .get)
            #expect(before.status == .ok)
            let etagBefore = try #require(before.headers[.eTag])
            #expect(try await client.repodataFilenames(feed: "approved", subdir: "osx-64") == nil)

            let response = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11","comments":"CVE review ok"}"#
            )
            #expect(response.status == .ok)
            let body = try json(response)
            #expect(body["promoted"]?.intValue == 4)
            #expect(body["alreadyPromoted"]?.intValue == 0)
            let files = try #require(body["files"]?.arrayValue)
            var promotedPaths = Set<String>()
            for file in files {
                promotedPaths.insert("\(file["subdir"]?.stringValue ?? "")/\(file["filename"]?.stringValue ?? "")")
            }
            var expectedPaths = Set<String>()
            for subdir in ["linux-64", "osx-64"] {
                for filename in Self.zlib(subdir) { expectedPaths.insert("\(subdir)/\(filename)") }
            }
            #expect(promotedPaths == expectedPaths)
            #expect(files.allSatisfy { $0["result"]?.stringValue == "promoted" && $0["id"]?.intValue != nil })
            // The same blob as the source, checked against the fixture channel's own bytes.
            for file in files {
                let subdir = try #require(file["subdir"]?.stringValue)
                let filename = try #require(file["filename"]?.stringValue)
                let bytes = try Data(
                    contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/\(filename)"))
                #expect(file["sha256"]?.stringValue == sha256Hex(bytes))
            }

            let after = try await client.execute(uri: "/conda/approved/linux-64/repodata.json", method: .get)
            #expect(after.headers[.eTag] != etagBefore)
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64")
                    == Set(Self.zlibFiles + ["test-package-0.1-0.tar.bz2"]))
            #expect(try await client.repodataFilenames(feed: "approved", subdir: "osx-64") == Set(Self.zlibOSXFiles))
            // The promoted record is the source's record.
            let source = try #require(
                try await server.store.package(feed: "unapproved", subdir: "osx-64", filename: Self.zlibOSXFiles[0]))
            let target = try #require(
                try await server.store.package(feed: "approved", subdir: "osx-64", filename: Self.zlibOSXFiles[0]))
            #expect(target.record == source.record && target.sha256 == source.sha256)
            #expect(try await server.store.referenceCount(sha256: source.sha256) == 2)
            // The file downloads from the approved feed.
            let download = try await client.execute(
                uri: "/conda/approved/osx-64/\(Self.zlibOSXFiles[0])", method: .get)
            #expect(download.status == .ok)
            #expect(sha256Hex(Data(download.body.readableBytesView)) == source.sha256)

            // Promoting again is a no-op that says so.
            let again = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11"}"#)
            #expect(again.status == .ok)
            let againBody = try json(again)
            #expect(againBody["promoted"]?.intValue == 0)
            #expect(againBody["alreadyPromoted"]?.intValue == 4)
            #expect(againBody["message"]?.stringValue?.contains("already promoted") == true)
            let etagAgain = try await client.execute(uri: "/conda/approved/linux-64/repodata.json", method: .get)
                .headers[.eTag]
            #expect(etagAgain == after.headers[.eTag])

            // History: one promotion of zlib 1.2.11 with its four files and the comment.
            let list = try await client.execute(
                uri: "/api/promotions/list?toFeed=approved", method: .get, headers: basicAuth())
            #expect(list.status == .ok)
            let groups = try #require(try json(list).arrayValue)
            #expect(groups.count == 1)
            #expect(groups[0]["name"]?.stringValue == "zlib" && groups[0]["version"]?.stringValue == "1.2.11")
            let promotions = try #require(groups[0]["promotions"]?.arrayValue)
            #expect(promotions.count == 1)
            let promotion = promotions[0]
            #expect(promotion["fromFeed"]?.stringValue == "unapproved")
            #expect(promotion["toFeed"]?.stringValue == "approved")
            #expect(promotion["comments"]?.stringValue == "CVE review ok")
            #expect(promotion["user"]?.stringValue?.lowercased() == "admin")
            #expect(promotion["date"]?.stringValue?.hasSuffix("Z") == true)
            #expect(promotion["id"]?.intValue != nil)
            let detail = try #require(promotion["files"]?.arrayValue)
            #expect(detail.count == 4)
            #expect(detail.allSatisfy { $0["sha256"]?.stringValue?.count == 64 && $0["subdir"]?.stringValue != nil })
        }
    }

    @Test("narrowing by subdir, filename and build; a narrowing that matches nothing is a 404 naming it")
    func narrowing() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            for file in ["clobber-python-0.1.0-cpython.conda", "clobber-python-0.1.0-pypy.conda"] {
                #expect(try await client.upload(feed: "unapproved", group: "rattler", file: file).status == .created)
            }
            let bySubdir = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11","subdir":"osx-64"}"#)
            #expect(bySubdir.status == .ok)
            #expect(try json(bySubdir)["promoted"]?.intValue == 2)
            #expect(try await client.repodataFilenames(feed: "approved", subdir: "osx-64") == Set(Self.zlibOSXFiles))
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64")
                    == ["test-package-0.1-0.tar.bz2"])

            let byFilename = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11","subdir":"linux-64","filename":"zlib-1.2.11-h7b6447c_3.tar.bz2"}"#
            )
            #expect(try json(byFilename)["promoted"]?.intValue == 1)
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64")
                    == ["test-package-0.1-0.tar.bz2", "zlib-1.2.11-h7b6447c_3.tar.bz2"])

            let byZlibBuild = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11","build":"h1de35cc_3"}"#)
            #expect(byZlibBuild.status == .ok)
            #expect(try json(byZlibBuild)["promoted"]?.intValue == 0, "the osx-64 build is there already")
            #expect(try json(byZlibBuild)["alreadyPromoted"]?.intValue == 2)

            let byBuild = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"clobber-python","version":"0.1.0","build":"pypy"}"#
            )
            #expect(byBuild.status == .ok)
            let files = try #require(try json(byBuild)["files"]?.arrayValue)
            #expect(files.map { $0["filename"]?.stringValue } == ["clobber-python-0.1.0-pypy.conda"])
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "noarch") == [
                    "clobber-python-0.1.0-pypy.conda"
                ])

            let noBuild = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"clobber-python","version":"0.1.0","build":"graal"}"#
            )
            #expect(noBuild.status == .notFound)
            #expect(try json(noBuild)["message"]?.stringValue?.contains("build 'graal'") == true)
        }
    }

    @Test("bad requests: unknown feeds, package, version → 404; proxy target, same feed, missing field → 400; 401")
    func badRequests() async throws {
        let server = try await TestServer.make()
        try await server.store.createConnector(Connector(name: "up", url: "http://127.0.0.1:9/"))
        try await server.store.createFeed(Feed(name: "mirror", kind: .proxy, connectors: ["up"]))
        try await server.test { client in
            try await Self.seed(client)
            func check(_ body: String, _ status: HTTPResponse.Status, mentions: String) async throws {
                let response = try await client.promote(body)
                #expect(response.status == status, "\(body)")
                let message = try json(response)["message"]?.stringValue ?? ""
                #expect(message.contains(mentions), "\(message)")
            }
            try await check(
                #"{"fromFeed":"nowhere","toFeed":"approved","name":"zlib","version":"1.2.11"}"#, .notFound,
                mentions: "nowhere")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"nowhere","name":"zlib","version":"1.2.11"}"#, .notFound,
                mentions: "nowhere")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"numpy","version":"1.0"}"#, .notFound,
                mentions: "'numpy'")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"9.9"}"#, .notFound,
                mentions: "'9.9'")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"mirror","name":"zlib","version":"1.2.11"}"#, .badRequest,
                mentions: "proxy feed")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"unapproved","name":"zlib","version":"1.2.11"}"#, .badRequest,
                mentions: "into itself")
            try await check(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib"}"#, .badRequest, mentions: "version")

            var anonymous = HTTPFields()
            anonymous[.contentType] = "application/json"
            let unauthenticated = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: anonymous,
                body: jsonBody(#"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11"}"#))
            #expect(unauthenticated.status == .unauthorized)
            // The history is readable by whoever may view the feeds involved: Anonymous, on a default install.
            let list = try await client.execute(uri: "/api/promotions/list", method: .get)
            #expect(list.status == .ok)
            #expect(try await server.store.packages(feed: "approved", name: "zlib").isEmpty, "nothing changed")
            #expect(try await server.store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).isEmpty)

            // A form-encoded body works like JSON.
            var form = basicAuth()
            form[.contentType] = "application/x-www-form-urlencoded"
            let formResponse = try await client.execute(
                uri: "/api/promotions/promote", method: .post, headers: form,
                body: ByteBuffer(
                    string: "fromFeed=unapproved&toFeed=approved&name=other-package&version=0.2&comments=looks+good"))
            #expect(formResponse.status == .ok)
            #expect(try json(formResponse)["promoted"]?.intValue == 2)
            #expect(
                try await server.store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil)
                    .map(\.comments) == ["looks good", "looks good"])
        }
    }

    @Test("a different file under the same name in the target is a 409 and nothing is promoted")
    func conflictWritesNothing() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            // approved/linux-64 gets other bytes (the osx-64 build) under the linux-64 .conda name.
            let osx = try #require(
                try await server.store.package(feed: "unapproved", subdir: "osx-64", filename: Self.zlibOSXFiles[0]))
            var clash = osx
            clash.feed = "approved"
            clash.subdir = "linux-64"
            clash.filename = Self.zlibFiles[0]
            clash.record.filename = Self.zlibFiles[0]
            _ = try await server.store.addPackage(clash, overwrite: false)
            let response = try await client.promote(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11"}"#)
            #expect(response.status == .conflict)
            #expect(try await server.store.packages(feed: "approved", name: "zlib") == [clash])
            #expect(try await server.store.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).isEmpty)
        }
    }

    @Test("history: filters by feeds, package and version, newest first; a deletion from the target is recorded")
    func historyFiltersAndDeletion() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.seed(client)
            try await client.createFeed("staging")
            for body in [
                #"{"fromFeed":"unapproved","toFeed":"staging","name":"zlib","version":"1.2.11","subdir":"linux-64","comments":"one"}"#,
                #"{"fromFeed":"staging","toFeed":"approved","name":"zlib","version":"1.2.11","comments":"two"}"#,
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"other-package","version":"0.1","comments":"three"}"#,
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"other-package","version":"0.2","comments":"four"}"#,
            ] {
                #expect(try await client.promote(body).status == .ok, "\(body)")
            }
            func list(_ query: String) async throws -> [JSONValue] {
                let response = try await client.execute(
                    uri: "/api/promotions/list\(query)", method: .get, headers: basicAuth())
                #expect(response.status == .ok)
                return try json(response).arrayValue ?? []
            }
            let all = try await list("")
            #expect(
                all.map { "\($0["name"]?.stringValue ?? "")=\($0["version"]?.stringValue ?? "")" } == [
                    "other-package=0.2", "other-package=0.1", "zlib=1.2.11",
                ])
            let zlib = try #require(all.last?["promotions"]?.arrayValue)
            #expect(zlib.map { $0["comments"]?.stringValue } == ["two", "one"], "newest first")
            #expect(zlib.map { $0["files"]?.arrayValue?.count } == [2, 2])
            #expect(try await list("?fromFeed=staging").count == 1)
            #expect(try await list("?toFeed=staging").first?["promotions"]?.arrayValue?.count == 1)
            #expect(try await list("?package=other-package").count == 2)
            #expect(try await list("?package=other-package&version=0.2").count == 1)
            #expect(try await list("?fromFeed=unapproved&toFeed=approved&package=zlib").isEmpty)

            // Withdraw other-package 0.2 from the approved feed; the route records the deletion in the history.
            let deleted = try await client.execute(
                uri: "/api/packages/approved/delete", method: .post, headers: adminJSONHeaders(),
                body: jsonBody(#"{"name":"other-package","version":"0.2","comments":"withdrawn"}"#))
            #expect(deleted.status == .ok)
            let rows = try #require(try json(deleted)["deleted"]?.arrayValue)
            #expect(rows.count == 2)
            let history = try await list("?toFeed=approved&package=other-package&version=0.2")
            let entries = try #require(history.first?["promotions"]?.arrayValue)
            #expect(entries.count == 3, "one deletion entry per file, then the promotion")
            #expect(entries.prefix(2).allSatisfy { $0["kind"]?.stringValue == "delete" && $0["fromFeed"] == .null })
            #expect(entries.prefix(2).allSatisfy { $0["comments"]?.stringValue == "withdrawn" })
            #expect(entries.last?["kind"]?.stringValue == "promote")
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64")?.contains(
                    "other-package-0.2-0.conda") == false)
        }
    }

    static let parallelPixiFiles = [
        "dummy-a-0.1.0-hb0f4dca_0.conda", "dummy-b-0.1.0-hb0f4dca_0.conda", "dummy-c-0.1.0-hb0f4dca_0.conda",
        "dummy-d-0.1.0-hb0f4dca_0.conda", "package-0.1.0-hb0f4dca_0.conda", "package2-0.1.0-hb0f4dca_0.conda",
        "package4-0.1.0-hb0f4dca_0.conda", "jupyter-0.1.0-hb0f4dca_0.conda",
    ]

    @Test("30 parallel promote requests (same and different packages): each file exactly once, repodata matches the DB")
    func parallelPromotions() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await Self.parallelPromotions(client, store: server.store)
        }
    }

    @Test("30 parallel promote requests over SQLite: each file exactly once, repodata matches the DB")
    func parallelPromotionsSQLite() async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-promotion-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var logger = Logger(label: "sluice.test")
        logger.logLevel = .warning
        let store = try await SQLMetadataStore.sqlite(
            file: folder.appendingPathComponent("sluice.sqlite"), logger: logger)
        try await store.createUser(User(name: "Admin", passwordHash: Bcrypt.hash(TestServer.adminPassword, cost: 4)))
        let services = try SluiceServices(
            configuration: SluiceConfiguration(), metadata: store, blobs: MemoryBlobStore(),
            temporaryDirectory: folder.appendingPathComponent("tmp", isDirectory: true), logger: logger)
        let app = Application(router: buildRouter(services: services, logger: logger))
        try await app.test(.router) { client in
            try await Self.parallelPromotions(client, store: store)
        }
        try await store.shutdown()
    }

    static func parallelPromotions(_ client: some TestClientProtocol, store: any MetadataStore) async throws {
        let pixi = parallelPixiFiles
        try await seed(client)
        for file in pixi {
            #expect(try await client.upload(feed: "unapproved", group: "pixi", file: file).status == .created)
        }
        let names = pixi.compactMap { PackageFilename($0) }
        let zlibRequest = #"{"fromFeed":"unapproved","toFeed":"approved","name":"zlib","version":"1.2.11"}"#
        var requests = Array(repeating: zlibRequest, count: 14)
        for index in 0..<16 {
            let package = names[index % names.count]
            requests.append(
                #"{"fromFeed":"unapproved","toFeed":"approved","name":"\#(package.name)","version":"\#(package.version)"}"#
            )
        }
        let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
            for body in requests {
                group.addTask { try await client.promote(body).status }
            }
            return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
        }
        #expect(statuses.count == 30 && statuses.allSatisfy { $0 == .ok }, "\(statuses)")

        let history = try await store.promotions(fromFeed: nil, toFeed: "approved", package: nil, version: nil)
        let promotedFiles = history.map { "\($0.subdir)/\($0.filename)" }
        #expect(promotedFiles.count == Set(promotedFiles).count, "each file promoted exactly once")
        #expect(promotedFiles.count == 4 + pixi.count)
        for subdir in ["linux-64", "osx-64"] {
            let rows = Set(try await store.packages(feed: "approved", subdir: subdir).map(\.filename))
            #expect(try await client.repodataFilenames(feed: "approved", subdir: subdir) == rows)
        }
        let linux = Set(try await store.packages(feed: "approved", subdir: "linux-64").map(\.filename))
        #expect(linux == Set(pixi + zlibFiles + ["test-package-0.1-0.tar.bz2"]))
        let osx = Set(try await store.packages(feed: "approved", subdir: "osx-64").map(\.filename))
        #expect(osx == Set(zlibOSXFiles))
    }
}

extension TestClientProtocol {
    /// `POST /api/promotions/promote` as Admin with a JSON body.
    func promote(_ body: String) async throws -> TestResponse {
        try await execute(
            uri: "/api/promotions/promote", method: .post, headers: adminJSONHeaders(), body: jsonBody(body))
    }

    /// `POST /api/promotions/promote-environment` as Admin with a JSON body.
    func promoteEnvironment(
        from: String = "unapproved", to: String = "approved", environment: String, dryRun: Bool = false,
        comments: String = ""
    ) async throws -> TestResponse {
        let body = JSONValue.object([
            "fromFeed": .string(from), "toFeed": .string(to), "environment": .string(environment),
            "dryRun": .bool(dryRun), "comments": .string(comments),
        ])
        return try await execute(
            uri: "/api/promotions/promote-environment", method: .post, headers: adminJSONHeaders(),
            body: ByteBuffer(bytes: body.compactJSON()))
    }

    /// Uploads a file of the conda-format-repo fixture channel (`<subdir>/<file>`) as Admin.
    func uploadChannelFile(feed: String, subdir: String, file: String) async throws -> TestResponse {
        let bytes = try Data(contentsOf: Fixtures.condaFormatRepo.appendingPathComponent("\(subdir)/\(file)"))
        return try await execute(
            uri: "/conda/\(feed)/\(subdir)/\(file)", method: .put, headers: basicAuth(), body: ByteBuffer(bytes: bytes))
    }
}

extension TestServer {
    /// The metadata store as the protocol (keeps type-checking of `#expect` expressions fast).
    var store: any MetadataStore { metadata }
}
