import AsyncHTTPClient
import Foundation
import Logging
import SluiceCore
import SluiceUpstream

/// Everything the routes work with: the configuration, the stores, the publisher, the access control, the folder
/// where uploads stream to, and the proxy side (HTTP client, upstream client, ``UpstreamMirror``). ``buildApplication(configuration:logger:)`` builds it over SQLite and files on disk;
/// tests build it over `MemoryMetadataStore` and `MemoryBlobStore` and pass it to ``buildRouter(services:logger:)``.
public struct SluiceServices: Sendable {
    public var configuration: SluiceConfiguration
    public var metadata: any MetadataStore
    public var blobs: any BlobStore
    public var publisher: ChannelPublisher
    /// Users (beyond ``MetadataStore``), groups, privileges, API keys and the event log; by default the metadata
    /// store itself.
    public var security: any SecurityStore
    /// Authentication and authorization of every request (see ``AccessControl``).
    public var access: AccessControl
    /// Where uploads are streamed before they are verified; on the same filesystem as the blobs when they are files,
    /// so that storing a verified upload is a rename.
    public var temporaryDirectory: URL
    /// The HTTP client for upstream calls. ``buildApplication(configuration:logger:)`` creates one and shuts it down
    /// when the server stops; by default (tests) it is `HTTPClient.shared`, which needs no shutdown.
    public var httpClient: HTTPClient
    /// Talks to upstream conda channels (one for every connector).
    public var upstreamClient: UpstreamClient
    /// Upstream records and the package fetch-through cache of proxy feeds; the management API reads connector
    /// status from it and tells it about connector changes.
    public var upstreamMirror: UpstreamMirror
    /// Keeps superseded CEP 16 shards downloadable for `channel.shardRetentionDays` (see ``ShardArchive``).
    public var shardArchive: ShardArchive
    /// What blocking feeds may show (over `metadata` when it is a `ComplianceStore`; nil otherwise). The publisher,
    /// the channel's download check and promotions ask it.
    public var complianceGate: ComplianceStoreGate?
    /// Advisory imports, policies, exceptions and blocking switches (see ``ComplianceService``); nil when
    /// `metadata` is not a `ComplianceStore`.
    public var compliance: ComplianceService?
    /// Serializes "store a blob and reference it" against "delete a blob nothing references" per sha256.
    let blobLocks = KeyedLock()

    /// - Parameters:
    ///   - publisher: defaults to a publisher over `metadata` with `configuration.channel.zstdLevel`.
    ///   - security: defaults to `metadata` when it conforms to ``SecurityStore``.
    ///   - access: defaults to an ``AccessControl`` over `security` and `metadata` with `accessConfiguration`.
    ///   - httpClient: the client for upstream calls (default `HTTPClient.shared`); the caller shuts it down.
    ///   - mirrorConfiguration: circuit breaker settings of the ``UpstreamMirror``.
    ///   - clock: the wall clock of the mirror's freshness checks and the shard archive (tests move it forward).
    ///   - shardBlobs: where the ``ShardArchive`` keeps shard bytes, a store of its own (``buildApplication(configuration:logger:)``
    ///     uses `<data-dir>/shards`); default a new `MemoryBlobStore`. Its rows go to `metadata` when it is a
    ///     `ShardRetentionStore`, else to memory.
    /// - Throws: `SluiceError.storageFailure` if `temporaryDirectory` cannot be created; `.internalError` when no
    ///   `security` is given and `metadata` is not a ``SecurityStore``.
    public init(
        configuration: SluiceConfiguration,
        metadata: any MetadataStore,
        blobs: any BlobStore,
        temporaryDirectory: URL,
        publisher: ChannelPublisher? = nil,
        security: (any SecurityStore)? = nil,
        access: AccessControl? = nil,
        accessConfiguration: AccessControl.Configuration = .init(),
        httpClient: HTTPClient? = nil,
        mirrorConfiguration: UpstreamMirror.Configuration = .init(),
        clock: (@Sendable () -> Date)? = nil,
        shardBlobs: (any BlobStore)? = nil,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.metadata = metadata
        self.blobs = blobs
        self.temporaryDirectory = temporaryDirectory
        let httpClient = httpClient ?? HTTPClient.shared
        self.httpClient = httpClient
        self.upstreamClient = UpstreamClient(httpClient: httpClient, logger: logger)
        self.upstreamMirror = UpstreamMirror(
            metadata: metadata, blobs: blobs, client: upstreamClient, configuration: mirrorConfiguration,
            logger: logger,
            temporaryFileURL: { Self.temporaryFileURL(in: temporaryDirectory) },
            now: clock ?? { Date() }, blobLocks: blobLocks)
        let complianceStore = metadata as? any ComplianceStore
        let complianceGate = complianceStore.map { ComplianceStoreGate(store: $0, now: clock ?? { Date() }) }
        self.complianceGate = complianceGate
        let publisher =
            publisher
            ?? ChannelPublisher(
                metadata: metadata,
                mirror: upstreamMirror,
                compliance: complianceGate,
                configuration: .init(zstdLevel: Int32(configuration.channel.zstdLevel)),
                logger: logger)
        self.publisher = publisher
        self.shardArchive = ShardArchive(
            blobs: shardBlobs ?? MemoryBlobStore(),
            store: (metadata as? any ShardRetentionStore) ?? MemoryMetadataStore(),
            temporaryDirectory: temporaryDirectory,
            configuration: .init(retention: TimeInterval(configuration.channel.shardRetentionDays) * 86_400),
            now: clock ?? { Date() }, logger: logger)
        // A refresh that changed upstream records republishes the feeds that use the connector.
        upstreamMirror.onRecordsChanged { connector, subdir in
            await publisher.upstreamChanged(connector: connector, subdir: subdir)
        }
        guard let security = security ?? (metadata as? any SecurityStore) else {
            throw SluiceError(
                .internalError, "The metadata store \(type(of: metadata)) does not store security data; pass one.")
        }
        self.security = security
        self.access =
            access
            ?? AccessControl(
                security: security, metadata: metadata, configuration: accessConfiguration,
                logger: logger)
        if let complianceStore, let complianceGate {
            self.compliance = ComplianceService(
                store: complianceStore, gate: complianceGate, metadata: metadata, publisher: publisher,
                access: self.access, mirror: upstreamMirror, httpClient: httpClient,
                advisoryURL: configuration.compliance.advisoryURL, pollMinutes: configuration.compliance.pollMinutes,
                temporaryDirectory: temporaryDirectory, logger: logger, now: clock ?? { Date() })
        }
        do {
            try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
        } catch {
            throw SluiceError(
                .storageFailure, "Cannot create the upload folder '\(temporaryDirectory.path)'.", cause: error)
        }
    }

    /// A fresh path for an upload in progress: `<temporaryDirectory>/<uuid>.part`. Nothing is created there.
    public func temporaryFileURL() -> URL {
        Self.temporaryFileURL(in: temporaryDirectory)
    }

    static func temporaryFileURL(in directory: URL) -> URL {
        directory.appendingPathComponent(UUID().uuidString.lowercased() + ".part", isDirectory: false)
    }

    /// Deletes the blobs among `sha256s` that no package row references any more. Failures are logged, not thrown:
    /// an unreferenced blob is invisible and can be collected later.
    func collectGarbage(sha256s: Set<String>, logger: Logger) async {
        for sha256 in sha256s.sorted() {
            do {
                try await blobLocks.withLock(sha256) {
                    if try await metadata.referenceCount(sha256: sha256) == 0 {
                        try await blobs.delete(sha256: sha256)
                    }
                }
            } catch {
                logger.warning(
                    "Could not remove an unreferenced blob", metadata: ["sha256": "\(sha256)", "error": "\(error)"])
            }
        }
    }
}

/// A set of async mutexes, one per key, held across suspension points.
final class KeyedLock: Sendable {
    private actor State {
        var holders: [String: [CheckedContinuation<Void, Never>]] = [:]

        func acquire(_ key: String) async {
            if holders[key] == nil {
                holders[key] = []
                return
            }
            await withCheckedContinuation { holders[key, default: []].append($0) }
        }

        func release(_ key: String) {
            guard var waiters = holders[key] else { return }
            if waiters.isEmpty {
                holders[key] = nil
            } else {
                let next = waiters.removeFirst()
                holders[key] = waiters
                next.resume()
            }
        }
    }

    private let state = State()

    /// Runs `body` while holding the lock of `key`.
    func withLock<T: Sendable>(_ key: String, _ body: () async throws -> T) async rethrows -> T {
        await state.acquire(key)
        do {
            let result = try await body()
            await state.release(key)
            return result
        } catch {
            await state.release(key)
            throw error
        }
    }
}
