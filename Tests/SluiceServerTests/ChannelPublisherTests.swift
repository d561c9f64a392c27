import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceTesting
import Testing

@Suite("ChannelPublisher")
struct ChannelPublisherTests {
    @Test("noarch exists for an empty feed; an empty platform subdir has no snapshot; an unknown feed is notFound")
    func lazySnapshots() async throws {
        let feed = try await ChannelTestFeed()
        let noarch = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
        #expect(noarch.records.isEmpty)
        #expect(Set(noarch.files.keys) == Set(SubdirSnapshot.fileNames))
        #expect(try await feed.publisher.snapshot(feed: "f", subdir: "linux-64") == nil)
        await #expect(throws: SluiceError.self) { try await feed.publisher.snapshot(feed: "nope", subdir: "noarch") }
        do {
            _ = try await feed.publisher.channeldata(feed: "nope")
            Issue.record("channeldata of an unknown feed must throw")
        } catch let error as SluiceError {
            #expect(error.code == .notFound)
        }
    }

    @Test("A lazily built snapshot reads what the database holds")
    func lazyBuildReadsDatabase() async throws {
        let feed = try await ChannelTestFeed()
        // Rows committed without any republish: the first access builds from them.
        let stored = try await feed.addWithoutPublishing(ChannelFixtures.linuxConda)
        let snapshot = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "linux-64"))
        #expect(snapshot.records[stored.filename] == stored.record)
        let served = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "linux-64"))
        #expect(
            served.packages[stored.filename]
                == ServedPackage(sha256: stored.sha256, size: stored.size, lastModified: stored.uploadedAt))
        #expect(served.files["repodata.json"]?.identity.etag == snapshot.files["repodata.json"]?.etag)
    }

    @Test("Concurrent republishes coalesce, and each returns with its own commit live")
    func concurrentRepublish() async throws {
        let files = try ChannelFixtures.testRecipes()
        #expect(files.count >= 30)
        // The race is timing-dependent: run it a few times.
        for _ in 0..<4 {
            try await raceRepublishes(files: files)
        }
    }

    private func raceRepublishes(files: [URL]) async throws {
        let feed = try await ChannelTestFeed(zstdLevel: 1)
        // Build the noarch snapshot once so that later calls race against a live snapshot.
        _ = try await feed.publisher.snapshot(feed: "f", subdir: "noarch")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for file in files {
                group.addTask {
                    let stored = try await feed.addWithoutPublishing(file)
                    try await feed.publisher.republish(feed: "f", subdir: "noarch")
                    // The caller's own commit must be in the live snapshot when republish returns.
                    let snapshot = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
                    #expect(snapshot.records[stored.filename] != nil, "\(stored.filename)")
                }
            }
            try await group.waitForAll()
        }
        let final = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
        #expect(Set(final.records.keys) == Set(files.map(\.lastPathComponent)))
        let repodata = try JSONValue.parse(try #require(final.files["repodata.json"]).bytes)
        #expect(repodata["packages.conda"]?.objectValue?.count == files.count)
    }

    @Test("Many concurrent republishes for one commit each read the database at most a few times")
    func coalescing() async throws {
        let counting = CountingMetadataStore()
        try await counting.createFeed(Feed(name: "f"))
        let publisher = ChannelPublisher(
            metadata: counting, configuration: .init(zstdLevel: 1), logger: Logger(label: "test"))
        let files = try ChannelFixtures.testRecipes()
        for file in files {
            let inspected = try PackageInspector().inspect(file: file, filename: file.lastPathComponent)
            _ = try await counting.addPackage(
                StoredPackage(feed: "f", subdir: "noarch", record: inspected.record), overwrite: false)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<50 {
                group.addTask { try await publisher.republish(feed: "f", subdir: "noarch") }
            }
            try await group.waitForAll()
        }
        // 50 callers arriving together are served by one running build and one queued build (plus at most a
        // few more if callers trickle in after a build ended); never one build each.
        let reads = await counting.packageReads
        #expect(reads >= 1)
        #expect(reads < 50)
        #expect(try await publisher.snapshot(feed: "f", subdir: "noarch")?.records.count == files.count)
    }

    @Test("Deleting a package and republishing removes it; forget drops a deleted feed")
    func deleteAndForget() async throws {
        let feed = try await ChannelTestFeed()
        let first = try await feed.add(ChannelFixtures.linuxConda)
        let second = try await feed.add(Fixtures.package("pixi", "dummy-c-0.1.0-hb0f4dca_0.conda"))
        let channeldata = try JSONValue.parse(try await feed.publisher.channeldata(feed: "f").bytes)
        #expect(channeldata["packages"]?["dummy-a"] != nil)

        _ = try await feed.metadata.deletePackage(feed: "f", subdir: "linux-64", filename: first.filename)
        try await feed.publisher.republish(feed: "f", subdir: "linux-64")
        let snapshot = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "linux-64"))
        #expect(snapshot.records[first.filename] == nil)
        #expect(snapshot.records[second.filename] != nil)
        // channeldata was refreshed by the republish.
        let refreshed = try JSONValue.parse(try await feed.publisher.channeldata(feed: "f").bytes)
        #expect(refreshed["packages"]?["dummy-a"] == nil)
        #expect(refreshed["packages"]?["dummy-c"] != nil)

        // The last package of a platform subdir goes: the subdir disappears.
        _ = try await feed.metadata.deletePackage(feed: "f", subdir: "linux-64", filename: second.filename)
        try await feed.publisher.republish(feed: "f", subdir: "linux-64")
        #expect(try await feed.publisher.snapshot(feed: "f", subdir: "linux-64") == nil)

        #expect(try await feed.metadata.deleteFeed(named: "f"))
        await feed.publisher.forget(feed: "f")
        await #expect(throws: SluiceError.self) { try await feed.publisher.snapshot(feed: "f", subdir: "noarch") }
    }
}

/// A `MemoryMetadataStore` that counts `packages(feed:subdir:)` reads.
actor CountingMetadataStore: MetadataStore {
    private let base = MemoryMetadataStore()
    private(set) var packageReads = 0

    func createFeed(_ feed: Feed) async throws { try await base.createFeed(feed) }
    func feed(named name: String) async throws -> Feed? { try await base.feed(named: name) }
    func feeds() async throws -> [Feed] { try await base.feeds() }
    func updateFeed(_ feed: Feed) async throws { try await base.updateFeed(feed) }
    func deleteFeed(named name: String) async throws -> Bool { try await base.deleteFeed(named: name) }
    func addPackage(_ package: StoredPackage, overwrite: Bool) async throws -> AddPackageOutcome {
        try await base.addPackage(package, overwrite: overwrite)
    }
    func package(feed: String, subdir: String, filename: String) async throws -> StoredPackage? {
        try await base.package(feed: feed, subdir: subdir, filename: filename)
    }
    func packages(feed: String, subdir: String) async throws -> [StoredPackage] {
        packageReads += 1
        return try await base.packages(feed: feed, subdir: subdir)
    }
    func packages(feed: String, name: String) async throws -> [StoredPackage] {
        try await base.packages(feed: feed, name: name)
    }
    func subdirs(feed: String) async throws -> [String] { try await base.subdirs(feed: feed) }
    func deletePackage(feed: String, subdir: String, filename: String) async throws -> StoredPackage? {
        try await base.deletePackage(feed: feed, subdir: subdir, filename: filename)
    }
    func referenceCount(sha256: String) async throws -> Int { try await base.referenceCount(sha256: sha256) }
    func createUser(_ user: User) async throws { try await base.createUser(user) }
    func user(named name: String) async throws -> User? { try await base.user(named: name) }
    func updateUser(_ user: User) async throws { try await base.updateUser(user) }
    func ping() async throws { try await base.ping() }
    func createConnector(_ connector: Connector) async throws { try await base.createConnector(connector) }
    func connector(named name: String) async throws -> Connector? { try await base.connector(named: name) }
    func connectors() async throws -> [Connector] { try await base.connectors() }
    func updateConnector(_ connector: Connector) async throws { try await base.updateConnector(connector) }
    func deleteConnector(named name: String) async throws -> Bool { try await base.deleteConnector(named: name) }
    func saveUpstreamSnapshot(_ snapshot: UpstreamSnapshotRow) async throws -> UpstreamSnapshotRow? {
        try await base.saveUpstreamSnapshot(snapshot)
    }
    func upstreamSnapshot(connector: String, subdir: String) async throws -> UpstreamSnapshotRow? {
        try await base.upstreamSnapshot(connector: connector, subdir: subdir)
    }
    func upstreamSnapshots(connector: String) async throws -> [UpstreamSnapshotRow] {
        try await base.upstreamSnapshots(connector: connector)
    }
    func recordCachedFile(_ file: CachedUpstreamFile) async throws -> AddPackageOutcome {
        try await base.recordCachedFile(file)
    }
    func cachedFile(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile? {
        try await base.cachedFile(connector: connector, subdir: subdir, filename: filename)
    }
    func cachedFiles(connector: String) async throws -> [CachedUpstreamFile] {
        try await base.cachedFiles(connector: connector)
    }
    func markCachedFileAccessed(connector: String, subdir: String, filename: String, at date: Date) async throws -> Bool
    {
        try await base.markCachedFileAccessed(connector: connector, subdir: subdir, filename: filename, at: date)
    }
    func deleteCachedFile(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile? {
        try await base.deleteCachedFile(connector: connector, subdir: subdir, filename: filename)
    }
    func promote(_ batch: PromotionBatch) async throws -> [PromotionResult] { try await base.promote(batch) }
    func promotions(
        fromFeed: String?, toFeed: String?, package: String?, version: String?
    ) async throws
        -> [PromotionRecord]
    {
        try await base.promotions(fromFeed: fromFeed, toFeed: toFeed, package: package, version: version)
    }
    func recordPackageEvent(_ event: PromotionRecord) async throws -> PromotionRecord {
        try await base.recordPackageEvent(event)
    }
}
