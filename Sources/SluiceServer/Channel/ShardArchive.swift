import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import Synchronization

/// Keeps superseded CEP 16 shards downloadable after their snapshot was replaced, so that a client holding an older
/// `repodata_shards.msgpack.zst` never gets a 404 for a shard it names (a 404 on a shard fails installs in conda and
/// rattler). Serves `GET <feed>/<subdir>/shards/<sha256>.msgpack.zst` when the live snapshot no longer has the file.
///
/// - **Recording.** The first time a snapshot's shard index is served (``noteIndexServed(feed:subdir:served:)``, once
///   per snapshot: later calls compare one ETag), its shards are written in the background to a content-addressed
///   ``BlobStore`` of their own (on disk `<data-dir>/shards`, so a package blob can never be served as a shard) and
///   recorded as ``PublishedShard`` rows in the ``ShardRetentionStore`` — only the shards that entered or left since
///   the snapshot recorded before, so a republish after one upload writes one or two shards. The rows say which feed
///   and subdir may serve a shard (never another feed's), so several instances on one database and one data
///   directory serve each other's shards, and a restart keeps them.
/// - **Lookup** (``shard(feed:subdir:fileName:)``): the shards of the last two recorded snapshots from memory, then
///   the row and the stored bytes (checked against their name).
/// - **Retention.** A shard's `lastPublishedAt` is the last time an index listing it was served. ``collect()`` (run by
///   ``ShardArchiveCollector`` every ``Configuration/collectionInterval``) first writes the last-served times of the
///   indexes this instance serves, then deletes rows older than ``Configuration/retention`` plus one collection
///   interval (another instance's times may lag by up to one interval), and the bytes no row references any more.
///   So a shard stays downloadable at least `retention` after the last time any instance served an index naming it.
public actor ShardArchive {
    /// How long superseded shards are kept, and how often the collector runs.
    public struct Configuration: Sendable {
        /// How long (seconds) a shard stays downloadable after the last time an index naming it was served. Default
        /// 7 days (CEP 16 asks for at least a week).
        public var retention: TimeInterval = 7 * 86_400
        /// How often (seconds) the collector records last-served times and removes expired shards. Default 1 hour.
        public var collectionInterval: TimeInterval = 3_600

        /// Creates a configuration; the defaults are 7 days and 1 hour.
        public init(retention: TimeInterval = 7 * 86_400, collectionInterval: TimeInterval = 3_600) {
            self.retention = retention
            self.collectionInterval = collectionInterval
        }
    }

    /// What one ``collect()`` pass did.
    public struct CollectionSummary: Hashable, Sendable {
        /// How many shard files were removed from the store.
        public var removedShards: Int
    }

    private struct Key: Hashable, Sendable {
        var feed: String
        var subdir: String
    }

    /// What this instance last recorded for one (feed, subdir).
    private struct Recorded {
        /// The ETag of the shard index recorded (equal ETags, equal shard sets).
        var indexETag: String
        /// Its shards by file name (`<sha256>.msgpack.zst`).
        var shards: [String: ServedFile]
        /// The last time that index was served.
        var lastServedAt: Date
        /// The last time ``lastServedAt`` was written to the rows.
        var lastTouchedAt: Date
        /// The shards of the index recorded before, that this one no longer lists, and when that index was last
        /// served (kept in memory until they expire).
        var superseded: [String: ServedFile]
        var supersededLastServedAt: Date
    }

    /// The file name suffix of a shard.
    static let suffix = ShardsBuilder.shardFileSuffix

    private let blobs: any BlobStore
    private let store: any ShardRetentionStore
    private let temporaryDirectory: URL
    /// The retention and the collection interval.
    public let configuration: Configuration
    private let now: @Sendable () -> Date
    private let logger: Logger
    private var recorded: [Key: Recorded] = [:]
    /// Shards known to be in ``blobs`` (written or seen by this instance); shared with the writes, which run off
    /// the actor.
    private let storedShards = Mutex<Set<String>>([])
    /// The last background write; each write waits for the one before, so they apply in order.
    private var lastWrite: Task<Void, Never>?

    /// Creates an archive over `blobs` (a store used for shards only) and `store` (the rows).
    /// - Parameters:
    ///   - temporaryDirectory: where shard bytes are written before ``BlobStore/put(sha256:from:)`` moves them; on
    ///     the same filesystem as `blobs` when that is a file store.
    ///   - now: the clock (tests move it forward).
    public init(
        blobs: any BlobStore, store: any ShardRetentionStore, temporaryDirectory: URL,
        configuration: Configuration = .init(), now: @escaping @Sendable () -> Date = { Date() }, logger: Logger
    ) {
        self.blobs = blobs
        self.store = store
        self.temporaryDirectory = temporaryDirectory
        self.configuration = configuration
        self.now = now
        self.logger = logger
    }

    // MARK: Recording

    /// Notes that the shard index of `served` was just served for `feed`/`subdir`. The first call for a snapshot
    /// records its shards (in the background, see ``flush()``); every call moves the index's last-served time.
    public func noteIndexServed(feed: String, subdir: String, served: ServedSubdir) {
        guard let index = served.files[ShardsBuilder.indexFileName] else { return }
        let key = Key(feed: feed, subdir: subdir)
        let date = now()
        if var current = recorded[key], current.indexETag == index.identity.etag {
            if current.lastServedAt < date {
                current.lastServedAt = date
                recorded[key] = current
            }
            return
        }
        let previous = recorded[key]
        let shards = served.shards
        var entering: [String: ServedFile] = [:]
        var leaving: [String: ServedFile] = [:]
        for (name, file) in shards where previous?.shards[name] == nil {
            entering[name] = file
        }
        for (name, file) in previous?.shards ?? [:] where shards[name] == nil {
            leaving[name] = file
        }
        let leftAt = previous?.lastServedAt ?? date
        recorded[key] = Recorded(
            indexETag: index.identity.etag, shards: shards, lastServedAt: date, lastTouchedAt: date,
            superseded: leaving, supersededLastServedAt: leftAt)
        guard !entering.isEmpty || !leaving.isEmpty else { return }
        let before = lastWrite
        lastWrite = Task {
            await before?.value
            await self.persist(key, entering: entering, enteredAt: date, leaving: leaving, leftAt: leftAt)
        }
    }

    /// Waits until every recording started so far is written.
    public func flush() async {
        await lastWrite?.value
    }

    /// Writes the bytes of `entering` and `leaving` (those not stored yet) and their rows, off the actor (lookups and
    /// index requests never wait for it), yielding after each file so a first recording of tens of thousands of
    /// shards does not hold a thread. Failures are logged: the shards stay served from memory, and the next
    /// recording or collection tries again.
    private nonisolated func persist(
        _ key: Key, entering: [String: ServedFile], enteredAt: Date, leaving: [String: ServedFile], leftAt: Date
    ) async {
        do {
            // Bytes first, then rows: a row (which another instance may act on) always has its bytes.
            for (name, file) in entering where !storedShards.withLock({ $0.contains(Self.sha256(of: name)) }) {
                try await putShard(file, named: name)
                await Task.yield()
            }
            // A shard leaving may have been collected elsewhere meanwhile; it is in memory now, so make sure.
            for (name, file) in leaving {
                try await putShard(file, named: name)
                await Task.yield()
            }
            try await self.store.recordPublishedShards(
                feed: key.feed, subdir: key.subdir, sha256s: entering.keys.map(Self.sha256(of:)).sorted(),
                at: enteredAt)
            try await self.store.recordPublishedShards(
                feed: key.feed, subdir: key.subdir, sha256s: leaving.keys.map(Self.sha256(of:)).sorted(), at: leftAt)
        } catch {
            logger.warning(
                "Could not archive shards",
                metadata: ["feed": "\(key.feed)", "subdir": "\(key.subdir)", "error": "\(error)"])
        }
    }

    /// Puts one shard's bytes into the store unless they are there already.
    private nonisolated func putShard(_ file: ServedFile, named name: String) async throws {
        let sha256 = Self.sha256(of: name)
        if try await blobs.contains(sha256: sha256) {
            storedShards.withLock { _ = $0.insert(sha256) }
            return
        }
        let temporary = temporaryDirectory.appendingPathComponent(
            "shard-" + UUID().uuidString.lowercased() + ".part", isDirectory: false)
        defer { try? FileManager.default.removeItem(at: temporary) }
        do {
            try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
            try file.published.bytes.write(to: temporary)
        } catch {
            throw SluiceError(
                .storageFailure, "Cannot write a shard to '\(temporaryDirectory.path)'.", cause: error)
        }
        try await blobs.put(sha256: sha256, from: temporary)
        storedShards.withLock { _ = $0.insert(sha256) }
    }

    // MARK: Lookup

    /// The shard `fileName` (`<sha256>.msgpack.zst`) that `feed`/`subdir` published, from memory or from the store;
    /// nil when that subdir never published it, it expired, or the name is not a shard name.
    /// - Throws: `SluiceError.storageFailure` when the database or the store fails.
    public func shard(feed: String, subdir: String, fileName: String) async throws -> ServedFile? {
        guard fileName.hasSuffix(Self.suffix) else { return nil }
        let sha256 = Self.sha256(of: fileName)
        guard (try? ContentAddress.validate(sha256: sha256)) != nil else { return nil }
        if let current = recorded[Key(feed: feed, subdir: subdir)] {
            if let file = current.shards[fileName] ?? current.superseded[fileName] { return file }
        }
        guard let row = try await store.publishedShard(feed: feed, subdir: subdir, sha256: sha256) else {
            return nil
        }
        guard let bytes = try await readBytes(sha256: sha256) else {
            logger.warning(
                "An archived shard has a row but no bytes",
                metadata: ["feed": "\(feed)", "subdir": "\(subdir)", "sha256": "\(sha256)"])
            return nil
        }
        let file = PublishedFile(
            bytes: bytes, contentType: ShardsBuilder.contentType, lastModified: row.firstPublishedAt)
        // The ETag holds the first 128 bits of the bytes' SHA-256: it must match the name.
        guard file.etag == "\"\(sha256.prefix(32))\"" else {
            logger.error("An archived shard does not match its name", metadata: ["sha256": "\(sha256)"])
            return nil
        }
        return try ServedFile(file, gzip: false)
    }

    /// A stored shard's bytes, or nil if absent.
    private func readBytes(sha256: String) async throws -> Data? {
        let content: BlobContent
        do {
            content = try await blobs.read(sha256: sha256, range: nil)
        } catch let error as SluiceError where error.code == .notFound {
            return nil
        }
        switch content {
        case .file(let url, let range):
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(range.lowerBound))
            return try handle.read(upToCount: Int(range.count)) ?? Data()
        case .chunks(let stream, _):
            var data = Data()
            for try await chunk in stream { data.append(chunk) }
            return data
        }
    }

    // MARK: Collection

    /// One collection pass: writes the last-served times of the indexes this instance serves, deletes the rows last
    /// served before `now - retention - collectionInterval`, then the bytes of shards no row references any more
    /// (unless this instance still holds them in memory). Waits for pending recordings first.
    /// - Throws: `SluiceError.storageFailure` when the database or the store fails (the next pass tries again).
    @discardableResult
    public func collect() async throws -> CollectionSummary {
        await flush()
        let date = now()
        let cutoff = date.addingTimeInterval(-(configuration.retention + configuration.collectionInterval))
        for (key, var current) in recorded {
            if current.lastServedAt < cutoff {
                // Not served for the whole retention period: its rows expire like any other's, and the next serve
                // records the snapshot again.
                recorded[key] = nil
                continue
            }
            if !current.superseded.isEmpty && current.supersededLastServedAt < cutoff {
                current.superseded = [:]
            }
            if current.lastServedAt > current.lastTouchedAt {
                let touchedAt = current.lastServedAt
                try await store.recordPublishedShards(
                    feed: key.feed, subdir: key.subdir,
                    sha256s: current.shards.keys.map(Self.sha256(of:)).sorted(), at: touchedAt)
                current.lastTouchedAt = touchedAt
            }
            // The entry may have been replaced while the rows were written.
            if recorded[key]?.indexETag == current.indexETag {
                recorded[key] = current
            }
        }

        var held = Set<String>()
        for current in recorded.values {
            for name in current.shards.keys { held.insert(Self.sha256(of: name)) }
            for name in current.superseded.keys { held.insert(Self.sha256(of: name)) }
        }
        var removed = 0
        for sha256 in try await store.deletePublishedShards(lastPublishedBefore: cutoff) where !held.contains(sha256) {
            try await blobs.delete(sha256: sha256)
            storedShards.withLock { _ = $0.remove(sha256) }
            removed += 1
        }
        if removed > 0 {
            logger.info("Removed expired shards", metadata: ["count": "\(removed)"])
        }
        return CollectionSummary(removedShards: removed)
    }

    /// `<sha256>` of `<sha256>.msgpack.zst`.
    static func sha256(of fileName: String) -> String {
        String(fileName.dropLast(suffix.count))
    }
}

/// Runs ``ShardArchive/collect()`` at start and then every collection interval; at shutdown it waits for pending
/// recordings so that a restart still serves them. Listed after the database closer, so it stops before it.
public struct ShardArchiveCollector: Service {
    /// The archive to collect.
    public let archive: ShardArchive
    /// Where failures are logged.
    public let logger: Logger

    /// Creates the service.
    public init(archive: ShardArchive, logger: Logger) {
        self.archive = archive
        self.logger = logger
    }

    /// Collects until graceful shutdown or cancellation, then flushes.
    public func run() async throws {
        let archive = self.archive
        let logger = self.logger
        let interval = archive.configuration.collectionInterval
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await archive.collect()
                } catch {
                    logger.warning("Shard collection failed", metadata: ["error": "\(error)"])
                }
                do {
                    try await Task.sleep(for: .seconds(interval))
                } catch {
                    return
                }
            }
        }
        await archive.flush()
    }
}
