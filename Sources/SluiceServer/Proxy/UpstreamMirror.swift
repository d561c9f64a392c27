import Crypto
import Foundation
import Logging
import NIOCore
import SluiceCore
import SluiceUpstream
import Synchronization

/// The proxy side of Sluice: per (connector, subdir) the last good upstream repodata records, and the package
/// fetch-through cache. Proxy feeds' snapshots are built from these records by ``ChannelPublisher``; package files
/// that only the upstream has are fetched through ``fetchPackage(connector:subdir:filename:expected:onChunk:)``.
///
/// **Freshness.** Records count as fresh for the connector's `metadataCacheMinutes` (0, or `metadataCacheEnabled`
/// false, means always stale). A request never waits for a refresh when records exist: stale records are served at
/// once and one background refresh is started per key (stale-while-revalidate, single-flight). Only the first fetch
/// of a subdir ever waits for the upstream.
///
/// **Failures.** An upstream failure keeps the last good records (stale-if-error); it is logged, counted and kept as
/// the connector's `lastError`. With nothing to serve, the client's error is thrown: `SluiceError.upstreamUnavailable`
/// (502) or `.upstreamTimeout` (504), naming the upstream URL without credentials. One ``CircuitBreaker`` per
/// connector stops calling an upstream that keeps failing.
///
/// **Persistence.** The last good upstream `repodata.json` (decompressed) is stored as a blob with an
/// `UpstreamSnapshotRow`, and loaded on first use, so a restart with the upstream down still serves. An upstream
/// 404 for a subdir is remembered as absent.
///
/// **Changes.** When a refresh changes a subdir's records, the handler set with ``onRecordsChanged(_:)`` is called
/// (the services republish every feed that uses the connector).
public actor UpstreamMirror {
    /// Tuning of the mirror.
    public struct Configuration: Sendable {
        /// The circuit breaker of each connector.
        public var circuitBreaker: CircuitBreaker.Configuration

        /// Creates a configuration (default: 5 failures open the circuit for 30 s).
        public init(circuitBreaker: CircuitBreaker.Configuration = .init()) {
            self.circuitBreaker = circuitBreaker
        }
    }

    /// Called after a refresh changed the records of `subdir` of `connector` (or, with `subdir` nil, after the
    /// connector itself changed and every subdir must be rebuilt).
    public typealias RecordsChangedHandler = @Sendable (_ connector: String, _ subdir: String?) async -> Void

    struct SubdirKey: Hashable, Sendable, CustomStringConvertible {
        var connector: String
        var subdir: String
        var description: String { "\(connector)/\(subdir)" }
    }

    struct SubdirState: Sendable {
        /// nil: the upstream has no such subdir.
        var records: [PackageRecord]?
        /// The blob of the upstream JSON the records were parsed from.
        var sha256: String?
        var validators: CacheValidators?
        /// When the upstream last confirmed these records.
        var confirmedAt: Date
    }

    struct Health: Sendable {
        var lastError: String?
        var lastSuccess: Date?
        var lastFailure: Date?
        var metadataHits = 0
        var metadataMisses = 0
        var packageHits = 0
        var packageMisses = 0
    }

    private let metadata: any MetadataStore
    private let blobs: any BlobStore
    private let client: UpstreamClient
    private let configuration: Configuration
    private let logger: Logger
    private let temporaryFileURL: @Sendable () -> URL
    private let now: @Sendable () -> Date
    let blobLocks: KeyedLock

    private var knownConnectors: [String: Connector] = [:]
    /// Connectors whose URL or credentials changed: their saved snapshots belong to another upstream.
    private var ignoreSaved: Set<String> = []
    private var states: [SubdirKey: SubdirState] = [:]
    private var breakers: [String: CircuitBreaker] = [:]
    private var health: [String: Health] = [:]
    private var background: [SubdirKey: Task<Void, Never>] = [:]
    /// Cached upstream files already found in the database (and their blob on disk), so a warm download costs no
    /// query. Rows are only removed with their connector (``connectorChanged(_:)`` drops its entries); blobs are
    /// content-addressed and kept while a row references them, so an entry cannot go stale on this instance.
    private var knownCachedFiles: [CachedFileKey: CachedUpstreamFile] = [:]
    /// Bound of ``knownCachedFiles``: past it the table starts over (the database answers the misses).
    private static let knownCachedFilesLimit = 200_000
    private let metadataFlights = SingleFlight<SubdirKey, Bool>()
    private let packageFlights = SingleFlight<String, CachedUpstreamFile>()
    private let changeHandler = Mutex<RecordsChangedHandler?>(nil)

    /// Creates a mirror over the stores, using `client` for every upstream call.
    ///
    /// - Parameters:
    ///   - temporaryFileURL: fresh paths for downloads in progress, on the blob store's filesystem.
    ///   - now: the wall clock, injectable so tests can move time forward.
    public init(
        metadata: any MetadataStore, blobs: any BlobStore, client: UpstreamClient,
        configuration: Configuration = .init(), logger: Logger,
        temporaryFileURL: @escaping @Sendable () -> URL,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.init(
            metadata: metadata, blobs: blobs, client: client, configuration: configuration, logger: logger,
            temporaryFileURL: temporaryFileURL, now: now, blobLocks: KeyedLock())
    }

    init(
        metadata: any MetadataStore, blobs: any BlobStore, client: UpstreamClient, configuration: Configuration,
        logger: Logger, temporaryFileURL: @escaping @Sendable () -> URL, now: @escaping @Sendable () -> Date,
        blobLocks: KeyedLock
    ) {
        self.metadata = metadata
        self.blobs = blobs
        self.client = client
        self.configuration = configuration
        self.logger = logger
        self.temporaryFileURL = temporaryFileURL
        self.now = now
        self.blobLocks = blobLocks
    }

    /// Sets the handler called when a refresh changed a subdir's records (replacing any previous one).
    public nonisolated func onRecordsChanged(_ handler: @escaping RecordsChangedHandler) {
        changeHandler.withLock { $0 = handler }
    }

    // MARK: Records

    /// The records of `subdir` at `connector`'s upstream, filtered by the connector's filters; nil when the upstream
    /// has no such subdir. Loads the saved snapshot on first use, and fetches from the upstream (waiting) only when
    /// nothing was ever saved. Does not start a revalidation: ``revalidateIfStale(connectors:subdir:)`` does that.
    ///
    /// - Throws: `SluiceError.upstreamUnavailable` / `.upstreamTimeout` when there is nothing saved and the upstream
    ///   fails (the message names the upstream URL without credentials); `.invalidInput` for a bad subdir or URL.
    public func records(for connector: Connector, subdir: String) async throws -> [PackageRecord]? {
        note(connector)
        let key = SubdirKey(connector: connector.name, subdir: subdir)
        if let state = states[key] { return state.records }
        _ = try await metadataFlights.run(key: key) { try await self.loadOrFetch(connector, subdir: subdir) }
        guard let state = states[key] else {
            throw SluiceError(.internalError, "Upstream records of \(key) vanished while they were loaded.")
        }
        return state.records
    }

    /// Counts a served request for each connector's records and starts one background refresh for each whose
    /// records are older than its `metadataCacheMinutes`. Returns at once.
    public func revalidateIfStale(connectors names: [String], subdir: String) {
        for name in names {
            let key = SubdirKey(connector: name, subdir: subdir)
            guard let state = states[key], let connector = knownConnectors[name] else { continue }
            health[name, default: Health()].metadataHits += 1
            if isStale(state, connector: connector) {
                startBackgroundRefresh(connector, subdir: subdir)
            }
        }
    }

    /// Fetches (revalidates) `subdir` of `connector` now and waits for it; a change republishes the feeds using it.
    ///
    /// - Throws: `SluiceError.notFound` when there is no such connector; the upstream's error
    ///   (`upstreamUnavailable`, `upstreamTimeout`) when the fetch fails, even if older records are kept.
    public func refresh(connector name: String, subdir: String) async throws {
        guard ChannelNames.isSubdir(subdir) else {
            throw SluiceError.invalidInput("'\(subdir)' is not a conda subdir name.")
        }
        let connector = try await connector(named: name)
        note(connector)
        let key = SubdirKey(connector: name, subdir: subdir)
        let changed = try await metadataFlights.run(key: key) {
            try await self.fetch(connector, subdir: subdir, throwOnError: true)
        }
        if changed { await notifyChanged(name, subdir: subdir) }
    }

    /// Drops what the mirror holds for `name` (records, validators) after the connector was updated or deleted, and
    /// republishes the feeds using it. When the URL or the credentials changed, the saved snapshots are not used
    /// again (they describe another upstream); a filter change re-reads them with the new filter.
    public func connectorChanged(_ name: String) async {
        let old = knownConnectors[name]
        let new = try? await metadata.connector(named: name)
        states = states.filter { $0.key.connector != name }
        knownCachedFiles = knownCachedFiles.filter { $0.key.connector != name }
        if let new {
            if let old, Self.pointsElsewhere(old, new) { ignoreSaved.insert(name) }
            knownConnectors[name] = new
        } else {
            knownConnectors[name] = nil
            breakers[name] = nil
            health[name] = nil
            ignoreSaved.remove(name)
        }
        await notifyChanged(name, subdir: nil)
    }

    /// Waits until every background refresh started so far has finished (for tests and orderly shutdown).
    public func waitForBackgroundRefreshes() async {
        while let task = background.values.first {
            await task.value
        }
    }

    /// The subdirs of `connector` that the mirror holds records for, with those records (no upstream call).
    func loadedRecords(connector name: String) -> [String: [PackageRecord]] {
        var result: [String: [PackageRecord]] = [:]
        for (key, state) in states where key.connector == name {
            if let records = state.records { result[key.subdir] = records }
        }
        return result
    }

    // MARK: Status

    /// The health and counters of the connector `name` (``ConnectorStatus``), including saved subdirs when the
    /// mirror has not used the connector since start-up.
    public func status(connector name: String) async -> ConnectorStatus {
        let saved = (try? await metadata.upstreamSnapshots(connector: name)) ?? []
        var subdirs = Set(saved.filter { $0.status == .present }.map(\.subdir))
        var lastRefresh = saved.map(\.fetchedAt).max()
        for (key, state) in states where key.connector == name {
            if state.records != nil { subdirs.insert(key.subdir) } else { subdirs.remove(key.subdir) }
            lastRefresh = max(lastRefresh ?? state.confirmedAt, state.confirmedAt)
        }
        let health = self.health[name] ?? Health()
        let circuitState = await breakers[name]?.state
        let circuit = circuitState?.description ?? "closed"
        let failing = health.lastError != nil
        let status: String
        if case .open = circuitState {
            status = "unavailable"
        } else if failing {
            status = subdirs.isEmpty ? "unavailable" : "degraded"
        } else if health.lastSuccess != nil {
            status = "healthy"
        } else {
            status = "unknown"
        }
        return ConnectorStatus(
            name: name, health: status, circuit: circuit, lastRefresh: lastRefresh, lastError: health.lastError,
            metadataHits: health.metadataHits, metadataMisses: health.metadataMisses,
            packageHits: health.packageHits, packageMisses: health.packageMisses, subdirs: subdirs.sorted())
    }

    // MARK: Packages

    /// The cached copy of an upstream file, or nil when it is not cached (no row, or its blob is gone).
    public func cachedPackage(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile? {
        let key = CachedFileKey(connector: connector, subdir: subdir, filename: filename)
        if let known = knownCachedFiles[key] { return known }
        guard let row = try await metadata.cachedFile(connector: connector, subdir: subdir, filename: filename),
            try await blobs.contains(sha256: row.sha256)
        else { return nil }
        remember(row)
        return row
    }

    private func remember(_ file: CachedUpstreamFile) {
        if knownCachedFiles.count >= Self.knownCachedFilesLimit { knownCachedFiles.removeAll(keepingCapacity: true) }
        knownCachedFiles[CachedFileKey(connector: file.connector, subdir: file.subdir, filename: file.filename)] = file
    }

    private struct CachedFileKey: Hashable {
        var connector: String
        var subdir: String
        var filename: String
    }

    /// Counts a package download served from the cache.
    public func notePackageHit(connector: String) {
        health[connector, default: Health()].packageHits += 1
    }

    /// Fetches an upstream file into the cache, once for all concurrent callers (single-flight per connector, subdir
    /// and file name), verified against `expected` (size and sha256, or md5), and returns the cached file.
    ///
    /// Only the caller that starts the download gets `onChunk` calls (each chunk after it was written to the
    /// temporary file); callers that join a running download get none and read the blob afterwards.
    ///
    /// - Throws: `SluiceError.notFound` when the upstream does not have the file; `.upstreamUnavailable` on a
    ///   verification failure, 5xx or cut connection (nothing is cached); `.upstreamTimeout`; `.storageFailure`.
    public func fetchPackage(
        connector name: String, subdir: String, filename: String, expected: ExpectedFile,
        onChunk: @escaping @Sendable (ByteBuffer) async throws -> Void = { _ in }
    ) async throws -> CachedUpstreamFile {
        let key = "\(name)\u{0}\(subdir)\u{0}\(filename)"
        return try await packageFlights.run(key: key) {
            try await self.download(
                connector: name, subdir: subdir, filename: filename, expected: expected, onChunk: onChunk)
        }
    }

    private func download(
        connector name: String, subdir: String, filename: String, expected: ExpectedFile,
        onChunk: @escaping @Sendable (ByteBuffer) async throws -> Void
    ) async throws -> CachedUpstreamFile {
        // A flight that ended just before this one started may have cached it.
        if let cached = try await cachedPackage(connector: name, subdir: subdir, filename: filename) {
            return cached
        }
        let connector = try await connector(named: name)
        let channel = try Self.channel(for: connector)
        health[name, default: Health()].packageMisses += 1
        let temporary = temporaryFileURL()
        let client = self.client
        let downloaded: DownloadedFile
        do {
            downloaded = try await breaker(for: name).run { () throws(SluiceError) in
                try await client.downloadPackage(
                    channel: channel, subdir: subdir, filename: filename, expected: expected, to: temporary,
                    onChunk: onChunk)
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            if CircuitBreaker.countsAsFailure(error) {
                recordFailure(name, error.message)
            }
            throw error
        }
        let file = CachedUpstreamFile(
            connector: name, subdir: subdir, filename: filename, sha256: downloaded.sha256, size: downloaded.size,
            cachedAt: now())
        do {
            let blobs = self.blobs
            let metadata = self.metadata
            try await blobLocks.withLock(downloaded.sha256) { @Sendable () async throws in
                try await blobs.put(sha256: downloaded.sha256, from: temporary)
                try await metadata.recordCachedFile(file)
            }
            // A store that copies (rather than moves) leaves the source behind.
            try? FileManager.default.removeItem(at: temporary)
            remember(file)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            logger.error(
                "Could not store a verified upstream file",
                metadata: ["connector": "\(name)", "file": "\(subdir)/\(filename)", "error": "\(error)"])
            throw error
        }
        logger.info(
            "Cached upstream file",
            metadata: ["connector": "\(name)", "file": "\(subdir)/\(filename)", "size": "\(downloaded.size)"])
        return file
    }

    // MARK: Loading and fetching

    /// Remembers the connector as the API stored it; a changed URL, credentials or filter drops what was loaded.
    private func note(_ connector: Connector) {
        guard let old = knownConnectors[connector.name] else {
            knownConnectors[connector.name] = connector
            return
        }
        guard old != connector else { return }
        if Self.pointsElsewhere(old, connector) {
            ignoreSaved.insert(connector.name)
            states = states.filter { $0.key.connector != connector.name }
        } else if old.filters != connector.filters {
            states = states.filter { $0.key.connector != connector.name }
        }
        knownConnectors[connector.name] = connector
    }

    private static func pointsElsewhere(_ old: Connector, _ new: Connector) -> Bool {
        old.url != new.url || old.username != new.username || old.password != new.password
    }

    private func connector(named name: String) async throws -> Connector {
        if let known = knownConnectors[name] { return known }
        guard let connector = try await metadata.connector(named: name) else {
            throw SluiceError.notFound("There is no connector named '\(name)'.")
        }
        knownConnectors[name] = connector
        return connector
    }

    private func breaker(for name: String) -> CircuitBreaker {
        if let breaker = breakers[name] { return breaker }
        let breaker = CircuitBreaker(name: "connector '\(name)'", configuration: configuration.circuitBreaker)
        breakers[name] = breaker
        return breaker
    }

    private static func channel(for connector: Connector) throws(SluiceError) -> UpstreamChannel {
        try UpstreamChannel(
            baseURL: connector.url, username: connector.username, password: connector.password,
            timeout: .seconds(max(1, connector.timeout)))
    }

    private func isStale(_ state: SubdirState, connector: Connector) -> Bool {
        guard connector.metadataCacheEnabled else { return true }
        return now().timeIntervalSince(state.confirmedAt) >= Double(connector.metadataCacheMinutes) * 60
    }

    /// Loads the saved snapshot, or fetches when there is none. Returns whether records changed.
    private func loadOrFetch(_ connector: Connector, subdir: String) async throws -> Bool {
        let key = SubdirKey(connector: connector.name, subdir: subdir)
        if states[key] != nil { return false }
        if !ignoreSaved.contains(connector.name),
            let row = try? await metadata.upstreamSnapshot(connector: connector.name, subdir: subdir)
        {
            do {
                states[key] = try await loadSaved(row, connector: connector)
                return false
            } catch {
                logger.warning(
                    "Could not load a saved upstream snapshot; fetching it again",
                    metadata: ["connector": "\(connector.name)", "subdir": "\(subdir)", "error": "\(error)"])
            }
        }
        health[connector.name, default: Health()].metadataMisses += 1
        return try await fetch(connector, subdir: subdir, throwOnError: false)
    }

    private func loadSaved(_ row: UpstreamSnapshotRow, connector: Connector) async throws -> SubdirState {
        guard row.status == .present, let sha256 = row.sha256 else {
            return SubdirState(records: nil, sha256: nil, validators: nil, confirmedAt: row.fetchedAt)
        }
        let body = try await Self.readBlob(blobs, sha256: sha256)
        let records = try await Self.parse(
            client: client, body, subdir: row.subdir, filter: ConnectorFilter(connector.filters))
        let validators = CacheValidators(
            etag: row.etag, lastModified: row.lastModified,
            variant: row.upstreamFilename.flatMap(RepodataVariant.init(rawValue:)))
        return SubdirState(records: records, sha256: sha256, validators: validators, confirmedAt: row.fetchedAt)
    }

    /// One upstream round trip for a subdir. Returns whether the records changed. On failure the previous records
    /// stay (stale-if-error) unless there are none, or `throwOnError` is set.
    private func fetch(_ connector: Connector, subdir: String, throwOnError: Bool) async throws -> Bool {
        let name = connector.name
        let key = SubdirKey(connector: name, subdir: subdir)
        let previous = states[key]
        let client = self.client
        do {
            let channel = try Self.channel(for: connector)
            let validators = previous?.validators
            let result = try await breaker(for: name).run { () throws(SluiceError) in
                try await client.fetchRepodata(channel: channel, subdir: subdir, validators: validators)
            }
            let confirmedAt = now()
            let changed: Bool
            switch result {
            case .notModified:
                var state =
                    states[key] ?? previous
                    ?? SubdirState(records: nil, sha256: nil, validators: nil, confirmedAt: confirmedAt)
                state.confirmedAt = confirmedAt
                states[key] = state
                changed = false
                await save(key, state: state, recordCount: state.records?.count ?? 0, previousSHA256: nil)
            case .notFound:
                let state = SubdirState(records: nil, sha256: nil, validators: nil, confirmedAt: confirmedAt)
                states[key] = state
                changed = previous == nil || previous?.records != nil
                await save(key, state: state, recordCount: 0, previousSHA256: previous?.sha256)
                logger.debug("Upstream has no such subdir", metadata: ["connector": "\(name)", "subdir": "\(subdir)"])
            case .fetched(let body, let newValidators, _):
                let sha256 = SHA256.hash(data: body).map { String(format: "%02x", $0) }.joined()
                if let previous, previous.sha256 == sha256, previous.records != nil {
                    var state = previous
                    state.validators = newValidators
                    state.confirmedAt = confirmedAt
                    states[key] = state
                    changed = false
                    await save(key, state: state, recordCount: state.records?.count ?? 0, previousSHA256: nil)
                } else {
                    // Parse (off the actor) while the body is saved as a blob.
                    async let parsed = Self.parse(
                        client: client, body, subdir: subdir, filter: ConnectorFilter(connector.filters))
                    await store(body, sha256: sha256)
                    let records: [PackageRecord]
                    do {
                        records = try await parsed
                    } catch {
                        await discardUnreferenced(sha256)
                        throw error
                    }
                    let state = SubdirState(
                        records: records, sha256: sha256, validators: newValidators, confirmedAt: confirmedAt)
                    states[key] = state
                    changed = true
                    await save(key, state: state, recordCount: records.count, previousSHA256: previous?.sha256)
                    logger.info(
                        "Upstream repodata updated",
                        metadata: ["connector": "\(name)", "subdir": "\(subdir)", "records": "\(records.count)"])
                }
            }
            health[name, default: Health()].lastError = nil
            health[name, default: Health()].lastSuccess = confirmedAt
            return changed
        } catch {
            let message = (error as? SluiceError)?.message ?? "\(error)"
            recordFailure(name, message)
            logger.warning(
                "Upstream repodata refresh failed",
                metadata: [
                    "connector": "\(name)", "subdir": "\(subdir)", "error": "\(message)",
                    "servingStale": "\(states[key] != nil)",
                ])
            if states[key] == nil || throwOnError { throw error }
            return false
        }
    }

    private func recordFailure(_ name: String, _ message: String) {
        health[name, default: Health()].lastError = message
        health[name, default: Health()].lastFailure = now()
    }

    /// Stores the upstream JSON as a blob (failures are logged: the records are served from memory anyway).
    private func store(_ body: Data, sha256: String) async {
        let temporary = temporaryFileURL()
        do {
            let blobs = self.blobs
            try await blobLocks.withLock(sha256) { @Sendable () async throws in
                if try await blobs.contains(sha256: sha256) { return }
                try body.write(to: temporary)
                try await blobs.put(sha256: sha256, from: temporary)
            }
            try? FileManager.default.removeItem(at: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            logger.error("Could not save upstream repodata", metadata: ["sha256": "\(sha256)", "error": "\(error)"])
        }
    }

    /// Deletes the blob `sha256` when nothing references it (an upstream body that turned out not to parse).
    private func discardUnreferenced(_ sha256: String) async {
        let blobs = self.blobs
        let metadata = self.metadata
        try? await blobLocks.withLock(sha256) { @Sendable () async throws in
            if try await metadata.referenceCount(sha256: sha256) == 0 {
                try await blobs.delete(sha256: sha256)
            }
        }
    }

    /// Saves the snapshot row (and collects the replaced blob when nothing references it any more).
    private func save(_ key: SubdirKey, state: SubdirState, recordCount: Int, previousSHA256: String?) async {
        let row = UpstreamSnapshotRow(
            connector: key.connector, subdir: key.subdir, status: state.records == nil ? .notFound : .present,
            sha256: state.records == nil ? nil : state.sha256, etag: state.validators?.etag,
            lastModified: state.validators?.lastModified, upstreamFilename: state.validators?.variant?.filename,
            fetchedAt: state.confirmedAt, recordCount: recordCount)
        do {
            try await metadata.saveUpstreamSnapshot(row)
            ignoreSaved.remove(key.connector)
            if let previousSHA256, previousSHA256 != row.sha256 {
                let blobs = self.blobs
                let metadata = self.metadata
                try await blobLocks.withLock(previousSHA256) { @Sendable () async throws in
                    if try await metadata.referenceCount(sha256: previousSHA256) == 0 {
                        try await blobs.delete(sha256: previousSHA256)
                    }
                }
            }
        } catch {
            logger.error(
                "Could not save the upstream snapshot row", metadata: ["key": "\(key)", "error": "\(error)"])
        }
    }

    private func startBackgroundRefresh(_ connector: Connector, subdir: String) {
        let key = SubdirKey(connector: connector.name, subdir: subdir)
        guard background[key] == nil else { return }
        background[key] = Task {
            let changed =
                (try? await self.metadataFlights.run(key: key) {
                    try await self.fetch(connector, subdir: subdir, throwOnError: false)
                }) ?? false
            if changed { await self.notifyChanged(connector.name, subdir: subdir) }
            self.backgroundFinished(key)
        }
    }

    private func backgroundFinished(_ key: SubdirKey) {
        background[key] = nil
    }

    private func notifyChanged(_ connector: String, subdir: String?) async {
        guard let handler = changeHandler.withLock({ $0 }) else { return }
        await handler(connector, subdir)
    }

    // MARK: Off the actor

    /// Parses upstream JSON off the actor (large subdirs take a while).
    private nonisolated static func parse(
        client: UpstreamClient, _ body: Data, subdir: String, filter: ConnectorFilter
    ) async throws -> [PackageRecord] {
        try client.parseRepodata(body, subdir: subdir, filter: filter)
    }

    private nonisolated static func readBlob(_ blobs: any BlobStore, sha256: String) async throws -> Data {
        switch try await blobs.read(sha256: sha256, range: nil) {
        case .file(let url, let range):
            let data = try Data(contentsOf: url, options: .mappedIfSafe)
            return range == 0..<Int64(data.count)
                ? data : data.subdata(in: Int(range.lowerBound)..<Int(range.upperBound))
        case .chunks(let stream, let count):
            var data = Data()
            data.reserveCapacity(Int(count))
            for try await chunk in stream { data.append(chunk) }
            return data
        }
    }
}
