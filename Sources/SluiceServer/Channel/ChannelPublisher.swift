import Foundation
import Logging
import NIOPosix
import SluiceCore
import SluiceUpstream

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
/// A proxy feed (a feed with ``Feed/connectors``) merges its local package rows with each connector's upstream records
/// from the ``UpstreamMirror``, in order: a local file name shadows an upstream one, and among connectors the first
/// that lists a file name wins. Every variant is built from that one merged list, exactly as for a hosted feed. A
/// platform subdir of a proxy feed exists when the feed has local packages there or an upstream has it; `noarch`
/// always exists. Serving a proxy subdir asks the mirror to revalidate stale upstream records in the background; when
/// they change, ``upstreamChanged(connector:subdir:)`` rebuilds the affected snapshots.
///
/// **Compliance.** With a ``ComplianceGate``, every build asks it once for the feed's ``ComplianceView`` and leaves
/// every record the view blocks out of every variant, the shards and `channeldata.json` (the package lookup tables of
/// ``ServedSubdir`` keep them, so the channel route can answer 403 rather than 404 for a blocked file). When verdicts
/// change, the compliance service calls ``republish(feed:)``.
///
/// **Incremental builds.** Each build hands the live snapshot to `SubdirSnapshot.build`, which copies the JSON of
/// every unchanged record from the previous `repodata.json` and keeps the shards of names whose records did not
/// change; files whose bytes did not change keep their prepared ``ServedFile`` (no second gzip). A build still reads
/// the subdir's rows from the database, which is what keeps the live snapshot equal to the last commit. Compression is
/// what remains expensive, so a build that was queued behind a running one (a burst of uploads) compresses at
/// ``Configuration/burstZstdLevel`` and, once nothing is queued, one more build at ``Configuration/zstdLevel``
/// settles the subdir on the small `.zst` (every snapshot is complete and consistent either way).
///
/// Compression (zstd, bzip2, gzip) runs on NIO's blocking thread pool, not on the actor or the cooperative pool.
public actor ChannelPublisher {
    /// How snapshots are built.
    public struct Configuration: Sendable {
        /// The zstd level of `repodata.json.zst` (conda-index uses 16).
        public var zstdLevel: Int32 = 16
        /// `.json` files up to this size (bytes) get a precomputed gzip representation; larger ones (a 200 MB
        /// proxied `repodata.json` would take seconds of deflate) are sent as they are, and clients that want them
        /// small fetch the `.zst`. Default 16 MiB.
        public var gzipMaximumSize: Int = 16 << 20
        /// The zstd level of builds made during a burst of changes: a build that was queued behind a running one of
        /// the same subdir. Such a build also leaves out the `.bz2` files (which only rattler fetches, and only when
        /// `.zst` is missing) and the gzip forms. Once the burst is over, one more build at ``zstdLevel`` with every
        /// form follows, so the subdir settles on the full set; meanwhile each upload waits for a cheap build instead
        /// of a level-16 one with bzip2. Never above ``zstdLevel``. Default 3.
        public var burstZstdLevel: Int32 = 3
        /// Set on the configuration of a burst build: no `.bz2` and no gzip (the settling build makes them).
        var isBurst = false

        /// Creates a configuration; `zstdLevel` defaults to 16, `gzipMaximumSize` to 16 MiB, `burstZstdLevel` to 3.
        public init(zstdLevel: Int32 = 16, gzipMaximumSize: Int = 16 << 20, burstZstdLevel: Int32 = 3) {
            self.zstdLevel = zstdLevel
            self.gzipMaximumSize = gzipMaximumSize
            self.burstZstdLevel = burstZstdLevel
        }
    }

    private struct SlotKey: Hashable, Sendable {
        var feed: String
        /// nil for the feed's `channeldata.json`.
        var subdir: String?
    }

    private enum Artifact: Sendable {
        /// A subdir's files (nil for a platform subdir without packages) and the connectors it was merged from.
        case subdir(ServedSubdir?, connectors: [String])
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
    private let mirror: UpstreamMirror?
    private let compliance: (any ComplianceGate)?
    private let configuration: Configuration
    private let logger: Logger
    private var slots: [SlotKey: Slot] = [:]
    private var lastJobID: UInt64 = 0

    /// Creates a publisher that reads packages from `metadata` and, for proxy feeds, upstream records from `mirror`
    /// (without a mirror, connectors are ignored). With `compliance`, records its views block are left out of
    /// everything published. Nothing is built until first asked for.
    public init(
        metadata: any MetadataStore, mirror: UpstreamMirror? = nil, compliance: (any ComplianceGate)? = nil,
        configuration: Configuration = .init(), logger: Logger
    ) {
        self.metadata = metadata
        self.mirror = mirror
        self.compliance = compliance
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

    /// Rebuilds everything published for `feed`: every subdir snapshot built so far and its `channeldata.json`.
    /// Call it when what the feed may show changed without a package change, e.g. when the ``ComplianceGate``'s
    /// verdicts changed (advisories, policies, exceptions, the feed's blocking switch). Subdirs not built yet need
    /// nothing: they ask the gate when first built.
    ///
    /// Returns once every rebuilt snapshot is live (each reflecting the commits and verdicts at the time of the call).
    /// - Throws: the first build error (`SluiceError.notFound` if the feed no longer exists, store or compression
    ///   errors); the other subdirs are still rebuilt, and a failed one keeps its previous snapshot.
    public func republish(feed: String) async throws {
        let keys = slots.keys.filter { $0.feed == feed && $0.subdir != nil }.sorted { $0.subdir! < $1.subdir! }
        var firstError: (any Error)?
        for key in keys {
            do {
                _ = try await rebuild(key)
            } catch {
                firstError = firstError ?? error
            }
        }
        let channeldataKey = SlotKey(feed: feed, subdir: nil)
        if slots[channeldataKey] != nil {
            do {
                _ = try await rebuild(channeldataKey)
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    /// Rebuilds the published snapshots that use `connector`'s records: of `subdir`, or of every subdir when nil
    /// (after the connector itself changed). Called by the ``UpstreamMirror`` after a refresh changed records.
    /// Failures are logged; the previous snapshot then stays live.
    public func upstreamChanged(connector: String, subdir: String?) async {
        let feeds: [String]
        do {
            feeds = try await metadata.feeds().filter { $0.connectors.contains(connector) }.map(\.name)
        } catch {
            logger.error("Could not list feeds to republish", metadata: ["error": "\(error)"])
            return
        }
        let keys = slots.keys.filter { key in
            guard let keySubdir = key.subdir, feeds.contains(key.feed) else { return false }
            return subdir == nil || subdir == keySubdir
        }
        for key in keys.sorted(by: { ($0.feed, $0.subdir ?? "") < ($1.feed, $1.subdir ?? "") }) {
            do {
                try await republish(feed: key.feed, subdir: key.subdir ?? "noarch")
            } catch {
                logger.warning(
                    "Republishing after an upstream change failed",
                    metadata: ["feed": "\(key.feed)", "subdir": "\(key.subdir ?? "")", "error": "\(error)"])
            }
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
    ///
    /// For a proxy feed this also asks the mirror to revalidate stale upstream records in the background.
    public func servedSubdir(feed: String, subdir: String) async throws -> ServedSubdir? {
        guard case .subdir(let served, let connectors) = try await current(SlotKey(feed: feed, subdir: subdir)) else {
            throw SluiceError(.internalError, "The publisher holds channeldata where a subdir was expected.")
        }
        if !connectors.isEmpty, let mirror {
            await mirror.revalidateIfStale(connectors: connectors, subdir: subdir)
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
        let mirror = self.mirror
        let compliance = self.compliance
        // A build queued behind a running one is part of a burst: compress it fast, and settle afterwards.
        let isBurst = previousJob != nil && key.subdir != nil
        var configuration = self.configuration
        if isBurst {
            configuration.zstdLevel = min(configuration.zstdLevel, configuration.burstZstdLevel)
            configuration.isBurst = true
        }
        let task = Task<Artifact, any Error> { [configuration] in
            if let previousJob { _ = try? await previousJob.value }
            let previous = self.promote(key, id: id)
            do {
                let artifact = try await Self.build(
                    key, previous: previous, metadata: metadata, mirror: mirror, compliance: compliance,
                    configuration: configuration)
                self.install(key, id: id, artifact: artifact)
                if isBurst { self.settle(key) }
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

    /// After a burst build: when nothing is queued behind it, starts one more build at the configured level in the
    /// background (a request arriving meanwhile joins the next build as usual).
    private func settle(_ key: SlotKey) {
        guard let slot = slots[key], slot.running == nil, slot.queued == nil, slot.live != nil else { return }
        Task { _ = try? await self.rebuild(key) }
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
        guard case .subdir(let served, _) = slot.live else { return nil }
        return served
    }

    /// Ends job `id`: installs its artifact (if it built one and the slot was not forgotten meanwhile).
    private func install(_ key: SlotKey, id: UInt64, artifact: Artifact?) {
        guard var slot = slots[key], slot.running?.id == id else { return }
        slot.running = nil
        if let artifact {
            slot.live = artifact
            if case .subdir(nil, _) = artifact, let subdir = key.subdir, !ChannelNames.knownSubdirs.contains(subdir) {
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
        _ key: SlotKey, previous: ServedSubdir?, metadata: any MetadataStore, mirror: UpstreamMirror?,
        compliance: (any ComplianceGate)?, configuration: Configuration
    ) async throws -> Artifact {
        guard let feed = try await metadata.feed(named: key.feed) else {
            throw SluiceError.notFound("There is no feed named '\(key.feed)'.")
        }
        let connectors = mirror == nil ? [] : feed.connectors
        // One view per build: every record of this build is judged against the same verdicts.
        let view = await compliance?.view(feed: key.feed)
        if let subdir = key.subdir {
            return .subdir(
                try await buildSubdir(
                    feed: key.feed, connectors: connectors, subdir: subdir, previous: previous, metadata: metadata,
                    mirror: mirror, view: view, configuration: configuration),
                connectors: connectors)
        }
        return .channeldata(
            try await buildChanneldata(
                feed: key.feed, connectors: connectors, metadata: metadata, mirror: mirror, view: view,
                configuration: configuration))
    }

    private static func buildSubdir(
        feed: String, connectors: [String], subdir: String, previous: ServedSubdir?, metadata: any MetadataStore,
        mirror: UpstreamMirror?, view: (any ComplianceView)?, configuration: Configuration
    ) async throws -> ServedSubdir? {
        let stored = try await metadata.packages(feed: feed, subdir: subdir)
        var records = stored.map(\.record)
        var packages: [String: ServedPackage] = Dictionary(minimumCapacity: stored.count)
        for package in stored {
            packages[package.filename] = ServedPackage(
                sha256: package.sha256, size: package.size, lastModified: package.uploadedAt)
        }
        var upstreamPackages: [String: UpstreamPackage] = [:]
        var upstreamHasSubdir = false
        // Upstream subdirs are only asked for known subdir names, so made-up names cannot make Sluice call out.
        if let mirror, !connectors.isEmpty, subdir == "noarch" || ChannelNames.knownSubdirs.contains(subdir) {
            for name in connectors {
                guard let connector = try await metadata.connector(named: name),
                    let upstream = try await mirror.records(for: connector, subdir: subdir)
                else { continue }
                upstreamHasSubdir = true
                upstreamPackages.reserveCapacity(upstreamPackages.count + upstream.count)
                records.reserveCapacity(records.count + upstream.count)
                let hasLocal = !packages.isEmpty
                let first = upstreamPackages.isEmpty
                for record in upstream where !hasLocal || packages[record.filename] == nil {
                    // The first connector that lists a file name wins (one connector's list has each name once).
                    guard first || upstreamPackages.index(forKey: record.filename) == nil else { continue }
                    upstreamPackages[record.filename] = UpstreamPackage(
                        connector: name, expected: ExpectedFile(record: record))
                    records.append(Self.servable(record))
                }
            }
        }
        if stored.isEmpty && !upstreamHasSubdir && subdir != "noarch" {
            return nil
        }
        if let view {
            records.removeAll { view.blocks($0, subdir: subdir) }
        }
        let builtAt = Date()
        let zstdLevel = configuration.zstdLevel
        // A burst build leaves out the slow, rarely used forms (.bz2, gzip); the settling build adds them.
        let gzipMaximumSize = configuration.isBurst ? -1 : configuration.gzipMaximumSize
        let bzip2MaximumInputSize = configuration.isBurst ? -1 : SubdirSnapshot.bzip2MaximumInputSize
        return try await NIOThreadPool.singleton.runIfActive { [packages, records, upstreamPackages] in
            // repodata.json and current_repodata.json are written straight into the buffers they are served from.
            let buffers = ServedBufferStorage()
            var snapshot = try SubdirSnapshot.build(
                subdir: subdir, records: records, builtAt: builtAt, zstdLevel: zstdLevel,
                previous: previous?.snapshot, bzip2MaximumInputSize: bzip2MaximumInputSize,
                storage: buffers.storage)
            // Each file is held once: a ServedFile's buffer, which the snapshot's `PublishedFile` views. The two
            // documents already are such buffers; the other files are taken out of the snapshot and released one
            // at a time as their buffers are made, so at most one of them exists twice at any moment.
            var built = snapshot.files
            snapshot = snapshot.replacingFiles([:], shards: snapshot.shards)
            let isLarge = (built["repodata.json"]?.bytes.count ?? 0) > SubdirSnapshot.largeInputSize
            if isLarge { SubdirSnapshot.releaseFreedMemory() }
            var files: [String: ServedFile] = Dictionary(minimumCapacity: built.count)
            for name in Array(built.keys) {
                guard let file = built.removeValue(forKey: name) else { continue }
                let gzip = name.hasSuffix(".json") && file.bytes.count <= gzipMaximumSize
                // A file whose bytes did not change keeps what was prepared for it (and its Last-Modified), unless
                // it lacks a gzip form that is wanted now (after a burst build).
                if let old = previous?.files[name], old.published.etag == file.etag,
                    old.published.bytes.count == file.bytes.count, !gzip || old.gzip != nil
                {
                    files[name] = old
                    continue
                }
                if let body = buffers.take(file.bytes) {
                    files[name] = try ServedFile(file, servedFrom: body, gzip: gzip)
                } else {
                    files[name] = try ServedFile(file, gzip: gzip)
                }
                if isLarge { SubdirSnapshot.releaseFreedMemory() }
            }
            // Shards are content-addressed: one that the previous snapshot served is reused as it is.
            var shards: [String: ServedFile] = Dictionary(minimumCapacity: snapshot.shards.count)
            for (name, file) in snapshot.shards {
                shards[name] = try previous?.shards[name] ?? ServedFile(file, gzip: false)
            }
            snapshot = snapshot.replacingFiles(files.mapValues(\.published), shards: shards.mapValues(\.published))
            return ServedSubdir(
                snapshot: snapshot, files: files, shards: shards, packages: packages,
                upstreamPackages: upstreamPackages)
        }
    }

    /// The records of one upstream subdir that can decide its names' entries in `channeldata.json`: per name, every
    /// record of its newest version (the newest package, its `.conda`/`.tar.bz2` twin and the tie-breaks are decided
    /// among those exactly as among all records) and the record with the newest timestamp. Upstream records carry no
    /// channel data (flags, `run_exports`), so no other record can change the entry; the subdir is the same for all.
    /// A name with no parseable version keeps all its records. This turns 450,000 upstream records into a few
    /// thousand before `RepodataBuilder.channeldata` runs.
    static func channeldataCandidates(_ records: [PackageRecord]) -> [PackageRecord] {
        struct Group {
            var newest: VersionOrder?
            var members: [Int] = []
            var unparsed: [Int] = []
            var latest: Int
            var latestTimestamp: Int64
        }
        var versions: [String: VersionOrder?] = [:]
        var groups: [String: Group] = [:]
        for (index, record) in records.enumerated() {
            let versionString = record.version
            let version: VersionOrder?
            if let known = versions[versionString] {
                version = known
            } else {
                version = try? VersionOrder(versionString)
                versions[versionString] = version
            }
            let timestamp = record.fields["timestamp"]?.intValue ?? 0
            let name = record.name
            var group = groups[name] ?? Group(latest: index, latestTimestamp: timestamp)
            if timestamp > group.latestTimestamp {
                group.latest = index
                group.latestTimestamp = timestamp
            }
            if let version {
                if let newest = group.newest, newest > version {
                    // older: cannot be the newest package
                } else if let newest = group.newest, newest == version {
                    group.members.append(index)
                } else {
                    group.newest = version
                    group.members = [index]
                }
            } else {
                group.unparsed.append(index)
            }
            groups[name] = group
        }
        var kept: [Int] = []
        for group in groups.values {
            kept += group.newest == nil ? group.unparsed : group.members
            kept.append(group.latest)
        }
        return Set(kept).sorted().map { records[$0] }
    }

    /// An upstream record as a proxy feed publishes it: every field kept, `depends: null` made `[]` (rattler
    /// rejects null). `url` and `channel` were already dropped when the upstream repodata was parsed.
    static func servable(_ record: PackageRecord) -> PackageRecord {
        guard case .null = record.fields["depends"] else { return record }
        var record = record
        record.fields["depends"] = .array([])
        return record
    }

    private static func buildChanneldata(
        feed: String, connectors: [String], metadata: any MetadataStore, mirror: UpstreamMirror?,
        view: (any ComplianceView)?, configuration: Configuration
    ) async throws -> ServedFile {
        var stored: [StoredPackage] = []
        var localFiles = Set<String>()
        for subdir in try await metadata.subdirs(feed: feed) {
            let rows = try await metadata.packages(feed: feed, subdir: subdir)
            stored += rows
            for row in rows { localFiles.insert(subdir + "/" + row.filename) }
        }
        if let view {
            stored.removeAll { view.blocks($0.record, subdir: $0.subdir) }
        }
        // Proxy feeds: the upstream records the mirror holds now (channeldata never makes Sluice call out), reduced
        // to those that can change the result.
        if let mirror {
            for name in connectors {
                for (subdir, records) in await mirror.loadedRecords(connector: name) {
                    var visible = records
                    if let view { visible.removeAll { view.blocks($0, subdir: subdir) } }
                    for record in Self.channeldataCandidates(visible)
                    where localFiles.insert(subdir + "/" + record.filename).inserted {
                        stored.append(StoredPackage(feed: feed, subdir: subdir, record: Self.servable(record)))
                    }
                }
            }
        }
        let builtAt = Date()
        let gzipMaximumSize = configuration.gzipMaximumSize
        return try await NIOThreadPool.singleton.runIfActive { [stored] in
            let bytes = RepodataBuilder.channeldata(packages: stored)
            let file = PublishedFile(bytes: Data(bytes), contentType: "application/json", lastModified: builtAt)
            return try ServedFile(file, gzip: file.bytes.count <= gzipMaximumSize)
        }
    }
}
