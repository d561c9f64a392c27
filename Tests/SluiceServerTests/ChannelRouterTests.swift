import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

@Suite("Channel routes (router, no sockets)")
struct ChannelRouterTests {
    // MARK: Helpers

    private func data(_ buffer: ByteBuffer) -> Data { Data(buffer.readableBytesView) }

    private func json(_ buffer: ByteBuffer) throws -> JSONValue { try JSONValue.parse(buffer.readableBytesView) }

    /// The 404 body every "not served" answer must carry.
    private func expectJSONNotFound(_ response: TestResponse, sourceLocation: SourceLocation = #_sourceLocation) throws
    {
        #expect(response.status == .notFound, sourceLocation: sourceLocation)
        #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, sourceLocation: sourceLocation)
        let body = try json(response.body)
        #expect(body["error"]?.stringValue == "notFound", sourceLocation: sourceLocation)
        #expect((body["message"]?.stringValue ?? "").isEmpty == false, sourceLocation: sourceLocation)
    }

    // MARK: Repodata

    @Test("noarch/repodata.json of an empty feed is a valid, empty index")
    func emptyFeedNoarch() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.application().test(.router) { client in
            try await client.execute(uri: "/conda/f/noarch/repodata.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                #expect(response.headers[.cacheControl] == "public, max-age=60")
                #expect(response.headers[.vary] == "Accept-Encoding")
                #expect(response.headers[.contentEncoding] == nil)
                #expect(EntityTag(response.headers[.eTag] ?? "").map { !$0.isWeak } == true)
                #expect(HTTPDate.parse(response.headers[.lastModified] ?? "") != nil)
                let body = try json(response.body)
                #expect(body["info"]?["subdir"]?.stringValue == "noarch")
                #expect(body["packages"]?.objectValue?.isEmpty == true)
                #expect(body["packages.conda"]?.objectValue?.isEmpty == true)
            }
            try expectJSONNotFound(try await client.execute(uri: "/conda/f/linux-64/repodata.json", method: .get))
        }
    }

    @Test("Repodata lists uploaded packages; .zst and .bz2 decode to exactly the .json bytes")
    func repodataVariants() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.linuxConda)
        try await feed.add(Fixtures.package("quetz", "other-package-0.2-0.tar.bz2"))
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await feed.application().test(.router) { client in
            let plain = try await client.execute(uri: "/conda/f/linux-64/repodata.json", method: .get)
            #expect(plain.status == .ok)
            let index = try json(plain.body)
            #expect(index["packages.conda"]?["dummy-a-0.1.0-hb0f4dca_0.conda"]?["name"]?.stringValue == "dummy-a")
            #expect(index["packages"]?["other-package-0.2-0.tar.bz2"]?["version"]?.stringValue == "0.2")
            #expect(index["packages"]?["clobber-nested-1-0.1.0-h4616a5c_0.tar.bz2"] == nil)

            let zst = try await client.execute(uri: "/conda/f/linux-64/repodata.json.zst", method: .get)
            #expect(zst.status == .ok)
            #expect(zst.headers[.contentType] == "application/zstd")
            #expect(zst.headers[.contentEncoding] == nil)
            #expect(zst.headers[.eTag] != plain.headers[.eTag])
            #expect(try Zstd.decompress(data(zst.body), maxOutputSize: 1 << 26) == data(plain.body))

            let bz2 = try await client.execute(uri: "/conda/f/linux-64/repodata.json.bz2", method: .get)
            #expect(bz2.status == .ok)
            #expect(bz2.headers[.contentType] == "application/x-bzip2")
            #expect(try Bzip2.decompress(data(bz2.body), maxOutputSize: 1 << 26) == data(plain.body))

            let current = try await client.execute(uri: "/conda/f/linux-64/current_repodata.json", method: .get)
            #expect(current.status == .ok)
            #expect(try json(current.body)["packages.conda"]?["dummy-a-0.1.0-hb0f4dca_0.conda"] != nil)
            let currentZst = try await client.execute(uri: "/conda/f/linux-64/current_repodata.json.zst", method: .get)
            #expect(try Zstd.decompress(data(currentZst.body), maxOutputSize: 1 << 26) == data(current.body))

            let noarch = try await client.execute(uri: "/conda/f/noarch/repodata.json", method: .get)
            #expect(try json(noarch.body)["packages"]?["clobber-nested-1-0.1.0-h4616a5c_0.tar.bz2"] != nil)
        }
    }

    @Test("channeldata.json names the feed's packages and subdirs")
    func channeldata() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.linuxConda)
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await feed.application().test(.router) { client in
            let response = try await client.execute(uri: "/conda/f/channeldata.json", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.headers[.cacheControl] == "public, max-age=60")
            let body = try json(response.body)
            #expect(body["packages"]?["dummy-a"] != nil)
            #expect(body["packages"]?["clobber-nested-1"] != nil)
        }
        // A later upload shows up in channeldata once published.
        try await feed.add(Fixtures.package("pixi", "dummy-c-0.1.0-hb0f4dca_0.conda"))
        try await feed.application().test(.router) { client in
            let body = try json(try await client.execute(uri: "/conda/f/channeldata.json", method: .get).body)
            #expect(body["packages"]?["dummy-c"] != nil)
        }
    }

    // MARK: Not served

    @Test(
        "Everything not served is a 404 with a JSON body",
        arguments: [
            "/conda/nope/noarch/repodata.json",  // unknown feed
            "/conda/nope/channeldata.json",
            "/conda/f/win-64/repodata.json",  // platform subdir without packages
            "/conda/f/osx-arm64/repodata.json.zst",
            "/conda/f/noarch/shards/0123abcd.msgpack.zst",
            "/conda/f/noarch/./shards/0123abcd.msgpack.zst",
            "/conda/f/noarch/repodata.jlap",
            "/conda/f/noarch/missing-1.0-0.conda",
            "/conda/f/noarch/dummy-a-0.1.0-hb0f4dca_0.conda",  // exists, but in linux-64
            "/conda/f/noarch/index.html",
            "/conda/f/notices.json",
            "/conda/f/",
            "/conda/f/../../etc/passwd",
            "/conda/f/noarch/../../../etc/passwd",
            "/conda/f/%2e%2e/%2e%2e/etc/passwd",
            "/conda/f/../g/noarch/repodata.json",
            "/conda/f/label/main/noarch/repodata.json",
        ])
    func notServed(uri: String) async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.linuxConda)
        try await feed.application().test(.router) { client in
            try expectJSONNotFound(try await client.execute(uri: uri, method: .get))
            let head = try await client.execute(uri: uri, method: .head)
            #expect(head.status == .notFound)
            #expect(head.body.readableBytes == 0)
        }
    }

    @Test("Normalised paths serve the same bytes as the canonical path")
    func normalisedPaths() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await feed.application().test(.router) { client in
            let canonical = try await client.execute(uri: "/conda/f/noarch/repodata.json", method: .get)
            #expect(canonical.status == .ok)
            for uri in [
                "/conda/f/./noarch//repodata.json", "/conda/f/noarch/../noarch/repodata.json",
                "//conda/f/noarch/repodata.json", "/conda/t/abc-123/f/noarch/repodata.json",
                "/t/abc-123/conda/f/noarch/repodata.json", "/conda/f/noarch/repodata%2Ejson",
            ] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .ok, "\(uri)")
                #expect(response.body == canonical.body, "\(uri)")
                #expect(response.headers[.eTag] == canonical.headers[.eTag], "\(uri)")
            }
            let package = try await client.execute(
                uri: "/conda/f/noarch/.//clobber-nested-1-0.1.0-h4616a5c_0.tar.bz2", method: .get)
            #expect(package.status == .ok)
            let fixtureBytes = try Data(contentsOf: ChannelFixtures.noarchTarBz2)
            #expect(data(package.body) == fixtureBytes)
        }
    }

    @Test("With serveShards on, the shard index and content-addressed shards are served from the snapshot")
    func shards() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.linuxConda)
        try await feed.add(Fixtures.package("pixi", "dummy-c-0.1.0-hb0f4dca_0.conda"))
        let before = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "linux-64"))
        #expect(before.shards.count == 2)
        let app = feed.application(configuration: .init(repodataMaxAge: 30, serveShards: true))
        try await app.test(.router) { client in
            let index = try await client.execute(uri: "/conda/f/linux-64/repodata_shards.msgpack.zst", method: .get)
            #expect(index.status == .ok)
            #expect(index.headers[.cacheControl] == "public, max-age=30")
            #expect(index.headers[.contentEncoding] == nil)
            #expect(data(index.body) == before.files["repodata_shards.msgpack.zst"]?.bytes)
            for (name, shard) in before.shards {
                // libmamba asks for `./shards/`; the normalised path reaches the same file.
                let response = try await client.execute(
                    uri: "/conda/f/linux-64/./shards/\(name)", method: .get, headers: [.acceptEncoding: "gzip"])
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(response.headers[.contentEncoding] == nil)
                #expect(response.headers[.eTag] == shard.etag)
                #expect(data(response.body) == shard.bytes)
                // The shard decodes to msgpack that names the package file it holds.
                let decoded = try Zstd.decompress(data(response.body), maxOutputSize: 1 << 20)
                let records = before.records.keys.filter { decoded.range(of: Data($0.utf8)) != nil }
                #expect(records.count == 1)
            }
            try expectJSONNotFound(
                try await client.execute(
                    uri: "/conda/f/linux-64/shards/\(String(repeating: "0", count: 64)).msgpack.zst", method: .get))
            // conda-index places shards next to the index; Sluice does not.
            try expectJSONNotFound(
                try await client.execute(uri: "/conda/f/linux-64/\(before.shards.keys.first!)", method: .get))
        }
        // A shard whose package name did not change keeps its bytes (and so its name) across a republish.
        try await feed.add(Fixtures.package("pixi", "dummy-b-0.1.0-hb0f4dca_0.conda"))
        let after = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "linux-64"))
        #expect(after.shards.count == 3)
        for name in before.shards.keys {
            #expect(after.shards[name] != nil)
        }
    }

    // MARK: Conditional requests

    @Test("If-None-Match and If-Modified-Since give 304 with the validators repeated")
    func conditional() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await feed.application(configuration: .init(repodataMaxAge: 120)).test(.router) { client in
            let uri = "/conda/f/noarch/repodata.json.zst"
            let first = try await client.execute(uri: uri, method: .get)
            let etag = try #require(first.headers[.eTag])
            let lastModified = try #require(first.headers[.lastModified])
            #expect(first.headers[.cacheControl] == "public, max-age=120")

            for header in [etag, "W/\(etag)", "\"other\", \(etag)", "*"] {
                let response = try await client.execute(uri: uri, method: .get, headers: [.ifNoneMatch: header])
                #expect(response.status == .notModified, "\(header)")
                #expect(response.body.readableBytes == 0)
                #expect(response.headers[.eTag] == etag)
                #expect(response.headers[.lastModified] == lastModified)
                #expect(response.headers[.cacheControl] == "public, max-age=120")
                #expect(response.headers[.contentLength] == nil)
            }
            let changed = try await client.execute(uri: uri, method: .get, headers: [.ifNoneMatch: "\"stale\""])
            #expect(changed.status == .ok)
            #expect(changed.body == first.body)

            let since = try await client.execute(uri: uri, method: .get, headers: [.ifModifiedSince: lastModified])
            #expect(since.status == .notModified)
            #expect(since.headers[.eTag] == etag)
            let earlier = HTTPDate.format(HTTPDate.parse(lastModified)!.addingTimeInterval(-3600))
            #expect(
                try await client.execute(uri: uri, method: .get, headers: [.ifModifiedSince: earlier]).status == .ok)
            // If-None-Match takes precedence over If-Modified-Since.
            let both = try await client.execute(
                uri: uri, method: .get, headers: [.ifNoneMatch: "\"stale\"", .ifModifiedSince: lastModified])
            #expect(both.status == .ok)
            // HEAD follows the same rules.
            #expect(
                try await client.execute(uri: uri, method: .head, headers: [.ifNoneMatch: etag]).status == .notModified)
        }
    }

    @Test("A republish after an upload changes the ETag")
    func etagChangesOnPublish() async throws {
        let feed = try await ChannelTestFeed()
        let app = feed.application()
        let before = try await app.test(.router) { client in
            try await client.execute(uri: "/conda/f/noarch/repodata.json", method: .get).headers[.eTag]
        }
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/conda/f/noarch/repodata.json", method: .get, headers: [.ifNoneMatch: before ?? ""])
            #expect(response.status == .ok)
            #expect(response.headers[.eTag] != before)
        }
    }

    // MARK: gzip

    @Test("gzip is negotiated for .json only, with its own ETag")
    func gzipNegotiation() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.noarchTarBz2)
        try await feed.application().test(.router) { client in
            let uri = "/conda/f/noarch/repodata.json"
            let identity = try await client.execute(uri: uri, method: .get)
            #expect(identity.headers[.contentEncoding] == nil)

            let gzipped = try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: "gzip, deflate"])
            #expect(gzipped.status == .ok)
            #expect(gzipped.headers[.contentEncoding] == "gzip")
            #expect(gzipped.headers[.vary] == "Accept-Encoding")
            #expect(gzipped.headers[.contentLength] == String(gzipped.body.readableBytes))
            #expect(gzipped.headers[.eTag] != identity.headers[.eTag])
            #expect(try gunzip(data(gzipped.body)) == data(identity.body))
            // Its own ETag validates only the gzip representation.
            let revalidated = try await client.execute(
                uri: uri, method: .get, headers: [.acceptEncoding: "gzip", .ifNoneMatch: gzipped.headers[.eTag]!])
            #expect(revalidated.status == .notModified)
            #expect(revalidated.headers[.eTag] == gzipped.headers[.eTag])

            for refusal in ["gzip;q=0", "identity", "br", "*, gzip;q=0"] {
                let response = try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: refusal])
                #expect(response.headers[.contentEncoding] == nil, "\(refusal)")
                #expect(response.body == identity.body)
            }
            for file in [
                "repodata.json.zst", "repodata.json.bz2", "current_repodata.json.zst",
                "clobber-nested-1-0.1.0-h4616a5c_0.tar.bz2",
            ] {
                let response = try await client.execute(
                    uri: "/conda/f/noarch/\(file)", method: .get, headers: [.acceptEncoding: "gzip"])
                #expect(response.status == .ok)
                #expect(response.headers[.contentEncoding] == nil, "\(file)")
                #expect(response.headers[.vary] == nil, "\(file)")
            }
            let channeldata = try await client.execute(
                uri: "/conda/f/channeldata.json", method: .get, headers: [.acceptEncoding: "gzip"])
            #expect(channeldata.headers[.contentEncoding] == "gzip")
            #expect(try JSONValue.parse(gunzip(data(channeldata.body)))["packages"]?["clobber-nested-1"] != nil)
        }
        try await feed.application(configuration: .init(gzipJSON: false)).test(.router) { client in
            let response = try await client.execute(
                uri: "/conda/f/noarch/repodata.json", method: .get, headers: [.acceptEncoding: "gzip"])
            #expect(response.headers[.contentEncoding] == nil)
            #expect(response.headers[.vary] == nil)
        }
    }

    // MARK: Packages

    @Test("Package files: 200 with the exact bytes, immutable caching and a sha256 ETag")
    func packageDownload() async throws {
        let feed = try await ChannelTestFeed()
        let stored = try await feed.add(ChannelFixtures.largeConda)
        let bytes = try Data(contentsOf: ChannelFixtures.largeConda)
        try await feed.application().test(.router) { client in
            let uri = "/conda/f/osx-64/mock-2.0.0-py37_1000.conda"
            let response = try await client.execute(uri: uri, method: .get, headers: [.acceptEncoding: "gzip"])
            #expect(response.status == .ok)
            #expect(data(response.body) == bytes)
            #expect(response.headers[.contentLength] == String(bytes.count))
            #expect(response.headers[.contentType] == "application/octet-stream")
            #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
            #expect(response.headers[.acceptRanges] == "bytes")
            #expect(response.headers[.eTag] == "\"\(stored.sha256)\"")
            #expect(response.headers[.contentEncoding] == nil)
            #expect(HTTPDate.parse(response.headers[.lastModified] ?? "") != nil)

            let again = try await client.execute(
                uri: uri, method: .get, headers: [.ifNoneMatch: "\"\(stored.sha256)\""])
            #expect(again.status == .notModified)
            #expect(again.headers[.cacheControl] == "public, max-age=31536000, immutable")
            #expect(again.body.readableBytes == 0)
        }
    }

    @Test("Byte ranges: single, open, suffix (the LAST n bytes), unsatisfiable, malformed, multi-range")
    func packageRanges() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.largeConda)
        let bytes = try Data(contentsOf: ChannelFixtures.largeConda)
        let size = bytes.count
        let uri = "/conda/f/osx-64/mock-2.0.0-py37_1000.conda"
        try await feed.application().test(.router) { client in
            func get(_ range: String, _ extra: HTTPFields = [:]) async throws -> TestResponse {
                var headers = extra
                headers[.range] = range
                return try await client.execute(uri: uri, method: .get, headers: headers)
            }
            let first = try await get("bytes=0-99")
            #expect(first.status == .partialContent)
            #expect(first.headers[.contentRange] == "bytes 0-99/\(size)")
            #expect(first.headers[.contentLength] == "100")
            #expect(data(first.body) == bytes.prefix(100))

            let suffix = try await get("bytes=-1000")
            #expect(suffix.status == .partialContent)
            #expect(suffix.headers[.contentRange] == "bytes \(size - 1000)-\(size - 1)/\(size)")
            #expect(data(suffix.body) == bytes.suffix(1000))
            // A zip's end-of-central-directory record sits in the last 22 bytes: exactly what clients read.
            let tail = try await get("bytes=-22")
            #expect(data(tail.body) == bytes.suffix(22))
            #expect(data(tail.body).prefix(4) == Data([0x50, 0x4B, 0x05, 0x06]))

            let open = try await get("bytes=\(size - 10)-")
            #expect(open.status == .partialContent)
            #expect(data(open.body) == bytes.suffix(10))

            let clamped = try await get("bytes=100-\(size * 2)")
            #expect(clamped.headers[.contentRange] == "bytes 100-\(size - 1)/\(size)")
            #expect(data(clamped.body) == bytes.dropFirst(100))

            let wholeSuffix = try await get("bytes=-\(size * 2)")
            #expect(wholeSuffix.status == .partialContent)
            #expect(data(wholeSuffix.body) == bytes)

            for unsatisfiable in ["bytes=\(size)-", "bytes=\(size + 5)-\(size + 10)", "bytes=-0"] {
                let response = try await get(unsatisfiable)
                #expect(response.status == .rangeNotSatisfiable, "\(unsatisfiable)")
                #expect(response.headers[.contentRange] == "bytes */\(size)")
                #expect(try json(response.body)["error"]?.stringValue == "rangeNotSatisfiable")
            }

            let multi = try await get("bytes=0-1,5-6")
            #expect(multi.status == .ok)
            #expect(data(multi.body) == bytes)
            let garbage = try await get("bytes=x-y")
            #expect(garbage.status == .rangeNotSatisfiable)
            let otherUnit = try await get("items=0-1")
            #expect(otherUnit.status == .ok)
            #expect(data(otherUnit.body) == bytes)
        }
    }

    @Test("If-Range: a matching ETag or date keeps the range, anything else sends the whole file")
    func ifRange() async throws {
        let feed = try await ChannelTestFeed()
        let stored = try await feed.add(
            ChannelFixtures.largeConda, uploadedAt: Date(timeIntervalSince1970: 1_700_000_000))
        let bytes = try Data(contentsOf: ChannelFixtures.largeConda)
        let uri = "/conda/f/osx-64/mock-2.0.0-py37_1000.conda"
        try await feed.application().test(.router) { client in
            func get(ifRange: String) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=-100", .ifRange: ifRange])
            }
            let matching = try await get(ifRange: "\"\(stored.sha256)\"")
            #expect(matching.status == .partialContent)
            #expect(data(matching.body) == bytes.suffix(100))

            let date = try await get(ifRange: HTTPDate.format(Date(timeIntervalSince1970: 1_700_000_000)))
            #expect(date.status == .partialContent)

            for stale in [
                "\"0000\"", "W/\"\(stored.sha256)\"", HTTPDate.format(Date(timeIntervalSince1970: 1_600_000_000)),
            ] {
                let response = try await get(ifRange: stale)
                #expect(response.status == .ok, "\(stale)")
                #expect(data(response.body) == bytes)
                #expect(response.headers[.contentRange] == nil)
            }
        }
    }

    // MARK: HEAD

    @Test("HEAD returns the headers of GET and no body")
    func head() async throws {
        let feed = try await ChannelTestFeed()
        try await feed.add(ChannelFixtures.largeConda)
        try await feed.application().test(.router) { client in
            let cases: [(String, HTTPFields)] = [
                ("/conda/f/osx-64/repodata.json", [:]),
                ("/conda/f/osx-64/repodata.json", [.acceptEncoding: "gzip"]),
                ("/conda/f/osx-64/repodata.json.zst", [:]),
                ("/conda/f/noarch/repodata.json", [:]),
                ("/conda/f/channeldata.json", [:]),
                ("/conda/f/osx-64/mock-2.0.0-py37_1000.conda", [:]),
                ("/conda/f/osx-64/mock-2.0.0-py37_1000.conda", [.range: "bytes=-10"]),
                ("/conda/f/osx-64/mock-2.0.0-py37_1000.conda", [.range: "bytes=999999999-"]),
            ]
            for (uri, headers) in cases {
                let get = try await client.execute(uri: uri, method: .get, headers: headers)
                let head = try await client.execute(uri: uri, method: .head, headers: headers)
                #expect(head.status == get.status, "\(uri)")
                #expect(head.body.readableBytes == 0, "\(uri)")
                for field: HTTPField.Name in [
                    .contentType, .contentLength, .eTag, .lastModified, .cacheControl, .contentEncoding, .vary,
                    .acceptRanges, .contentRange,
                ] {
                    #expect(head.headers[field] == get.headers[field], "\(uri) \(field)")
                }
                #expect(get.headers[.contentLength] == String(get.body.readableBytes), "\(uri)")
            }
        }
    }

    // MARK: Uploads

    @Test("PUT /conda/<feed>/<subdir>/<file> reaches the upload handler after normalisation")
    func uploadRoute() async throws {
        let feed = try await ChannelTestFeed()
        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: SluiceErrorMiddleware())
        ChannelController(
            publisher: feed.publisher, metadata: feed.metadata, blobs: feed.blobs, configuration: .init(),
            uploadHandler: { request, _, feedName, subdir, filename in
                let body = try await request.body.collect(upTo: 1 << 20)
                return Response(
                    status: .created,
                    body: .init(
                        byteBuffer: ByteBuffer(string: "\(feedName)|\(subdir)|\(filename)|\(body.readableBytes)")))
            }
        ).addRoutes(to: router)
        let app = Application(router: router)
        try await app.test(.router) { client in
            let response = try await client.execute(
                uri: "/conda/f/./linux-64//dummy-a-0.1.0-hb0f4dca_0.conda", method: .put,
                body: ByteBuffer(string: "12345"))
            #expect(response.status == .created)
            #expect(String(buffer: response.body) == "f|linux-64|dummy-a-0.1.0-hb0f4dca_0.conda|5")
            try expectJSONNotFound(
                try await client.execute(
                    uri: "/conda/f/../../x/noarch/a-1-0.conda", method: .put, body: ByteBuffer(string: "1")))
            try expectJSONNotFound(
                try await client.execute(uri: "/conda/f/noarch", method: .put, body: ByteBuffer(string: "1")))
        }
        // Without a handler the route answers 404.
        try await feed.application().test(.router) { client in
            try expectJSONNotFound(
                try await client.execute(
                    uri: "/conda/f/noarch/a-1-0.conda", method: .put, body: ByteBuffer(string: "1")))
        }
    }
}
