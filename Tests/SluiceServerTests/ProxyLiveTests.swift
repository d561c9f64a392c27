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

/// Proxy feeds where sockets and disks matter: restarts over SQLite and blob files, streaming, and one Sluice
/// proxying another.
@Suite("Proxy feeds (live)")
struct ProxyLiveTests {
    @Test("a restart over the same SQLite and blob folder, with the upstream stopped, still serves")
    func restartWithUpstreamDown() async throws {
        let upstream = try await FakeUpstream.start()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sluice-proxy-restart-\(UUID().uuidString)", isDirectory: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let database = folder.appendingPathComponent("sluice.sqlite")
        let package = "linux-64/zlib-1.2.11-h7b6447c_3.conda"
        let logger = Logger(label: "sluice.proxy.test")

        let (repodata, packageBody): (ByteBuffer, ByteBuffer)
        do {
            let store = try await SQLMetadataStore.sqlite(file: database, logger: logger)
            let blobs = try FileSystemBlobStore(root: folder.appendingPathComponent("blobs", isDirectory: true))
            let harness = try ProxyHarness.make(metadata: store, blobs: blobs, folder: folder)
            try await harness.addConnector("up", url: upstream.baseURL, minutes: 0)
            try await harness.addProxyFeed(connectors: ["up"])
            (repodata, packageBody) = try await harness.test { client in
                let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
                let file = try await client.execute(uri: "/conda/proxy/\(package)", method: .get)
                #expect(json.status == .ok)
                #expect(file.status == .ok)
                return (json.body, file.body)
            }
            await harness.services.upstreamMirror.waitForBackgroundRefreshes()
            try await store.shutdown()
        }
        await upstream.stop()

        let store = try await SQLMetadataStore.sqlite(file: database, logger: logger)
        let blobs = try FileSystemBlobStore(root: folder.appendingPathComponent("blobs", isDirectory: true))
        let harness = try ProxyHarness.make(metadata: store, blobs: blobs, folder: folder)
        try await harness.test { client in
            // metadataCacheMinutes 0: stale at once, the refresh fails, the saved snapshot is served.
            let json = try await client.execute(uri: "/conda/proxy/linux-64/repodata.json", method: .get)
            #expect(json.status == .ok)
            #expect(json.body == repodata)
            let file = try await client.execute(uri: "/conda/proxy/\(package)", method: .get)
            #expect(file.status == .ok)
            #expect(file.body == packageBody)
            #expect(sha256Hex(file.body.readableBytesView) == (try channelManifestEntry(package)).sha256)
            // Not cached, upstream gone: a clean 502.
            let uncached = try await client.execute(
                uri: "/conda/proxy/linux-64/zlib-1.2.11-h7b6447c_3.tar.bz2", method: .get)
            #expect(uncached.status == .badGateway)
        }
        await harness.services.upstreamMirror.waitForBackgroundRefreshes()
        let status = await harness.services.upstreamMirror.status(connector: "up")
        #expect(status.subdirs.contains("linux-64"))
        #expect(status.lastError != nil)
        try await store.shutdown()
    }

    @Test("a large file streams to the first client while it downloads; the cache then holds it")
    func streamingDownload() async throws {
        let upstream = try await FakeUpstream.start()
        let harness = try ProxyHarness.make()
        defer { harness.cleanUp() }
        try await harness.addConnector("up", url: upstream.baseURL)
        try await harness.addProxyFeed(connectors: ["up"])
        // Everything counts as large, so the streaming path is taken.
        let router = buildRouterStreamingEverything(harness)
        let path = "osx-64/zlib-1.2.11-h1de35cc_3.tar.bz2"
        let expected = try channelManifestEntry(path)
        upstream.script(path, fault: .stall(afterBytes: 4096, duration: .milliseconds(200)), times: 1)
        let app = Application(router: router)
        try await app.test(.live) { client in
            let first = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(first.status == .ok)
            #expect(first.headers[.eTag] == "\"\(expected.sha256)\"")
            #expect(sha256Hex(first.body.readableBytesView) == expected.sha256)
            let second = try await client.execute(uri: "/conda/proxy/\(path)", method: .get)
            #expect(sha256Hex(second.body.readableBytesView) == expected.sha256)
        }
        #expect(upstream.requestCount(path) == 1)
        #expect(
            try await harness.metadata.cachedFile(
                connector: "up", subdir: "osx-64", filename: "zlib-1.2.11-h1de35cc_3.tar.bz2")?.sha256
                == expected.sha256)
        await upstream.stop()
    }

    @Test("a Sluice proxy feed pointing at another Sluice's hosted feed serves its packages")
    func sluiceProxiesSluice() async throws {
        // Instance A: a hosted feed with one uploaded package, served on a real socket.
        let upstreamServer = try await TestServer.make()
        defer { try? FileManager.default.removeItem(at: upstreamServer.folder) }
        let appA = Application(router: buildRouter(services: upstreamServer.services, logger: Logger(label: "a")))
        let file = "dummy-a-0.1.0-hb0f4dca_0.conda"
        let manifest = try manifestEntry("pixi", file)
        try await appA.test(.live) { clientA in
            try await clientA.createFeed("hosted")
            let upload = try await clientA.upload(feed: "hosted", group: "pixi", file: file)
            #expect(upload.status == .created)
            let port = try #require(clientA.port)

            // Instance B: a proxy feed whose connector is A's hosted feed.
            let proxy = try ProxyHarness.make()
            defer { proxy.cleanUp() }
            try await proxy.addConnector("sluice-a", url: "http://127.0.0.1:\(port)/conda/hosted")
            try await proxy.addProxyFeed(connectors: ["sluice-a"])
            try await proxy.test { clientB in
                let names = try await clientB.repodataFilenames(feed: "proxy", subdir: "linux-64")
                #expect(names == [file])
                let noarch = try await clientB.execute(uri: "/conda/proxy/noarch/repodata.json", method: .get)
                #expect(noarch.status == .ok)
                let package = try await clientB.execute(uri: "/conda/proxy/linux-64/\(file)", method: .get)
                #expect(package.status == .ok)
                #expect(sha256Hex(package.body.readableBytesView) == manifest.sha256)
                #expect(Int64(package.body.readableBytes) == manifest.size)
            }
        }
    }
}

/// The proxy harness's router with a channel controller that streams every upstream file (threshold 0).
private func buildRouterStreamingEverything(_ harness: ProxyHarness) -> Router<SluiceRequestContext> {
    let services = harness.services
    let router = Router(context: SluiceRequestContext.self)
    router.add(middleware: SluiceErrorMiddleware())
    ChannelController(
        publisher: services.publisher, metadata: services.metadata, blobs: services.blobs,
        mirror: services.upstreamMirror, configuration: .init(proxyStreamingThreshold: 0)
    ).addRoutes(to: router)
    return router
}
