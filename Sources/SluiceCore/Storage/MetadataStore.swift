import Foundation

/// The database behind Sluice: feeds, package rows, users, connectors and the proxy cache's rows.
///
/// Implementations: `MemoryMetadataStore` (beside this file) and `SQLMetadataStore` (SQLite now, PostgreSQL later,
/// one SQL layer). Every implementation passes the conformance suite in `SluiceTesting`.
///
/// Each method is atomic: it either happens completely or not at all. Errors are `SluiceError`s: `.conflict` for a
/// name that is taken, a file with other bytes or a connector still in use, `.notFound` for a feed or connector that
/// does not exist, `.invalidInput` for a feed naming a connector twice, `.storageFailure` when the database fails.
///
/// Stores do not validate names or URLs (``Connector/validate()`` and `ChannelNames` do, at the API).
public protocol MetadataStore: Sendable {
    // MARK: Feeds

    /// Creates a feed with its ``Feed/connectors`` (in order). Throws `.conflict` if the name is taken, `.notFound` if a
    /// connector does not exist, `.invalidInput` if a connector is named twice.
    func createFeed(_ feed: Feed) async throws
    /// The feed with this name, or nil.
    func feed(named name: String) async throws -> Feed?
    /// All feeds, ordered by name.
    func feeds() async throws -> [Feed]
    /// Replaces a feed's settings and its list of connectors (matched by name). Throws `.notFound` if the feed or one
    /// of its connectors does not exist, `.invalidInput` if a connector is named twice.
    func updateFeed(_ feed: Feed) async throws
    /// Deletes a feed and all its package rows. Returns false if there was no such feed.
    func deleteFeed(named name: String) async throws -> Bool

    // MARK: Packages

    /// Adds a package row to its feed, atomically. Same filename and subdir with the same sha256 → `.unchanged`;
    /// with another sha256 → throws `.conflict` unless `overwrite`, then `.replaced`. Throws `.notFound` if the
    /// feed does not exist.
    func addPackage(_ package: StoredPackage, overwrite: Bool) async throws -> AddPackageOutcome
    /// One package row, or nil.
    func package(feed: String, subdir: String, filename: String) async throws -> StoredPackage?
    /// Every package row of a feed's subdir, ordered by filename.
    func packages(feed: String, subdir: String) async throws -> [StoredPackage]
    /// Every package row of a feed with this package name, across subdirs, ordered by subdir then filename.
    func packages(feed: String, name: String) async throws -> [StoredPackage]
    /// The subdirs in which the feed holds at least one package, sorted.
    func subdirs(feed: String) async throws -> [String]
    /// Removes a package row; returns it, or nil if there was none.
    func deletePackage(feed: String, subdir: String, filename: String) async throws -> StoredPackage?
    /// How many rows point at this blob: package rows in any feed, cached upstream files and upstream snapshots. A
    /// blob may be deleted only when this is 0.
    func referenceCount(sha256: String) async throws -> Int

    // MARK: Connectors

    /// Creates a connector. Throws `.conflict` if the name is taken.
    func createConnector(_ connector: Connector) async throws
    /// The connector with this name, or nil.
    func connector(named name: String) async throws -> Connector?
    /// All connectors, ordered by name.
    func connectors() async throws -> [Connector]
    /// Replaces a connector's settings (matched by name). Throws `.notFound` if it does not exist.
    func updateConnector(_ connector: Connector) async throws
    /// Deletes a connector with its upstream snapshots and cached-file rows (not their blobs: collect those whose
    /// ``referenceCount(sha256:)`` drops to 0). Returns false if there was no such connector. Throws `.conflict`,
    /// naming the feeds, if a feed still uses it.
    func deleteConnector(named name: String) async throws -> Bool

    // MARK: Proxy cache

    /// Saves the upstream state of one (connector, subdir), replacing the previous one. Returns the row it replaced
    /// (so the caller can collect its blob), or nil if there was none. Throws `.notFound` if the connector does not
    /// exist.
    @discardableResult
    func saveUpstreamSnapshot(_ snapshot: UpstreamSnapshotRow) async throws -> UpstreamSnapshotRow?
    /// The saved upstream state of one (connector, subdir), or nil if none was saved.
    func upstreamSnapshot(connector: String, subdir: String) async throws -> UpstreamSnapshotRow?
    /// Every saved upstream state of a connector, ordered by subdir.
    func upstreamSnapshots(connector: String) async throws -> [UpstreamSnapshotRow]
    /// Records that an upstream file is cached, idempotently: a new file → `.added`; the same file with the same
    /// sha256 → `.unchanged` (the row is kept as it is); with another sha256 → `.replaced` (the row now holds the new
    /// values). Throws `.notFound` if the connector does not exist.
    @discardableResult
    func recordCachedFile(_ file: CachedUpstreamFile) async throws -> AddPackageOutcome
    /// One cached upstream file, or nil.
    func cachedFile(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile?
    /// Every cached file of a connector, ordered by subdir then filename.
    func cachedFiles(connector: String) async throws -> [CachedUpstreamFile]
    /// Sets a cached file's ``CachedUpstreamFile/lastAccessedAt`` to `date` unless it is later already. Returns false
    /// if there is no such cached file.
    @discardableResult
    func markCachedFileAccessed(
        connector: String, subdir: String, filename: String, at date: Date
    ) async throws
        -> Bool
    /// Removes a cached file's row (not its blob); returns it, or nil if there was none.
    func deleteCachedFile(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile?

    // MARK: Promotions

    /// Promotes a batch of files into ``PromotionBatch/toFeed`` in ONE transaction, returning one result per file in
    /// the batch's order. A file whose name the target holds already with the same sha256 is `.alreadyPromoted`
    /// (nothing written, no history row); otherwise its row is added (same blob, no copy) with a history row of kind
    /// `promote`. Throws `.notFound` if the target feed does not exist, `.invalidInput` if a row names another feed,
    /// `.conflict` if the target holds one of the file names with other bytes — and then NOTHING of the batch is
    /// written.
    func promote(_ batch: PromotionBatch) async throws -> [PromotionResult]
    /// The history rows (promotions and deletions) matching every filter that is not nil, newest first.
    func promotions(
        fromFeed: String?, toFeed: String?, package: String?, version: String?
    ) async throws
        -> [PromotionRecord]
    /// Writes one history row (a deletion from a feed, usually) and returns it with its ``PromotionRecord/id`` and
    /// ``PromotionRecord/batch`` assigned.
    @discardableResult
    func recordPackageEvent(_ event: PromotionRecord) async throws -> PromotionRecord

    // MARK: Users

    /// Creates a user. Throws `.conflict` if the name is taken (names compare case-insensitively).
    func createUser(_ user: User) async throws
    /// The user with this name (case-insensitive), or nil.
    func user(named name: String) async throws -> User?
    /// Replaces a user's fields (matched by name). Throws `.notFound` if it does not exist.
    func updateUser(_ user: User) async throws

    /// Checks that the database answers; used by `GET /health`.
    func ping() async throws
}
