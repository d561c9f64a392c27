import Foundation
import Logging
import SQLKit
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

@Suite("SQLSecurityStore")
struct SQLSecurityStoreTests {
    static let logger = Logger(label: "sluice.storage.security-tests")

    @Test("SQLite file SecurityStore conformance", arguments: SecurityStoreConformance.checks)
    func sqliteFileConformance(_ check: SecurityStoreConformance.Check) async throws {
        try await withSQLiteFileStore { try await check.run($0) }
    }

    @Test("SQLite in-memory SecurityStore conformance", arguments: SecurityStoreConformance.checks)
    func sqliteInMemoryConformance(_ check: SecurityStoreConformance.Check) async throws {
        try await withSQLiteInMemoryStore { try await check.run($0) }
    }

    @Test("users, groups, privileges, keys, events and the revision survive closing and reopening the file")
    func reopen() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("data/sluice.sqlite")
        let first = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        try await first.createUser(SecurityStoreConformance.user("Alice"))
        try await first.createGroup(
            UserGroup(
                name: "Network Engineers", description: "Promoters", members: ["alice"],
                createdAt: SecurityStoreConformance.instant))
        let privilege = try await first.addPrivilege(
            Privilege(
                principal: .group("Network Engineers"), task: .promotePackages, feed: "unapproved-conda",
                createdAt: SecurityStoreConformance.instant, createdBy: "admin"))
        let restriction = try await first.addPrivilege(
            Privilege(
                principal: .anonymous, task: .viewDownload, feed: "private", isRestriction: true,
                createdAt: SecurityStoreConformance.instant))
        let key = try await first.createAPIKey(SecurityStoreConformance.feedKey(text: "persisted-key-01"))
        #expect(try await first.markAPIKeyUsed(id: key.id, at: SecurityStoreConformance.instant))
        let event = try await first.recordEvent(
            SecurityEvent(
                kind: "api-key-created", actor: "admin", subject: key.displayName, detail: "feed key",
                remoteAddress: "127.0.0.1", at: SecurityStoreConformance.instant))
        let revision = try await first.securityRevision()
        let group = try await first.group(named: "network engineers")
        try await first.shutdown()

        let second = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        #expect(try await second.users().map(\.name) == ["alice"])
        #expect(try await second.group(named: "Network Engineers") == group)
        #expect(group?.members == ["alice"])
        #expect(try await second.privileges() == [privilege, restriction])
        var used = key
        used.lastUsedAt = SecurityStoreConformance.instant
        #expect(try await second.apiKey(hash: SecurityStoreConformance.keyHash("persisted-key-01")) == used)
        #expect(try await second.events(limit: 10, beforeID: nil, kind: nil) == [event])
        #expect(try await second.securityRevision() == revision)
        #expect(revision > 0)
        // Ids go on after the largest ever given.
        let next = try await second.createAPIKey(SecurityStoreConformance.feedKey(text: "persisted-key-02"))
        #expect(next.id > key.id)
        try await second.shutdown()
    }

    @Test("two stores on one file see each other's changes through securityRevision")
    func revisionAcrossStores() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("shared.sqlite")
        let a = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        let b = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        let start = try await b.securityRevision()
        try await a.createUser(SecurityStoreConformance.user("bob"))
        let afterUser = try await b.securityRevision()
        #expect(afterUser > start)
        _ = try await a.addPrivilege(Privilege(principal: .user("bob"), task: .viewDownload))
        #expect(try await b.securityRevision() > afterUser)
        #expect(try await b.privileges().map(\.principal) == [.user("bob")])
        try await a.shutdown()
        try await b.shutdown()
    }

    @Test("a version 3 database upgrades to the security schema with its rows intact")
    func upgradeFromVersion3() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("v3.sqlite")
        let created = Date(timeIntervalSince1970: 1_690_000_000.250)
        let package = try MetadataStoreConformance.package(feed: "legacy", sha256: String(repeating: "7", count: 64))

        let old = try await SQLMetadataStore.sqlite(
            file: file, logger: Self.logger, maximumConnections: 2, migratingUpTo: 3)
        #expect(try await Self.migrationVersions(old) == [1, 2, 3])
        #expect(try await Self.tableNames(old).isDisjoint(with: Self.securityTables))
        try await old.createFeed(Feed(name: "legacy", description: "From v3", createdAt: created))
        #expect(try await old.addPackage(package, overwrite: false) == .added)
        try await old.createUser(User(name: "Carol", passwordHash: "$2b$12$carol", createdAt: created))
        try await old.createUser(User(name: "dave", passwordHash: "$2b$12$dave", createdAt: created))
        try await old.shutdown()

        let upgraded = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        let versions = try await Self.migrationVersions(upgraded)
        #expect(versions.starts(with: [1, 2, 3, 4]))
        #expect(try await Self.tableNames(upgraded).isSuperset(of: Self.securityTables))
        #expect(try await upgraded.feeds().map(\.name) == ["legacy"])
        #expect(try await upgraded.package(feed: "legacy", subdir: "linux-64", filename: package.filename) == package)
        #expect(try await upgraded.users().map(\.name) == ["carol", "dave"])
        #expect(try await upgraded.user(named: "CAROL")?.passwordHash == "$2b$12$carol")
        #expect(try await upgraded.privileges().isEmpty)
        #expect(try await upgraded.apiKeys().isEmpty)
        #expect(try await upgraded.groups().isEmpty)
        #expect(try await upgraded.securityRevision() == 0)

        // The old users take part in the new tables, and the triggers count changes of them.
        try await upgraded.createGroup(UserGroup(name: "Old Timers", members: ["Carol", "dave"], createdAt: created))
        _ = try await upgraded.createAPIKey(SecurityStoreConformance.personalKey(text: "carol-key-0001", user: "carol"))
        let before = try await upgraded.securityRevision()
        var carol = try #require(try await upgraded.user(named: "carol"))
        carol.email = "carol@example.org"
        try await upgraded.updateUser(carol)
        #expect(try await upgraded.securityRevision() > before)
        #expect(try await upgraded.deleteUser(named: "carol"))
        #expect(try await upgraded.group(named: "old timers")?.members == ["dave"])
        #expect(try await upgraded.apiKeys().isEmpty)
        try await upgraded.shutdown()
    }

    @Test("keys keep only the hash; feeds and tasks are JSON arrays; names compare case-insensitively in SQL")
    func columns() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        let text = "column-check-key-01"
        let key = try await store.createAPIKey(SecurityStoreConformance.feedKey(text: text, feeds: ["a", "b"]))
        let row = try #require(try await store.database.select().column("*").from("api_keys").first())
        #expect(try row.decode(column: "feeds_json", as: String.self) == #"["a","b"]"#)
        #expect(try row.decode(column: "tasks_json", as: String.self) == #"["view","publish"]"#)
        #expect(try row.decode(column: "key_hash", as: String.self) == key.keyHash)
        for column in row.allColumns where !(try row.decodeNil(column: column)) {
            if let value = try? row.decode(column: column, as: String.self) {
                #expect(!value.contains(text), "column \(column) holds the key text")
            }
        }
        try await store.createGroup(UserGroup(name: "Readers"))
        let group = try #require(try await store.database.select().column("*").from("user_groups").first())
        #expect(try group.decode(column: "name_key", as: String.self) == "readers")
        #expect(try group.decode(column: "name", as: String.self) == "Readers")
        try await store.shutdown()
    }

    static let securityTables: Set<String> = [
        "user_groups", "group_members", "privileges", "api_keys", "security_events", "security_revision",
    ]

    static func tableNames(_ store: SQLMetadataStore) async throws -> Set<String> {
        Set(
            try await store.database.raw("SELECT name FROM sqlite_master WHERE type = 'table'").all()
                .map { try $0.decode(column: "name", as: String.self) })
    }

    static func migrationVersions(_ store: SQLMetadataStore) async throws -> [Int64] {
        try await store.database.select().column("version").from("schema_migrations").orderBy("version").all()
            .map { try $0.decode(column: "version", as: Int64.self) }
    }
}
