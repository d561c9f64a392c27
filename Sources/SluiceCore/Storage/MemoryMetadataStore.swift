import Foundation

/// A ``MetadataStore`` that keeps everything in memory, for tests and for running without a database.
///
/// An actor, so every method is atomic. Behaves exactly like `SQLMetadataStore` (both pass the conformance suite in
/// `SluiceTesting`): user names are stored lowercased, lists are ordered by the UTF-8 bytes of their keys.
public actor MemoryMetadataStore: MetadataStore {
    private struct PackageKey: Hashable {
        var feed: String
        var subdir: String
        var filename: String
    }

    private struct UpstreamKey: Hashable {
        var connector: String
        var subdir: String
    }

    private struct CachedFileKey: Hashable {
        var connector: String
        var subdir: String
        var filename: String
    }

    private var feedsByName: [String: Feed] = [:]
    private var packagesByKey: [PackageKey: StoredPackage] = [:]
    /// Users by lowercased name (internal: `MemoryMetadataStore+Security.swift` lists and deletes them).
    var usersByName: [String: User] = [:]
    private var connectorsByName: [String: Connector] = [:]
    private var snapshotsByKey: [UpstreamKey: UpstreamSnapshotRow] = [:]
    private var cachedFilesByKey: [CachedFileKey: CachedUpstreamFile] = [:]
    /// The promotion history, oldest first (ids increase by one from 1).
    private var history: [PromotionRecord] = []
    /// Shard archive rows (``ShardRetentionStore``, in `MemoryMetadataStore+Shards.swift`).
    var publishedShardsByKey: [PublishedShardKey: PublishedShard] = [:]
    /// Download counts (``DownloadCountStore``, in `MemoryMetadataStore+Downloads.swift`).
    var downloadCountsByKey: [DownloadKey: DownloadCount] = [:]
    /// Groups, privileges, API keys, events and the revision (see `MemoryMetadataStore+Security.swift`).
    var security = MemorySecurityState()
    /// Advisories, mappings, policies, exceptions and switches (see `MemoryMetadataStore+Compliance.swift`).
    var compliance = MemoryComplianceState()

    /// Creates an empty store.
    public init() {}

    // MARK: Feeds

    /// Creates a feed with its connectors. Throws `.conflict` if the name is taken, `.notFound` if a connector does
    /// not exist, `.invalidInput` if a connector is named twice.
    public func createFeed(_ feed: Feed) throws {
        guard feedsByName[feed.name] == nil else {
            throw SluiceError.conflict("A feed named '\(feed.name)' exists already.")
        }
        try checkConnectors(of: feed)
        feedsByName[feed.name] = feed
    }

    /// The feed with this name, or nil.
    public func feed(named name: String) -> Feed? {
        feedsByName[name]
    }

    /// All feeds, ordered by name.
    public func feeds() -> [Feed] {
        feedsByName.values.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Replaces a feed's settings and connectors (matched by name). Throws `.notFound` if the feed or a connector
    /// does not exist, `.invalidInput` if a connector is named twice.
    public func updateFeed(_ feed: Feed) throws {
        guard feedsByName[feed.name] != nil else {
            throw SluiceError.notFound("There is no feed named '\(feed.name)'.")
        }
        try checkConnectors(of: feed)
        feedsByName[feed.name] = feed
    }

    private func checkConnectors(of feed: Feed) throws {
        if let duplicate = MetadataStoreRules.duplicateConnector(in: feed) {
            throw MetadataStoreRules.duplicateConnectorError(feed: feed.name, connector: duplicate)
        }
        for name in feed.connectors where connectorsByName[name] == nil {
            throw MetadataStoreRules.unknownConnectorError(feed: feed.name, connector: name)
        }
    }

    /// Deletes a feed and all its package rows. Returns false if there was no such feed.
    public func deleteFeed(named name: String) -> Bool {
        guard feedsByName.removeValue(forKey: name) != nil else { return false }
        packagesByKey = packagesByKey.filter { $0.key.feed != name }
        compliance.removeFeed(name)
        return true
    }

    // MARK: Packages

    /// Adds a package row; see ``MetadataStore/addPackage(_:overwrite:)``. Throws `.notFound` for a missing feed and
    /// `.conflict` for a file name that holds other bytes when `overwrite` is false.
    public func addPackage(_ package: StoredPackage, overwrite: Bool) throws -> AddPackageOutcome {
        guard feedsByName[package.feed] != nil else {
            throw SluiceError.notFound("There is no feed named '\(package.feed)'.")
        }
        let key = PackageKey(feed: package.feed, subdir: package.subdir, filename: package.filename)
        guard let existing = packagesByKey[key] else {
            packagesByKey[key] = package
            return .added
        }
        if existing.sha256 == package.sha256 {
            return .unchanged
        }
        guard overwrite else {
            throw SluiceError.conflict(
                "Feed '\(package.feed)' already holds \(package.subdir)/\(package.filename) with other bytes "
                    + "(sha256 \(existing.sha256)); delete it first or upload with overwrite.")
        }
        packagesByKey[key] = package
        return .replaced(previousSHA256: existing.sha256)
    }

    /// One package row, or nil.
    public func package(feed: String, subdir: String, filename: String) -> StoredPackage? {
        packagesByKey[PackageKey(feed: feed, subdir: subdir, filename: filename)]
    }

    /// Every package row of a feed's subdir, ordered by filename.
    public func packages(feed: String, subdir: String) -> [StoredPackage] {
        packagesByKey.values
            .filter { $0.feed == feed && $0.subdir == subdir }
            .sorted { $0.filename.utf8.lexicographicallyPrecedes($1.filename.utf8) }
    }

    /// Every package row of a feed with this package name, ordered by subdir then filename.
    public func packages(feed: String, name: String) -> [StoredPackage] {
        packagesByKey.values
            .filter { $0.feed == feed && $0.name == name }
            .sorted { left, right in
                if left.subdir != right.subdir { return left.subdir.utf8.lexicographicallyPrecedes(right.subdir.utf8) }
                return left.filename.utf8.lexicographicallyPrecedes(right.filename.utf8)
            }
    }

    /// The subdirs in which the feed holds at least one package, sorted.
    public func subdirs(feed: String) -> [String] {
        Set(packagesByKey.keys.lazy.filter { $0.feed == feed }.map(\.subdir))
            .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Removes a package row; returns it, or nil if there was none.
    public func deletePackage(feed: String, subdir: String, filename: String) -> StoredPackage? {
        packagesByKey.removeValue(forKey: PackageKey(feed: feed, subdir: subdir, filename: filename))
    }

    /// How many package rows, cached upstream files and upstream snapshots point at this blob.
    public func referenceCount(sha256: String) -> Int {
        packagesByKey.values.count { $0.sha256 == sha256 }
            + cachedFilesByKey.values.count { $0.sha256 == sha256 }
            + snapshotsByKey.values.count { $0.sha256 == sha256 }
    }

    // MARK: Connectors

    /// Creates a connector. Throws `.conflict` if the name is taken.
    public func createConnector(_ connector: Connector) throws {
        guard connectorsByName[connector.name] == nil else {
            throw SluiceError.conflict("A connector named '\(connector.name)' exists already.")
        }
        connectorsByName[connector.name] = connector
    }

    /// The connector with this name, or nil.
    public func connector(named name: String) -> Connector? {
        connectorsByName[name]
    }

    /// All connectors, ordered by name.
    public func connectors() -> [Connector] {
        connectorsByName.values.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Replaces a connector's settings (matched by name). Throws `.notFound` if it does not exist.
    public func updateConnector(_ connector: Connector) throws {
        guard connectorsByName[connector.name] != nil else {
            throw SluiceError.notFound("There is no connector named '\(connector.name)'.")
        }
        connectorsByName[connector.name] = connector
    }

    /// Deletes a connector with its snapshots and cached-file rows. Returns false if there was no such connector;
    /// throws `.conflict` naming the feeds that still use it.
    public func deleteConnector(named name: String) throws -> Bool {
        guard connectorsByName[name] != nil else { return false }
        let users = feedsByName.values.filter { $0.connectors.contains(name) }.map(\.name)
        if !users.isEmpty {
            throw MetadataStoreRules.connectorInUseError(connector: name, feeds: users)
        }
        connectorsByName[name] = nil
        snapshotsByKey = snapshotsByKey.filter { $0.key.connector != name }
        cachedFilesByKey = cachedFilesByKey.filter { $0.key.connector != name }
        return true
    }

    // MARK: Proxy cache

    /// Saves the upstream state of one (connector, subdir); returns the row it replaced. Throws `.notFound` if the
    /// connector does not exist.
    @discardableResult
    public func saveUpstreamSnapshot(_ snapshot: UpstreamSnapshotRow) throws -> UpstreamSnapshotRow? {
        guard connectorsByName[snapshot.connector] != nil else {
            throw SluiceError.notFound("There is no connector named '\(snapshot.connector)'.")
        }
        return snapshotsByKey.updateValue(
            snapshot, forKey: UpstreamKey(connector: snapshot.connector, subdir: snapshot.subdir))
    }

    /// The saved upstream state of one (connector, subdir), or nil.
    public func upstreamSnapshot(connector: String, subdir: String) -> UpstreamSnapshotRow? {
        snapshotsByKey[UpstreamKey(connector: connector, subdir: subdir)]
    }

    /// Every saved upstream state of a connector, ordered by subdir.
    public func upstreamSnapshots(connector: String) -> [UpstreamSnapshotRow] {
        snapshotsByKey.values
            .filter { $0.connector == connector }
            .sorted { $0.subdir.utf8.lexicographicallyPrecedes($1.subdir.utf8) }
    }

    /// Records a cached upstream file; see ``MetadataStore/recordCachedFile(_:)``. Throws `.notFound` if the
    /// connector does not exist.
    @discardableResult
    public func recordCachedFile(_ file: CachedUpstreamFile) throws -> AddPackageOutcome {
        guard connectorsByName[file.connector] != nil else {
            throw SluiceError.notFound("There is no connector named '\(file.connector)'.")
        }
        let key = CachedFileKey(connector: file.connector, subdir: file.subdir, filename: file.filename)
        guard let existing = cachedFilesByKey[key] else {
            cachedFilesByKey[key] = file
            return .added
        }
        if existing.sha256 == file.sha256 { return .unchanged }
        cachedFilesByKey[key] = file
        return .replaced(previousSHA256: existing.sha256)
    }

    /// One cached upstream file, or nil.
    public func cachedFile(connector: String, subdir: String, filename: String) -> CachedUpstreamFile? {
        cachedFilesByKey[CachedFileKey(connector: connector, subdir: subdir, filename: filename)]
    }

    /// Every cached file of a connector, ordered by subdir then filename.
    public func cachedFiles(connector: String) -> [CachedUpstreamFile] {
        cachedFilesByKey.values
            .filter { $0.connector == connector }
            .sorted { left, right in
                if left.subdir != right.subdir { return left.subdir.utf8.lexicographicallyPrecedes(right.subdir.utf8) }
                return left.filename.utf8.lexicographicallyPrecedes(right.filename.utf8)
            }
    }

    /// Moves a cached file's last access forward to `date`; returns false if there is no such file.
    @discardableResult
    public func markCachedFileAccessed(connector: String, subdir: String, filename: String, at date: Date) -> Bool {
        let key = CachedFileKey(connector: connector, subdir: subdir, filename: filename)
        guard var file = cachedFilesByKey[key] else { return false }
        if let previous = file.lastAccessedAt, previous >= date { return true }
        file.lastAccessedAt = date
        cachedFilesByKey[key] = file
        return true
    }

    /// Removes a cached file's row; returns it, or nil if there was none.
    public func deleteCachedFile(connector: String, subdir: String, filename: String) -> CachedUpstreamFile? {
        cachedFilesByKey.removeValue(forKey: CachedFileKey(connector: connector, subdir: subdir, filename: filename))
    }

    // MARK: Promotions

    /// Promotes a batch atomically; see ``MetadataStore/promote(_:)``. Throws `.notFound` for a missing target feed,
    /// `.invalidInput` for a row of another feed, `.conflict` for a file name with other bytes (nothing written).
    public func promote(_ batch: PromotionBatch) throws -> [PromotionResult] {
        guard feedsByName[batch.toFeed] != nil else {
            throw SluiceError.notFound("There is no feed named '\(batch.toFeed)'.")
        }
        // Decide everything first, then write: a conflict anywhere leaves the store as it was.
        var pending: [PackageKey: StoredPackage] = [:]
        var plan: [(package: StoredPackage, existing: StoredPackage?)] = []
        for package in batch.packages {
            guard package.feed == batch.toFeed else {
                throw MetadataStoreRules.promotionFeedMismatchError(package: package, toFeed: batch.toFeed)
            }
            let key = PackageKey(feed: package.feed, subdir: package.subdir, filename: package.filename)
            if let existing = pending[key] ?? packagesByKey[key] {
                guard existing.sha256 == package.sha256 else {
                    throw MetadataStoreRules.promotionConflictError(package: package, existingSHA256: existing.sha256)
                }
                plan.append((package, existing))
            } else {
                pending[key] = package
                plan.append((package, nil))
            }
        }
        var results: [PromotionResult] = []
        var batchID: Int64?
        for (package, existing) in plan {
            if let existing {
                results.append(.alreadyPromoted(existing))
                continue
            }
            packagesByKey[PackageKey(feed: package.feed, subdir: package.subdir, filename: package.filename)] = package
            var record = PromotionRecord(
                promoting: package, fromFeed: batch.fromFeed, user: batch.user, comments: batch.comments,
                date: batch.date)
            record.id = Int64(history.count + 1)
            record.batch = batchID ?? record.id
            batchID = record.batch
            history.append(record)
            results.append(.promoted(record))
        }
        return results
    }

    /// The history rows matching every filter that is not nil, newest first.
    public func promotions(
        fromFeed: String?, toFeed: String?, package: String?, version: String?
    )
        -> [PromotionRecord]
    {
        let filter = PromotionFilter(fromFeed: fromFeed, toFeed: toFeed, package: package, version: version)
        return history.reversed().filter(filter.matches)
    }

    /// Appends one history row with the next id (its own batch) and returns it.
    @discardableResult
    public func recordPackageEvent(_ event: PromotionRecord) -> PromotionRecord {
        var record = event
        record.id = Int64(history.count + 1)
        record.batch = record.id
        history.append(record)
        return record
    }

    // MARK: Users

    /// Creates a user, stored under its lowercased name. Throws `.conflict` if the name is taken (case-insensitive).
    public func createUser(_ user: User) throws {
        let key = user.name.lowercased()
        guard usersByName[key] == nil else {
            throw SluiceError.conflict("A user named '\(user.name)' exists already.")
        }
        usersByName[key] = Self.normalized(user)
        security.revision += 1
    }

    /// The user with this name (case-insensitive), or nil. Its `name` is the lowercased name.
    public func user(named name: String) -> User? {
        usersByName[name.lowercased()]
    }

    /// Replaces a user's fields (matched case-insensitively by name). Throws `.notFound` if it does not exist.
    public func updateUser(_ user: User) throws {
        let key = user.name.lowercased()
        guard usersByName[key] != nil else {
            throw SluiceError.notFound("There is no user named '\(user.name)'.")
        }
        usersByName[key] = Self.normalized(user)
        security.revision += 1
    }

    /// Always answers: memory does not fail.
    public func ping() {}

    /// The stored form of a user: the name lowercased, the display name defaulting to the name as given.
    static func normalized(_ user: User) -> User {
        var stored = user
        stored.name = user.name.lowercased()
        if stored.displayName.isEmpty { stored.displayName = user.name }
        return stored
    }
}
