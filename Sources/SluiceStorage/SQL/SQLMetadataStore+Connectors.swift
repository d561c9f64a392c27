import Foundation
import SQLKit
import SluiceCore

// Connectors and the proxy cache's rows (tables of migration 2).
extension SQLMetadataStore {
    // MARK: Connectors

    /// Creates a connector. Throws `.conflict` if the name is taken.
    public func createConnector(_ connector: Connector) async throws {
        let values = Self.connectorValues(connector)
        try await withStorageErrors(
            "creating connector '\(connector.name)'", conflict: "A connector named '\(connector.name)' exists already."
        ) {
            try await self.inWriteTransaction { database in
                try await database.insert(into: "connectors").columns(Self.connectorColumns).values(values).run()
            }
        }
    }

    /// The connector with this name, or nil.
    public func connector(named name: String) async throws -> Connector? {
        try await withStorageErrors("reading connector '\(name)'") {
            try await self.database.select().column("*").from("connectors").where("name", .equal, name).first()
                .map(Self.connector(from:))
        }
    }

    /// All connectors, ordered by name.
    public func connectors() async throws -> [Connector] {
        try await withStorageErrors("listing connectors") {
            try await self.database.select().column("*").from("connectors").orderBy("name").all()
                .map(Self.connector(from:))
                .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        }
    }

    /// Replaces a connector's settings (matched by name). Throws `.notFound` if it does not exist.
    public func updateConnector(_ connector: Connector) async throws {
        let values = Self.connectorValues(connector)
        let updated = try await withStorageErrors("updating connector '\(connector.name)'") {
            try await self.inWriteTransaction { database in
                let update = database.update("connectors")
                for (column, value) in zip(Self.connectorColumns, values) where column != "name" {
                    update.set(SQLIdentifier(column), to: value)
                }
                return try await update.where("name", .equal, connector.name).returning("name").all().count
            }
        }
        guard updated > 0 else { throw SluiceError.notFound("There is no connector named '\(connector.name)'.") }
    }

    /// Deletes a connector and (by the foreign keys' cascade) its snapshots and cached-file rows, in one transaction.
    /// Returns false if there was no such connector; throws `.conflict` naming the feeds that still use it.
    public func deleteConnector(named name: String) async throws -> Bool {
        try await withStorageErrors(
            "deleting connector '\(name)'",
            foreignKey:
                "Connector '\(name)' was added to a feed while it was being deleted; remove it from the feed first."
        ) {
            try await self.inWriteTransaction { database in
                let users = try await database.select().column("feed").from("feed_connectors")
                    .where("connector", .equal, name)
                    .all()
                    .map { try $0.decode(column: "feed", as: String.self) }
                let exists =
                    try await database.select().column("name").from("connectors")
                    .where("name", .equal, name).for(.update).first() != nil
                guard exists else { return false }
                if !users.isEmpty { throw MetadataStoreRules.connectorInUseError(connector: name, feeds: users) }
                // Explicit as well as cascaded, so a database opened without foreign keys enforced stays clean.
                try await database.delete(from: "upstream_snapshots").where("connector", .equal, name).run()
                try await database.delete(from: "upstream_cached_files").where("connector", .equal, name).run()
                return
                    !(try await database.delete(from: "connectors").where("name", .equal, name).returning("name")
                    .all()).isEmpty
            }
        }
    }

    // MARK: Upstream snapshots

    /// Saves the upstream state of one (connector, subdir) in one transaction: insert, or if a row is there (the insert
    /// did nothing) read it locked and replace it. Returns the row it replaced.
    /// Throws `.notFound` if the connector does not exist.
    @discardableResult
    public func saveUpstreamSnapshot(_ snapshot: UpstreamSnapshotRow) async throws -> UpstreamSnapshotRow? {
        let values = Self.snapshotValues(snapshot)
        let missing = "There is no connector named '\(snapshot.connector)'."
        return try await withStorageErrors(
            "saving the upstream state of \(snapshot.subdir) of connector '\(snapshot.connector)'", foreignKey: missing
        ) {
            try await self.inWriteTransaction { database in
                try await Self.requireConnector(snapshot.connector, in: database)
                let inserted = try await database.insert(into: "upstream_snapshots")
                    .columns(Self.snapshotColumns)
                    .values(values)
                    .ignoringConflicts(with: ["connector", "subdir"])
                    .returning("subdir")
                    .all()
                if !inserted.isEmpty { return nil }

                let previous = try await database.select().column("*").from("upstream_snapshots")
                    .where("connector", .equal, snapshot.connector)
                    .where("subdir", .equal, snapshot.subdir)
                    .for(.update)
                    .first()
                    .map(Self.snapshot(from:))
                let update = database.update("upstream_snapshots")
                for (column, value) in zip(Self.snapshotColumns, values)
                where column != "connector" && column != "subdir" {
                    update.set(SQLIdentifier(column), to: value)
                }
                try await update
                    .where("connector", .equal, snapshot.connector)
                    .where("subdir", .equal, snapshot.subdir)
                    .run()
                return previous
            }
        }
    }

    /// The saved upstream state of one (connector, subdir), or nil.
    public func upstreamSnapshot(connector: String, subdir: String) async throws -> UpstreamSnapshotRow? {
        try await withStorageErrors("reading the upstream state of \(subdir) of connector '\(connector)'") {
            try await self.database.select().column("*").from("upstream_snapshots")
                .where("connector", .equal, connector)
                .where("subdir", .equal, subdir)
                .first()
                .map(Self.snapshot(from:))
        }
    }

    /// Every saved upstream state of a connector, ordered by subdir.
    public func upstreamSnapshots(connector: String) async throws -> [UpstreamSnapshotRow] {
        try await withStorageErrors("listing the upstream states of connector '\(connector)'") {
            try await self.database.select().column("*").from("upstream_snapshots")
                .where("connector", .equal, connector)
                .orderBy("subdir")
                .all()
                .map(Self.snapshot(from:))
                .sorted { $0.subdir.utf8.lexicographicallyPrecedes($1.subdir.utf8) }
        }
    }

    // MARK: Cached files

    /// Records a cached upstream file in one transaction, like ``addPackage(_:overwrite:)`` with overwrite: new →
    /// `.added`, same sha256 → `.unchanged` (row untouched), other sha256 → `.replaced`. Throws `.notFound` if the
    /// connector does not exist.
    @discardableResult
    public func recordCachedFile(_ file: CachedUpstreamFile) async throws -> AddPackageOutcome {
        let values = Self.cachedFileValues(file)
        let missing = "There is no connector named '\(file.connector)'."
        return try await withStorageErrors(
            "recording cached file \(file.subdir)/\(file.filename) of connector '\(file.connector)'",
            foreignKey: missing
        ) {
            try await self.inWriteTransaction { database in
                try await Self.requireConnector(file.connector, in: database)
                let inserted = try await database.insert(into: "upstream_cached_files")
                    .columns(Self.cachedFileColumns)
                    .values(values)
                    .ignoringConflicts(with: ["connector", "subdir", "filename"])
                    .returning("sha256")
                    .all()
                if !inserted.isEmpty { return .added }

                let existing = try await database.select().column("sha256").from("upstream_cached_files")
                    .where("connector", .equal, file.connector)
                    .where("subdir", .equal, file.subdir)
                    .where("filename", .equal, file.filename)
                    .for(.update)
                    .first()
                guard let existing else {
                    throw SluiceError(
                        .storageFailure,
                        "Cached file \(file.subdir)/\(file.filename) of connector '\(file.connector)' changed while "
                            + "it was recorded; retry.")
                }
                let previous = try existing.decode(column: "sha256", as: String.self)
                if previous == file.sha256 { return .unchanged }
                let update = database.update("upstream_cached_files")
                for (column, value) in zip(Self.cachedFileColumns, values)
                where !["connector", "subdir", "filename"].contains(column) {
                    update.set(SQLIdentifier(column), to: value)
                }
                try await update
                    .where("connector", .equal, file.connector)
                    .where("subdir", .equal, file.subdir)
                    .where("filename", .equal, file.filename)
                    .run()
                return .replaced(previousSHA256: previous)
            }
        }
    }

    /// One cached upstream file, or nil.
    public func cachedFile(connector: String, subdir: String, filename: String) async throws -> CachedUpstreamFile? {
        try await withStorageErrors("reading cached file \(subdir)/\(filename) of connector '\(connector)'") {
            try await self.database.select().column("*").from("upstream_cached_files")
                .where("connector", .equal, connector)
                .where("subdir", .equal, subdir)
                .where("filename", .equal, filename)
                .first()
                .map(Self.cachedFile(from:))
        }
    }

    /// Every cached file of a connector, ordered by subdir then filename.
    public func cachedFiles(connector: String) async throws -> [CachedUpstreamFile] {
        try await withStorageErrors("listing the cached files of connector '\(connector)'") {
            try await self.database.select().column("*").from("upstream_cached_files")
                .where("connector", .equal, connector)
                .orderBy("subdir")
                .orderBy("filename")
                .all()
                .map(Self.cachedFile(from:))
                .sorted { left, right in
                    if left.subdir != right.subdir {
                        return left.subdir.utf8.lexicographicallyPrecedes(right.subdir.utf8)
                    }
                    return left.filename.utf8.lexicographicallyPrecedes(right.filename.utf8)
                }
        }
    }

    /// Moves a cached file's last access forward to `date` (one conditional `UPDATE`); returns false if there is no
    /// such file.
    @discardableResult
    public func markCachedFileAccessed(
        connector: String, subdir: String, filename: String, at date: Date
    )
        async throws -> Bool
    {
        let stamp = Self.milliseconds(date)
        return try await withStorageErrors("marking cached file \(subdir)/\(filename) of connector '\(connector)'") {
            try await self.inWriteTransaction { database in
                let updated = try await database.update("upstream_cached_files")
                    .set("last_accessed_at", to: stamp)
                    .where("connector", .equal, connector)
                    .where("subdir", .equal, subdir)
                    .where("filename", .equal, filename)
                    .where { group in
                        group.where("last_accessed_at", .is, SQLLiteral.null)
                            .orWhere("last_accessed_at", .lessThan, stamp)
                    }
                    .returning("filename")
                    .all()
                if !updated.isEmpty { return true }
                return try await database.select().column("filename").from("upstream_cached_files")
                    .where("connector", .equal, connector)
                    .where("subdir", .equal, subdir)
                    .where("filename", .equal, filename)
                    .first() != nil
            }
        }
    }

    /// Removes a cached file's row (not its blob); returns it, or nil if there was none.
    public func deleteCachedFile(
        connector: String, subdir: String, filename: String
    ) async throws
        -> CachedUpstreamFile?
    {
        try await withStorageErrors("deleting cached file \(subdir)/\(filename) of connector '\(connector)'") {
            try await self.inWriteTransaction { database in
                try await database.delete(from: "upstream_cached_files")
                    .where("connector", .equal, connector)
                    .where("subdir", .equal, subdir)
                    .where("filename", .equal, filename)
                    .returning(SQLLiteral.all)
                    .all()
                    .first
                    .map(Self.cachedFile(from:))
            }
        }
    }

    // MARK: Rows

    /// Throws `.notFound` unless the connector exists (read locked, so it cannot be deleted before the commit).
    private static func requireConnector(_ name: String, in database: any SQLDatabase) async throws {
        let row = try await database.select().column("name").from("connectors").where("name", .equal, name)
            .for(.update).first()
        guard row != nil else { throw SluiceError.notFound("There is no connector named '\(name)'.") }
    }

    static let connectorColumns = [
        "name", "feed_type", "url", "description", "timeout_seconds", "metadata_cache_enabled",
        "metadata_cache_minutes", "username", "password", "filters_json", "created_at",
    ]

    static func connectorValues(_ connector: Connector) -> [any SQLExpression] {
        let filters = JSONValue.array(connector.filters.map { .string($0) }).compactJSON()
        return [
            SQLBind(connector.name), SQLBind(connector.feedType), SQLBind(connector.url),
            SQLBind(connector.description), SQLBind(Int64(connector.timeout)), SQLBind(connector.metadataCacheEnabled),
            SQLBind(Int64(connector.metadataCacheMinutes)), optional(connector.username), optional(connector.password),
            SQLBind(String(decoding: filters, as: UTF8.self)), SQLBind(milliseconds(connector.createdAt)),
        ]
    }

    static func connector(from row: any SQLRow) throws -> Connector {
        let filtersText = try row.decode(column: "filters_json", as: String.self)
        let filters: [String]
        do {
            guard let array = try JSONValue.parse(Array(filtersText.utf8)).arrayValue else {
                throw SluiceError(.storageFailure, "The database column filters_json holds JSON that is not an array.")
            }
            filters = try array.map { value in
                guard let string = value.stringValue else {
                    throw SluiceError(.storageFailure, "The database column filters_json holds a non-string filter.")
                }
                return string
            }
        } catch {
            throw SluiceError(.storageFailure, "The database column filters_json holds invalid JSON.", cause: error)
        }
        return Connector(
            name: try row.decode(column: "name", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            feedType: try row.decode(column: "feed_type", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            timeout: Int(try row.decode(column: "timeout_seconds", as: Int64.self)),
            metadataCacheEnabled: try row.decode(column: "metadata_cache_enabled", as: Bool.self),
            metadataCacheMinutes: Int(try row.decode(column: "metadata_cache_minutes", as: Int64.self)),
            username: try optionalString(row, "username"),
            password: try optionalString(row, "password"),
            filters: filters,
            createdAt: date(milliseconds: try row.decode(column: "created_at", as: Int64.self))
        )
    }

    static let snapshotColumns = [
        "connector", "subdir", "status", "sha256", "etag", "last_modified", "upstream_filename", "fetched_at",
        "record_count",
    ]

    static func snapshotValues(_ snapshot: UpstreamSnapshotRow) -> [any SQLExpression] {
        [
            SQLBind(snapshot.connector), SQLBind(snapshot.subdir), SQLBind(snapshot.status.rawValue),
            optional(snapshot.sha256), optional(snapshot.etag), optional(snapshot.lastModified),
            optional(snapshot.upstreamFilename), SQLBind(milliseconds(snapshot.fetchedAt)),
            SQLBind(Int64(snapshot.recordCount)),
        ]
    }

    static func snapshot(from row: any SQLRow) throws -> UpstreamSnapshotRow {
        let statusName = try row.decode(column: "status", as: String.self)
        guard let status = UpstreamSnapshotRow.Status(rawValue: statusName) else {
            throw SluiceError(
                .storageFailure, "The database holds an upstream snapshot of unknown status '\(statusName)'.")
        }
        return UpstreamSnapshotRow(
            connector: try row.decode(column: "connector", as: String.self),
            subdir: try row.decode(column: "subdir", as: String.self),
            status: status,
            sha256: try optionalString(row, "sha256"),
            etag: try optionalString(row, "etag"),
            lastModified: try optionalString(row, "last_modified"),
            upstreamFilename: try optionalString(row, "upstream_filename"),
            fetchedAt: date(milliseconds: try row.decode(column: "fetched_at", as: Int64.self)),
            recordCount: Int(try row.decode(column: "record_count", as: Int64.self))
        )
    }

    static let cachedFileColumns = [
        "connector", "subdir", "filename", "sha256", "size", "cached_at", "last_accessed_at",
    ]

    static func cachedFileValues(_ file: CachedUpstreamFile) -> [any SQLExpression] {
        [
            SQLBind(file.connector), SQLBind(file.subdir), SQLBind(file.filename), SQLBind(file.sha256),
            SQLBind(file.size), SQLBind(milliseconds(file.cachedAt)),
            file.lastAccessedAt.map { SQLBind(milliseconds($0)) as any SQLExpression } ?? SQLLiteral.null,
        ]
    }

    static func cachedFile(from row: any SQLRow) throws -> CachedUpstreamFile {
        CachedUpstreamFile(
            connector: try row.decode(column: "connector", as: String.self),
            subdir: try row.decode(column: "subdir", as: String.self),
            filename: try row.decode(column: "filename", as: String.self),
            sha256: try row.decode(column: "sha256", as: String.self),
            size: try row.decode(column: "size", as: Int64.self),
            cachedAt: date(milliseconds: try row.decode(column: "cached_at", as: Int64.self)),
            lastAccessedAt: try row.decodeNil(column: "last_accessed_at")
                ? nil : date(milliseconds: try row.decode(column: "last_accessed_at", as: Int64.self))
        )
    }

    private static func optional(_ value: String?) -> any SQLExpression {
        value.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null
    }

    private static func optionalString(_ row: any SQLRow, _ column: String) throws -> String? {
        try row.decodeNil(column: column) ? nil : try row.decode(column: column, as: String.self)
    }
}
