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
        SQLMigration(
            version: 4,
            summary: "security: groups, memberships, privileges, api_keys, security_events, security_revision"
        ) { database in
            // Groups: `name_key` is the lowercased name (names compare case-insensitively), `name` keeps the spelling.
            try await database.create(table: "user_groups")
                .column("name_key", type: .text, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("description", type: .text, .notNull)
                .column("created_at", type: .bigint, .notNull)
                .run()
            try await database.create(table: "group_members")
                .column("group_key", type: .text, .notNull)
                .column("user_name", type: .text, .notNull)
                .primaryKey("group_key", "user_name")
                .foreignKey(
                    ["group_key"], references: "user_groups", ["name_key"], onDelete: .cascade, onUpdate: .cascade
                )
                .foreignKey(["user_name"], references: "users", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "group_members_user_name").on("group_members").column("user_name").run()
            // Privileges: `principal_key` is the lowercased user/group name ('' for the virtual principals) and
            // `feed_key` the feed ('' for all feeds), so that the unique constraint keeps identical privileges single.
            try await database.create(table: "privileges")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("principal_kind", type: .text, .notNull)
                .column("principal_name", type: .text)
                .column("principal_key", type: .text, .notNull)
                .column("task", type: .text, .notNull)
                .column("feed", type: .text)
                .column("feed_key", type: .text, .notNull)
                .column("is_restriction", type: .custom(SQLRaw("BOOLEAN")), .notNull)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text)
                .unique("principal_kind", "principal_key", "task", "feed_key", "is_restriction")
                .run()
            // API keys: only the sha256 of the text. A personal key goes with its user (user_name is NULL otherwise).
            try await database.create(table: "api_keys")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("kind", type: .text, .notNull)
                .column("display_name", type: .text, .notNull)
                .column("description", type: .text, .notNull)
                .column("key_hash", type: .text, .notNull)
                .column("feeds_json", type: .text, .notNull)
                .column("tasks_json", type: .text, .notNull)
                .column("user_name", type: .text)
                .column("expires_at", type: .bigint)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text)
                .column("last_used_at", type: .bigint)
                .unique("key_hash")
                .foreignKey(["user_name"], references: "users", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "api_keys_user_name").on("api_keys").column("user_name").run()
            try await database.create(table: "security_events")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("kind", type: .text, .notNull)
                .column("actor", type: .text)
                .column("subject", type: .text)
                .column("detail", type: .text, .notNull)
                .column("remote_address", type: .text)
                .column("at", type: .bigint, .notNull)
                .run()
            try await database.create(index: "security_events_kind").on("security_events").column("kind").column("id")
                .run()
            // One row (id 1): bumped in the transaction of every change of users, groups, privileges and keys.
            try await database.create(table: "security_revision")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("revision", type: .bigint, .notNull)
                .run()
            try await database.insert(into: "security_revision").columns("id", "revision")
                .values(SQLBind(Int64(1)), SQLBind(Int64(0))).run()
            // The last id given per table, so that ids are never reused (SQLite's rowid would reuse a deleted last id).
            try await database.create(table: "security_sequences")
                .column("name", type: .text, .primaryKey(autoIncrement: false))
                .column("last_value", type: .bigint, .notNull)
                .run()
            let sequences = database.insert(into: "security_sequences").columns("name", "last_value")
            for table in ["privileges", "api_keys", "security_events"] {
                sequences.values(SQLBind(table), SQLBind(Int64(0)))
            }
            try await sequences.run()
            // createUser/updateUser predate the revision: triggers bump it in their transactions.
            for statement in try SQLMetadataStore.userRevisionTriggers(dialect: database.dialect.name) {
                try await database.execute(sql: SQLRaw(statement)) { _ in }
            }
        },
        SQLMigration(version: 5, summary: "published_shards (the shard archive)") { database in
            // No foreign key to feeds: rows outlive a deleted feed until they expire, so the collector still finds
            // (and removes) their shard files. Not a blob reference: shards live in a store of their own.
            try await database.create(table: "published_shards")
                .column("feed", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("sha256", type: .text, .notNull)
                .column("first_published_at", type: .bigint, .notNull)
                .column("last_published_at", type: .bigint, .notNull)
                .primaryKey("feed", "subdir", "sha256")
                .run()
            try await database.create(index: "published_shards_sha256").on("published_shards").column("sha256").run()
            try await database.create(index: "published_shards_last_published_at").on("published_shards")
                .column("last_published_at").run()
        },
        SQLMigration(
            version: 6,
            summary: "compliance: advisories, advisory_imports, package_name_mappings, feed_compliance, "
                + "compliance_exceptions, compliance_settings"
        ) { database in
            // OSV advisories as canonical JSON (sorted keys), so an import compares text to find changes.
            try await database.create(table: "advisories")
                .column("id", type: .text, .primaryKey(autoIncrement: false))
                .column("advisory_json", type: .text, .notNull)
                .column("source", type: .text, .notNull)
                .column("imported_at", type: .bigint, .notNull)
                .column("updated_at", type: .bigint, .notNull)
                .run()
            try await database.create(table: "advisory_imports")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("source", type: .text, .notNull)
                .column("imported_at", type: .bigint, .notNull)
                .column("imported_by", type: .text)
                .column("added", type: .bigint, .notNull)
                .column("updated", type: .bigint, .notNull)
                .column("unchanged", type: .bigint, .notNull)
                .column("skipped", type: .bigint, .notNull)
                .run()
            // Keys are the PEP 503-normalised names; the names keep the spelling given.
            try await database.create(table: "package_name_mappings")
                .column("pypi_key", type: .text, .notNull)
                .column("conda_key", type: .text, .notNull)
                .column("pypi_name", type: .text, .notNull)
                .column("conda_name", type: .text, .notNull)
                .primaryKey("pypi_key", "conda_key")
                .run()
            // A feed's own policy (NULL: the global one applies) and its "block noncompliant packages" switch.
            try await database.create(table: "feed_compliance")
                .column("feed", type: .text, .primaryKey(autoIncrement: false))
                .column("policy_json", type: .text)
                .column("block_noncompliant", type: .custom(SQLRaw("BOOLEAN")), .notNull)
                .foreignKey(["feed"], references: "feeds", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            // feed NULL: the exception applies to every feed.
            try await database.create(table: "compliance_exceptions")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("feed", type: .text)
                .column("package_pattern", type: .text, .notNull)
                .column("version_spec", type: .text)
                .column("reason", type: .text, .notNull)
                .column("expires_at", type: .bigint)
                .column("created_at", type: .bigint, .notNull)
                .column("created_by", type: .text)
                .foreignKey(["feed"], references: "feeds", ["name"], onDelete: .cascade, onUpdate: .cascade)
                .run()
            try await database.create(index: "compliance_exceptions_feed").on("compliance_exceptions").column("feed")
                .run()
            // One row (id 1): the global policy, the revision (bumped by every change) and the id sequences.
            try await database.create(table: "compliance_settings")
                .column("id", type: .bigint, .primaryKey(autoIncrement: false))
                .column("global_policy_json", type: .text, .notNull)
                .column("revision", type: .bigint, .notNull)
                .column("last_import_id", type: .bigint, .notNull)
                .column("last_exception_id", type: .bigint, .notNull)
                .run()
            try await database.insert(into: "compliance_settings")
                .columns("id", "global_policy_json", "revision", "last_import_id", "last_exception_id")
                .values(SQLBind(Int64(1)), SQLBind("{}"), SQLBind(Int64(0)), SQLBind(Int64(0)), SQLBind(Int64(0)))
                .run()
        },
        SQLMigration(version: 7, summary: "download_counts (package file downloads)") { database in
            // No foreign key to feeds or packages: a count outlives a deleted file (a re-upload continues it).
            // `name` is the package name parsed from `filename`, for the package page's lookup.
            try await database.create(table: "download_counts")
                .column("feed", type: .text, .notNull)
                .column("subdir", type: .text, .notNull)
                .column("filename", type: .text, .notNull)
                .column("name", type: .text, .notNull)
                .column("count", type: .bigint, .notNull)
                .column("last_downloaded_at", type: .bigint, .notNull)
                .primaryKey("feed", "subdir", "filename")
                .run()
            try await database.create(index: "download_counts_feed_name").on("download_counts")
                .column("feed").column("name").run()
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
