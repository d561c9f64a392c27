import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceTesting
import Synchronization
import Testing

@testable import SluiceServer

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

    @Test("Every published file is held once: the snapshot's bytes are a view of the buffer that is served")
    func publishedBytesShareTheServedBuffers() async throws {
        let feed = try await ChannelTestFeed(zstdLevel: 1)
        for file in try ChannelFixtures.testRecipes().prefix(12) { try await feed.addWithoutPublishing(file) }
        let served = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "noarch"))
        func address(_ data: Data) -> Int { data.withUnsafeBytes { Int(bitPattern: $0.baseAddress) } }
        func address(_ buffer: ByteBuffer) -> Int { buffer.withUnsafeReadableBytes { Int(bitPattern: $0.baseAddress) } }
        #expect(served.snapshot.records.count == 12)
        #expect(Set(served.files.keys) == Set(served.snapshot.files.keys))
        #expect(served.shards.count == served.snapshot.shards.count && !served.shards.isEmpty)
        for (name, file) in served.files.merging(served.shards, uniquingKeysWith: { first, _ in first }) {
            let snapshotFile = try #require(served.snapshot.files[name] ?? served.snapshot.shards[name])
            #expect(Data(file.identity.body.readableBytesView) == snapshotFile.bytes, "\(name)")
            #expect(address(snapshotFile.bytes) == address(file.identity.body), "\(name) is held twice")
            #expect(address(file.published.bytes) == address(file.identity.body), "\(name) is held twice")
            #expect(PublishedFile.etag(for: snapshotFile.bytes) == file.identity.etag)
        }
        for entry in served.snapshot.shardEntries.values {
            #expect(address(entry.file.bytes) == address(try #require(served.shards[entry.fileName]).identity.body))
        }
        // The next build reads the previous repodata.json from the shared bytes: still equal to a fresh build.
        try await feed.add(try #require(try ChannelFixtures.testRecipes().dropFirst(12).first))
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)
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

extension ChannelPublisherTests {
    /// The live snapshot and its served files equal, byte for byte, a snapshot built from scratch from the rows the
    /// database holds now.
    static func expectMatchesScratch(
        _ publisher: ChannelPublisher, metadata: any MetadataStore, subdir: String = "noarch", zstdLevel: Int32 = 1,
        visible: (PackageRecord) -> Bool = { _ in true }
    ) async throws {
        let live = try #require(try await publisher.snapshot(feed: "f", subdir: subdir))
        let served = try #require(try await publisher.servedSubdir(feed: "f", subdir: subdir))
        let rows = try await metadata.packages(feed: "f", subdir: subdir)
        let scratch = try SubdirSnapshot.build(
            subdir: subdir, records: rows.map(\.record).filter(visible), zstdLevel: zstdLevel)
        #expect(Set(live.files.keys) == Set(scratch.files.keys))
        for (name, file) in scratch.files {
            #expect(live.files[name]?.bytes == file.bytes, "\(name)")
            #expect(served.files[name]?.identity.etag == file.etag, "\(name)")
            #expect(served.files[name].map { Data($0.identity.body.readableBytesView) } == file.bytes, "\(name)")
        }
        #expect(Set(live.shards.keys) == Set(scratch.shards.keys))
        #expect(Set(served.shards.keys) == Set(scratch.shards.keys))
        for (name, file) in scratch.shards {
            #expect(live.shards[name]?.bytes == file.bytes)
        }
        #expect(live.records == scratch.records)
    }

    @Test("After uploads, a replaced record and a delete, the live snapshot equals a from-scratch build")
    func incrementalRebuildsEqualFromScratch() async throws {
        let feed = try await ChannelTestFeed(zstdLevel: 1)
        let files = try ChannelFixtures.testRecipes()
        #expect(files.count >= 30)
        // One at a time, then a batch committed before one republish.
        for file in files.prefix(8) {
            try await feed.add(file)
            try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)
        }
        for file in files.dropFirst(8) { try await feed.addWithoutPublishing(file) }
        try await feed.publisher.republish(feed: "f", subdir: "noarch")
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)

        // A replaced row (same file name, a hot-fixed record) is written from its new fields.
        var replaced = try #require(try await feed.metadata.packages(feed: "f", subdir: "noarch").first)
        replaced.record.fields["depends"] = .array([.string("python >=3.8"), .string("zlib")])
        replaced.record.fields["license"] = .string("MIT \"patched\"")
        // (The store keeps a row whose bytes did not change, so the row is deleted and added again.)
        _ = try await feed.metadata.deletePackage(feed: "f", subdir: "noarch", filename: replaced.filename)
        _ = try await feed.metadata.addPackage(replaced, overwrite: false)
        try await feed.publisher.republish(feed: "f", subdir: "noarch")
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)
        let live = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
        let repodata = try JSONValue.parse(try #require(live.files["repodata.json"]).bytes)
        let section = replaced.filename.hasSuffix(".conda") ? "packages.conda" : "packages"
        #expect(repodata[section]?[replaced.filename]?["license"] == .string("MIT \"patched\""))

        // Deletes, one and then several.
        let rows = try await feed.metadata.packages(feed: "f", subdir: "noarch")
        _ = try await feed.metadata.deletePackage(feed: "f", subdir: "noarch", filename: rows[3].filename)
        try await feed.publisher.republish(feed: "f", subdir: "noarch")
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)
        for row in rows.suffix(5) {
            _ = try await feed.metadata.deletePackage(feed: "f", subdir: "noarch", filename: row.filename)
        }
        try await feed.publisher.republish(feed: "f", subdir: "noarch")
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata)
        let after = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
        #expect(after.records[rows[3].filename] == nil)
        #expect(after.records.count == rows.count - 6)
    }

    @Test("A burst of uploads is served by cheap builds, then settles on a full build equal to a from-scratch one")
    func burstSettles() async throws {
        let feed = try await ChannelTestFeed(zstdLevel: 9)
        _ = try await feed.publisher.snapshot(feed: "f", subdir: "noarch")
        let files = try ChannelFixtures.testRecipes()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for file in files {
                group.addTask {
                    let stored = try await feed.addWithoutPublishing(file)
                    try await feed.publisher.republish(feed: "f", subdir: "noarch")
                    // Every snapshot, burst or not, holds the caller's commit and consistent variants.
                    let snapshot = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
                    #expect(snapshot.records[stored.filename] != nil)
                    let json = try #require(snapshot.files["repodata.json"]).bytes
                    let zst = try #require(snapshot.files["repodata.json.zst"]).bytes
                    #expect(try Zstd.decompress(zst, maxOutputSize: 1 << 26) == json)
                }
            }
            try await group.waitForAll()
        }
        // The settling build follows in the background: wait for it (at most 30 s).
        var settled = false
        for _ in 0..<300 {
            let snapshot = try #require(try await feed.publisher.snapshot(feed: "f", subdir: "noarch"))
            let served = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "noarch"))
            if Set(snapshot.files.keys) == Set(SubdirSnapshot.fileNames), served.files["repodata.json"]?.gzip != nil,
                snapshot.records.count == files.count
            {
                let scratch = try SubdirSnapshot.build(
                    subdir: "noarch", records: Array(snapshot.records.values), zstdLevel: 9)
                if snapshot.files["repodata.json.zst"]?.bytes == scratch.files["repodata.json.zst"]?.bytes {
                    settled = true
                    break
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(settled)
        try await Self.expectMatchesScratch(feed.publisher, metadata: feed.metadata, zstdLevel: 9)
    }

    @Test("A republish that changed nothing keeps every served file and its Last-Modified")
    func unchangedRebuildKeepsServedFiles() async throws {
        let feed = try await ChannelTestFeed(zstdLevel: 1)
        for file in try ChannelFixtures.testRecipes().prefix(5) { try await feed.addWithoutPublishing(file) }
        let first = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "noarch"))
        try await Task.sleep(for: .milliseconds(1100))
        try await feed.publisher.republish(feed: "f", subdir: "noarch")
        let second = try #require(try await feed.publisher.servedSubdir(feed: "f", subdir: "noarch"))
        #expect(second.snapshot.builtAt > first.snapshot.builtAt)
        for (name, file) in first.files {
            #expect(second.files[name]?.identity.etag == file.identity.etag, "\(name)")
            #expect(second.files[name]?.lastModified == file.lastModified, "\(name)")
        }
    }

    @Test("Records the compliance view blocks are left out of every variant, the shards and channeldata")
    func complianceGateFiltersEverything() async throws {
        let metadata = MemoryMetadataStore()
        try await metadata.createFeed(Feed(name: "f"))
        let gate = NameBlockingGate()
        let publisher = ChannelPublisher(
            metadata: metadata, compliance: gate, configuration: .init(zstdLevel: 1), logger: Logger(label: "test"))
        var stored: [StoredPackage] = []
        for file in try ChannelFixtures.testRecipes() {
            let inspected = try PackageInspector().inspect(file: file, filename: file.lastPathComponent)
            let package = StoredPackage(
                feed: "f", subdir: inspected.subdir, record: inspected.record, channelData: inspected.channelData)
            _ = try await metadata.addPackage(package, overwrite: false)
            stored.append(package)
        }
        let before = try #require(try await publisher.snapshot(feed: "f", subdir: "noarch"))
        _ = try await publisher.channeldata(feed: "f")
        let blockedName = try #require(stored.map(\.name).sorted().first)
        let blockedFiles = Set(stored.filter { $0.name == blockedName }.map(\.filename))
        #expect(!blockedFiles.isEmpty)
        #expect(blockedFiles.isSubset(of: Set(before.records.keys)))
        #expect(before.shardEntries[blockedName] != nil)

        gate.block([blockedName])
        let asked = gate.askedCount
        try await publisher.republish(feed: "f")
        // One view per build: the noarch snapshot and channeldata.
        #expect(gate.askedCount == asked + 2)

        let after = try #require(try await publisher.snapshot(feed: "f", subdir: "noarch"))
        #expect(Set(after.records.keys) == Set(before.records.keys).subtracting(blockedFiles))
        for name in ["repodata.json", "current_repodata.json"] {
            let document = try JSONValue.parse(try #require(after.files[name]).bytes)
            let listed = Set(
                (document["packages"]?.objectValue?.keys.map { $0 } ?? [])
                    + (document["packages.conda"]?.objectValue?.keys.map { $0 } ?? []))
            #expect(listed.isDisjoint(with: blockedFiles), "\(name)")
            #expect(!listed.isEmpty, "\(name)")
        }
        for name in ["repodata.json.zst", "current_repodata.json.zst"] {
            let json = try Zstd.decompress(try #require(after.files[name]).bytes, maxOutputSize: 1 << 26)
            #expect(json == after.files[String(name.dropLast(4))]?.bytes, "\(name)")
        }
        #expect(after.shardEntries[blockedName] == nil)
        let index = try MessagePackReader.decode(
            try Zstd.decompress(try #require(after.files["repodata_shards.msgpack.zst"]).bytes, maxOutputSize: 1 << 20))
        #expect(index["shards"]?.mapValue?[blockedName] == nil)
        #expect(index["shards"]?.mapValue?.count == after.shardEntries.count)
        let channeldata = try JSONValue.parse(try await publisher.channeldata(feed: "f").bytes)
        #expect(channeldata["packages"]?[blockedName] == nil)
        #expect(channeldata["packages"]?.objectValue?.isEmpty == false)
        // What is published equals a from-scratch build of the visible records.
        try await Self.expectMatchesScratch(publisher, metadata: metadata) { $0.name != blockedName }
        // The package table keeps the file, so the route can refuse it (403) rather than not know it.
        let served = try #require(try await publisher.servedSubdir(feed: "f", subdir: "noarch"))
        #expect(blockedFiles.isSubset(of: Set(served.packages.keys)))

        // Lifting the block brings everything back, byte for byte.
        gate.block([])
        try await publisher.republish(feed: "f")
        let restored = try #require(try await publisher.snapshot(feed: "f", subdir: "noarch"))
        for (name, file) in before.files {
            #expect(restored.files[name]?.bytes == file.bytes, "\(name)")
        }
        #expect(restored.shardEntries[blockedName]?.fileName == before.shardEntries[blockedName]?.fileName)
    }
}

extension ChannelPublisherTests {
    @Test("Reducing upstream records to channeldata candidates does not change channeldata.json")
    func channeldataCandidatesGiveTheSameDocument() throws {
        let document = try JSONValue.parse(try Data(contentsOf: Fixtures.repodata("r_linux-64.json")))
        var records: [PackageRecord] = []
        for (filename, fields) in document["packages"]?.objectValue ?? [:] {
            let record = PackageRecord(filename: filename, fields: fields.objectValue ?? [:])
            records.append(record)
            // A .conda twin for every third file, and a second build of it with an older timestamp.
            if records.count % 3 == 0 {
                records.append(PackageRecord(filename: String(filename.dropLast(8)) + ".conda", fields: record.fields))
                var older = record.fields
                older["build"] = .string(record.build + "_older")
                older["timestamp"] = .int((record.fields["timestamp"]?.intValue ?? 0) - 1000)
                records.append(
                    PackageRecord(
                        filename: "\(record.name)-\(record.version)-\(record.build)_older.tar.bz2", fields: older))
            }
        }
        records.append(
            PackageRecord(filename: "odd-v!x-0.tar.bz2", fields: ["name": .string("odd"), "version": .string("v!x")]))
        let candidates = ChannelPublisher.channeldataCandidates(records)
        #expect(candidates.count < records.count / 2)
        let all = RepodataBuilder.channeldata(
            packages: records.map { StoredPackage(feed: "f", subdir: "linux-64", record: $0) })
        let reduced = RepodataBuilder.channeldata(
            packages: candidates.map { StoredPackage(feed: "f", subdir: "linux-64", record: $0) })
        #expect(reduced == all)
    }
}

/// A compliance gate blocking package names, counting how often a view was asked for.
final class NameBlockingGate: ComplianceGate {
    private struct State {
        var blocked: Set<String> = []
        var asked = 0
    }

    private struct View: ComplianceView {
        let names: Set<String>
        func blocks(_ record: PackageRecord, subdir: String) -> Bool { names.contains(record.name) }
    }

    private let state = Mutex(State())

    func block(_ names: Set<String>) { state.withLock { $0.blocked = names } }

    var askedCount: Int { state.withLock { $0.asked } }

    func view(feed: String) async -> (any ComplianceView)? {
        let names = state.withLock { state in
            state.asked += 1
            return state.blocked
        }
        return names.isEmpty ? nil : View(names: names)
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
