import Foundation
import SQLKit
import SluiceCore

/// One step of the database schema, applied once, in order of ``version``.
struct SQLMigration: Sendable {
    var version: Int64
    var summary: String
    var apply: @Sendable (any SQLDatabase) async throws -> Void
}

extension SQLMetadataStore {
    /// Every migration, oldest first. Append new ones; never edit one that has shipped.
    static let migrations: [SQLMigration] = [
        SQLMigration(version: 1, summary: "feeds, packages, users") { database in
            try await database.create(table: "feeds")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("feed_type", type: .text, .notNull)
                .column("kind", type: .text, .notNull)
                .column("description", type: .text, .notNull)
                .column("active", type: .custom(SQLRaw("BOOLEAN")), .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            try await database.create(table: "packages")
                .column("feed", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("filename", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("version", type: .text, .notNull)
                .column("build", type: .text, .notNull)
                .column("sha256", type: .text, .notNull)
                .column("md5", type: .text, .notNull)
                .column("size", type: .bigint, .notNull)
                .column("record_json", type: .text, .notNull)
                .column("channel_data_json", type: .text, .notNull)
                .column("uploaded_at", type: .bigint, .notNull)
                .column("uploaded_by", type: .text)
                .primaryKey("feed", "subdir", "filename")
                .foreignKey(["feed"], references: "feeds", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "packages_feed_name").on("packages").column("feed").column("name").run()
            try await database.create(index: "packages_sha256").on("packages").column("sha256").run()
            try await database.create(table: "users")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("display_name", type: .text, .notNull)
                .column("email", type: .text, .notNull)
                .column("password_hash", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
        },
        SQLMigration(version: 2, summary: "connectors, feed_connectors, upstream_snapshots, upstream_cached_files") {
            database in
            try await database.create(table: "connectors")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("feed_type", type: .text, .notNull)
                .column("url", type: .text, .notNull)
                .column("description", type: .text, .notNull)
                .column("timeout_seconds", type: .bigint, .notNull)
                .column("metadata_cache_enabled", type: .custom(SQLRaw("BOOLEAN")), .notNull)
                .column("metadata_cache_minutes", type: .bigint, .notNull)
                .column("username", type: .text)
                // In clear: Sluice must send it to the upstream. Never logged, never returned by the API.
                .column("password", type: .text)
                .column("filters_json", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            // A feed's connectors in order. RESTRICT: a connector in use cannot be deleted (the store says which feeds
            // use it before the database would refuse).
            try await database.create(table: "feed_connectors")
                .column("feed", type: .text, .notNull)
                .column("position", type: .bigint, .notNull)
                .column("connector", type: .text, .notNull)
                .primaryKey("feed", "position")
                .unique("feed", "connector")
                .foreignKey(["feed"], references: "feeds", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .foreignKey(["connector"], references: "connectors", ["name"], onDelete: .restrict, onUpdate: .cascade)
                .run()
            try await database.create(index: "feed_connectors_connector").on("feed_connectors").column("connector")
                .run()
            try await database.create(table: "upstream_snapshots")
                .column("connector", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("status", type: .text, .notNull)
                .column("sha256", type: .text)
                .column("etag", type: .text)
                .column("last_modified", type: .text)
                .column("upstream_filename", type: .text)
                .column("fetched_at", type: .bigint, .notNull)
                .column("record_count", type: .bigint, .notNull)
                .primaryKey("connector", "subdir")
                .foreignKey(["connector"], references: "connectors", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "upstream_snapshots_sha256").on("upstream_snapshots").column("sha256")
                .run()
            try await database.create(table: "upstream_cached_files")
                .column("connector", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("filename", type: .text, .notNull)
                .column("sha256", type: .text, .notNull)
                .column("size", type: .bigint, .notNull)
                .column("cached_at", type: .bigint, .notNull)
                .column("last_accessed_at", type: .bigint)
                .primaryKey("connector", "subdir", "filename")
                .foreignKey(["connector"], references: "connectors", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "upstream_cached_files_sha256").on("upstream_cached_files")
                .column("sha256").run()
        },
        SQLMigration(version: 3, summary: "promotions (history of promoted and deleted files)") { database in
            // No foreign keys: the history outlives the feeds it names. Not a blob reference (referenceCount).
            try await database.create(table: "promotions")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("batch", type: .bigint, .notNull)
                .column("kind", type: .text, .notNull)
                .column("from_feed", type: .text)
                .column("to_feed", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("version", type: .text, .notNull)
                .column("build", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("filename", type: .text, .notNull)
                .column("sha256", type: .text, .notNull)
                .column("user_name", type: .text)
                .column("comments", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "promotions_to_feed_name").on("promotions").column("to_feed")
                .column("name").column("version").run()
            try await database.create(index: "promotions_name").on("promotions").column("name").column("version").run()
        },
    ]

    /// Creates `schema_migrations` if needed and applies, in the same transaction, every migration whose version is not
    /// recorded there yet (up to `lastVersion` when given; tests use that to build an old schema). Safe to run at every
    /// start and from two processes at once.
    /// - Throws: `SluiceError(.storageFailure)` if a migration fails (nothing of it is kept).
    func migrate(upTo lastVersion: Int64? = nil) async throws {
        try await withStorageErrors("migrating the database schema") {
            let lock = self.dialect.lockMigrations
            let logger = self.logger
            try await self.inWriteTransaction { database in
                try await database.create(table: "schema_migrations")
                    .ifNotExists()
                    .column("version", type: .bigint, .primaryKey(autoIncrement: false))
                    .column("applied_at", type: .bigint, .notNull)
                    .run()
                if let lock {
                    try await database.execute(sql: SQLRaw(lock)) { _ in }
                }
                let applied = Set(
                    try await database.select().column("version").from("schema_migrations").all()
                        .map { try $0.decode(column: "version", as: Int64.self) })
                for migration in Self.migrations
                where !applied.contains(migration.version) && migration.version <= lastVersion ?? .max {
                    logger.info(
                        "Applying database migration",
                        metadata: ["version": "\(migration.version)", "summary": "\(migration.summary)"])
                    try await migration.apply(database)
                    try await database.insert(into: "schema_migrations")
                        .columns("version", "applied_at")
                        .values(SQLBind(migration.version), SQLBind(Self.milliseconds(Date())))
                        .run()
                }
            }
        }
    }
}
