import Foundation
import SQLKit
import SluiceCore

// Promotions and their history (table of migration 3).
extension SQLMetadataStore {
    /// Promotes a batch in ONE write transaction: per file, insert the row (ignoring a conflict on the key); if the
    /// target had the file name already, read that row locked: same sha256 → `.alreadyPromoted`, other bytes →
    /// `.conflict` (the transaction rolls back, nothing of the batch stays). Each added row gets a history row.
    /// - Throws: `.notFound` if the target feed does not exist, `.invalidInput` if a row names another feed,
    ///   `.conflict` as above, `.storageFailure` if the database fails.
    public func promote(_ batch: PromotionBatch) async throws -> [PromotionResult] {
        for package in batch.packages where package.feed != batch.toFeed {
            throw MetadataStoreRules.promotionFeedMismatchError(package: package, toFeed: batch.toFeed)
        }
        let rows = batch.packages.map { ($0, Self.packageValues($0)) }
        return try await withStorageErrors(
            "promoting \(batch.packages.count) file(s) from '\(batch.fromFeed)' into '\(batch.toFeed)'",
            foreignKey: "There is no feed named '\(batch.toFeed)'."
        ) {
            try await self.inWriteTransaction { database in
                let feed = try await database.select().column("name").from("feeds")
                    .where("name", .equal, batch.toFeed).first()
                guard feed != nil else { throw SluiceError.notFound("There is no feed named '\(batch.toFeed)'.") }

                var nextID = try await Self.nextHistoryID(in: database)
                var batchID: Int64?
                var results: [PromotionResult] = []
                for (package, values) in rows {
                    let inserted = try await database.insert(into: "packages")
                        .columns(Self.packageColumns)
                        .values(values)
                        .ignoringConflicts(with: ["feed", "subdir", "filename"])
                        .returning("sha256")
                        .all()
                    if inserted.isEmpty {
                        let existing = try await database.select().column("*").from("packages")
                            .where("feed", .equal, package.feed)
                            .where("subdir", .equal, package.subdir)
                            .where("filename", .equal, package.filename)
                            .for(.update)
                            .first()
                            .map(Self.package(from:))
                        guard let existing else {
                            throw SluiceError(
                                .storageFailure,
                                "\(package.subdir)/\(package.filename) in feed '\(package.feed)' changed during the "
                                    + "promotion; retry.")
                        }
                        guard existing.sha256 == package.sha256 else {
                            throw MetadataStoreRules.promotionConflictError(
                                package: package, existingSHA256: existing.sha256)
                        }
                        results.append(.alreadyPromoted(existing))
                        continue
                    }
                    var record = PromotionRecord(
                        promoting: package, fromFeed: batch.fromFeed, user: batch.user, comments: batch.comments,
                        date: batch.date)
                    record.id = nextID
                    record.batch = batchID ?? nextID
                    batchID = record.batch
                    nextID += 1
                    try await Self.insertHistory(record, into: database)
                    results.append(.promoted(record))
                }
                return results
            }
        }
    }

    /// The history rows matching every filter that is not nil, newest first (by id).
    public func promotions(
        fromFeed: String?, toFeed: String?, package: String?, version: String?
    ) async throws
        -> [PromotionRecord]
    {
        try await withStorageErrors("listing promotions") {
            let select = self.database.select().column("*").from("promotions")
            if let fromFeed { select.where("from_feed", .equal, fromFeed) }
            if let toFeed { select.where("to_feed", .equal, toFeed) }
            if let package { select.where("name", .equal, package) }
            if let version { select.where("version", .equal, version) }
            return try await select.orderBy("id", .descending).all().map(Self.promotion(from:))
        }
    }

    /// Writes one history row with the next id (its own batch) and returns it.
    @discardableResult
    public func recordPackageEvent(_ event: PromotionRecord) async throws -> PromotionRecord {
        try await withStorageErrors("recording a \(event.kind.rawValue) of \(event.subdir)/\(event.filename)") {
            try await self.inWriteTransaction { database in
                var record = event
                record.id = try await Self.nextHistoryID(in: database)
                record.batch = record.id
                try await Self.insertHistory(record, into: database)
                return record
            }
        }
    }

    /// The next history id: one more than the largest. Read inside the write transaction, which holds the write lock
    /// (SQLite); where writers run in parallel (PostgreSQL) a clash is a unique violation and the caller retries.
    private static func nextHistoryID(in database: any SQLDatabase) async throws -> Int64 {
        let row = try await database.select()
            .column(
                SQLFunction("COALESCE", args: SQLFunction("MAX", args: SQLColumn("id")), SQLLiteral.numeric("0")),
                as: "last"
            )
            .from("promotions")
            .first()
        return (try row?.decode(column: "last", as: Int64.self) ?? 0) + 1
    }

    private static func insertHistory(_ record: PromotionRecord, into database: any SQLDatabase) async throws {
        func optional(_ value: String?) -> any SQLExpression {
            value.map { SQLBind($0) as any SQLExpression } ?? SQLLiteral.null
        }
        try await database.insert(into: "promotions")
            .columns(
                "id", "batch", "kind", "from_feed", "to_feed", "name", "version", "build", "subdir", "filename",
                "sha256", "user_name", "comments", "created_at"
            )
            .values(
                SQLBind(record.id), SQLBind(record.batch), SQLBind(record.kind.rawValue), optional(record.fromFeed),
                SQLBind(record.toFeed), SQLBind(record.name), SQLBind(record.version), SQLBind(record.build),
                SQLBind(record.subdir), SQLBind(record.filename), SQLBind(record.sha256), optional(record.user),
                SQLBind(record.comments), SQLBind(milliseconds(record.date))
            )
            .run()
    }

    static func promotion(from row: any SQLRow) throws -> PromotionRecord {
        let kindName = try row.decode(column: "kind", as: String.self)
        guard let kind = PromotionRecord.Kind(rawValue: kindName) else {
            throw SluiceError(.storageFailure, "The database holds a promotion of unknown kind '\(kindName)'.")
        }
        return PromotionRecord(
            id: try row.decode(column: "id", as: Int64.self),
            batch: try row.decode(column: "batch", as: Int64.self),
            kind: kind,
            fromFeed: try row.decodeNil(column: "from_feed")
                ? nil : try row.decode(column: "from_feed", as: String.self),
            toFeed: try row.decode(column: "to_feed", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            version: try row.decode(column: "version", as: String.self),
            build: try row.decode(column: "build", as: String.self),
            subdir: try row.decode(column: "subdir", as: String.self),
            filename: try row.decode(column: "filename", as: String.self),
            sha256: try row.decode(column: "sha256", as: String.self),
            user: try row.decodeNil(column: "user_name") ? nil : try row.decode(column: "user_name", as: String.self),
            comments: try row.decode(column: "comments", as: String.self),
            date: date(milliseconds: try row.decode(column: "created_at", as: Int64.self)))
    }
}
