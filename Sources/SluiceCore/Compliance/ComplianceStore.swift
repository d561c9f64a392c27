import Foundation

/// An advisory as stored: the OSV data, where it came from, when it was first imported and when its content last
/// changed.
public struct StoredAdvisory: Sendable, Hashable {
    public var advisory: OSVAdvisory
    /// The import that brought it (a path, a URL, `api`), as the importer described it.
    public var source: String
    /// When it was first imported.
    public var importedAt: Date
    /// When an import last changed its content (equal to ``importedAt`` until then).
    public var updatedAt: Date

    /// Creates a stored advisory.
    public init(advisory: OSVAdvisory, source: String, importedAt: Date, updatedAt: Date) {
        self.advisory = advisory
        self.source = source
        self.importedAt = importedAt
        self.updatedAt = updatedAt
    }
}

/// One run of an advisory import, as kept in the import history (the "advisory import status").
public struct AdvisoryImportRecord: Codable, Sendable, Hashable, Identifiable {
    /// Assigned by the store (0 before).
    public var id: Int64
    public var source: String
    public var importedAt: Date
    /// Who ran it (user name or `api-key:<name>`), nil for the scheduler.
    public var importedBy: String?
    /// Advisories new to the store.
    public var added: Int
    /// Advisories whose content changed.
    public var updated: Int
    /// Advisories already stored with the same content.
    public var unchanged: Int
    /// Files the reader skipped (malformed), as reported by the importer.
    public var skipped: Int

    /// Creates a record.
    public init(
        id: Int64 = 0, source: String, importedAt: Date, importedBy: String? = nil, added: Int = 0, updated: Int = 0,
        unchanged: Int = 0, skipped: Int = 0
    ) {
        self.id = id
        self.source = source
        self.importedAt = importedAt
        self.importedBy = importedBy
        self.added = added
        self.updated = updated
        self.unchanged = unchanged
        self.skipped = skipped
    }
}

/// The compliance part of the database: advisories, the PyPI → conda name mappings, the global and per-feed
/// policies, exceptions, each feed's "block noncompliant packages" switch, and a revision.
///
/// `MemoryMetadataStore` and `SQLMetadataStore` implement it beside ``MetadataStore``; `ComplianceStoreConformance`
/// in `SluiceTesting` runs against both. Per-feed data (policy, switch, feed-scoped exceptions) goes when its feed is
/// deleted. Errors: `.notFound` for a feed that does not exist, `.invalidInput` for an invalid exception or mapping,
/// `.storageFailure` when the database fails.
public protocol ComplianceStore: Sendable {
    // MARK: Advisories

    /// Stores `advisories` in one transaction: new ids are added, stored ones replaced when their content differs
    /// (keeping ``StoredAdvisory/importedAt``), identical ones left alone; then appends the import to the history
    /// (with `skipped` as given) and returns that record with the counts. Duplicate ids in `advisories`: the last
    /// one wins.
    @discardableResult
    func importAdvisories(
        _ advisories: [OSVAdvisory], source: String, importedBy: String?, skipped: Int, at date: Date
    ) async throws -> AdvisoryImportRecord
    /// Every stored advisory, ordered by id.
    func advisories() async throws -> [StoredAdvisory]
    /// The advisory with this id, or nil.
    func advisory(id: String) async throws -> StoredAdvisory?
    /// Deletes an advisory. Returns false if there was none.
    @discardableResult
    func deleteAdvisory(id: String) async throws -> Bool
    /// The import history, newest first, at most `limit`.
    func advisoryImports(limit: Int) async throws -> [AdvisoryImportRecord]

    // MARK: Name mappings

    /// Every mapping, ordered by normalised PyPI name, then normalised conda name.
    func packageNameMappings() async throws -> [PackageNameMapping]
    /// Adds a mapping (one PyPI name may map to several conda names); an existing pair (compared after PEP 503
    /// normalisation) is replaced by the new spelling. Throws `.invalidInput` when a name is empty.
    func addPackageNameMapping(_ mapping: PackageNameMapping) async throws
    /// Removes the mapping of this pair (compared after normalisation). Returns false if there was none.
    @discardableResult
    func removePackageNameMapping(pypiName: String, condaName: String) async throws -> Bool

    // MARK: Policies

    /// The global policy (an empty policy, all defaults, until one is set).
    func globalCompliancePolicy() async throws -> CompliancePolicy
    /// Replaces the global policy.
    func setGlobalCompliancePolicy(_ policy: CompliancePolicy) async throws
    /// The feed's own policy, nil when it has none (the global one applies unchanged).
    func compliancePolicy(feed: String) async throws -> CompliancePolicy?
    /// Sets (or with nil removes) a feed's own policy. Throws `.notFound` if the feed does not exist.
    func setCompliancePolicy(_ policy: CompliancePolicy?, feed: String) async throws

    // MARK: Exceptions

    /// Every exception, ordered by id.
    func complianceExceptions() async throws -> [ComplianceException]
    /// Stores an exception and returns it with its id. Throws `.invalidInput` when it does not validate
    /// (``ComplianceException/validate()``), `.notFound` if its feed does not exist.
    @discardableResult
    func addComplianceException(_ exception: ComplianceException) async throws -> ComplianceException
    /// Deletes an exception; returns it, or nil if there was none.
    @discardableResult
    func deleteComplianceException(id: Int64) async throws -> ComplianceException?

    // MARK: Blocking

    /// Whether the feed hides noncompliant packages (false for an unknown feed).
    func blocksNoncompliant(feed: String) async throws -> Bool
    /// Turns the feed's blocking on or off. Throws `.notFound` if the feed does not exist.
    func setBlocksNoncompliant(_ blocks: Bool, feed: String) async throws
    /// The feeds that block noncompliant packages, ordered by name.
    func feedsBlockingNoncompliant() async throws -> [String]

    /// A number that changes whenever advisories, mappings, policies, exceptions or switches change (imports that
    /// change nothing included, so that watchers can note the import), so several servers on one database can tell
    /// that their compliance views are stale. Any monotonically increasing counter works.
    func complianceRevision() async throws -> Int64
}

/// Checks shared by the store implementations.
public enum ComplianceStoreRules {
    /// Throws `.invalidInput` unless both names are non-empty after normalisation.
    public static func validate(_ mapping: PackageNameMapping) throws(SluiceError) {
        guard !PackageNames.normalized(mapping.pypiName).isEmpty, !PackageNames.normalized(mapping.condaName).isEmpty
        else {
            throw .invalidInput("A name mapping needs a PyPI name and a conda name.")
        }
    }

    /// Throws `.invalidInput` when an advisory has an empty id.
    public static func validate(_ advisories: [OSVAdvisory]) throws(SluiceError) {
        if advisories.contains(where: { $0.id.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw .invalidInput("Every OSV advisory needs an id.")
        }
    }

    /// The canonical JSON of an advisory (sorted keys), used to tell whether an import changes a stored one.
    public static func canonicalJSON(_ advisory: OSVAdvisory) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(advisory), as: UTF8.self)
    }

    /// The last advisory of each id, in order of first appearance.
    public static func lastOfEachID(_ advisories: [OSVAdvisory]) -> [OSVAdvisory] {
        var positions: [String: Int] = [:]
        var result: [OSVAdvisory] = []
        for advisory in advisories {
            if let position = positions[advisory.id] {
                result[position] = advisory
            } else {
                positions[advisory.id] = result.count
                result.append(advisory)
            }
        }
        return result
    }
}
