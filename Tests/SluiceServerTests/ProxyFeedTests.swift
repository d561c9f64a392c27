import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

/// Proxy feeds against a fake upstream serving the conda-format-repo fixture, through the router (no sockets on the
/// Sluice side; the upstream is a real HTTP server on 127.0.0.1).
@Suite("Proxy feeds")
struct ProxyFeedTests {
    @Test("linux-64 repodata carries the upstream records unchanged (minus url), .zst equals .json, noarch exists")
    func repodataMatchesUpstream() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        let expected = repodataRecords(try JSONValue.parse(channelFixture("linux-64/repodata.json")))
        #expect(expected.count == 3)

        try await harness.test { client in
            let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            #expect(json.status == .ok)
            let served = repodataRecords(try JSONValue.parse(json.body.readableBytesView))
            #expect(Set(served.keys) == Set(expected.keys))
            for (filename, fields) in expected {
                var upstreamFields = fields
                upstreamFields["url"] = nil
                upstreamFields["channel"] = nil
                #expect(served[filename] == upstreamFields, "\(filename)")
            }
            let document = try JSONValue.parse(json.body.readableBytesView)
            #expect(document["info"]?["base_url"] == nil)

            let zst = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json.zst", method: .get)
            #expect(zst.status == .ok)
            let decompressed = try Zstd.decompress(Data(zst.body.readableBytesView), maxOutputSize: 1 << 24)
            #expect(decompressed == Data(json.body.readableBytesView))

            let bz2 = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json.bz2", method: .get)
            #expect(
                try Bzip2.decompress(Data(bz2.body.readableBytesView), maxOutputSize: 1 << 24)
                    == Data(json.body.readableBytesView))
            let current = try await client.execute(uri: "/conda/proxy/linux-64/current_repodata.json", method: .get)
            #expect(current.status == .ok)

            let noarch = try await client.execute(uri: "/conda/proxy/noarch/repodata.json", method: .get)
            #expect(noarch.status == .ok)
            #expect(try JSONValue.parse(noarch.body.readableBytesView)["info"]?["subdir"]?.stringValue == "noarch")

            // A platform neither the feed nor the upstream has.
            let missing = try await client.execute(uri: "/conda/proxy/linux-aarch64/repodata.json", method: .get)
            #expect(missing.status == .notFound)

            let channeldata = try await client.execute(uri: "/conda/proxy/channeldata.json", method: .get)
            #expect(channeldata.status == .ok)
            #expect(try JSONValue.parse(channeldata.body.readableBytesView)["packages"]?["zlib"] != nil)
        }
        // One fetch per subdir: the .zst the fake upstream offers.
        #expect(upstream.requestCount("linux-64/repodata.json.zst") == 1)
        #expect(upstream.requestCount("linux-64/repodata.json") == 0)
        await upstream.stop()
    }

    @Test("a local package shadows the upstream file of the same name")
    func localShadowsUpstream() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        // The same file, stored locally with a marker field in its record.
        let filename = "zlib-1.2.11-h7b6447c_3.conda"
        let fixture = repodataRecords(try JSONValue.parse(channelFixture("linux-64/repodata.json")))
        var fields = try #require(fixture[filename])
        fields["sluice_local"] = .bool(true)
        let file = harness.folder.appendingPathComponent("local.conda")
        try FileManager.default.createDirectory(at: harness.folder, withIntermediateDirectories: true)
        try channelFixture("linux-64/\(filename)").write(to: file)
        let record = PackageRecord(filename: filename, fields: fields)
        try await harness.services.blobs.put(sha256: record.sha256, from: file)
        _ = try await harness.metadata.addPackage(
            StoredPackage(feed: "proxy", subdir: "linux-64", record: record), overwrite: false)

        try await harness.test { client in
            let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            let served = repodataRecords(try JSONValue.parse(json.body.readableBytesView))
            #expect(served[filename]?["sluice_local"] == .bool(true))
            #expect(served["zlib-1.2.11-h7b6447c_3.tar.bz2"]?["sluice_local"] == nil)
            #expect(served.count == 3)
            let package = try await client.execute(uri: "/conda/proxy/linux-64/\(filename)", method: .get)
            #expect(package.status == .ok)
            #expect(sha256Hex(package.body.readableBytesView) == record.sha256)
        }
        #expect(upstream.requestCount("linux-64/\(filename)") == 0)
        await upstream.stop()
    }

    @Test("with two connectors the first that lists a file wins; a filter blocks a name")
    func connectorOrderAndFilter() async throws {
        let first = try await FakeUpstream.start()
        let second = try await FakeUpstream.start()
        var extra = try #require(
            repodataRecords(try JSONValue.parse(channelFixture("linux-64/repodata.json")))[
                "zlib-1.2.11-h7b6447c_3.conda"])
        extra["version"] = .string("9.9")
        extra["from_second"] = .bool(true)
        second.setFile(
            "linux-64/repodata.json",
            contents: try modifiedLinuxRepodata(
                change: {
                    var fields = $0; fields["from_second"] = .bool(true); return fields
                },
                extra: ["zlib-9.9-h7b6447c_3.conda": extra]))
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("one", url: first.baseURL)
        try await harness.addConnector("two", url: second.baseURL)
        try await harness.addConnector("blocking", url: first.baseURL, filters: ["!zlib"])
        try await harness.addProxyFeed(connectors: ["one", "two"])
        try await harness.addProxyFeed("filtered", connectors: ["blocking"])

        try await harness.test { client in
            let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            let served = repodataRecords(try JSONValue.parse(json.body.readableBytesView))
            #expect(served["zlib-1.2.11-h7b6447c_3.conda"]?["from_second"] == nil)
            #expect(served["zlib-1.2.11-h7b6447c_3.tar.bz2"]?["from_second"] == nil)
            #expect(served["zlib-9.9-h7b6447c_3.conda"]?["from_second"] == .bool(true))
            #expect(served.count == 4)

            let filtered = try await client.execute(uri: "/conda/filtered/linux-64/repodata.json", method: .get)
            let names = repodataRecords(try JSONValue.parse(filtered.body.readableBytesView)).values.compactMap {
                $0["name"]?.stringValue
            }
            #expect(names == ["libgcc-ng"])
            let blocked = try await client.execute(
                uri: "/conda/filtered/linux-64/zlib-1.2.11-h7b6447c_3.conda", method: .get)
            #expect(blocked.status == .notFound)
        }
        await first.stop()
        await second.stop()
    }

    @Test("a package is fetched once, byte-identical, then served from the cache with ETag, ranges and 304")
    func packageFetchThrough() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        let path = "linux-64/zlib-1.2.11-h7b6447c_3.tar.bz2"
        let manifest = try channelManifestEntry(path)

        try await harness.test { client in
            let first = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(first.status == .ok)
            #expect(first.body.readableBytes == Int(manifest.size))
            #expect(sha256Hex(first.body.readableBytesView) == manifest.sha256)
            #expect(first.headers[.eTag] == "\"\(manifest.sha256)\"")

            let second = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(sha256Hex(second.body.readableBytesView) == manifest.sha256)
            #expect(second.headers[.cacheControl]?.contains("immutable") == true)

            var range = HTTPFields()
            range[.range] = "bytes=10-19"
            let partial = try await client.execute(uri: "/conda/proxy/\(path)", method: .get, headers: range)
            #expect(partial.status == .partialContent)
            #expect(Data(partial.body.readableBytesView) == (try channelFixture(path)).subdata(in: 10..<20))

            var conditional = HTTPFields()
            conditional[.ifNoneMatch] = "\"\(manifest.sha256)\""
            let notModified = try await client.execute(
                uri: "/conda/proxy/\(path)", method: .get, headers: conditional)
            #expect(notModified.status == .notModified)
            let head = try await client.execute(uri: "/conda/proxy/\(path)", method: .head)
            #expect(head.headers[.contentLength] == String(manifest.size))
        }
        #expect(upstream.requestCount(path) == 1)
        let cached = try await harness.metadata.cachedFile(
            connector: "up", subdir: "linux-64", filename: "zlib-1.2.11-h7b6447c_3.tar.bz2")
        #expect(cached?.sha256 == manifest.sha256)
        let status = await harness.services.upstreamMirror.status(connector: "up")
        #expect(status.packageMisses == 1)
        #expect(status.packageHits >= 4)
        #expect(status.health == "healthy")
        #expect(status.subdirs == ["linux-64"])
        await upstream.stop()
    }

    @Test("a file the upstream lists but does not have is a 404; a Range request for an uncached file works")
    func absentUpstreamFileAndRange() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        try await harness.test { client in
            // Listed in the fixture's repodata, missing upstream: the upstream says 404, so do we.
            let absent = try await client.execute(
                uri: "/conda/proxy/linux-64/libgcc-ng-8.2.0-hdf63c60_1.tar.bz2", method: .get)
            #expect(absent.status == .notFound)
            #expect(String(buffer: absent.body).contains("libgcc-ng-8.2.0-hdf63c60_1.tar.bz2"))

            var range = HTTPFields()
            range[.range] = "bytes=-100"
            let path = "osx-64/zlib-1.2.11-h1de35cc_3.conda"
            let partial = try await client.execute(uri: "/conda/proxy/\(path)", method: .get, headers: range)
            #expect(partial.status == .partialContent)
            let bytes = try channelFixture(path)
            #expect(Data(partial.body.readableBytesView) == bytes.suffix(100))
        }
        #expect(
            try await harness.metadata.cachedFile(
                connector: "up", subdir: "linux-64", filename: "libgcc-ng-8.2.0-hdf63c60_1.tar.bz2") == nil)
        await upstream.stop()
    }

    @Test("wrong bytes are a 502, nothing is cached, and the next request retries")
    func wrongBytes() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        let path = "linux-64/zlib-1.2.11-h7b6447c_3.conda"
        upstream.script(path, fault: .wrongBytes, times: 1)
        try await harness.test { client in
            _ = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            let bad = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(bad.status == .badGateway)
            #expect(String(buffer: bad.body).contains("sha256"))
            #expect(
                try await harness.metadata.cachedFile(
                    connector: "up", subdir: "linux-64", filename: "zlib-1.2.11-h7b6447c_3.conda") == nil)
            let leftovers =
                (try? FileManager.default.contentsOfDirectory(atPath: harness.services.temporaryDirectory.path)) ?? []
            #expect(leftovers.isEmpty)

            let good = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(good.status == .ok)
            #expect(sha256Hex(good.body.readableBytesView) == (try channelManifestEntry(path)).sha256)
        }
        #expect(upstream.requestCount(path) == 2)
        await upstream.stop()
    }

    @Test("50 concurrent GETs of an uncached file make exactly one upstream request and get identical bodies")
    func concurrentMisses() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        let path = "win-64/zlib-1.2.11-h62dcd97_3.tar.bz2"
        upstream.script(path, fault: .delay(.milliseconds(300)))
        let expected = try channelManifestEntry(path).sha256
        try await harness.test { client in
            _ = try await client.execute(uri: "/conda/proxy/win-64/repodata.json", method: .get)
            let hashes = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        let response = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
                        return response.status == .ok
                            ? sha256Hex(response.body.readableBytesView) : "\(response.status)"
                    }
                }
                var all: [String] = []
                for try await hash in group { all.append(hash) }
                return all
            }
            #expect(hashes.count == 50)
            #expect(Set(hashes) == [expected])
        }
        #expect(upstream.requestCount(path) == 1)
        await upstream.stop()
    }

    @Test("upstream 500 after a good snapshot: still served (stale-if-error), and the status shows the error")
    func staleIfError() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL, minutes: 5)
        try await harness.addProxyFeed(connectors: ["up"])
        try await harness.test { client in
            let first = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            #expect(first.status == .ok)
            upstream.script("linux-64/repodata.json.zst", fault: .status(500))
            harness.clock.advance(minutes: 6)
            let stale = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            #expect(stale.status == .ok)
            #expect(stale.body == first.body)
            await harness.services.upstreamMirror.waitForBackgroundRefreshes()
            let again = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            #expect(again.body == first.body)
        }
        #expect(upstream.requestCount("linux-64/repodata.json.zst") == 2)
        let status = await harness.services.upstreamMirror.status(connector: "up")
        #expect(status.health == "degraded")
        #expect(status.lastError?.contains("500") == true)
        #expect(status.metadataMisses == 1)
        #expect(status.metadataHits >= 3)
        await upstream.stop()
    }

    @Test("no snapshot and the upstream down: 502 naming the upstream URL; a slow upstream: 504")
    func noSnapshotFailures() async throws {
        let upstream = try await FakeUpstream.start()
        let down = try await FakeUpstream.start()
        let downURL = down.baseURL
        await down.stop()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("down", url: downURL, timeout: 2)
        try await harness.addConnector("slow", url: upstream.baseURL, timeout: 1)
        try await harness.addProxyFeed("dead", connectors: ["down"])
        try await harness.addProxyFeed("slow", connectors: ["slow"])
        upstream.script("linux-64/repodata.json.zst", fault: .delay(.seconds(3)))
        try await harness.test { client in
            let dead = try await client.execute(uri: "/conda/dead/linux-64/repodata.json", method: .get)
            #expect(dead.status == .badGateway)
            #expect(String(buffer: dead.body).contains(downURL))

            let slow = try await client.execute(uri: "/conda/slow/linux-64/repodata.json", method: .get)
            #expect(slow.status == .gatewayTimeout)
            #expect(String(buffer: slow.body).contains(upstream.baseURL))
        }
        let status = await harness.services.upstreamMirror.status(connector: "down")
        #expect(status.health == "unavailable")
        #expect(status.lastError != nil)
        await upstream.stop()
    }

    @Test("a changed upstream appears after metadataCacheMinutes; revalidation sends If-None-Match (304 path)")
    func revalidation() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL, minutes: 10)
        try await harness.addProxyFeed(connectors: ["up"])
        let zst = "linux-64/repodata.json.zst"
        let newFile = "zlib-1.3.1-h7b6447c_0.conda"
        try await harness.test { client in
            let names = { () async throws -> Set<String> in
                try await client.repodataFilenames(feed: "proxy", subdir: "linux-64") ?? []
            }
            #expect(try await names().count == 3)
            #expect(try await names().count == 3)
            #expect(upstream.requestCount(zst) == 1)  // fresh: no upstream request

            harness.clock.advance(minutes: 11)
            #expect(try await names().count == 3)
            await harness.services.upstreamMirror.waitForBackgroundRefreshes()
            #expect(upstream.requestCount(zst) == 2)
            #expect(upstream.lastRequest(zst)?.headers["if-none-match"] != nil)

            var record = try #require(
                repodataRecords(try JSONValue.parse(channelFixture("linux-64/repodata.json")))[
                    "zlib-1.2.11-h7b6447c_3.conda"])
            record["version"] = .string("1.3.1")
            record["build"] = .string("h7b6447c_0")
            upstream.setFile("linux-64/repodata.json", contents: try modifiedLinuxRepodata(extra: [newFile: record]))
            #expect(try await names().count == 3)  // still fresh after the 304
            harness.clock.advance(minutes: 11)
            #expect(try await names().count == 3)  // served stale at once, refreshed in the background
            await harness.services.upstreamMirror.waitForBackgroundRefreshes()
            #expect(try await names().contains(newFile))
            let zstBody = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json.zst", method: .get)
            let json = try Zstd.decompress(Data(zstBody.body.readableBytesView), maxOutputSize: 1 << 24)
            #expect(repodataRecords(try JSONValue.parse(json))[newFile] != nil)
        }
        #expect(upstream.requestCount(zst) == 3)
        await upstream.stop()
    }

    @Test("depends: null becomes []")
    func nullDepends() async throws {
        let upstream = try await FakeUpstream.start()
        upstream.setFile(
            "linux-64/repodata.json",
            contents: try modifiedLinuxRepodata(change: {
                var fields = $0; fields["depends"] = .null; return fields
            }))
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        try await harness.test { client in
            let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            let served = repodataRecords(try JSONValue.parse(json.body.readableBytesView))
            #expect(served.count == 3)
            for fields in served.values { #expect(fields["depends"] == .array([])) }
        }
        await upstream.stop()
    }
}
