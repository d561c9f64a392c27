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
        }
    ]

    /// Creates `schema_migrations` if needed and applies, in the same transaction, every migration whose version is not
    /// recorded there yet. Safe to run at every start and from two processes at once.
    /// - Throws: `SluiceError(.storageFailure)` if a migration fails (nothing of it is kept).
    func migrate() async throws {
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
                for migration in Self.migrations where !applied.contains(migration.version) {
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
