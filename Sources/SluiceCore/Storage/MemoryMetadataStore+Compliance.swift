import Foundation

/// The compliance data of a ``MemoryMetadataStore``.
struct MemoryComplianceState: Sendable {
    struct Advisory: Sendable {
        var stored: StoredAdvisory
        /// ``ComplianceStoreRules/canonicalJSON(_:)`` of the advisory, to tell changed imports from unchanged ones.
        var canonical: String
    }

    struct MappingKey: Hashable, Sendable {
        var pypi: String
        var conda: String
    }

    var advisoriesByID: [String: Advisory] = [:]
    /// The import history, oldest first.
    var imports: [AdvisoryImportRecord] = []
    var mappings: [MappingKey: PackageNameMapping] = [:]
    var globalPolicy = CompliancePolicy()
    var feedPolicies: [String: CompliancePolicy] = [:]
    var exceptions: [ComplianceException] = []
    var blockingFeeds: Set<String> = []
    var lastImportID: Int64 = 0
    var lastExceptionID: Int64 = 0
    var revision: Int64 = 0

    /// Forgets a deleted feed's policy, switch and exceptions.
    mutating func removeFeed(_ name: String) {
        let hadPolicy = feedPolicies.removeValue(forKey: name) != nil
        let wasBlocking = blockingFeeds.remove(name) != nil
        let exceptionCount = exceptions.count
        exceptions.removeAll { $0.feed == name }
        if hadPolicy || wasBlocking || exceptions.count != exceptionCount { revision += 1 }
    }
}

/// The ``ComplianceStore`` part of the memory store; behaves like `SQLMetadataStore`'s (both pass
/// `ComplianceStoreConformance`).
extension MemoryMetadataStore: ComplianceStore {
    // MARK: Advisories

    /// Adds, replaces or keeps each advisory and records the import; see ``ComplianceStore/importAdvisories``.
    /// Throws `.invalidInput` for an advisory without an id.
    @discardableResult
    public func importAdvisories(
        _ advisories: [OSVAdvisory], source: String, importedBy: String?, skipped: Int, at date: Date
    ) throws -> AdvisoryImportRecord {
        try ComplianceStoreRules.validate(advisories)
        var record = AdvisoryImportRecord(
            source: source, importedAt: date, importedBy: importedBy, skipped: skipped)
        var changes: [String: MemoryComplianceState.Advisory] = [:]
        for advisory in ComplianceStoreRules.lastOfEachID(advisories) {
            let canonical = try ComplianceStoreRules.canonicalJSON(advisory)
            if let existing = compliance.advisoriesByID[advisory.id] {
                if existing.canonical == canonical {
                    record.unchanged += 1
                    continue
                }
                record.updated += 1
                changes[advisory.id] = .init(
                    stored: StoredAdvisory(
                        advisory: advisory, source: source, importedAt: existing.stored.importedAt, updatedAt: date),
                    canonical: canonical)
            } else {
                record.added += 1
                changes[advisory.id] = .init(
                    stored: StoredAdvisory(advisory: advisory, source: source, importedAt: date, updatedAt: date),
                    canonical: canonical)
            }
        }
        compliance.advisoriesByID.merge(changes) { _, new in new }
        compliance.lastImportID += 1
        record.id = compliance.lastImportID
        compliance.imports.append(record)
        compliance.revision += 1
        return record
    }

    /// Every stored advisory, ordered by id.
    public func advisories() -> [StoredAdvisory] {
        compliance.advisoriesByID.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map(\.value.stored)
    }

    /// The advisory with this id, or nil.
    public func advisory(id: String) -> StoredAdvisory? {
        compliance.advisoriesByID[id]?.stored
    }

    /// Deletes an advisory. Returns false if there was none.
    @discardableResult
    public func deleteAdvisory(id: String) -> Bool {
        guard compliance.advisoriesByID.removeValue(forKey: id) != nil else { return false }
        compliance.revision += 1
        return true
    }

    /// The import history, newest first, at most `limit`.
    public func advisoryImports(limit: Int) -> [AdvisoryImportRecord] {
        Array(compliance.imports.reversed().prefix(max(0, limit)))
    }

    // MARK: Name mappings

    /// Every mapping, ordered by normalised PyPI name, then normalised conda name.
    public func packageNameMappings() -> [PackageNameMapping] {
        compliance.mappings.sorted { left, right in
            left.key.pypi == right.key.pypi
                ? left.key.conda.utf8.lexicographicallyPrecedes(right.key.conda.utf8)
                : left.key.pypi.utf8.lexicographicallyPrecedes(right.key.pypi.utf8)
        }.map(\.value)
    }

    /// Adds or replaces a mapping. Throws `.invalidInput` when a name is empty.
    public func addPackageNameMapping(_ mapping: PackageNameMapping) throws {
        try ComplianceStoreRules.validate(mapping)
        compliance.mappings[Self.mappingKey(mapping.pypiName, mapping.condaName)] = mapping
        compliance.revision += 1
    }

    /// Removes a mapping. Returns false if there was none.
    @discardableResult
    public func removePackageNameMapping(pypiName: String, condaName: String) -> Bool {
        guard compliance.mappings.removeValue(forKey: Self.mappingKey(pypiName, condaName)) != nil else {
            return false
        }
        compliance.revision += 1
        return true
    }

    private static func mappingKey(_ pypi: String, _ conda: String) -> MemoryComplianceState.MappingKey {
        .init(pypi: PackageNames.normalized(pypi), conda: PackageNames.normalized(conda))
    }

    // MARK: Policies

    /// The global policy (empty until set).
    public func globalCompliancePolicy() -> CompliancePolicy {
        compliance.globalPolicy
    }

    /// Replaces the global policy.
    public func setGlobalCompliancePolicy(_ policy: CompliancePolicy) {
        compliance.globalPolicy = policy
        compliance.revision += 1
    }

    /// The feed's own policy, or nil.
    public func compliancePolicy(feed: String) -> CompliancePolicy? {
        compliance.feedPolicies[feed]
    }

    /// Sets or removes a feed's policy. Throws `.notFound` if the feed does not exist.
    public func setCompliancePolicy(_ policy: CompliancePolicy?, feed: String) throws {
        try requireFeed(feed)
        compliance.feedPolicies[feed] = policy
        compliance.revision += 1
    }

    private func requireFeed(_ name: String) throws {
        guard self.feed(named: name) != nil else {
            throw SluiceError.notFound("There is no feed named '\(name)'.")
        }
    }

    // MARK: Exceptions

    /// Every exception, ordered by id.
    public func complianceExceptions() -> [ComplianceException] {
        compliance.exceptions
    }

    /// Stores an exception with the next id. Throws `.invalidInput` when it does not validate, `.notFound` if its
    /// feed does not exist.
    @discardableResult
    public func addComplianceException(_ exception: ComplianceException) throws -> ComplianceException {
        try exception.validate()
        if let feed = exception.feed { try requireFeed(feed) }
        compliance.lastExceptionID += 1
        var stored = exception
        stored.id = compliance.lastExceptionID
        compliance.exceptions.append(stored)
        compliance.revision += 1
        return stored
    }

    /// Deletes an exception; returns it, or nil.
    @discardableResult
    public func deleteComplianceException(id: Int64) -> ComplianceException? {
        guard let index = compliance.exceptions.firstIndex(where: { $0.id == id }) else { return nil }
        compliance.revision += 1
        return compliance.exceptions.remove(at: index)
    }

    // MARK: Blocking

    /// Whether the feed blocks noncompliant packages.
    public func blocksNoncompliant(feed: String) -> Bool {
        compliance.blockingFeeds.contains(feed)
    }

    /// Turns blocking on or off. Throws `.notFound` if the feed does not exist.
    public func setBlocksNoncompliant(_ blocks: Bool, feed: String) throws {
        try requireFeed(feed)
        if blocks {
            compliance.blockingFeeds.insert(feed)
        } else {
            compliance.blockingFeeds.remove(feed)
        }
        compliance.revision += 1
    }

    /// The blocking feeds, ordered by name.
    public func feedsBlockingNoncompliant() -> [String] {
        compliance.blockingFeeds.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Counts every change.
    public func complianceRevision() -> Int64 {
        compliance.revision
    }
}
