import Foundation
import Logging
import SQLKit
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

/// A fresh folder under the system temporary directory, removed by `cleanUp`.
struct TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("sluice-storage-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(at: url)
    }
}

@Suite("SQLMetadataStore")
struct SQLMetadataStoreTests {
    static let logger = Logger(label: "sluice.storage.tests")

    @Test("SQLite file conformance", arguments: MetadataStoreConformance.checks)
    func sqliteFileConformance(_ check: MetadataStoreConformance.Check) async throws {
        try await withSQLiteFileStore { try await check.run($0) }
    }

    @Test("SQLite in-memory conformance", arguments: MetadataStoreConformance.checks)
    func sqliteInMemoryConformance(_ check: MetadataStoreConformance.Check) async throws {
        try await withSQLiteInMemoryStore { try await check.run($0) }
    }

    @Test("data survives closing and reopening the database")
    func restart() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("data/sluice.sqlite")
        let created = Date(timeIntervalSince1970: 1_700_000_000.123)
        let feed = Feed(name: "main", description: "Internal", createdAt: created)
        let user = User(name: "Alice", email: "alice@example.org", passwordHash: "$2b$12$hash", createdAt: created)
        let package = try MetadataStoreConformance.package(feed: "main", sha256: String(repeating: "ab", count: 32))

        let first = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        try await first.createFeed(feed)
        try await first.createUser(user)
        #expect(try await first.addPackage(package, overwrite: false) == .added)
        try await first.shutdown()
        try await first.shutdown()  // a second shutdown does nothing

        let second = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        #expect(try await second.feeds() == [feed])
        #expect(try await second.user(named: "alice")?.passwordHash == "$2b$12$hash")
        #expect(try await second.package(feed: "main", subdir: "linux-64", filename: package.filename) == package)
        #expect(try await second.addPackage(package, overwrite: false) == .unchanged)
        #expect(try await Self.migrationVersions(second) == SQLMetadataStore.migrations.map(\.version))
        try await second.shutdown()
    }

    @Test("migrations are recorded once, in order, and reapplying them is a no-op")
    func migrations() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("sluice.sqlite")
        let store = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        let versions = SQLMetadataStore.migrations.map(\.version)
        #expect(versions == versions.sorted() && Set(versions).count == versions.count)
        #expect(try await Self.migrationVersions(store) == versions)
        try await store.migrate()
        #expect(try await Self.migrationVersions(store) == versions)
        try await store.shutdown()

        // Two stores opening the same new file at once: both come up, the schema is created once.
        let other = folder.url.appendingPathComponent("concurrent.sqlite")
        async let a = SQLMetadataStore.sqlite(file: other, logger: Self.logger)
        async let b = SQLMetadataStore.sqlite(file: other, logger: Self.logger)
        let (storeA, storeB) = try await (a, b)
        try await storeA.createFeed(Feed(name: "shared"))
        #expect(try await storeB.feed(named: "shared") != nil)
        #expect(try await Self.migrationVersions(storeB) == versions)
        try await storeA.shutdown()
        try await storeB.shutdown()
    }

    @Test("two stores on one file (as two processes would be) add concurrently without deadlock or lost rows")
    func twoStoresOneFile() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("shared.sqlite")
        let first = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        let second = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        try await first.createFeed(Feed(name: "main"))
        let stores = [first, second]
        let outcomes = try await withThrowingTaskGroup(of: AddPackageOutcome.self) { group in
            for index in 0..<40 {
                let store = stores[index % 2]
                // Files 0..<20, each added twice (once through each store).
                let package = try MetadataStoreConformance.package(
                    feed: "main", filename: "pkg\(index % 20)-1.0-0.conda", sha256: String(format: "%064x", index % 20))
                group.addTask { try await store.addPackage(package, overwrite: false) }
            }
            return try await group.reduce(into: [AddPackageOutcome]()) { $0.append($1) }
        }
        #expect(outcomes.count { $0 == .added } == 20)
        #expect(outcomes.count { $0 == .unchanged } == 20)
        #expect(try await second.packages(feed: "main", subdir: "linux-64").count == 20)
        try await first.shutdown()
        try await second.shutdown()
    }

    @Test("the database is in WAL mode with foreign keys enforced")
    func pragmas() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let store = try await SQLMetadataStore.sqlite(
            file: folder.url.appendingPathComponent("sluice.sqlite"), logger: Self.logger)
        let mode = try await store.database.raw("PRAGMA journal_mode").first()?
            .decode(column: "journal_mode", as: String.self)
        #expect(mode == "wal")
        let foreignKeys = try await store.database.raw("PRAGMA foreign_keys").first()?
            .decode(column: "foreign_keys", as: Int.self)
        #expect(foreignKeys == 1)
        // A package row for a feed that does not exist is refused by the database itself.
        let package = try MetadataStoreConformance.package(feed: "ghost")
        await #expect(throws: (any Error).self) {
            try await store.database.insert(into: "packages")
                .columns(SQLMetadataStore.packageColumns)
                .values(SQLMetadataStore.packageValues(package))
                .run()
        }
        try await store.shutdown()
    }

    @Test("records are stored as compact JSON text")
    func recordJSONColumn() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        try await store.createFeed(Feed(name: "main"))
        let package = try MetadataStoreConformance.package(feed: "main")
        _ = try await store.addPackage(package, overwrite: false)
        let text = try #require(
            try await store.database.select().column("record_json").from("packages").first()?
                .decode(column: "record_json", as: String.self))
        #expect(Array(text.utf8) == JSONValue.object(package.record.fields).compactJSON())
        #expect(text.hasPrefix(#"{"build":"h7b6447c_3","build_number":3,"depends":["libgcc-ng >=7.3.0"]"#))
        try await store.shutdown()
    }

    @Test("a database that cannot be opened is a storage failure")
    func unopenable() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("not-a-database.sqlite")
        try Data(repeating: 0x42, count: 4096).write(to: file)
        do {
            let store = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
            try await store.shutdown()
            Issue.record("opening a file of garbage succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .storageFailure)
            #expect(error.cause != nil)
        }
    }

    @Test("a store that was shut down reports storage failures")
    func afterShutdown() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        try await store.shutdown()
        do {
            try await store.ping()
            Issue.record("ping after shutdown succeeded")
        } catch let error as SluiceError {
            #expect(error.code == .storageFailure)
        }
    }

    @Test("a store dropped without shutdown closes its connections without tripping the pool's assertion")
    func droppedWithoutShutdown() async throws {
        for _ in 0..<3 {
            let store = try await SQLMetadataStore.sqliteInMemory()
            try await store.createFeed(Feed(name: "main"))
            #expect(try await store.feeds().count == 1)
        }
        try await Task.sleep(for: .milliseconds(100))
    }

    @Test("a database built by migration 1 alone upgrades to the current schema with its rows intact")
    func upgradeFromVersion1() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("old.sqlite")
        let created = Date(timeIntervalSince1970: 1_690_000_000.250)
        let package = try MetadataStoreConformance.package(feed: "legacy", sha256: String(repeating: "5", count: 64))

        // The database as the first release left it: only migration 1, rows written by that schema.
        let old = try await SQLMetadataStore.sqlite(
            file: file, logger: Self.logger, maximumConnections: 2, migratingUpTo: 1)
        #expect(try await Self.migrationVersions(old) == [1])
        let oldTables = try await Self.tableNames(old)
        #expect(oldTables.isSuperset(of: ["feeds", "packages", "users"]))
        #expect(oldTables.isDisjoint(with: ["connectors", "feed_connectors", "upstream_snapshots"]))
        try await old.database.insert(into: "feeds")
            .columns("name", "feed_type", "kind", "description", "active", "created_at")
            .values(
                SQLBind("legacy"), SQLBind("conda"), SQLBind("hosted"), SQLBind("From v1"), SQLBind(true),
                SQLBind(SQLMetadataStore.milliseconds(created))
            )
            .run()
        #expect(try await old.addPackage(package, overwrite: false) == .added)
        try await old.createUser(User(name: "Carol", passwordHash: "$2b$12$carol", createdAt: created))
        try await old.shutdown()

        let upgraded = try await SQLMetadataStore.sqlite(file: file, logger: Self.logger)
        #expect(try await Self.migrationVersions(upgraded) == SQLMetadataStore.migrations.map(\.version))
        #expect(SQLMetadataStore.migrations.map(\.version).starts(with: [1, 2]))
        #expect(
            try await Self.tableNames(upgraded).isSuperset(of: [
                "connectors", "feed_connectors", "upstream_snapshots", "upstream_cached_files",
            ]))
        let legacy = Feed(name: "legacy", description: "From v1", createdAt: created)
        #expect(try await upgraded.feeds() == [legacy])
        #expect(try await upgraded.package(feed: "legacy", subdir: "linux-64", filename: package.filename) == package)
        #expect(try await upgraded.user(named: "carol")?.passwordHash == "$2b$12$carol")
        #expect(try await upgraded.referenceCount(sha256: package.sha256) == 1)

        // The old feed can become a proxy, and the new tables work beside the old rows.
        try await upgraded.createConnector(MetadataStoreConformance.fullConnector(name: "upstream"))
        var proxy = legacy
        proxy.connectors = ["upstream"]
        try await upgraded.updateFeed(proxy)
        #expect(try await upgraded.feed(named: "legacy") == proxy)
        var cached = try MetadataStoreConformance.realCachedFile(connector: "upstream")
        cached.sha256 = package.sha256
        #expect(try await upgraded.recordCachedFile(cached) == .added)
        #expect(try await upgraded.referenceCount(sha256: package.sha256) == 2)
        try await upgraded.shutdown()
    }

    @Test("connector passwords and snapshot validators are stored as given; filters as a JSON array")
    func connectorColumns() async throws {
        let store = try await SQLMetadataStore.sqliteInMemory()
        let connector = MetadataStoreConformance.fullConnector()
        try await store.createConnector(connector)
        let row = try #require(try await store.database.select().column("*").from("connectors").first())
        #expect(try row.decode(column: "filters_json", as: String.self) == #"["numpy*","lib?","!evil-*"]"#)
        #expect(try row.decode(column: "password", as: String.self) == connector.password)
        #expect(try row.decode(column: "timeout_seconds", as: Int64.self) == 45)
        try await store.shutdown()
    }

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
