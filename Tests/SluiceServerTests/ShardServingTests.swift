import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SluiceCore
import SluiceStorage
import SluiceTesting
import Testing

@testable import SluiceServer

/// One Sluice instance for the shard tests: the whole router (`buildRouter`) over a metadata store (memory, or SQLite
/// in `folder`), package blobs and shard blobs on disk in `folder`, and a movable clock. Several instances may share
/// one folder (one database, one data directory), as several servers or a restart would.
private struct ShardTestInstance: Sendable {
    let services: SluiceServices
    let sqlite: SQLMetadataStore?
    let folder: URL

    static func make(
        folder: URL, clock: ProxyTestClock, sqlite: Bool = false, metadata: (any MetadataStore)? = nil,
        configure: (inout SluiceConfiguration) -> Void = { _ in }
    ) async throws -> ShardTestInstance {
        var configuration = SluiceConfiguration()
        configure(&configuration)
        var logger = Logger(label: "sluice.shards.test")
        logger.logLevel = .warning
        let store: SQLMetadataStore? =
            sqlite
            ? try await SQLMetadataStore.sqlite(file: folder.appendingPathComponent("sluice.sqlite"), logger: logger)
            : nil
        let metadata = metadata ?? store ?? MemoryMetadataStore()
        if let security = metadata as? any SecurityStore {
            // Anonymous may view every feed, as on a new install.
            _ = try await SecurityBootstrap.installDefaults(security: security, logger: logger)
        }
        let blobs = try FileSystemBlobStore(root: folder.appendingPathComponent("blobs", isDirectory: true))
        let shardBlobs = try FileSystemBlobStore(root: folder.appendingPathComponent("shards", isDirectory: true))
        let services = try SluiceServices(
            configuration: configuration, metadata: metadata, blobs: blobs,
            temporaryDirectory: blobs.temporaryDirectory,
            clock: { clock.now }, shardBlobs: shardBlobs, logger: logger)
        return ShardTestInstance(services: services, sqlite: store, folder: folder)
    }

    /// Creates the hosted feed `name` unless it exists.
    func createFeed(_ name: String) async throws {
        if try await services.metadata.feed(named: name) == nil {
            try await services.metadata.createFeed(Feed(name: name))
        }
    }

    /// Inspects a fixture package, stores its bytes and row, and republishes its subdir.
    @discardableResult
    func add(_ file: URL, feed: String = "f") async throws -> StoredPackage {
        let inspected = try PackageInspector().inspect(file: file, filename: file.lastPathComponent)
        let copy = services.temporaryDirectory.appendingPathComponent("fixture-\(UUID().uuidString).part")
        try FileManager.default.createDirectory(at: services.temporaryDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: file, to: copy)
        try await services.blobs.put(sha256: inspected.record.sha256, from: copy)
        try? FileManager.default.removeItem(at: copy)
        let stored = StoredPackage(
            feed: feed, subdir: inspected.subdir, record: inspected.record, channelData: inspected.channelData)
        _ = try await services.metadata.addPackage(stored, overwrite: false)
        try await services.publisher.republish(feed: feed, subdir: inspected.subdir)
        return stored
    }

    func test<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let app = Application(router: buildRouter(services: services, logger: Logger(label: "sluice.shards.test")))
        return try await app.test(.router, body)
    }

    /// Waits for the archive's writes and closes the database.
    func shutdown() async throws {
        await services.shardArchive.flush()
        try await sqlite?.shutdown()
    }
}

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent(
        "sluice-shard-tests-\(UUID().uuidString)", isDirectory: true)
}

private func bytes(_ response: TestResponse) -> Data { Data(response.body.readableBytesView) }

/// The decoded shard index of a response: its `info` map and package name → lowercase hex SHA-256.
private func decodeIndex(_ data: Data) throws -> (info: [String: MessagePackValue], shards: [String: String]) {
    let index = try MessagePackReader.decode(try Zstd.decompress(data, maxOutputSize: 1 << 26))
    let info = try #require(index["info"]?.mapValue)
    var shards: [String: String] = [:]
    for (name, value) in try #require(index["shards"]?.mapValue) {
        // CEP 16: the hash is msgpack binary, 32 bytes.
        let hash = try #require(value.binaryValue, "\(name): the index must hold binary hashes")
        #expect(hash.count == 32)
        shards[name] = HexCoding.encode(hash)
    }
    return (info, shards)
}

/// Fetches the index and every shard of `feed`/`subdir` and checks that together they hold exactly the records of
/// `repodata.json` (hashes as binary, read back as hex), each shard holding only its own name's records and named
/// by the SHA-256 of its bytes. Returns name → hex hash.
@discardableResult
private func verifyShards(
    feed: String, subdir: String, client: any TestClientProtocol, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [String: String] {
    let repodataResponse = try await client.execute(uri: "/conda/\(feed)/\(subdir)/repodata.json", method: .get)
    #expect(repodataResponse.status == .ok, sourceLocation: sourceLocation)
    let expected = repodataRecords(try JSONValue.parse(repodataResponse.body.readableBytesView))

    let indexResponse = try await client.execute(
        uri: "/conda/\(feed)/\(subdir)/repodata_shards.msgpack.zst", method: .get)
    #expect(indexResponse.status == .ok, sourceLocation: sourceLocation)
    let (info, shards) = try decodeIndex(bytes(indexResponse))
    #expect(info["subdir"] == .string(subdir), sourceLocation: sourceLocation)
    // Relative, so they resolve under whatever prefix the client used; never a host, a path or a token.
    #expect(info["base_url"] == .string(""), sourceLocation: sourceLocation)
    #expect(info["shards_base_url"] == .string("shards/"), sourceLocation: sourceLocation)
    let expectedNames = Set(expected.values.compactMap { $0["name"]?.stringValue })
    #expect(Set(shards.keys) == expectedNames, sourceLocation: sourceLocation)

    var seen: [String: [String: JSONValue]] = [:]
    for (name, hash) in shards {
        let response = try await client.execute(
            uri: "/conda/\(feed)/\(subdir)/shards/\(hash).msgpack.zst", method: .get)
        #expect(response.status == .ok, "\(name)", sourceLocation: sourceLocation)
        let body = bytes(response)
        #expect(HexCoding.encode(SHA256.hash(data: body)) == hash, "\(name)", sourceLocation: sourceLocation)
        let shard = try MessagePackReader.decode(try Zstd.decompress(body, maxOutputSize: 1 << 26))
        #expect(
            Set(try #require(shard.mapValue).keys) == ["packages", "packages.conda"], sourceLocation: sourceLocation)
        for section in ["packages", "packages.conda"] {
            for (filename, record) in try #require(shard[section]?.mapValue) {
                #expect(filename.hasSuffix(".conda") == (section == "packages.conda"), sourceLocation: sourceLocation)
                #expect(record["sha256"]?.binaryValue?.count == 32, "\(filename)", sourceLocation: sourceLocation)
                #expect(record["md5"]?.binaryValue?.count == 16, "\(filename)", sourceLocation: sourceLocation)
                let fields = try #require(record.jsonValue().objectValue)
                #expect(fields["name"]?.stringValue == name, sourceLocation: sourceLocation)
                #expect(
                    seen.updateValue(fields, forKey: filename) == nil, "\(filename) twice",
                    sourceLocation: sourceLocation)
            }
        }
    }
    #expect(seen == expected, "the shards hold exactly the records of repodata.json", sourceLocation: sourceLocation)
    return shards
}

@Suite("Sharded repodata served for hosted and proxy feeds")
struct ShardServingTests {
    // MARK: Content

    @Test("A hosted feed's shards decode to exactly the records of repodata.json, in every subdir")
    func hostedFeed() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let instance = try await ShardTestInstance.make(folder: folder, clock: ProxyTestClock())
        try await instance.createFeed("f")
        var subdirs = Set<String>()
        let files =
            try ChannelFixtures.testRecipes()
            + ["dummy-a-0.1.0-hb0f4dca_0.conda", "dummy-c-0.1.0-hb0f4dca_0.conda"].map { Fixtures.package("pixi", $0) }
            + [
                Fixtures.package("conda-index", "conda-index-pkg-a-1.0-py27h5e241af_0.conda"),
                Fixtures.package("conda-index", "conda-index-pkg-a-1.0-py27h5e241af_0.tar.bz2"),
            ]
        for file in files {
            subdirs.insert(try await instance.add(file).subdir)
        }
        #expect(subdirs.count >= 2)
        try await instance.test { [subdirs] client in
            for subdir in subdirs {
                let shards = try await verifyShards(feed: "f", subdir: subdir, client: client)
                #expect(!shards.isEmpty)
            }
        }
        try await instance.shutdown()
    }

    @Test("A proxy feed gets shards built from upstream repodata that has none; filtered records are in no shard")
    func proxyFeed() async throws {
        let upstream = try await FakeUpstream.start()
        // The upstream offers no sharded repodata.
        upstream.script("linux-64/repodata_shards.msgpack.zst", fault: .status(404))
        upstream.script("noarch/repodata_shards.msgpack.zst", fault: .status(404))
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        if let security = harness.metadata as? any SecurityStore {
            _ = try await SecurityBootstrap.installDefaults(security: security, logger: Logger(label: "test"))
        }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addConnector("filtered", url: upstream.baseURL, filters: ["!libgcc-ng"])
        try await harness.addProxyFeed("proxy", connectors: ["up"])
        try await harness.addProxyFeed("blocked", connectors: ["filtered"])

        try await harness.test { client in
            let shards = try await verifyShards(feed: "proxy", subdir: "linux-64", client: client)
            #expect(Set(shards.keys) == ["libgcc-ng", "zlib"])
            // The upstream's own noarch is empty: an index with no shards.
            let noarch = try await verifyShards(feed: "proxy", subdir: "noarch", client: client)
            #expect(noarch.isEmpty)

            let filtered = try await verifyShards(feed: "blocked", subdir: "linux-64", client: client)
            #expect(Set(filtered.keys) == ["zlib"])
            #expect(filtered["zlib"] == shards["zlib"], "the same records give the same shard")
            // A shard of another feed is not served under this one.
            let other = try await client.execute(
                uri: "/conda/blocked/linux-64/shards/\(shards["libgcc-ng"]!).msgpack.zst", method: .get)
            #expect(other.status == .notFound)
        }
        #expect(upstream.requestCount("linux-64/repodata_shards.msgpack.zst") == 0)
        #expect(upstream.requestCount("linux-64/repodata.json.zst") >= 1)
        await upstream.stop()
    }

    // MARK: HTTP

    @Test("Headers: short max-age and ETag on the index, immutable shards, /./shards/, no-store, HEAD, 304")
    func headers() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let instance = try await ShardTestInstance.make(folder: folder, clock: ProxyTestClock()) {
            $0.channel.repodataMaxAge = 45
        }
        try await instance.createFeed("f")
        try await instance.add(ChannelFixtures.linuxConda)
        try await instance.test { client in
            var gzip = HTTPFields()
            gzip[.acceptEncoding] = "gzip, zstd"
            let index = try await client.execute(
                uri: "/conda/f/linux-64/repodata_shards.msgpack.zst", method: .get, headers: gzip)
            #expect(index.status == .ok)
            #expect(index.headers[.cacheControl] == "public, max-age=45")
            #expect(index.headers[.contentType] == "application/zstd")
            #expect(index.headers[.contentEncoding] == nil)
            let etag = try #require(index.headers[.eTag])
            #expect(etag.hasPrefix("\"") && etag.count == 34)
            #expect(index.headers[.lastModified] != nil)
            #expect(index.headers[.contentLength] == String(index.body.readableBytes))

            let revalidated = try await client.execute(
                uri: "/conda/f/linux-64/repodata_shards.msgpack.zst", method: .get, headers: [.ifNoneMatch: etag])
            #expect(revalidated.status == .notModified)
            #expect(revalidated.headers[.eTag] == etag)
            #expect(revalidated.body.readableBytes == 0)

            let (_, shards) = try decodeIndex(bytes(index))
            let hash = try #require(shards["dummy-a"])
            let canonical = try await client.execute(uri: "/conda/f/linux-64/shards/\(hash).msgpack.zst", method: .get)
            #expect(canonical.status == .ok)
            #expect(canonical.headers[.cacheControl] == "public, max-age=31536000, immutable")
            #expect(canonical.headers[.contentType] == "application/zstd")
            #expect(canonical.headers[.eTag] == "\"\(hash.prefix(32))\"")

            // libmamba's `./shards/`, rattler's request `Cache-Control: no-store`, and the token prefixes.
            var noStore = HTTPFields()
            noStore[.cacheControl] = "no-store"
            noStore[.acceptEncoding] = "gzip"
            for uri in [
                "/conda/f/linux-64/./shards/\(hash).msgpack.zst", "/conda/f/linux-64/shards/\(hash).msgpack.zst",
            ] {
                let response = try await client.execute(uri: uri, method: .get, headers: noStore)
                #expect(response.status == .ok, "\(uri)")
                #expect(response.headers[.contentEncoding] == nil)
                #expect(bytes(response) == bytes(canonical), "\(uri)")
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
            }
            let head = try await client.execute(uri: "/conda/f/linux-64/shards/\(hash).msgpack.zst", method: .head)
            #expect(head.status == .ok)
            #expect(head.headers[.contentLength] == String(canonical.body.readableBytes))
            #expect(head.body.readableBytes == 0)
            let shard304 = try await client.execute(
                uri: "/conda/f/linux-64/shards/\(hash).msgpack.zst", method: .get,
                headers: [.ifNoneMatch: canonical.headers[.eTag]!])
            #expect(shard304.status == .notModified)

            for missing in [
                "/conda/f/linux-64/shards/\(String(repeating: "0", count: 64)).msgpack.zst",
                "/conda/f/linux-64/\(hash).msgpack.zst",  // shards live under shards/, not beside the index
                "/conda/f/linux-64/shards/\(hash)",
                "/conda/f/linux-64/shards/../../../blobs/\(hash).msgpack.zst",
                "/conda/f/linux-64/shards/\(hash.uppercased()).msgpack.zst",
            ] {
                let response = try await client.execute(uri: missing, method: .get)
                #expect(response.status == .notFound, "\(missing)")
            }
            // A package blob is never served as a shard, even under a shard name.
            let packageSHA = try manifestEntry("pixi", "dummy-a-0.1.0-hb0f4dca_0.conda").sha256
            let package = try await client.execute(
                uri: "/conda/f/linux-64/shards/\(packageSHA).msgpack.zst", method: .get)
            #expect(package.status == .notFound)
        }
        try await instance.shutdown()
    }

    @Test("serveShards off: the index and shards are 404s, repodata.json is served")
    func switchedOff() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let instance = try await ShardTestInstance.make(folder: folder, clock: ProxyTestClock()) {
            $0.channel.serveShards = false
        }
        try await instance.createFeed("f")
        try await instance.add(ChannelFixtures.linuxConda)
        let snapshot = try #require(try await instance.services.publisher.snapshot(feed: "f", subdir: "linux-64"))
        let shardName = try #require(snapshot.shards.keys.first)
        try await instance.test { client in
            let index = try await client.execute(uri: "/conda/f/linux-64/repodata_shards.msgpack.zst", method: .get)
            #expect(index.status == .notFound)
            let shard = try await client.execute(uri: "/conda/f/linux-64/shards/\(shardName)", method: .get)
            #expect(shard.status == .notFound)
            let repodata = try await client.execute(uri: "/conda/f/linux-64/repodata.json", method: .get)
            #expect(repodata.status == .ok)
        }
        try await instance.shutdown()
    }

    @Test("Token-prefixed paths: the same index (relative URLs, no key in it), shards resolved under the prefix")
    func tokenPaths() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let instance = try await ShardTestInstance.make(folder: folder, clock: ProxyTestClock())
        try await instance.createFeed("f")
        try await instance.add(ChannelFixtures.linuxConda)
        // A feed key that may view `f`, given the way conda, rattler and mamba send it: in the path.
        let key = "k" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await instance.services.security.createAPIKey(
            APIKey(
                kind: .feed, displayName: "shards-test", keyHash: HexCoding.encode(SHA256.hash(data: Data(key.utf8))),
                feeds: ["f"], tasks: [.viewDownload]))
        await instance.services.access.securityChanged()
        try await instance.test { client in
            let canonical = try await client.execute(uri: "/conda/f/linux-64/repodata_shards.msgpack.zst", method: .get)
            #expect(canonical.status == .ok)
            for prefix in ["/t/\(key)/conda/f", "/conda/t/\(key)/f"] {
                let indexURI = "\(prefix)/linux-64/repodata_shards.msgpack.zst"
                let index = try await client.execute(uri: indexURI, method: .get)
                #expect(index.status == .ok, "\(prefix)")
                #expect(bytes(index) == bytes(canonical), "one index for every path")
                let raw = try Zstd.decompress(bytes(index), maxOutputSize: 1 << 24)
                #expect(raw.range(of: Data(key.utf8)) == nil)
                // Resolve shards_base_url the way clients do (RFC 3986 against the index URL).
                let (info, shards) = try decodeIndex(bytes(index))
                let base = try #require(URL(string: "http://127.0.0.1\(indexURI)"))
                let relative = try #require(info["shards_base_url"]?.stringValue)
                let shardsBase = try #require(URL(string: relative, relativeTo: base))
                // `base_url` is "": packages live beside the index, under the same prefix.
                #expect(info["base_url"] == .string(""))
                for hash in shards.values {
                    let shardPath = shardsBase.appendingPathComponent("\(hash).msgpack.zst").absoluteURL.path
                    #expect(shardPath == "\(prefix)/linux-64/shards/\(hash).msgpack.zst")
                    let shard = try await client.execute(uri: shardPath, method: .get)
                    #expect(shard.status == .ok, "\(shardPath)")
                    #expect(HexCoding.encode(SHA256.hash(data: bytes(shard))) == hash)
                }
            }
        }
        try await instance.shutdown()
    }

    // MARK: Retention

    @Test(
        "A superseded shard stays served after the snapshot changed, across instances and a restart, until it expires")
    func retention() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let clock = ProxyTestClock()
        let first = try await ShardTestInstance.make(folder: folder, clock: clock, sqlite: true)
        try await first.createFeed("f")
        let recipes = try ChannelFixtures.testRecipes()
        func recipe(_ name: String) throws -> URL { try #require(recipes.first { $0.lastPathComponent == name }) }
        try await first.add(try recipe("dependency-1.0-0.conda"))
        try await first.add(try recipe("versioned-1.0-0.conda"))

        // A client takes the index (this records its shards), then the snapshot changes.
        let (old, oldBytes) = try await first.test { client in
            let shards = try await verifyShards(feed: "f", subdir: "noarch", client: client)
            let hash = try #require(shards["dependency"])
            let shard = try await client.execute(uri: "/conda/f/noarch/shards/\(hash).msgpack.zst", method: .get)
            return (shards, bytes(shard))
        }
        clock.advance(minutes: 10)
        try await first.add(try recipe("dependency-2.0-0.conda"))
        let new = try await first.test { client in
            let shards = try await verifyShards(feed: "f", subdir: "noarch", client: client)
            #expect(shards["dependency"] != old["dependency"])
            #expect(shards["versioned"] == old["versioned"], "an unchanged name keeps its shard")
            // The old index's shard is still served, with its bytes.
            let response = try await client.execute(
                uri: "/conda/f/noarch/shards/\(old["dependency"]!).msgpack.zst", method: .get)
            #expect(response.status == .ok)
            #expect(bytes(response) == oldBytes)
            #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
            return shards
        }
        await first.services.shardArchive.flush()
        let oldURL = folder.appendingPathComponent("shards", isDirectory: true)
            .appendingPathComponent(String(old["dependency"]!.prefix(2)))
            .appendingPathComponent(String(old["dependency"]!.dropFirst(2).prefix(2)))
            .appendingPathComponent(old["dependency"]!)
        #expect(FileManager.default.fileExists(atPath: oldURL.path), "kept under <data-dir>/shards")

        // Another instance on the same database and data directory serves it from the archive.
        let second = try await ShardTestInstance.make(folder: folder, clock: clock, sqlite: true)
        try await first.shutdown()
        clock.advance(minutes: 6 * 24 * 60)
        try await second.services.shardArchive.collect()
        try await second.test { client in
            let response = try await client.execute(
                uri: "/conda/f/noarch/shards/\(old["dependency"]!).msgpack.zst", method: .get)
            #expect(response.status == .ok)
            #expect(bytes(response) == oldBytes)
            #expect(response.headers[.eTag] == "\"\(old["dependency"]!.prefix(32))\"")
            // And the current ones from its own snapshot.
            try await verifyShards(feed: "f", subdir: "noarch", client: client)
        }
        try await second.shutdown()

        // A restart: still there, until the retention has passed since an index naming it was last served.
        let restarted = try await ShardTestInstance.make(folder: folder, clock: clock, sqlite: true)
        try await restarted.test { client in
            let response = try await client.execute(
                uri: "/conda/f/noarch/shards/\(old["dependency"]!).msgpack.zst", method: .get)
            #expect(response.status == .ok)
            #expect(bytes(response) == oldBytes)
        }
        clock.advance(minutes: 2 * 24 * 60)
        try await restarted.test { client in
            // The current index is served now, so its shards are current.
            let shards = try await verifyShards(feed: "f", subdir: "noarch", client: client)
            #expect(shards == new)
        }
        let collection = try await restarted.services.shardArchive.collect()
        #expect(collection.removedShards == 1)
        #expect(!FileManager.default.fileExists(atPath: oldURL.path))
        try await restarted.test { client in
            let gone = try await client.execute(
                uri: "/conda/f/noarch/shards/\(old["dependency"]!).msgpack.zst", method: .get)
            #expect(gone.status == .notFound)
            for (name, hash) in new {
                let response = try await client.execute(uri: "/conda/f/noarch/shards/\(hash).msgpack.zst", method: .get)
                #expect(response.status == .ok, "\(name)")
            }
        }
        try await restarted.shutdown()
    }

    @Test("The retention is configurable: a 1-day archive drops a superseded shard after a day, keeps it before")
    func configurableRetention() async throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let clock = ProxyTestClock()
        let instance = try await ShardTestInstance.make(folder: folder, clock: clock) {
            $0.channel.shardRetentionDays = 1
        }
        #expect(await instance.services.shardArchive.configuration.retention == 86_400)
        try await instance.createFeed("f")
        let recipes = try ChannelFixtures.testRecipes()
        try await instance.add(try #require(recipes.first { $0.lastPathComponent == "versioned-1.0-0.conda" }))
        let old = try await instance.test { client in
            try await verifyShards(feed: "f", subdir: "noarch", client: client)["versioned"]!
        }
        try await instance.add(try #require(recipes.first { $0.lastPathComponent == "versioned-2.0-0.conda" }))
        _ = try await instance.test { client in try await verifyShards(feed: "f", subdir: "noarch", client: client) }
        let path = "/conda/f/noarch/shards/\(old).msgpack.zst"

        clock.advance(minutes: 22 * 60)
        try await instance.services.shardArchive.collect()
        try await instance.test { client in
            let response = try await client.execute(uri: path, method: .get)
            #expect(response.status == .ok)
        }
        clock.advance(minutes: 4 * 60)
        try await instance.services.shardArchive.collect()
        try await instance.test { client in
            let response = try await client.execute(uri: path, method: .get)
            #expect(response.status == .notFound)
        }
        try await instance.shutdown()
    }
}
