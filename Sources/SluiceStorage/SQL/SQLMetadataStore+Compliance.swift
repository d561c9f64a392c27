import Foundation
import SQLKit
import SluiceCore

/// The ``ComplianceStore`` part of the SQL store (tables of migration 6): `advisories`, `advisory_imports`,
/// `package_name_mappings`, `feed_compliance` (a feed's policy and blocking switch), `compliance_exceptions` and the
/// one-row `compliance_settings` (the global policy and the revision).
///
/// Every change is one write transaction that also bumps the revision. Advisories are stored as canonical OSV JSON
/// (sorted keys), so an import tells changed from unchanged advisories by comparing text. Per-feed rows reference
/// `feeds` with `ON DELETE CASCADE` (and ``deleteFeed(named:)`` leaves nothing behind even without foreign keys,
/// since the feed row is what they hang on). Ids of imports and exceptions come from `compliance_settings` and are
/// never reused.
extension SQLMetadataStore: ComplianceStore {
    /// Rows per multi-row statement (well under SQLite's and PostgreSQL's bind limits).
    private static let complianceBatchSize = 200

    // MARK: Advisories

    /// Adds, replaces or keeps each advisory and records the import, in one transaction; see
    /// ``ComplianceStore/importAdvisories(_:source:importedBy:skipped:at:)``. Throws `.invalidInput` for an advisory
    /// without an id.
    @discardableResult
    public func importAdvisories(
        _ advisories: [OSVAdvisory], source: String, importedBy: String?, skipped: Int, at date: Date
    ) async throws -> AdvisoryImportRecord {
        try ComplianceStoreRules.validate(advisories)
        let unique = ComplianceStoreRules.lastOfEachID(advisories)
        let texts = try unique.map { (id: $0.id, json: try ComplianceStoreRules.canonicalJSON($0)) }
        let at = Self.milliseconds(date)
        return try await withStorageErrors("importing \(unique.count) advisories from \(source)") {
            try await self.inWriteTransaction { database in
                var stored: [String: String] = [:]
                for batch in Self.complianceBatches(texts.map(\.id)) {
                    for row in try await database.select().column("id").column("advisory_json").from("advisories")
                        .where("id", .in, Array(batch)).all()
                    {
                        stored[try row.decode(column: "id", as: String.self)] = try row.decode(
                            column: "advisory_json", as: String.self)
                    }
                }
                var record = AdvisoryImportRecord(
                    source: source, importedAt: date, importedBy: importedBy, skipped: skipped)
                var inserts: [(id: String, json: String)] = []
                for text in texts {
                    switch stored[text.id] {
                    case nil:
                        inserts.append(text)
                    case text.json?:
                        record.unchanged += 1
                    default:
                        record.updated += 1
                        try await database.update("advisories")
                            .set("advisory_json", to: text.json)
                            .set("source", to: source)
                            .set("updated_at", to: at)
                            .where("id", .equal, text.id)
                            .run()
                    }
                }
                record.added = inserts.count
                for batch in Self.complianceBatches(inserts) {
                    let insert = database.insert(into: "advisories")
                        .columns("id", "advisory_json", "source", "imported_at", "updated_at")
                    for row in batch {
                        insert.values(SQLBind(row.id), SQLBind(row.json), SQLBind(source), SQLBind(at), SQLBind(at))
                    }
                    try await insert.run()
                }
                record.id = try await Self.nextComplianceID("last_import_id", in: database)
                try await database.insert(into: "advisory_imports")
                    .columns("id", "source", "imported_at", "imported_by", "added", "updated", "unchanged", "skipped")
                    .values(
                        SQLBind(record.id), SQLBind(source), SQLBind(at), Self.complianceNullable(importedBy),
                        SQLBind(Int64(record.added)), SQLBind(Int64(record.updated)),
                        SQLBind(Int64(record.unchanged)), SQLBind(Int64(skipped))
                    )
                    .run()
                try await Self.bumpComplianceRevision(in: database)
                return record
            }
        }
    }

    /// Every stored advisory, ordered by id.
    public func advisories() async throws -> [StoredAdvisory] {
        try await withStorageErrors("listing advisories") {
            try await self.database.select().column("*").from("advisories").all()
                .map(Self.storedAdvisory(from:))
                .sorted { $0.advisory.id.utf8.lexicographicallyPrecedes($1.advisory.id.utf8) }
        }
    }

    /// The advisory with this id, or nil.
    public func advisory(id: String) async throws -> StoredAdvisory? {
        try await withStorageErrors("reading advisory \(id)") {
            try await self.database.select().column("*").from("advisories").where("id", .equal, id).first()
                .map(Self.storedAdvisory(from:))
        }
    }

    /// Deletes an advisory in one transaction. Returns false if there was none.
    @discardableResult
    public func deleteAdvisory(id: String) async throws -> Bool {
        try await withStorageErrors("deleting advisory \(id)") {
            try await self.inWriteTransaction { database in
                let deleted = try await database.delete(from: "advisories").where("id", .equal, id).returning("id")
                    .all()
                guard !deleted.isEmpty else { return false }
                try await Self.bumpComplianceRevision(in: database)
                return true
            }
        }
    }

    /// The import history, newest first, at most `limit`.
    public func advisoryImports(limit: Int) async throws -> [AdvisoryImportRecord] {
        guard limit > 0 else { return [] }
        return try await withStorageErrors("listing advisory imports") {
            try await self.database.select().column("*").from("advisory_imports")
                .orderBy("id", .descending).limit(limit).all()
                .map { row in
                    AdvisoryImportRecord(
                        id: try row.decode(column: "id", as: Int64.self),
                        source: try row.decode(column: "source", as: String.self),
                        importedAt: Self.date(milliseconds: try row.decode(column: "imported_at", as: Int64.self)),
                        importedBy: try Self.complianceString(row, "imported_by"),
                        added: Int(try row.decode(column: "added", as: Int64.self)),
                        updated: Int(try row.decode(column: "updated", as: Int64.self)),
                        unchanged: Int(try row.decode(column: "unchanged", as: Int64.self)),
                        skipped: Int(try row.decode(column: "skipped", as: Int64.self)))
                }
        }
    }

    private static func storedAdvisory(from row: any SQLRow) throws -> StoredAdvisory {
        let id = try row.decode(column: "id", as: String.self)
        let json = try row.decode(column: "advisory_json", as: String.self)
        let parsed: [OSVAdvisory]
        do {
            parsed = try OSVAdvisory.parse(Array(json.utf8))
        } catch {
            throw SluiceError(.storageFailure, "The database holds invalid OSV JSON for advisory \(id).", cause: error)
        }
        guard parsed.count == 1, let advisory = parsed.first else {
            throw SluiceError(.storageFailure, "The database holds invalid OSV JSON for advisory \(id).")
        }
        return StoredAdvisory(
            advisory: advisory, source: try row.decode(column: "source", as: String.self),
            importedAt: date(milliseconds: try row.decode(column: "imported_at", as: Int64.self)),
            updatedAt: date(milliseconds: try row.decode(column: "updated_at", as: Int64.self)))
    }

    // MARK: Name mappings

    /// Every mapping, ordered by normalised PyPI name, then normalised conda name.
    public func packageNameMappings() async throws -> [PackageNameMapping] {
        try await withStorageErrors("listing package name mappings") {
            try await self.database.select().column("*").from("package_name_mappings").all()
                .map { row in
                    (
                        pypiKey: try row.decode(column: "pypi_key", as: String.self),
                        condaKey: try row.decode(column: "conda_key", as: String.self),
                        mapping: PackageNameMapping(
                            pypiName: try row.decode(column: "pypi_name", as: String.self),
                            condaName: try row.decode(column: "conda_name", as: String.self))
                    )
                }
                .sorted { left, right in
                    left.pypiKey == right.pypiKey
                        ? left.condaKey.utf8.lexicographicallyPrecedes(right.condaKey.utf8)
                        : left.pypiKey.utf8.lexicographicallyPrecedes(right.pypiKey.utf8)
                }
                .map(\.mapping)
        }
    }

    /// Adds or replaces a mapping in one transaction. Throws `.invalidInput` when a name is empty.
    public func addPackageNameMapping(_ mapping: PackageNameMapping) async throws {
        try ComplianceStoreRules.validate(mapping)
        try await withStorageErrors("adding the name mapping \(mapping.pypiName) → \(mapping.condaName)") {
            try await self.inWriteTransaction { database in
                try await database.insert(into: "package_name_mappings")
                    .columns("pypi_key", "conda_key", "pypi_name", "conda_name")
                    .values(
                        SQLBind(PackageNames.normalized(mapping.pypiName)),
                        SQLBind(PackageNames.normalized(mapping.condaName)), SQLBind(mapping.pypiName),
                        SQLBind(mapping.condaName)
                    )
                    .onConflict(with: ["pypi_key", "conda_key"]) {
                        $0.set(excludedValueOf: "pypi_name").set(excludedValueOf: "conda_name")
                    }
                    .run()
                try await Self.bumpComplianceRevision(in: database)
            }
        }
    }

    /// Removes a mapping in one transaction. Returns false if there was none.
    @discardableResult
    public func removePackageNameMapping(pypiName: String, condaName: String) async throws -> Bool {
        try await withStorageErrors("removing the name mapping \(pypiName) → \(condaName)") {
            try await self.inWriteTransaction { database in
                let deleted = try await database.delete(from: "package_name_mappings")
                    .where("pypi_key", .equal, PackageNames.normalized(pypiName))
                    .where("conda_key", .equal, PackageNames.normalized(condaName))
                    .returning("pypi_key")
                    .all()
                guard !deleted.isEmpty else { return false }
                try await Self.bumpComplianceRevision(in: database)
                return true
            }
        }
    }

    // MARK: Policies

    /// The global policy (empty until set).
    public func globalCompliancePolicy() async throws -> CompliancePolicy {
        try await withStorageErrors("reading the global compliance policy") {
            guard
                let row = try await self.database.select().column("global_policy_json").from("compliance_settings")
                    .where("id", .equal, Int64(1)).first()
            else { return CompliancePolicy() }
            return try Self.policy(try row.decode(column: "global_policy_json", as: String.self))
        }
    }

    /// Replaces the global policy in one transaction.
    public func setGlobalCompliancePolicy(_ policy: CompliancePolicy) async throws {
        let text = try Self.policyText(policy)
        try await withStorageErrors("setting the global compliance policy") {
            try await self.inWriteTransaction { database in
                try await database.update("compliance_settings")
                    .set("global_policy_json", to: text)
                    .set("revision", to: SQLBinaryExpression(SQLColumn("revision"), .add, SQLLiteral.numeric("1")))
                    .where("id", .equal, Int64(1))
                    .run()
            }
        }
    }

    /// The feed's own policy, or nil.
    public func compliancePolicy(feed: String) async throws -> CompliancePolicy? {
        try await withStorageErrors("reading the compliance policy of feed '\(feed)'") {
            guard
                let row = try await self.database.select().column("policy_json").from("feed_compliance")
                    .where("feed", .equal, feed).first(),
                let text = try Self.complianceString(row, "policy_json")
            else { return nil }
            return try Self.policy(text)
        }
    }

    /// Sets or removes a feed's policy in one transaction. Throws `.notFound` if the feed does not exist.
    public func setCompliancePolicy(_ policy: CompliancePolicy?, feed: String) async throws {
        let text = try policy.map(Self.policyText)
        try await withStorageErrors(
            "setting the compliance policy of feed '\(feed)'", foreignKey: "There is no feed named '\(feed)'."
        ) {
            try await self.inWriteTransaction { database in
                try await Self.requireComplianceFeed(feed, in: database)
                try await database.insert(into: "feed_compliance")
                    .columns("feed", "policy_json", "block_noncompliant")
                    .values(SQLBind(feed), Self.complianceNullable(text), SQLBind(false))
                    .onConflict(with: ["feed"]) { $0.set(excludedValueOf: "policy_json") }
                    .run()
                try await Self.bumpComplianceRevision(in: database)
            }
        }
    }

    private static func policy(_ text: String) throws -> CompliancePolicy {
        do {
            return try JSONDecoder().decode(CompliancePolicy.self, from: Data(text.utf8))
        } catch {
            throw SluiceError(.storageFailure, "The database holds an invalid compliance policy.", cause: error)
        }
    }

    private static func policyText(_ policy: CompliancePolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }

    private static func requireComplianceFeed(_ feed: String, in database: any SQLDatabase) async throws {
        guard try await database.select().column("name").from("feeds").where("name", .equal, feed).first() != nil
        else {
            throw SluiceError.notFound("There is no feed named '\(feed)'.")
        }
    }

    // MARK: Exceptions

    /// Every exception, ordered by id.
    public func complianceExceptions() async throws -> [ComplianceException] {
        try await withStorageErrors("listing compliance exceptions") {
            try await self.database.select().column("*").from("compliance_exceptions").orderBy("id").all()
                .map(Self.exception(from:))
        }
    }

    /// Stores an exception in one transaction and returns it with its id. Throws `.invalidInput` when it does not
    /// validate, `.notFound` if its feed does not exist.
    @discardableResult
    public func addComplianceException(_ exception: ComplianceException) async throws -> ComplianceException {
        try exception.validate()
        return try await withStorageErrors(
            "adding a compliance exception for '\(exception.packagePattern)'",
            foreignKey: "There is no feed named '\(exception.feed ?? "")'."
        ) {
            try await self.inWriteTransaction { database in
                if let feed = exception.feed { try await Self.requireComplianceFeed(feed, in: database) }
                let id = try await Self.nextComplianceID("last_exception_id", in: database)
                let inserted = try await database.insert(into: "compliance_exceptions")
                    .columns(
                        "id", "feed", "package_pattern", "version_spec", "reason", "expires_at", "created_at",
                        "created_by"
                    )
                    .values(
                        SQLBind(id), Self.complianceNullable(exception.feed), SQLBind(exception.packagePattern),
                        Self.complianceNullable(exception.versionSpec), SQLBind(exception.reason),
                        Self.complianceNullable(exception.expiresAt.map(Self.milliseconds)),
                        SQLBind(Self.milliseconds(exception.createdAt)), Self.complianceNullable(exception.createdBy)
                    )
                    .returning(SQLLiteral.all)
                    .all()
                guard let row = inserted.first else {
                    throw SluiceError(.storageFailure, "The database did not return the new compliance exception.")
                }
                try await Self.bumpComplianceRevision(in: database)
                return try Self.exception(from: row)
            }
        }
    }

    /// Deletes an exception in one transaction; returns it, or nil.
    @discardableResult
    public func deleteComplianceException(id: Int64) async throws -> ComplianceException? {
        try await withStorageErrors("deleting compliance exception \(id)") {
            try await self.inWriteTransaction { database in
                guard
                    let row = try await database.delete(from: "compliance_exceptions").where("id", .equal, id)
                        .returning(SQLLiteral.all).all().first
                else { return nil }
                try await Self.bumpComplianceRevision(in: database)
                return try Self.exception(from: row)
            }
        }
    }

    private static func exception(from row: any SQLRow) throws -> ComplianceException {
        ComplianceException(
            id: try row.decode(column: "id", as: Int64.self),
            feed: try complianceString(row, "feed"),
            packagePattern: try row.decode(column: "package_pattern", as: String.self),
            versionSpec: try complianceString(row, "version_spec"),
            reason: try row.decode(column: "reason", as: String.self),
            expiresAt: try row.decodeNil(column: "expires_at")
                ? nil : date(milliseconds: try row.decode(column: "expires_at", as: Int64.self)),
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try complianceString(row, "created_by"))
    }

    // MARK: Blocking

    /// Whether the feed blocks noncompliant packages.
    public func blocksNoncompliant(feed: String) async throws -> Bool {
        try await withStorageErrors("reading the blocking switch of feed '\(feed)'") {
            try await self.database.select().column("block_noncompliant").from("feed_compliance")
                .where("feed", .equal, feed).first()
                .map { try $0.decode(column: "block_noncompliant", as: Bool.self) } ?? false
        }
    }

    /// Turns blocking on or off in one transaction. Throws `.notFound` if the feed does not exist.
    public func setBlocksNoncompliant(_ blocks: Bool, feed: String) async throws {
        try await withStorageErrors(
            "setting the blocking switch of feed '\(feed)'", foreignKey: "There is no feed named '\(feed)'."
        ) {
            try await self.inWriteTransaction { database in
                try await Self.requireComplianceFeed(feed, in: database)
                try await database.insert(into: "feed_compliance")
                    .columns("feed", "policy_json", "block_noncompliant")
                    .values(SQLBind(feed), SQLLiteral.null, SQLBind(blocks))
                    .onConflict(with: ["feed"]) { $0.set(excludedValueOf: "block_noncompliant") }
                    .run()
                try await Self.bumpComplianceRevision(in: database)
            }
        }
    }

    /// The blocking feeds, ordered by name.
    public func feedsBlockingNoncompliant() async throws -> [String] {
        try await withStorageErrors("listing the feeds that block noncompliant packages") {
            try await self.database.select().column("feed").from("feed_compliance")
                .where("block_noncompliant", .equal, true).all()
                .map { try $0.decode(column: "feed", as: String.self) }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        }
    }

    // MARK: Revision

    /// The compliance revision.
    public func complianceRevision() async throws -> Int64 {
        try await withStorageErrors("reading the compliance revision") {
            try await self.database.select().column("revision").from("compliance_settings")
                .where("id", .equal, Int64(1)).first()
                .map { try $0.decode(column: "revision", as: Int64.self) } ?? 0
        }
    }

    static func bumpComplianceRevision(in database: any SQLDatabase) async throws {
        try await database.update("compliance_settings")
            .set("revision", to: SQLBinaryExpression(SQLColumn("revision"), .add, SQLLiteral.numeric("1")))
            .where("id", .equal, Int64(1))
            .run()
    }

    /// One more than the last id handed out from `column` of `compliance_settings` (`last_import_id`,
    /// `last_exception_id`), so ids are never reused; the update locks the row until the transaction ends.
    private static func nextComplianceID(_ column: String, in database: any SQLDatabase) async throws -> Int64 {
        guard
            let row = try await database.update("compliance_settings")
                .set(column, to: SQLBinaryExpression(SQLColumn(column), .add, SQLLiteral.numeric("1")))
                .where("id", .equal, Int64(1))
                .returning(column)
                .first()
        else {
            throw SluiceError(.storageFailure, "The database has no compliance_settings row (migration 6).")
        }
        return try row.decode(column: column, as: Int64.self)
    }

    // MARK: Values

    private static func complianceNullable<Value: Encodable & Sendable>(_ value: Value?) -> any SQLExpression {
        value.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null
    }

    private static func complianceString(_ row: any SQLRow, _ column: String) throws -> String? {
        try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
    }

    private static func complianceBatches<Element>(_ elements: [Element]) -> [ArraySlice<Element>] {
        stride(from: 0, to: elements.count, by: complianceBatchSize).map {
            elements[$0..<min($0 + complianceBatchSize, elements.count)]
        }
    }
}
