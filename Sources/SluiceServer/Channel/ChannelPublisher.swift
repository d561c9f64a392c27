import Foundation
import Logging
import NIOPosix
import SluiceCore

/// Keeps the published state of every feed: per (feed, subdir) a ``ServedSubdir`` (a `SubdirSnapshot` with all its
/// variants ready to serve) and per feed a `channeldata.json`.
///
/// Repodata is derived from the database, never stored: a snapshot is built from one
/// `MetadataStore.packages(feed:subdir:)` read and swapped in atomically, so `repodata.json`, `.zst` and `.bz2` of a
/// subdir always come from the same state. Builds of one key are serialized and coalesced: while a build runs,
/// every caller that asks for a rebuild waits for the *next* build, which starts after the running one and re-reads
/// the database. So after ``republish(feed:subdir:)`` returns, the live snapshot reflects every commit made before
/// the call, and a burst of uploads costs at most two builds at a time per subdir.
///
/// Compression (zstd, bzip2, gzip) runs on NIO's blocking thread pool, not on the actor or the cooperative pool.
public actor ChannelPublisher {
    /// How snapshots are built.
    public struct Configuration: Sendable {
        /// The zstd level of `repodata.json.zst` (conda-index uses 16).
        public var zstdLevel: Int32 = 16

        /// Creates a configuration; `zstdLevel` defaults to 16.
        public init(zstdLevel: Int32 = 16) {
            self.zstdLevel = zstdLevel
        }
    }

    private struct SlotKey: Hashable, Sendable {
        var feed: String
        /// nil for the feed's `channeldata.json`.
        var subdir: String?
    }

    private enum Artifact: Sendable {
        /// A subdir's files; nil for a platform subdir without packages.
        case subdir(ServedSubdir?)
        case channeldata(ServedFile)
    }

    private struct Job {
        var id: UInt64
        var task: Task<Artifact, any Error>
    }

    private struct Slot {
        /// What is served now.
        var live: Artifact?
        /// The build that is reading or building now.
        var running: Job?
        /// The build that starts when `running` ends; every rebuild request made meanwhile joins it.
        var queued: Job?
    }

    private let metadata: any MetadataStore
    private let configuration: Configuration
    private let logger: Logger
    private var slots: [SlotKey: Slot] = [:]
    private var lastJobID: UInt64 = 0

    /// Creates a publisher that reads packages from `metadata`. Nothing is built until first asked for.
    public init(metadata: any MetadataStore, configuration: Configuration = .init(), logger: Logger) {
        self.metadata = metadata
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: Publishing

    /// Rebuilds the snapshot of `subdir` in `feed` from the database and makes it live, then refreshes the feed's
    /// `channeldata.json` if it has been built before.
    ///
    /// Returns once a snapshot that reflects every database commit made before the call is live. Call it after
    /// every change to the feed's packages in that subdir (upload, delete).
    /// - Throws: `SluiceError.notFound` if the feed does not exist; `.storageFailure` (from the store) or
    ///   `.internalError` (compression) if the build fails, in which case the previous snapshot stays live.
    public func republish(feed: String, subdir: String) async throws {
        _ = try await rebuild(SlotKey(feed: feed, subdir: subdir))
        let channeldataKey = SlotKey(feed: feed, subdir: nil)
        if slots[channeldataKey] != nil {
            _ = try await rebuild(channeldataKey)
        }
    }

    /// Drops everything published for `feed` (call it after the feed was deleted). Builds still running for it
    /// finish but are not installed.
    public func forget(feed: String) {
        slots = slots.filter { $0.key.feed != feed }
    }

    // MARK: Reading

    /// The live snapshot of `subdir` in `feed`, built from the database on first access.
    ///
    /// Returns nil for a platform subdir without packages; `noarch` always has a snapshot, even in an empty feed.
    /// - Throws: `SluiceError.notFound` if the feed does not exist; store or build errors otherwise.
    public func snapshot(feed: String, subdir: String) async throws -> SubdirSnapshot? {
        try await servedSubdir(feed: feed, subdir: subdir)?.snapshot
    }

    /// The live snapshot of `subdir` in `feed` ready to serve (bytes as `ByteBuffer`s, gzip precomputed, package
    /// lookup table), built on first access. nil for a platform subdir without packages.
    /// - Throws: `SluiceError.notFound` if the feed does not exist; store or build errors otherwise.
    public func servedSubdir(feed: String, subdir: String) async throws -> ServedSubdir? {
        guard case .subdir(let served) = try await current(SlotKey(feed: feed, subdir: subdir)) else {
            throw SluiceError(.internalError, "The publisher holds channeldata where a subdir was expected.")
        }
        return served
    }

    /// The feed's `channeldata.json` (CEP 38), built on first access and refreshed by ``republish(feed:subdir:)``.
    /// - Throws: `SluiceError.notFound` if the feed does not exist; store or build errors otherwise.
    public func channeldata(feed: String) async throws -> PublishedFile {
        try await servedChanneldata(feed: feed).published
    }

    /// The feed's `channeldata.json` ready to serve.
    /// - Throws: `SluiceError.notFound` if the feed does not exist; store or build errors otherwise.
    public func servedChanneldata(feed: String) async throws -> ServedFile {
        guard case .channeldata(let served) = try await current(SlotKey(feed: feed, subdir: nil)) else {
            throw SluiceError(.internalError, "The publisher holds a subdir where channeldata was expected.")
        }
        return served
    }

    // MARK: Build scheduling

    /// The live artifact, or the result of the build in progress or a new build when there is none yet.
    private func current(_ key: SlotKey) async throws -> Artifact {
        if let slot = slots[key] {
            if let live = slot.live { return live }
            if let running = slot.running { return try await running.task.value }
            if let queued = slot.queued { return try await queued.task.value }
        }
        return try await rebuild(key)
    }

    /// Schedules a build that starts after the running one (joining the one already queued, if any) and waits for it.
    private func rebuild(_ key: SlotKey) async throws -> Artifact {
        var slot = slots[key] ?? Slot()
        if let queued = slot.queued {
            return try await queued.task.value
        }
        lastJobID += 1
        let id = lastJobID
        let previousJob = slot.running?.task
        let metadata = self.metadata
        let configuration = self.configuration
        let task = Task<Artifact, any Error> {
            if let previousJob { _ = try? await previousJob.value }
            let previous = self.promote(key, id: id)
            do {
                let artifact = try await Self.build(
                    key, previous: previous, metadata: metadata, configuration: configuration)
                self.install(key, id: id, artifact: artifact)
                return artifact
            } catch {
                self.install(key, id: id, artifact: nil)
                // An unknown feed is an ordinary 404, not a publishing failure.
                let level: Logger.Level = (error as? SluiceError)?.code == .notFound ? .debug : .error
                self.logger.log(
                    level: level, "Publishing failed",
                    metadata: [
                        "feed": .string(key.feed), "subdir": .string(key.subdir ?? "channeldata"),
                        "error": .string("\(error)"),
                    ])
                throw error
            }
        }
        let job = Job(id: id, task: task)
        if previousJob == nil {
            slot.running = job
        } else {
            slot.queued = job
        }
        slots[key] = slot
        return try await task.value
    }

    /// Makes the queued job `id` the running one (it is about to read the database) and returns the live subdir it
    /// will replace, whose unchanged shards the build reuses.
    private func promote(_ key: SlotKey, id: UInt64) -> ServedSubdir? {
        guard var slot = slots[key] else { return nil }
        if let queued = slot.queued, queued.id == id {
            slot.running = queued
            slot.queued = nil
            slots[key] = slot
        }
        guard case .subdir(let served) = slot.live else { return nil }
        return served
    }

    /// Ends job `id`: installs its artifact (if it built one and the slot was not forgotten meanwhile).
    private func install(_ key: SlotKey, id: UInt64, artifact: Artifact?) {
        guard var slot = slots[key], slot.running?.id == id else { return }
        slot.running = nil
        if let artifact {
            slot.live = artifact
            if case .subdir(nil) = artifact, let subdir = key.subdir, !ChannelNames.knownSubdirs.contains(subdir) {
                // Do not remember empty answers for made-up subdir names: the table would grow without bound.
                slot.live = nil
            }
        }
        if slot.live == nil && slot.queued == nil {
            slots[key] = nil
        } else {
            slots[key] = slot
        }
    }

    // MARK: Building (off the actor)

    private static func build(
        _ key: SlotKey, previous: ServedSubdir?, metadata: any MetadataStore, configuration: Configuration
    ) async throws -> Artifact {
        guard try await metadata.feed(named: key.feed) != nil else {
            throw SluiceError.notFound("There is no feed named '\(key.feed)'.")
        }
        if let subdir = key.subdir {
            return .subdir(
                try await buildSubdir(
                    feed: key.feed, subdir: subdir, previous: previous, metadata: metadata,
                    configuration: configuration))
        }
        return .channeldata(try await buildChanneldata(feed: key.feed, metadata: metadata))
    }

    private static func buildSubdir(
        feed: String, subdir: String, previous: ServedSubdir?, metadata: any MetadataStore,
        configuration: Configuration
    ) async throws -> ServedSubdir? {
        let stored = try await metadata.packages(feed: feed, subdir: subdir)
        if stored.isEmpty && subdir != "noarch" {
            return nil
        }
        let records = stored.map(\.record)
        var packages: [String: ServedPackage] = [:]
        for package in stored {
            packages[package.filename] = ServedPackage(
                sha256: package.sha256, size: package.size, lastModified: package.uploadedAt)
        }
        let builtAt = Date()
        let zstdLevel = configuration.zstdLevel
        return try await NIOThreadPool.singleton.runIfActive { [packages] in
            let snapshot = try SubdirSnapshot.build(
                subdir: subdir, records: records, builtAt: builtAt, zstdLevel: zstdLevel,
                previous: previous?.snapshot)
            var files: [String: ServedFile] = [:]
            for (name, file) in snapshot.files {
                files[name] = try ServedFile(file, gzip: name.hasSuffix(".json"))
            }
            // Shards are content-addressed: one that the previous snapshot served is reused as it is.
            var shards: [String: ServedFile] = [:]
            for (name, file) in snapshot.shards {
                shards[name] = try previous?.shards[name] ?? ServedFile(file, gzip: false)
            }
            return ServedSubdir(snapshot: snapshot, files: files, shards: shards, packages: packages)
        }
    }

    private static func buildChanneldata(feed: String, metadata: any MetadataStore) async throws -> ServedFile {
        var stored: [StoredPackage] = []
        for subdir in try await metadata.subdirs(feed: feed) {
            stored += try await metadata.packages(feed: feed, subdir: subdir)
        }
        let builtAt = Date()
        return try await NIOThreadPool.singleton.runIfActive { [stored] in
            let bytes = RepodataBuilder.channeldata(packages: stored)
            let file = PublishedFile(bytes: Data(bytes), contentType: "application/json", lastModified: builtAt)
            return try ServedFile(file, gzip: true)
        }
    }
}
