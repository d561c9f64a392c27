import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceServer

@Suite("Download counts")
struct DownloadCountTests {
    static let file = "empty-0.1.0-h4616a5c_0.conda"

    @Test("GET 200 and 206 from byte 0 count; HEAD, 304 and later ranges do not; the API and the UI show the counts")
    func countsDownloads() async throws {
        let server = try await TestServer.make()
        let counter = DownloadCounter(store: server.metadata)
        defer { try? FileManager.default.removeItem(at: server.folder) }
        let app = Application(
            router: buildRouter(services: server.services, logger: server.logger, downloads: counter),
            logger: server.logger)
        try await app.test(.router) { client in
            try await client.createFeed("main")
            let upload = try await client.upload(feed: "main", group: "rattler", file: Self.file)
            #expect(upload.status == .created)
            let listed = try await client.execute(uri: "/api/packages/main/versions?name=empty", method: .get) {
                try json($0)
            }
            let subdir = try #require(listed.arrayValue?.first?["subdir"]?.stringValue)
            #expect(listed.arrayValue?.first?["downloads"]?.intValue == 0)
            let uri = "/conda/main/\(subdir)/\(Self.file)"

            var etag = ""
            for _ in 0..<2 {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    etag = response.headers[.eTag] ?? ""
                }
            }
            var fromStart = HTTPFields()
            fromStart[.range] = "bytes=0-9"
            try await client.execute(uri: uri, method: .get, headers: fromStart) {
                #expect($0.status == .partialContent)
            }
            var later = HTTPFields()
            later[.range] = "bytes=10-19"
            try await client.execute(uri: uri, method: .get, headers: later) { #expect($0.status == .partialContent) }
            try await client.execute(uri: uri, method: .head) { #expect($0.status == .ok) }
            var conditional = HTTPFields()
            conditional[.ifNoneMatch] = etag
            try await client.execute(uri: uri, method: .get, headers: conditional) {
                #expect($0.status == .notModified)
            }
            try await client.execute(uri: "/conda/main/\(subdir)/empty-9.9-0.conda", method: .get) {
                #expect($0.status == .notFound)
            }

            let key = DownloadKey(feed: "main", subdir: subdir, filename: Self.file)
            #expect(counter.pendingDownloads() == [key: 3])
            // Not written before a flush.
            #expect(await server.metadata.downloadCounts(feed: "main", name: "empty").isEmpty)
            try await counter.flush()
            #expect(counter.pendingDownloads().isEmpty)
            #expect(await server.metadata.downloadCounts(feed: "main", name: "empty").map(\.count) == [3])

            let after = try await client.execute(uri: "/api/packages/main/versions?name=empty", method: .get) {
                try json($0)
            }
            #expect(after.arrayValue?.first?["downloads"]?.intValue == 3)
            let all = try await client.execute(uri: "/api/packages/main/versions", method: .get) { try json($0) }
            #expect(all.arrayValue?.first?["downloads"]?.intValue == 3)

            // A second flush adds to the stored count (deltas, not totals).
            try await client.execute(uri: uri, method: .get) { #expect($0.status == .ok) }
            try await counter.flush()
            #expect(await server.metadata.downloadCounts(feed: "main", name: "empty").map(\.count) == [4])

            var session = try await client.signIn()
            let page = String(buffer: try await client.browse("/ui/feeds/main/packages/empty", &session).body)
            #expect(!page.contains("not recorded"))
            #expect(page.contains(#"<td class="num downloads">4</td>"#))
            #expect(page.contains("Downloads of all files: <strong>4</strong>"))
        }
    }

    @Test("the flusher service writes pending counts at graceful shutdown")
    func flusherFlushesAtShutdown() async throws {
        let store = MemoryMetadataStore()
        let counter = DownloadCounter(store: store)
        let key = DownloadKey(feed: "main", subdir: "noarch", filename: Self.file)
        counter.record(key)
        counter.record(key)
        let flusher = DownloadCountFlusher(counter: counter, interval: .seconds(3600), logger: Logger(label: "t"))
        let group = ServiceGroup(
            configuration: .init(services: [.init(service: flusher)], logger: Logger(label: "sluice.downloads.test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(50))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(await store.downloadCounts(feed: "main", name: "empty").map(\.count) == [2])
    }
}
