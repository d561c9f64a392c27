import Foundation
import SQLKit
import SluiceCore

/// Download counts (table `download_counts`, migration 7).
extension SQLMetadataStore: DownloadCountStore {
    /// Rows per statement: 6 bound values each stays far below every database's limit on bound parameters.
    static let downloadBatchSize = 300

    /// Adds the deltas in one transaction with `INSERT … ON CONFLICT … DO UPDATE SET count = count + excluded.count`
    /// (SQLite and PostgreSQL), so concurrent instances add up; see ``DownloadCountStore/addDownloads(_:at:)``.
    /// - Throws: `.storageFailure` if the database fails.
    public func addDownloads(_ deltas: [DownloadKey: Int64], at date: Date) async throws {
        let rows = deltas.filter { $0.value > 0 }.sorted {
            ($0.key.feed, $0.key.subdir, $0.key.filename) < ($1.key.feed, $1.key.subdir, $1.key.filename)
        }
        guard !rows.isEmpty else { return }
        let stamp = Self.milliseconds(date)
        try await withStorageErrors("recording downloads of \(rows.count) files") {
            try await self.inWriteTransaction { database in
                var start = 0
                while start < rows.count {
                    let batch = rows[start..<min(rows.count, start + Self.downloadBatchSize)]
                    start += batch.count
                    let insert = database.insert(into: "download_counts")
                        .columns("feed", "subdir", "filename", "name", "count", "last_downloaded_at")
                    for (key, delta) in batch {
                        insert.values(
                            SQLBind(key.feed), SQLBind(key.subdir), SQLBind(key.filename),
                            SQLBind(PackageFilename(key.filename)?.name ?? key.filename), SQLBind(delta),
                            SQLBind(stamp))
                    }
                    try await insert.onConflict(with: ["feed", "subdir", "filename"]) { update in
                        update.set(
                            "count",
                            to: SQLBinaryExpression(
                                SQLColumn("count", table: "download_counts"), .add,
                                SQLColumn("count", table: "excluded"))
                        )
                        .set(excludedValueOf: "last_downloaded_at")
                    }
                    .run()
                }
            }
        }
    }

    /// The counts of package `name`'s files in `feed`, ordered by subdir then filename.
    /// - Throws: `.storageFailure` if the database fails.
    public func downloadCounts(feed: String, name: String) async throws -> [DownloadCount] {
        try await withStorageErrors("reading download counts of \(feed)/\(name)") {
            try await self.database.select()
                .columns("feed", "subdir", "filename", "count", "last_downloaded_at")
                .from("download_counts")
                .where("feed", .equal, feed)
                .where("name", .equal, name)
                .all()
                .map { row in
                    DownloadCount(
                        key: DownloadKey(
                            feed: try row.decode(column: "feed", as: String.self),
                            subdir: try row.decode(column: "subdir", as: String.self),
                            filename: try row.decode(column: "filename", as: String.self)),
                        count: try row.decode(column: "count", as: Int64.self),
                        lastDownloadedAt: Self.date(
                            milliseconds: try row.decode(column: "last_downloaded_at", as: Int64.self)))
                }
                .sorted {
                    $0.key.subdir == $1.key.subdir
                        ? $0.key.filename.utf8.lexicographicallyPrecedes($1.key.filename.utf8)
                        : $0.key.subdir.utf8.lexicographicallyPrecedes($1.key.subdir.utf8)
                }
        }
    }
}
