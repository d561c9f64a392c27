import Foundation
import SQLKit
import SluiceCore

/// The shard archive's rows (table `published_shards`, migration 5).
extension SQLMetadataStore: ShardRetentionStore {
    /// Rows per statement: 5 bound values each stays far below every database's limit on bound parameters.
    static let shardBatchSize = 400

    /// Inserts the missing rows and moves `last_published_at` of existing ones forward (never back), in one
    /// transaction, a few hundred rows per statement; see
    /// ``ShardRetentionStore/recordPublishedShards(feed:subdir:sha256s:at:)``.
    /// - Throws: `.invalidInput` for a malformed sha256 (nothing is written), `.storageFailure` if the database fails.
    public func recordPublishedShards(feed: String, subdir: String, sha256s: [String], at date: Date) async throws {
        for sha256 in sha256s {
            try ContentAddress.validate(sha256: sha256)
        }
        guard !sha256s.isEmpty else { return }
        let stamp = Self.milliseconds(date)
        try await withStorageErrors("recording \(sha256s.count) published shards of \(feed)/\(subdir)") {
            try await self.inWriteTransaction { database in
                var start = 0
                while start < sha256s.count {
                    let batch = sha256s[start..<min(sha256s.count, start + Self.shardBatchSize)]
                    start += batch.count
                    let insert = database.insert(into: "published_shards")
                        .columns("feed", "subdir", "sha256", "first_published_at", "last_published_at")
                    for sha256 in batch {
                        insert.values(
                            SQLBind(feed), SQLBind(subdir), SQLBind(sha256), SQLBind(stamp), SQLBind(stamp))
                    }
                    try await insert.onConflict(with: ["feed", "subdir", "sha256"]) { update in
                        update.set(excludedValueOf: "last_published_at")
                            .where(
                                SQLColumn("last_published_at", table: "published_shards"), .lessThan,
                                SQLColumn("last_published_at", table: "excluded"))
                    }
                    .run()
                }
            }
        }
    }

    /// The row of one published shard, or nil.
    /// - Throws: `.storageFailure` if the database fails.
    public func publishedShard(feed: String, subdir: String, sha256: String) async throws -> PublishedShard? {
        try await withStorageErrors("reading published shard \(sha256) of \(feed)/\(subdir)") {
            try await self.database.select().column("*").from("published_shards")
                .where("feed", .equal, feed)
                .where("subdir", .equal, subdir)
                .where("sha256", .equal, sha256)
                .first()
                .map { row in
                    PublishedShard(
                        feed: try row.decode(column: "feed", as: String.self),
                        subdir: try row.decode(column: "subdir", as: String.self),
                        sha256: try row.decode(column: "sha256", as: String.self),
                        firstPublishedAt: Self.date(
                            milliseconds: try row.decode(column: "first_published_at", as: Int64.self)),
                        lastPublishedAt: Self.date(
                            milliseconds: try row.decode(column: "last_published_at", as: Int64.self)))
                }
        }
    }

    /// Deletes the rows last published before `cutoff` and returns, sorted, the deleted sha256s that no remaining row
    /// references; all in one transaction, so a row recorded concurrently either survives or was deleted before it.
    /// - Throws: `.storageFailure` if the database fails.
    public func deletePublishedShards(lastPublishedBefore cutoff: Date) async throws -> [String] {
        let stamp = Self.milliseconds(cutoff)
        return try await withStorageErrors("deleting expired published shards") {
            try await self.inWriteTransaction { database in
                let expired = Set(
                    try await database.select().distinct().column("sha256").from("published_shards")
                        .where("last_published_at", .lessThan, stamp)
                        .all()
                        .map { try $0.decode(column: "sha256", as: String.self) })
                guard !expired.isEmpty else { return [] }
                try await database.delete(from: "published_shards")
                    .where("last_published_at", .lessThan, stamp)
                    .run()
                var unreferenced = expired
                let candidates = expired.sorted()
                var start = 0
                while start < candidates.count {
                    let batch = Array(candidates[start..<min(candidates.count, start + Self.shardBatchSize)])
                    start += batch.count
                    for row in try await database.select().distinct().column("sha256").from("published_shards")
                        .where("sha256", .in, batch)
                        .all()
                    {
                        unreferenced.remove(try row.decode(column: "sha256", as: String.self))
                    }
                }
                return unreferenced.sorted()
            }
        }
    }
}
