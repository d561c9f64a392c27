import Foundation
import Logging
import SluiceCore
import SluiceTesting
import Testing

@testable import SluiceStorage

@Suite("SQLMetadataStore as a ShardRetentionStore")
struct SQLShardRetentionTests {
    @Test("SQLite file conformance", arguments: ShardRetentionStoreConformance.checks)
    func sqliteFile(_ check: ShardRetentionStoreConformance.Check) async throws {
        try await withSQLiteFileStore { try await check.run($0) }
    }

    @Test("published shards survive closing and reopening the database")
    func restart() async throws {
        let folder = try TemporaryFolder()
        defer { folder.cleanUp() }
        let file = folder.url.appendingPathComponent("sluice.sqlite")
        let logger = Logger(label: "sluice.shards.tests")
        let sha256 = String(repeating: "0f", count: 32)
        let date = Date(timeIntervalSince1970: 1_700_000_000.5)
        let first = try await SQLMetadataStore.sqlite(file: file, logger: logger)
        try await first.recordPublishedShards(feed: "f", subdir: "noarch", sha256s: [sha256], at: date)
        try await first.shutdown()
        let second = try await SQLMetadataStore.sqlite(file: file, logger: logger)
        let row = try await second.publishedShard(feed: "f", subdir: "noarch", sha256: sha256)
        try await second.shutdown()
        #expect(row?.lastPublishedAt == date)
    }
}
