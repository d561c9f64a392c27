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

/// Promotion out of a proxy feed over a fake upstream (a real HTTP server on 127.0.0.1 serving conda-format-repo).
@Suite("Promotion from a proxy feed")
struct PromotionProxyTests {
    static let conda = "zlib-1.2.11-h7b6447c_3.conda"
    static let tarBz2 = "zlib-1.2.11-h7b6447c_3.tar.bz2"

    /// A proxy feed `proxy` over `upstream`, a hosted feed `approved`, and the Admin user.
    static func harness(_ upstream: FakeUpstream) async throws -> ProxyHarness {
        let harness = try ProxyHarness.make()
        try await harness.metadata.createUser(
            User(name: "Admin", passwordHash: Bcrypt.hash(TestServer.adminPassword, cost: 4)))
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        try await harness.metadata.createFeed(Feed(name: "approved"))
        return harness
    }

    @Test("an uncached upstream file is fetched, verified and promoted with the upstream's hot-fixed record")
    func promoteUncachedWithHotfix() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try await Self.harness(upstream)
        defer { harness.cleanUp() }
        // The upstream hot-fixes the record: its depends differ from the package's own info/index.json.
        var repodata = try JSONValue.parse(channelFixture("linux-64/repodata.json"))
        guard case .object(var root) = repodata, case .object(var packages)? = root["packages.conda"],
            case .object(var record)? = packages[Self.conda]
        else {
            Issue.record("unexpected fixture shape")
            return
        }
        let hotfixed: JSONValue = .array([.string("libgcc-ng >=7.3.0"), .string("hotfix-marker >=1")])
        record["depends"] = hotfixed
        packages[Self.conda] = .object(record)
        root["packages.conda"] = .object(packages)
        repodata = .object(root)
        upstream.setFile("linux-64/repodata.json", contents: Data(repodata.compactJSON()))
        let expectedSHA = sha256Hex(try channelFixture("linux-64/\(Self.conda)"))

        try await harness.test { client in
            #expect(
                try await harness.services.upstreamMirror.cachedPackage(
                    connector: "up", subdir: "linux-64", filename: Self.conda) == nil)
            let response = try await client.promote(
                #"{"fromFeed":"proxy","toFeed":"approved","name":"zlib","version":"1.2.11","subdir":"linux-64","filename":"\#(Self.conda)","comments":"vetted"}"#
            )
            #expect(response.status == .ok)
            #expect(try json(response)["promoted"]?.intValue == 1)
            #expect(upstream.requestCount("linux-64/\(Self.conda)") == 1)

            let row = try #require(
                try await harness.metadata.package(feed: "approved", subdir: "linux-64", filename: Self.conda))
            #expect(row.sha256 == expectedSHA)
            #expect(row.record.fields["depends"] == hotfixed, "the hot-fixed record, not index.json's")
            #expect(try await harness.services.blobs.contains(sha256: expectedSHA))
            #expect(
                try await harness.services.upstreamMirror.cachedPackage(
                    connector: "up", subdir: "linux-64", filename: Self.conda)?.sha256 == expectedSHA)
            // Package row and cached-file row both reference the one blob.
            #expect(try await harness.metadata.referenceCount(sha256: expectedSHA) == 2)

            let served = try await client.execute(uri: "/conda/approved/linux-64/repodata.json", method: .get)
            #expect(served.status == .ok)
            let document = try JSONValue.parse(served.body.readableBytesView)
            #expect(document["packages.conda"]?[Self.conda]?["depends"] == hotfixed)
            let download = try await client.execute(uri: "/conda/approved/linux-64/\(Self.conda)", method: .get)
            #expect(sha256Hex(download.body.readableBytesView) == expectedSHA)

            // Without a subdir, the proxy's subdirs with upstream state (linux-64 now) and noarch are searched.
            let all = try await client.promote(
                #"{"fromFeed":"proxy","toFeed":"approved","name":"zlib","version":"1.2.11"}"#)
            #expect(all.status == .ok)
            let body = try json(all)
            #expect(body["promoted"]?.intValue == 1)
            #expect(body["alreadyPromoted"]?.intValue == 1)
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64") == [Self.conda, Self.tarBz2])
            let history = try await harness.metadata.promotions(
                fromFeed: "proxy", toFeed: "approved", package: "zlib", version: nil)
            #expect(history.map(\.filename) == [Self.tarBz2, Self.conda])
        }
        await upstream.stop()
    }

    @Test("wrong bytes from the upstream: 502 and nothing promoted or cached")
    func wrongBytes() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try await Self.harness(upstream)
        defer { harness.cleanUp() }
        upstream.script("linux-64/\(Self.tarBz2)", fault: .wrongBytes)
        try await harness.test { client in
            let response = try await client.promote(
                #"{"fromFeed":"proxy","toFeed":"approved","name":"zlib","version":"1.2.11","subdir":"linux-64"}"#)
            #expect(response.status == .badGateway)
            #expect(upstream.requestCount("linux-64/\(Self.tarBz2)") >= 1)
            #expect(try await harness.metadata.packages(feed: "approved", subdir: "linux-64").isEmpty)
            #expect(
                try await harness.metadata.promotions(fromFeed: nil, toFeed: nil, package: nil, version: nil).isEmpty)
            #expect(
                try await harness.metadata.cachedFile(connector: "up", subdir: "linux-64", filename: Self.tarBz2) == nil
            )
            #expect(
                try await client.repodataFilenames(feed: "approved", subdir: "linux-64") == nil,
                "the approved feed still has no linux-64")
        }
        await upstream.stop()
    }
}
